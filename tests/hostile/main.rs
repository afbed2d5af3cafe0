//! The hostile-input suite: each fault found by attacking smemu, tried again the same way.
//!
//! Raw sockets and raw HTTP where an SDK would never send the request. One module per area.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod auth;
mod control;
mod iam;
mod input;
mod kms;
mod lambda;
mod lifecycle;
mod server;
mod state;
