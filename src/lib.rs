//! smemu: a local emulator of AWS Secrets Manager that speaks the real JSON-1.1 wire protocol.
//!
//! # Layout
//! - [`server`]: sockets, hyper, graceful shutdown, and the order of the request pipeline.
//! - [`access_log`]: the one line per request (service, operation, identifier, caller, outcome).
//! - [`protocol`]: the awsJson1_1 wire — target routing, body decoding, model validation,
//!   timestamps and blobs, and the one encoder of successes and errors.
//! - [`auth`]: SigV4 verification and the caller's identity (account, region, principal);
//!   credentials from files, flags and AssumeRole.
//! - [`services`]: the services on the port, one folder each —
//!   - `secretsmanager`: `ops` (one enum of operations, one dispatch `match`, thin typed handlers
//!     per family), `state` (the engine — secrets, versions, staging labels, names and ARNs,
//!     replicas in other Regions and accounts, every AWS rule), `filter` (ListSecrets filters as pure predicates), `password`
//!     (GetRandomPassword from a CSPRNG), `policy` (resource-policy syntax and the public test);
//!   - `sts`: the STS calls clients make first (GetCallerIdentity, AssumeRole);
//!   - `kms`: keys, aliases, key states and deletion windows, AES-256-GCM envelope encryption,
//!     and the typed calls Secrets Manager makes;
//!   - `lambda`: functions deployed with the Lambda API, run by local python3.x and nodejs
//!     workers (one long-lived process per function), and as rotation functions;
//!   - `cloudtrail`: LookupEvents over the audit trail;
//!   - `iam`: IAM's users, access keys, roles, inline and managed policies, attachments and
//!     tags, written into the identity store, and the policy simulator on the evaluation engine.
//! - [`iam`]: IAM's policy language — parsing, validation, evaluation within and across
//!   accounts, AWS's refusal texts and the explanation of a decision (pure; no HTTP).
//! - [`audit`]: the CloudTrail-shaped record of every call and of Secrets Manager's own events,
//!   redaction, the bounded trail and its files.
//! - [`error`]: every error code with its `__type`, HTTP status and recurring texts.
//! - [`clock`]: the only source of time for state, movable in tests.
//! - [`random`]: the random bytes of keys, nonces and identifiers (the system's, pooled per thread).
//! - [`scheduler`]: work due on smemu's clock (purges, rotations), the sweeper, clock advances.
//! - [`rotation`]: the four-step rotation protocol, hooks, schedules and the rotation log.
//! - [`persist`]: the durable journal and snapshots behind `--data-dir`.
//! - [`seed`]: secrets loaded at start from YAML or JSON files, idempotently.
//! - [`iam`]: the identity store (users, roles, managed policies per account) and the enforcement
//!   of identity, resource and key policies on every call (`--authorize enforce`).
//! - [`guard`]: who may use the control API (the token), and the browser checks of both planes
//!   (`Origin`, `Host`, JSON bodies).
//! - [`reset`]: what a reset of one world or of all of them forgets, and what it keeps.
//! - [`control`]: the `/_smemu/` control API (health, reset, clock, state, hooks, rotations), its
//!   endpoints in one table ([`control::endpoints`]), and LocalStack's and moto's paths.
//! - [`console`]: the web console at `/_smemu/ui`, a page embedded in the binary that reads only
//!   the control API and the services' APIs.
//! - [`init`]: the operator's init scripts (`--init-dir`), run once smemu is ready.
//! - [`config`]: runtime settings.
//! - [`logging`]: the log filter, text or JSON output, colour, and the startup banner.

pub mod access_log;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod console;
pub mod control;
pub mod error;
pub mod guard;
pub mod iam;
pub mod init;
pub mod logging;
pub mod persist;
pub mod protocol;
pub mod random;
pub mod reset;
pub mod rotation;
pub mod scheduler;
pub mod seed;
pub mod server;
pub mod services;
use services::secretsmanager::state;

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

tokio::task_local! {
    /// The newest journal ticket the current request's answer depends on: changes it looked at
    /// or made (see [`App::settled`]).
    static OBSERVED: Cell<u64>;
}

/// Everything a request needs, shared by all connections.
pub struct App {
    pub config: config::Config,
    pub engine: state::Engine,
    pub model: protocol::validate::Model,
    /// The KMS key store, with its own locks; deletions share the engine's scheduled work, and
    /// the engine seals every secret value under its keys.
    pub kms: Arc<services::kms::Kms>,
    pub kms_model: protocol::validate::Model,
    pub cloudtrail_model: protocol::validate::Model,
    /// The audit trail: every call's record, LookupEvents' source.
    pub audit: Arc<audit::Audit>,
    pub auth: auth::Authenticator,
    /// Decides whether each call may run (`--authorize`).
    pub authorizer: iam::enforce::Authorizer,
    /// What IAM keeps beside the identity store (dates, key states, descriptions).
    pub iam: services::iam::Iam,
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
    /// Held while the state is rolled back after a failed journal write, so it happens once.
    rolling_back: tokio::sync::Mutex<()>,
    /// Rotation functions by ARN: what RotateSecret runs instead of a Lambda function.
    pub hooks: rotation::HookRegistry,
    /// Every rotation step's outcome, for `GET /_smemu/rotations`.
    pub rotation_log: rotation::RotationLog,
    /// The process groups of the `command` hooks running now, killed at shutdown.
    pub hook_processes: rotation::ProcessGroups,
    /// The control API's access decisions, fixed once smemu knows where it listens.
    guard: std::sync::OnceLock<guard::Guard>,
    /// smemu's own URL, for hooks that call back into it.
    endpoint: std::sync::OnceLock<String>,
    /// The init scripts' states, for `GET /_localstack/init`.
    pub init: init::InitStatus,
    /// Functions deployed to the Lambda API, and their workers.
    pub lambda: services::lambda::Lambda,
}

impl state::ChangeLog for persist::Journal {
    fn append(&self, record: &[u8]) -> u64 {
        persist::Journal::append(self, record)
    }

    fn check_writable(&self) -> error::Result<()> {
        persist::Journal::check_writable(self)
            .map_err(|e| error::ApiError::internal(&format!("change refused, the journal cannot write: {e}")))
    }

    fn observed(&self, ticket: u64) {
        // Outside a request (a rotation step, the sweeper) there is no answer to hold back.
        let _ = OBSERVED.try_with(|seen| seen.set(seen.get().max(ticket)));
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
        let engine = state::Engine::new(clock.clone());
        let audit = Arc::new(audit::Audit::new(config.audit, config.audit_retain, clock.clone()));
        let kms = Arc::new(services::kms::Kms::new(clock, engine.due_queue()));
        kms.attach_audit(audit.clone());
        engine.attach_audit(audit.clone());
        engine.set_vault(Arc::new(services::secretsmanager::encryption::KmsVault::new(kms.clone())));
        Self {
            kms,
            kms_model: protocol::validate::Model::kms(),
            cloudtrail_model: protocol::validate::Model::cloudtrail(),
            audit,
            engine,
            model: protocol::validate::Model::embedded(),
            auth,
            authorizer: iam::enforce::Authorizer::new(config.authorize),
            iam: services::iam::Iam::default(),
            config,
            ready: AtomicBool::new(true),
            ready_changed: tokio::sync::Notify::new(),
            advancing: tokio::sync::Mutex::new(()),
            journal: std::sync::OnceLock::new(),
            compacting: AtomicBool::new(false),
            rolling_back: tokio::sync::Mutex::new(()),
            hooks: rotation::HookRegistry::new(),
            rotation_log: rotation::RotationLog::default(),
            hook_processes: rotation::ProcessGroups::new(),
            guard: std::sync::OnceLock::new(),
            endpoint: std::sync::OnceLock::new(),
            init: init::InitStatus::default(),
            lambda: services::lambda::Lambda::new(),
        }
    }

    /// Makes state durable in `dir`: loads the newest snapshot, replays the journal after it, then
    /// journals every change. KMS key material comes from its own file there. Returns the warnings
    /// recovery produced (a torn tail cut off, say).
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it.
    pub fn open_data_dir(&self, dir: &std::path::Path, repair: bool) -> Result<Vec<String>, String> {
        self.open_data_dir_with(dir, &persist::JournalOptions { repair, ..persist::JournalOptions::default() })
    }

    /// [`Self::open_data_dir`] with every journal option (tests inject write failures this way).
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it.
    pub fn open_data_dir_with(
        &self,
        dir: &std::path::Path,
        options: &persist::JournalOptions,
    ) -> Result<Vec<String>, String> {
        let (journal, recovered) = persist::Journal::open_with(dir, options).map_err(|e| e.to_string())?;
        let keys = services::kms::keyfile::KeyFile::open(dir)?;
        let sealer = Arc::new(services::kms::sealer::Sealer::open(dir)?);
        self.iam.set_sealer(sealer.clone());
        self.lambda.open_dir(dir, sealer);
        let replayed = Self::replay(&self.engine, &recovered, dir)?;
        self.engine.adopt(replayed.engine);
        let clock_offset = replayed.clock_offset;
        self.kms.load(replayed.kms);
        for change in replayed.kms_changes {
            self.kms.apply_change(change);
        }
        for image in replayed.iam {
            self.iam.restore(self, image)?;
        }
        let mut warnings = recovered.warnings;
        warnings.extend(self.lambda.restore(replayed.lambda, replayed.lambda_changes)?);
        warnings.extend(self.kms.attach_material(keys)?);
        self.audit.open_dir(dir)?;
        let journal = Arc::new(journal);
        self.engine.set_changelog(journal.clone());
        self.kms.set_changelog(journal.clone());
        self.iam.set_changelog(journal.clone());
        self.lambda.set_changelog(journal.clone());
        let _ = self.journal.set(journal);
        // A kill -9 between a primary's change and its copy left the replica behind; copy again.
        self.engine.reconcile_replicas();
        // A clock that starts further ahead (`--start-time`) is kept from now on as well.
        let offset = self.engine.clock().offset();
        if clock_offset != Some(offset) {
            self.engine.journal_clock(offset);
        }
        Ok(warnings)
    }

    /// Forgets every secret and KMS key, or those of one account, or of one account and region.
    pub fn reset(&self, account: Option<&str>, region: Option<&str>) {
        self.engine.reset(account, region);
        self.kms.reset(account, region);
    }

    /// Rebuilds, beside `engine`, the state a data directory holds: everything is decoded first,
    /// so a bad record builds nothing.
    fn replay(
        engine: &state::Engine,
        recovered: &persist::Recovered,
        dir: &std::path::Path,
    ) -> Result<Replayed, String> {
        let unreadable = |e: serde_json::Error| format!("the snapshot in {} cannot be read: {e}", dir.display());
        let (mut snapshot, clock_offset): (Option<state::StateDump>, Option<i64>) = match &recovered.snapshot {
            Some(bytes) => (
                Some(serde_json::from_slice(bytes).map_err(unreadable)?),
                serde_json::from_slice::<SnapshotClock>(bytes).map_err(unreadable)?.clock_offset,
            ),
            None => (None, None),
        };
        let changes = recovered
            .records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                serde_json::from_slice::<state::Change<'_>>(record)
                    .map_err(|e| format!("journal record {i} in {} cannot be read: {e}", dir.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kms = snapshot.as_mut().map(|s| std::mem::take(&mut s.kms)).unwrap_or_default();
        // An IAM image replaces its whole account: only each account's last one counts.
        let mut iam: std::collections::BTreeMap<String, services::iam::AccountImage> = snapshot
            .as_mut()
            .map(|s| std::mem::take(&mut s.iam))
            .unwrap_or_default()
            .into_iter()
            .map(|image| (image.account.clone(), image))
            .collect();
        let (kms_changes, changes): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|c| matches!(c, state::Change::Kms(_)));
        let (iam_changes, changes): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|c| matches!(c, state::Change::Iam(_)));
        for change in iam_changes {
            if let state::Change::Iam(image) = change {
                iam.insert(image.account.clone(), image);
            }
        }
        let lambda = snapshot.as_mut().map(|s| std::mem::take(&mut s.lambda)).unwrap_or_default();
        let (lambda_changes, changes): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|c| matches!(c, state::Change::Lambda(_)));
        let lambda_changes = lambda_changes
            .into_iter()
            .filter_map(|c| if let state::Change::Lambda(l) = c { Some(l) } else { None })
            .collect();
        let kms_changes = kms_changes
            .into_iter()
            .filter_map(|c| if let state::Change::Kms(k) = c { Some(k) } else { None })
            .collect();
        // The clock offset kept: the snapshot's, raised by later records.
        let clock_offset = changes
            .iter()
            .filter_map(|c| if let state::Change::Clock { offset } = c { Some(*offset) } else { None })
            .fold(clock_offset, |kept, offset| kept.max(Some(offset)));
        let rebuilt = engine.sibling();
        if let Some(offset) = clock_offset {
            rebuilt.clock().raise_offset(offset);
        }
        if let Some(state) = snapshot {
            rebuilt.apply_change(state::Change::Import { state: std::borrow::Cow::Owned(state) });
        }
        for change in changes {
            rebuilt.apply_change(change);
        }
        Ok(Replayed {
            engine: rebuilt,
            clock_offset,
            kms,
            kms_changes,
            iam: iam.into_values().collect(),
            lambda,
            lambda_changes,
        })
    }

    /// Runs one request's `work`, then holds its answer back until everything the answer
    /// depends on is durable, success or error alike: the changes it made, and the newest change
    /// to anything it looked at (the engine reports both). So a change is acknowledged only once
    /// it is on disk, and no one is ever told of a change that a failed write later takes back
    /// (a "phantom" secret), not even by an error such as ResourceExistsException.
    ///
    /// When that wait fails, the state is rolled back to what the disk holds before the answer
    /// (InternalServiceError) goes out, so a retry meets exactly the state a restart would.
    ///
    /// Reads pay for this only in durable mode, and there with a task-local cell and two atomic
    /// loads when what they read is already durable.
    ///
    /// # Errors
    /// `work`'s own error, or `InternalServiceError` when the journal lost what the answer
    /// depends on.
    pub(crate) async fn settled<T>(
        self: &Arc<Self>,
        mutating: bool,
        work: impl Future<Output = Result<T, error::ApiError>>,
    ) -> Result<T, error::ApiError> {
        let Some(journal) = self.journal.get() else { return work.await };
        let (outcome, observed) = OBSERVED
            .scope(Cell::new(0), async move {
                let outcome = work.await;
                (outcome, OBSERVED.with(Cell::get))
            })
            .await;
        self.settle(journal, observed).await?;
        if mutating {
            self.maybe_compact(journal);
        }
        outcome
    }

    /// Runs `work` (a control request) so that [`Self::durable`] inside it waits for exactly
    /// what it depends on.
    pub(crate) async fn observing<F: Future>(&self, work: F) -> F::Output {
        if self.journal.get().is_some() { OBSERVED.scope(Cell::new(0), work).await } else { work.await }
    }

    /// Waits until the changes the current request made or looked at are on disk (inside
    /// [`Self::observing`]; elsewhere every change made so far; at once when state is in memory
    /// only); then, if the journal has grown enough, starts writing a snapshot in the background.
    ///
    /// # Errors
    /// `InternalServiceError` when the journal cannot write: the change is not acknowledged, and
    /// the state has been rolled back to what the disk holds.
    pub async fn durable(self: &Arc<Self>) -> Result<(), error::ApiError> {
        let Some(journal) = self.journal.get() else { return Ok(()) };
        let ticket = OBSERVED.try_with(Cell::get).unwrap_or_else(|_| journal.last_ticket());
        self.settle(journal, ticket).await?;
        self.maybe_compact(journal);
        Ok(())
    }

    fn maybe_compact(self: &Arc<Self>, journal: &persist::Journal) {
        if journal.should_compact() && !self.compacting.swap(true, Ordering::SeqCst) {
            let app = self.clone();
            tokio::spawn(async move { app.compact().await });
        }
    }

    async fn settle(self: &Arc<Self>, journal: &persist::Journal, ticket: u64) -> Result<(), error::ApiError> {
        if ticket == 0 || journal.is_durable(ticket) {
            return Ok(());
        }
        if let Err(e) = journal.wait_durable(ticket).await {
            self.roll_back().await;
            return Err(error::ApiError::internal(&format!("not acknowledged: {e}")));
        }
        Ok(())
    }

    /// After a failed journal write: puts the state back to what the disk holds.
    ///
    /// Why this design: keeping each change invisible until its record is synced would need a
    /// second copy of every changed secret (or versioned state) on the hot path. Instead a change
    /// is applied at once, and two rules keep a lost change from ever being seen:
    /// - no answer goes out before the records it depends on are durable ([`Self::settled`]), so
    ///   whoever could have seen a lost change is still waiting, and gets InternalServiceError;
    /// - before that error goes out, the state is rebuilt from the data directory (the journal
    ///   cut back to its last good sync, see `persist`) and swapped in whole while the engine's
    ///   order gate holds every change off, so what is served is again exactly what a restart
    ///   would find.
    ///
    /// The journal then stays degraded, refusing changes before they are made, until a probe
    /// write succeeds; the first record on disk makes it healthy again.
    async fn roll_back(self: &Arc<Self>) {
        let _once = self.rolling_back.lock().await;
        let app = self.clone();
        let _ = tokio::task::spawn_blocking(move || app.roll_back_blocking()).await;
    }

    fn roll_back_blocking(&self) {
        let Some(journal) = self.journal.get() else { return };
        self.engine.exclusive(|| match journal.roll_back() {
            Ok(None) => {}
            Ok(Some(recovered)) => match Self::replay(&self.engine, &recovered, journal.dir()) {
                // The key store goes back too: a reset or an import took its keys along.
                Ok(replayed) => {
                    self.engine.adopt(replayed.engine);
                    self.kms.restore(replayed.kms, replayed.kms_changes);
                    for image in replayed.iam {
                        if let Err(e) = self.iam.restore(self, image) {
                            tracing::error!(error = %e, "an IAM account cannot be rebuilt from the journal");
                        }
                    }
                    if let Err(e) = self.lambda.restore(replayed.lambda, replayed.lambda_changes) {
                        tracing::error!(error = %e, "the Lambda functions cannot be rebuilt from the journal");
                    }
                    for warning in &recovered.warnings {
                        tracing::warn!("{warning}");
                    }
                    tracing::warn!(
                        secrets = self.engine.secret_count(),
                        "a journal write failed: changes not yet on disk were undone; \
                         writes resume once the disk takes data again"
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "the state cannot be rebuilt from the journal");
                    journal.stop(&e);
                }
            },
            Err(e) => tracing::error!(error = %e, "a journal write failed and cannot be rolled back yet"),
        });
    }

    /// Whether the journal is failing or recovering from a failed write: `/_smemu/health`
    /// reports "degraded" meanwhile. While degraded, each call probes the disk once, so a health
    /// check that polls sees the journal recover without waiting for the next change.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        self.journal.get().is_some_and(|j| j.is_degraded() && j.check_writable().is_err())
    }

    /// Whether a snapshot is being written in the background.
    #[must_use]
    pub fn is_compacting(&self) -> bool {
        self.compacting.load(Ordering::SeqCst)
    }

    async fn compact(self: Arc<Self>) {
        if let Some(journal) = self.journal.get().cloned() {
            let app = self.clone();
            let journal_for_export = journal.clone();
            // The sequence is read first: the export then covers at least every record up to it.
            // Both are read with no reset, import or rollback in between.
            let taken = tokio::task::spawn_blocking(move || {
                let (covered, state, upto) = app
                    .engine
                    .shared(|| (journal_for_export.last_seq(), app.engine.export(), journal_for_export.last_ticket()));
                let mut state = state;
                state.kms = app.kms.export();
                // IAM's and Lambda's records are appended under their own locks, which their
                // exports take: what an export shows was appended before the ticket read after it.
                let iam = app.iam.export(&app, services::iam::Secrets::Sealed);
                let lambda = app.lambda.export();
                let upto = upto.max(journal_for_export.last_ticket());
                let snapshot = match iam.and_then(|iam| Ok((iam, lambda?))) {
                    Ok((iam, lambda)) => {
                        state.iam = iam;
                        state.lambda = lambda;
                        let snapshot = Snapshot { state: &state, clock_offset: app.engine.clock().offset() };
                        serde_json::to_vec(&snapshot).map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e),
                };
                (covered, snapshot, upto)
            })
            .await;
            // The export may hold changes still on their way to disk: it is written only once
            // they are all there, so a snapshot never holds a change a failed write took back.
            if let Ok((covered, Ok(snapshot), upto)) = taken
                && journal.wait_durable(upto).await.is_ok()
            {
                let written = tokio::task::spawn_blocking(move || journal.write_snapshot(covered, &snapshot)).await;
                if let Ok(Err(e)) = written {
                    tracing::error!(error = %e, "snapshot failed; the journal keeps every record");
                }
            }
        }
        self.compacting.store(false, Ordering::SeqCst);
    }

    /// The access decisions for the address smemu listens on. Before [`run`] sets them they
    /// treat the address as not loopback, so nothing is ever more open than it should be.
    pub fn guard(&self) -> &guard::Guard {
        self.guard.get_or_init(|| guard::Guard::new(&self.config, None))
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

/// What a data directory holds, rebuilt beside the running state.
struct Replayed {
    engine: state::Engine,
    /// The clock offset kept: the snapshot's, raised by later records.
    clock_offset: Option<i64>,
    kms: Vec<services::kms::StoreDump>,
    kms_changes: Vec<services::kms::Change>,
    /// The last image of each IAM account the API changed.
    iam: Vec<services::iam::AccountImage>,
    lambda: Vec<services::lambda::durable::FunctionImage>,
    lambda_changes: Vec<services::lambda::durable::Change>,
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
    let weak = Arc::downgrade(&app);
    app.audit.count_versions_with(Box::new(move |account, region, arn| {
        weak.upgrade().map_or(1, |app| {
            app.engine.read_secret(state::Scope::of(account, region), arn, |s| Ok(s.versions.len())).unwrap_or(1)
        })
    }));
    if let Ok(addr) = listener.local_addr() {
        let _ = app.endpoint.set(endpoint_of(addr));
        let _ = app.guard.set(guard::Guard::new(&app.config, Some(addr.ip())));
    }
    let (stop_sweeper, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper = tokio::spawn(scheduler::sweeper(app.clone(), async {
        let _ = sweeper_stopped.await;
    }));
    server::serve(listener, app.clone(), shutdown).await;
    // In-flight requests had their time to finish; hooks still running (a rotation that answered
    // early, a hook past the drain) are not left behind smemu's exit.
    app.hook_processes.shut_down();
    app.lambda.shut_down();
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
        let app = Arc::new(app_in(&dir));
        assert_eq!(app.engine.clock().offset(), 3 * MILLIS_PER_DAY, "replayed from the journal");
        scheduler::advance_to(&app, app.engine.now().plus_days(4)).await;
        app.clone().compact().await;
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
