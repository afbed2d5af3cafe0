//! Sockets and bodies: oversized, slow and endless requests, and the fd limit.
