//! Init scripts (`--init-dir`): the operator's own scripts, run once smemu is ready, as LocalStack
//! runs the scripts of its `ready.d` stage; `GET /_localstack/init` reports them.
//!
//! Only the operator's flag names scripts: no HTTP request can start one.
//!
//! # Which scripts, in which order
//! The directory's `ready.d` subfolder when it has one (so a mount of LocalStack's
//! `/etc/localstack/init` works unchanged), else the directory itself. Its files run in name
//! order, then each subfolder's, depth first, also in name order. Executable files run directly
//! (their `#!` line picks the interpreter); other `*.sh` files run with `sh`, other `*.py`
//! files with `python3`; anything else is skipped with a warning. Hidden entries (`.gitkeep`) are
//! ignored.
//!
//! # How each runs
//! One at a time, with smemu's environment plus `AWS_ENDPOINT_URL` (smemu's URL) and, when they are
//! not set, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (`test`) and
//! `AWS_DEFAULT_REGION`/`AWS_REGION` (smemu's default region). Standard input is empty; standard
//! output and error are smemu's, since they are the operator's own output. Each runs in a process
//! group of its own: past its timeout, or when smemu stops, the whole group is killed (at shutdown
//! after a `SIGTERM` and a short grace). A script that fails, cannot start or times out is
//! `ERROR`, and the next one still runs.

use crate::App;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long one script may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a script gets to exit after `SIGTERM` when smemu stops, before `SIGKILL`.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The stages of LocalStack's init API. smemu runs scripts only in `READY`.
const STAGES: [&str; 4] = ["BOOT", "START", "READY", "SHUTDOWN"];

/// A subfolder of stages smemu does not run, worth a warning when it holds scripts.
const OTHER_STAGE_DIRS: [&str; 3] = ["boot.d", "start.d", "shutdown.d"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not run yet.
    Unknown,
    Running,
    /// Exited with status 0.
    Successful,
    /// Exited with another status, could not start, timed out, or was stopped with smemu.
    Error,
}

/// How a script is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interpreter {
    /// Executable: run directly.
    Direct,
    Sh,
    Python,
}

/// One script to run.
#[derive(Clone, Debug)]
pub struct Script {
    pub path: PathBuf,
    /// Its path below the script directory (for a file at the top, its file name).
    pub name: String,
    interpreter: Interpreter,
}

/// The scripts of an init directory, in the order they run, and what was skipped.
#[derive(Debug, Default)]
pub struct Discovered {
    pub scripts: Vec<Script>,
    pub warnings: Vec<String>,
}

/// Finds the scripts in `dir` (see the module docs).
///
/// # Errors
/// When `dir` is not a readable directory.
pub fn discover(dir: &Path) -> Result<Discovered, String> {
    if !dir.is_dir() {
        return Err(format!("--init-dir {}: not a directory", dir.display()));
    }
    let ready = dir.join("ready.d");
    let mut found = Discovered::default();
    let root = if ready.is_dir() {
        for other in OTHER_STAGE_DIRS {
            let path = dir.join(other);
            if std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_some()) {
                found.warnings.push(format!("init: {} is not run: smemu runs only ready.d", path.display()));
            }
        }
        ready
    } else {
        dir.to_owned()
    };
    let mut visited = Vec::new();
    walk(&root, &root, &mut visited, &mut found).map_err(|e| format!("--init-dir {}: {e}", root.display()))?;
    Ok(found)
}

fn walk(root: &Path, dir: &Path, visited: &mut Vec<PathBuf>, found: &mut Discovered) -> std::io::Result<()> {
    // A symlink back up the tree would otherwise be walked forever.
    let canonical = dir.canonicalize()?;
    if visited.contains(&canonical) {
        return Ok(());
    }
    visited.push(canonical);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    for path in files {
        let name = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        match interpreter_for(&path) {
            Some(interpreter) => found.scripts.push(Script { path, name, interpreter }),
            None => found
                .warnings
                .push(format!("init: {} skipped: not executable, and not a .sh or .py file", path.display())),
        }
    }
    for sub in dirs {
        walk(root, &sub, visited, found)?;
    }
    Ok(())
}

fn interpreter_for(path: &Path) -> Option<Interpreter> {
    if is_executable(path) {
        return Some(Interpreter::Direct);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("sh") => Some(Interpreter::Sh),
        Some("py") => Some(Interpreter::Python),
        _ => None,
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// The scripts' states, for `GET /_localstack/init`.
pub struct InitStatus {
    scripts: parking_lot::Mutex<Vec<(String, State)>>,
    /// Whether every script has had its turn (true when there are none).
    finished: std::sync::atomic::AtomicBool,
}

impl Default for InitStatus {
    fn default() -> Self {
        Self { scripts: parking_lot::Mutex::default(), finished: std::sync::atomic::AtomicBool::new(true) }
    }
}

impl InitStatus {
    /// The scripts that will run, all `UNKNOWN`.
    pub fn expect(&self, scripts: &[Script]) {
        *self.scripts.lock() = scripts.iter().map(|s| (s.name.clone(), State::Unknown)).collect();
        self.finished.store(scripts.is_empty(), std::sync::atomic::Ordering::SeqCst);
    }

    fn set(&self, index: usize, state: State) {
        if let Some(slot) = self.scripts.lock().get_mut(index) {
            slot.1 = state;
        }
    }

    fn finish(&self) {
        self.finished.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `GET /_localstack/init`: every stage's completion and every script. `ready` is whether
    /// smemu itself is ready: the READY stage is complete once smemu is and its scripts have run.
    #[must_use]
    pub fn report(&self, ready: bool) -> Value {
        let completed: serde_json::Map<String, Value> =
            STAGES.iter().map(|stage| ((*stage).to_owned(), Value::Bool(self.completed(stage, ready)))).collect();
        json!({ "completed": completed, "scripts": self.scripts_of("READY") })
    }

    /// `GET /_localstack/init/<stage>` (any case), or `None` for a stage LocalStack does not have.
    #[must_use]
    pub fn stage(&self, stage: &str, ready: bool) -> Option<Value> {
        let stage = STAGES.into_iter().find(|s| s.eq_ignore_ascii_case(stage))?;
        Some(json!({ "completed": self.completed(stage, ready), "scripts": self.scripts_of(stage) }))
    }

    fn completed(&self, stage: &str, ready: bool) -> bool {
        match stage {
            "READY" => ready && self.finished.load(std::sync::atomic::Ordering::SeqCst),
            "SHUTDOWN" => false,
            _ => true,
        }
    }

    fn scripts_of(&self, stage: &str) -> Vec<Value> {
        if stage != "READY" {
            return Vec::new();
        }
        let scripts = self.scripts.lock();
        scripts.iter().map(|(name, state)| json!({ "stage": "READY", "name": name, "state": state })).collect()
    }
}

/// What scripts need to know about the smemu they run against.
#[derive(Clone, Debug)]
pub struct Settings {
    /// smemu's URL, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    /// For `AWS_DEFAULT_REGION`/`AWS_REGION` when they are not set.
    pub region: String,
    pub timeout: Duration,
}

/// Scripts running in the background; [`Running::stop`] ends them.
pub struct Running {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<Stop>,
}

/// Set once smemu stops: the running script is ended and no other starts.
#[derive(Default)]
struct Stop {
    requested: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

/// Runs `scripts` one after another in a background task; `app.init` follows their states.
#[must_use]
pub fn start(app: Arc<App>, scripts: Vec<Script>, settings: Settings) -> Running {
    let stop = Arc::new(Stop::default());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        for (index, script) in scripts.iter().enumerate() {
            if stopped.requested.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            app.init.set(index, State::Running);
            let (state, stopping) = run_one(script, &settings, &stopped.notify).await;
            app.init.set(index, state);
            if stopping {
                return;
            }
        }
        app.init.finish();
        tracing::info!(scripts = scripts.len(), "init scripts finished");
    });
    Running { task, stop }
}

impl Running {
    /// Stops the script that is running (its whole process group) and runs no more.
    pub async fn stop(self) {
        self.stop.requested.store(true, std::sync::atomic::Ordering::SeqCst);
        // A permit is kept if no script waits yet: the next wait ends at once.
        self.stop.notify.notify_one();
        let _ = self.task.await;
    }
}

fn command(script: &Script, settings: &Settings) -> tokio::process::Command {
    let mut command = match script.interpreter {
        Interpreter::Direct => tokio::process::Command::new(&script.path),
        Interpreter::Sh => {
            let mut c = tokio::process::Command::new("sh");
            c.arg(&script.path);
            c
        }
        Interpreter::Python => {
            let mut c = tokio::process::Command::new("python3");
            c.arg(&script.path);
            c
        }
    };
    command.env("AWS_ENDPOINT_URL", &settings.endpoint);
    for (name, default) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", settings.region.as_str()),
        ("AWS_REGION", settings.region.as_str()),
    ] {
        if std::env::var_os(name).is_none() {
            command.env(name, default);
        }
    }
    command.stdin(std::process::Stdio::null()).kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command
}

/// Runs one script to its end, its timeout or `stop`. Returns its state, and whether smemu is
/// stopping.
async fn run_one(script: &Script, settings: &Settings, stop: &tokio::sync::Notify) -> (State, bool) {
    let shown = script.path.display();
    let mut child = match command(script, settings).spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("init script {shown} cannot start: {e}");
            return (State::Error, false);
        }
    };
    // The group's id is the leader's pid, which cannot be reused before the leader is reaped:
    // every signal below is sent before `wait` has returned.
    let group = child.id();
    tokio::select! {
        status = child.wait() => match status {
            Ok(status) if status.success() => (State::Successful, false),
            Ok(status) => {
                tracing::error!("init script {shown} failed: {status}");
                (State::Error, false)
            }
            Err(e) => {
                tracing::error!("init script {shown}: waiting for it failed: {e}");
                (State::Error, false)
            }
        },
        () = tokio::time::sleep(settings.timeout) => {
            signal_group(group, Signal::Kill);
            let _ = child.wait().await;
            tracing::error!("init script {shown} timed out after {:?} and was killed", settings.timeout);
            (State::Error, false)
        }
        () = stop.notified() => {
            signal_group(group, Signal::Term);
            if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                signal_group(group, Signal::Kill);
                let _ = child.wait().await;
            }
            tracing::warn!("init script {shown} stopped: smemu is shutting down");
            (State::Error, true)
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Signals the process group led by `leader` (a script and whatever it started).
#[cfg(unix)]
fn signal_group(leader: Option<u32>, signal: Signal) {
    use rustix::process::{Pid, kill_process_group};
    // Never group 1 or below: kill(-1) would reach every process smemu may signal.
    let Some(pid) = leader.and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 1).and_then(Pid::from_raw) else {
        return;
    };
    let signal = match signal {
        Signal::Term => rustix::process::Signal::TERM,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    if let Err(e) = kill_process_group(pid, signal) {
        tracing::debug!(error = %e, "signalling an init script's process group failed");
    }
}

#[cfg(not(unix))]
fn signal_group(_: Option<u32>, _: Signal) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smemu-init-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    fn executable(path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn scripts_run_files_first_then_subfolders_depth_first_in_name_order() {
        let dir = temp_dir();
        std::fs::create_dir_all(dir.join("b/inner")).unwrap();
        std::fs::create_dir_all(dir.join("a")).unwrap();
        for file in ["2.sh", "1.py", "b/inner/x.sh", "b/9.sh", "a/z.sh", ".hidden.sh", "notes.txt"] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        executable(&dir.join("3-tool"), "#!/bin/sh\n");
        let found = discover(&dir).unwrap();
        let names: Vec<_> = found.scripts.iter().map(|s| (s.name.as_str(), s.interpreter)).collect();
        assert_eq!(
            names,
            [
                ("1.py", Interpreter::Python),
                ("2.sh", Interpreter::Sh),
                ("3-tool", Interpreter::Direct),
                ("a/z.sh", Interpreter::Sh),
                ("b/9.sh", Interpreter::Sh),
                ("b/inner/x.sh", Interpreter::Sh),
            ]
        );
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("notes.txt"));
        std::os::unix::fs::symlink(&dir, dir.join("b/loop")).unwrap();
        assert_eq!(discover(&dir).unwrap().scripts.len(), 6, "a symlink loop is walked once");
    }

    #[test]
    fn a_ready_d_folder_is_the_script_directory() {
        let dir = temp_dir();
        std::fs::create_dir_all(dir.join("ready.d")).unwrap();
        std::fs::create_dir_all(dir.join("boot.d")).unwrap();
        std::fs::write(dir.join("ready.d/setup.sh"), "").unwrap();
        std::fs::write(dir.join("boot.d/early.sh"), "").unwrap();
        std::fs::write(dir.join("top.sh"), "").unwrap();
        let found = discover(&dir).unwrap();
        assert_eq!(found.scripts.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["setup.sh"]);
        assert!(found.warnings.iter().any(|w| w.contains("boot.d")), "{:?}", found.warnings);
        assert!(discover(&dir.join("missing")).unwrap_err().contains("not a directory"));
    }

    #[test]
    fn the_status_has_localstacks_shape() {
        let status = InitStatus::default();
        assert_eq!(status.report(true)["completed"]["READY"], true, "nothing to run");
        assert_eq!(status.report(false)["completed"]["READY"], false, "smemu itself is not ready");
        let scripts: Vec<Script> = ["a.sh", "b.sh"]
            .iter()
            .map(|n| Script { path: PathBuf::from(n), name: (*n).to_owned(), interpreter: Interpreter::Sh })
            .collect();
        status.expect(&scripts);
        status.set(0, State::Error);
        assert_eq!(
            status.report(true),
            json!({
                "completed": {"BOOT": true, "START": true, "READY": false, "SHUTDOWN": false},
                "scripts": [
                    {"stage": "READY", "name": "a.sh", "state": "ERROR"},
                    {"stage": "READY", "name": "b.sh", "state": "UNKNOWN"}
                ]
            })
        );
        status.set(1, State::Successful);
        status.finish();
        assert_eq!(status.stage("ready", true).unwrap()["completed"], true);
        assert_eq!(status.stage("Boot", true).unwrap(), json!({"completed": true, "scripts": []}));
        assert!(status.stage("later", true).is_none());
    }
}
