//! SigV4 gaps and AssumeRole: what strict mode must refuse.
