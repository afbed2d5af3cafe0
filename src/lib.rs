//! smemu: a local emulator of AWS Secrets Manager that speaks the real JSON-1.1 wire protocol.
//!
//! # Layout
//! - [`server`]: sockets, hyper, graceful shutdown, and the order of the request pipeline.
//! - [`protocol`]: the awsJson1_1 wire — target routing, body decoding, model validation,
//!   timestamps and blobs, and the one encoder of successes and errors.
//! - [`auth`]: SigV4 verification and the caller's identity (account, region, principal);
//!   credentials from files, flags and AssumeRole.
//! - [`sts`]: the STS calls clients make first (GetCallerIdentity, AssumeRole), on the same port.
//! - [`ops`]: one enum of operations, one dispatch `match`, thin typed handlers per family.
//! - [`state`]: the engine — secrets, versions, staging labels, names and ARNs, every AWS rule.
//! - [`filter`]: ListSecrets filter semantics as pure predicates.
//! - [`password`]: GetRandomPassword generation from a CSPRNG.
//! - [`error`]: every error code with its `__type`, HTTP status and recurring texts.
//! - [`clock`]: the only source of time for state, movable in tests.
//! - [`scheduler`]: work due on smemu's clock (purges, rotations), the sweeper, clock advances.
//! - [`rotation`]: the four-step rotation protocol, hooks, schedules and the rotation log.
//! - [`persist`]: the durable journal and snapshots behind `--data-dir`.
//! - [`seed`]: secrets loaded at start from YAML or JSON files, idempotently.
//! - [`control`]: the `/_smemu/` control API (health, reset, clock, state, hooks, rotations).
//! - [`config`]: runtime settings.

pub mod auth;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod filter;
pub mod ops;
pub mod password;
pub mod persist;
pub mod protocol;
pub mod rotation;
pub mod scheduler;
pub mod seed;
pub mod server;
pub mod state;
pub mod sts;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

/// Everything a request needs, shared by all connections.
pub struct App {
    pub config: config::Config,
    pub engine: state::Engine,
    pub model: protocol::validate::Model,
    pub auth: auth::Authenticator,
    /// False while a seed is loading; `/_smemu/health` reports ready only after it.
    ready: AtomicBool,
    /// Clock advances run one at a time, so due work runs once and in order.
    advancing: tokio::sync::Mutex<()>,
}

impl App {
    /// An app whose callers are checked against no stored credentials (fine for `open` and `off`).
    #[must_use]
    pub fn new(config: config::Config, clock: Arc<clock::Clock>) -> Self {
        Self::with_credentials(config, clock, auth::CredentialStore::default())
    }

    #[must_use]
    pub fn with_credentials(
        config: config::Config,
        clock: Arc<clock::Clock>,
        credentials: auth::CredentialStore,
    ) -> Self {
        let auth = auth::Authenticator::new(
            config.auth_mode,
            config.default_account.clone(),
            config.default_region.clone(),
            credentials,
        );
        Self {
            engine: state::Engine::new(clock),
            model: protocol::validate::Model::embedded(),
            auth,
            config,
            ready: AtomicBool::new(true),
            advancing: tokio::sync::Mutex::new(()),
        }
    }

    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// Serves `listener` until `shutdown` resolves; in-flight requests are allowed to finish.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let (stop_sweeper, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper = tokio::spawn(scheduler::sweeper(app.clone(), async {
        let _ = sweeper_stopped.await;
    }));
    server::serve(listener, app, shutdown).await;
    let _ = stop_sweeper.send(());
    let _ = sweeper.await;
}
