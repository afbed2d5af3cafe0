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
//! - [`policy`]: resource-policy syntax checks and the public-access test.
//! - [`error`]: every error code with its `__type`, HTTP status and recurring texts.
//! - [`clock`]: the only source of time for state, movable in tests.
//! - [`scheduler`]: work due on smemu's clock (purges, rotations), the sweeper, clock advances.
//! - [`rotation`]: the four-step rotation protocol, hooks, schedules and the rotation log.
//! - [`persist`]: the durable journal and snapshots behind `--data-dir`.
//! - [`seed`]: secrets loaded at start from YAML or JSON files, idempotently.
//! - [`reset`]: what a reset of one world or of all of them forgets, and what it keeps.
//! - [`control`]: the `/_smemu/` control API (health, reset, clock, state, hooks, rotations), its
//!   endpoints in one table ([`control::endpoints`]), and LocalStack's and moto's paths.
//! - [`init`]: the operator's init scripts (`--init-dir`), run once smemu is ready.
//! - [`config`]: runtime settings.

pub mod auth;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod filter;
pub mod init;
pub mod ops;
pub mod password;
pub mod persist;
pub mod policy;
pub mod protocol;
pub mod reset;
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
    /// False while state loads (the journal, the seed); meanwhile only health and a few read-only
    /// control endpoints answer, everything else is 503.
    ready: AtomicBool,
    /// Woken when `ready` changes.
    ready_changed: tokio::sync::Notify,
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
    /// The init scripts' states, for `GET /_localstack/init`.
    pub init: init::InitStatus,
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
            ready_changed: tokio::sync::Notify::new(),
            advancing: tokio::sync::Mutex::new(()),
            journal: std::sync::OnceLock::new(),
            compacting: AtomicBool::new(false),
            hooks: rotation::HookRegistry::new(),
            rotation_log: rotation::RotationLog::default(),
            endpoint: std::sync::OnceLock::new(),
            init: init::InitStatus::default(),
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
        // The clock offset recovered, if any was kept: the snapshot's, raised by later records.
        let mut clock_offset = None;
        if let Some(snapshot) = recovered.snapshot {
            let unreadable = |e: serde_json::Error| format!("the snapshot in {} cannot be read: {e}", dir.display());
            let state: state::StateDump = serde_json::from_slice(&snapshot).map_err(unreadable)?;
            clock_offset = serde_json::from_slice::<SnapshotClock>(&snapshot).map_err(unreadable)?.clock_offset;
            self.engine.apply_change(state::Change::Import { state });
        }
        for (i, record) in recovered.records.iter().enumerate() {
            let change: state::Change<'_> = serde_json::from_slice(record)
                .map_err(|e| format!("journal record {i} in {} cannot be read: {e}", dir.display()))?;
            if let state::Change::Clock { offset } = change {
                clock_offset = clock_offset.max(Some(offset));
            }
            self.engine.apply_change(change);
        }
        if let Some(offset) = clock_offset {
            self.engine.clock().raise_offset(offset);
        }
        let journal = Arc::new(journal);
        self.engine.set_changelog(journal.clone());
        let _ = self.journal.set(journal);
        // A clock that starts further ahead (`--start-time`) is kept from now on as well.
        let offset = self.engine.clock().offset();
        if clock_offset != Some(offset) {
            self.engine.journal_clock(offset);
        }
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
            let state = self.engine.export();
            let snapshot = Snapshot { state: &state, clock_offset: self.engine.clock().offset() };
            let snapshot = serde_json::to_vec(&snapshot).unwrap_or_default();
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
        self.ready_changed.notify_waiters();
    }

    /// Returns once smemu is ready.
    pub async fn wait_ready(&self) {
        loop {
            let changed = self.ready_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_ready() {
                return;
            }
            changed.await;
        }
    }
}

/// A snapshot: the state export, and the clock's offset so a restart keeps smemu's time.
#[derive(serde::Serialize)]
struct Snapshot<'a> {
    #[serde(flatten)]
    state: &'a state::StateDump,
    #[serde(rename = "clockOffset")]
    clock_offset: i64,
}

/// The clock of a snapshot, read on its own: the state is read as a plain export, which ignores
/// it. Snapshots written before the clock was kept have none.
#[derive(serde::Deserialize)]
struct SnapshotClock {
    #[serde(rename = "clockOffset", default)]
    clock_offset: Option<i64>,
}

/// The URL smemu's own clients (hooks, init scripts) reach it at when it listens on `addr`:
/// bound to every interface (0.0.0.0, ::), that is loopback.
#[must_use]
pub fn endpoint_of(mut addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let loopback: std::net::IpAddr =
            if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
        addr.set_ip(loopback);
    }
    format!("http://{addr}")
}

/// Serves `listener` until `shutdown` resolves; in-flight requests are allowed to finish.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    if let Ok(addr) = listener.local_addr() {
        let _ = app.endpoint.set(endpoint_of(addr));
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

#[cfg(test)]
mod tests {
    use super::*;
    use clock::{Clock, MILLIS_PER_DAY, Timestamp};

    fn app_in(dir: &std::path::Path) -> App {
        let app = App::new(config::Config::default(), Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600))));
        app.open_data_dir(dir, false).unwrap();
        app
    }

    #[tokio::test]
    async fn the_clock_offset_survives_a_restart_from_the_journal_and_from_a_snapshot() {
        let dir = std::env::temp_dir().join(format!("smemu-clock-{}", uuid::Uuid::new_v4()));
        let app = app_in(&dir);
        scheduler::advance_to(&app, app.engine.now().plus_days(3)).await;
        drop(app);
        let app = app_in(&dir);
        assert_eq!(app.engine.clock().offset(), 3 * MILLIS_PER_DAY, "replayed from the journal");
        scheduler::advance_to(&app, app.engine.now().plus_days(4)).await;
        app.compact();
        drop(app);
        let snapshots: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "snap"))
            .collect();
        assert_eq!(snapshots.len(), 1);
        let snapshot = std::fs::read(&snapshots[0]).unwrap();
        assert!(snapshot.windows(13).any(|w| w == b"\"clockOffset\""), "the snapshot keeps the clock");
        let app = app_in(&dir);
        assert_eq!(app.engine.clock().offset(), 7 * MILLIS_PER_DAY, "read from the snapshot");
        drop(app);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
