//! smemu: a local emulator of AWS Secrets Manager that speaks the real JSON-1.1 wire protocol.
//!
//! # Layout
//! - [`server`]: sockets, hyper, graceful shutdown, and the order of the request pipeline.
//! - [`access_log`]: the one line per request (service, operation, identifier, caller, outcome).
//! - [`protocol`]: the awsJson1_1 wire — target routing, body decoding, model validation,
//!   timestamps and blobs, and the one encoder of successes and errors.
//! - [`auth`]: SigV4 verification and the caller's identity (account, region, principal);
//!   credentials from files, flags and AssumeRole.
//! - [`sts`]: the STS calls clients make first (GetCallerIdentity, AssumeRole), on the same port.
//! - [`ops`]: one enum of operations, one dispatch `match`, thin typed handlers per family.
//! - [`state`]: the engine — secrets, versions, staging labels, names and ARNs, every AWS rule.
//! - [`filter`]: ListSecrets filter semantics as pure predicates.
//! - [`password`]: GetRandomPassword generation from a CSPRNG.
//! - [`policy`]: resource-policy syntax checks and the public-access test.
//! - [`error`]: every error code with its `__type`, HTTP status and recurring texts.
//! - [`clock`]: the only source of time for state, movable in tests.
//! - [`scheduler`]: work due on smemu's clock (purges, rotations), the sweeper, clock advances.
//! - [`rotation`]: the four-step rotation protocol, hooks, schedules and the rotation log.
//! - [`persist`]: the durable journal and snapshots behind `--data-dir`.
//! - [`seed`]: secrets loaded at start from YAML or JSON files, idempotently.
//! - [`control`]: the `/_smemu/` control API (health, reset, clock, state, hooks, rotations).
//! - [`config`]: runtime settings.
//! - [`logging`]: the log filter, text or JSON output, colour, and the startup banner.

pub mod access_log;
pub mod auth;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod filter;
pub mod logging;
pub mod ops;
pub mod password;
pub mod persist;
pub mod policy;
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
    /// The journal behind `--data-dir`; absent when smemu keeps state in memory only.
    journal: std::sync::OnceLock<Arc<persist::Journal>>,
    /// Set while a snapshot is being written, so only one runs at a time.
    compacting: AtomicBool,
    /// Rotation functions by ARN: what RotateSecret runs instead of a Lambda function.
    pub hooks: rotation::HookRegistry,
    /// Every rotation step's outcome, for `GET /_smemu/rotations`.
    pub rotation_log: rotation::RotationLog,
    /// smemu's own URL, for hooks that call back into it.
    endpoint: std::sync::OnceLock<String>,
}

impl state::ChangeLog for persist::Journal {
    fn append(&self, record: &[u8]) -> u64 {
        persist::Journal::append(self, record)
    }
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
            journal: std::sync::OnceLock::new(),
            compacting: AtomicBool::new(false),
            hooks: rotation::HookRegistry::new(),
            rotation_log: rotation::RotationLog::default(),
            endpoint: std::sync::OnceLock::new(),
        }
    }

    /// Makes state durable in `dir`: loads the newest snapshot, replays the journal after it, then
    /// journals every change. Returns the warnings recovery produced (a torn tail cut off, say).
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it.
    pub fn open_data_dir(&self, dir: &std::path::Path, repair: bool) -> Result<Vec<String>, String> {
        let options = persist::JournalOptions { repair, ..persist::JournalOptions::default() };
        let (journal, recovered) = persist::Journal::open_with(dir, &options).map_err(|e| e.to_string())?;
        if let Some(snapshot) = recovered.snapshot {
            let state: state::StateDump = serde_json::from_slice(&snapshot)
                .map_err(|e| format!("the snapshot in {} cannot be read: {e}", dir.display()))?;
            self.engine.apply_change(state::Change::Import { state });
        }
        for (i, record) in recovered.records.iter().enumerate() {
            let change: state::Change<'_> = serde_json::from_slice(record)
                .map_err(|e| format!("journal record {i} in {} cannot be read: {e}", dir.display()))?;
            self.engine.apply_change(change);
        }
        let journal = Arc::new(journal);
        self.engine.set_changelog(journal.clone());
        let _ = self.journal.set(journal);
        Ok(recovered.warnings)
    }

    /// Waits until every change made so far is on disk (at once when state is in memory only);
    /// then, if the journal has grown enough, starts writing a snapshot in the background.
    ///
    /// # Errors
    /// `InternalServiceError` when the journal cannot write: the change is not acknowledged.
    pub async fn durable(self: &Arc<Self>) -> Result<(), error::ApiError> {
        let Some(journal) = self.journal.get() else { return Ok(()) };
        journal.wait_durable(journal.last_seq()).await.map_err(|e| error::ApiError::internal(&e.to_string()))?;
        if journal.should_compact() && !self.compacting.swap(true, Ordering::SeqCst) {
            let app = self.clone();
            tokio::task::spawn_blocking(move || app.compact());
        }
        Ok(())
    }

    fn compact(&self) {
        if let Some(journal) = self.journal.get() {
            // Read the sequence first: the export then covers at least every record up to it.
            let covered = journal.last_seq();
            let snapshot = serde_json::to_vec(&self.engine.export()).unwrap_or_default();
            if let Err(e) = journal.write_snapshot(covered, &snapshot) {
                tracing::error!(error = %e, "snapshot failed; the journal keeps every record");
            }
        }
        self.compacting.store(false, Ordering::SeqCst);
    }

    /// smemu's own base URL once it listens.
    #[must_use]
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.get().map(String::as_str)
    }

    /// Writes what the journal still holds in memory (at shutdown).
    pub fn flush(&self) {
        if let Some(journal) = self.journal.get()
            && let Err(e) = journal.flush_blocking()
        {
            tracing::error!(error = %e, "final journal flush failed");
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
    if let Ok(addr) = listener.local_addr() {
        let _ = app.endpoint.set(format!("http://{addr}"));
    }
    let (stop_sweeper, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper = tokio::spawn(scheduler::sweeper(app.clone(), async {
        let _ = sweeper_stopped.await;
    }));
    server::serve(listener, app.clone(), shutdown).await;
    let _ = stop_sweeper.send(());
    let _ = sweeper.await;
    app.flush();
}
