//! smemu: a local emulator of AWS Secrets Manager that speaks the real JSON-1.1 wire protocol.
//!
//! # Layout
//! - [`server`]: sockets, hyper, graceful shutdown, and the order of the request pipeline.
//! - [`protocol`]: the awsJson1_1 wire — target routing, body decoding, model validation,
//!   timestamps and blobs, and the one encoder of successes and errors.
//! - [`auth`]: the caller's identity (account from the access key, region from the scope).
//! - [`ops`]: one enum of operations, one dispatch `match`, thin typed handlers per family.
//! - [`state`]: the engine — secrets, versions, staging labels, names and ARNs, every AWS rule.
//! - [`filter`]: ListSecrets filter semantics as pure predicates.
//! - [`password`]: GetRandomPassword generation from a CSPRNG.
//! - [`error`]: every error code with its `__type`, HTTP status and recurring texts.
//! - [`clock`]: the only source of time for state, movable in tests.
//! - [`persist`]: the durable journal and snapshots behind `--data-dir`.
//! - [`config`]: runtime settings.

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod filter;
pub mod ops;
pub mod password;
pub mod persist;
pub mod protocol;
pub mod server;
pub mod state;

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Everything a request needs, shared by all connections.
pub struct App {
    pub config: config::Config,
    pub engine: state::Engine,
    pub model: protocol::validate::Model,
    pub auth: auth::Authenticator,
}

impl App {
    #[must_use]
    pub fn new(config: config::Config, clock: Arc<clock::Clock>) -> Self {
        let auth = auth::Authenticator::new(
            config.auth_mode,
            config.default_account.clone(),
            config.default_region.clone(),
            auth::CredentialStore,
        );
        Self { engine: state::Engine::new(clock), model: protocol::validate::Model::embedded(), auth, config }
    }
}

/// Serves `listener` until `shutdown` resolves; in-flight requests are allowed to finish.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    server::serve(listener, app, shutdown).await;
}
