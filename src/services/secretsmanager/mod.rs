//! Secrets Manager: the operations and their handlers ([`ops`]), the engine that holds every AWS rule
//! ([`state`]), and the pure parts the handlers call (filters, passwords, resource-policy checks).

pub mod authorize;
pub mod encryption;
pub mod filter;
pub mod ops;
pub mod password;
pub mod policy;
pub mod state;
