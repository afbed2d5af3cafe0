//! AWS KMS on the same port: `X-Amz-Target: TrentService.<Op>`, SigV4 service `kms`.
//!
//! Symmetric encryption keys (`SYMMETRIC_DEFAULT`) with real AES-256-GCM, aliases, key states,
//! deletion windows on smemu's clock, key policies (kept, not evaluated, but for the AWS managed
//! key's), rotation settings and tags, per account and region. Other operations of the model
//! answer `UnsupportedOperationException`.
//!
//! - `store`: the key store, every rule and state; the typed API Secrets Manager uses.
//! - `crypto`: AES-256-GCM and the ciphertext blob format.
//! - `error`: every KMS error and its text.
//! - `keyfile`: key material on disk, apart from the journal.

pub mod crypto;
pub mod error;
pub mod keyfile;
pub mod store;

pub use error::KmsError;
pub use store::{Change, DataKey, ForSecretsManager, Kms, Plaintext, SeedKey, StoreDump};

