//! The long-lived process that runs one function's handler: started on first use, fed one
//! invocation at a time over its stdin, answering over its stdout, killed at a timeout, when its
//! function changes or goes, and at shutdown (its process group is tracked by
//! [`crate::rotation::ProcessGroups`]).
//!
//! The protocol: smemu writes one JSON line per invocation (`requestId`, `event`, `deadlineMs`
//! and the context's fields); the runtime (`runtime/bootstrap.py`, `runtime/bootstrap.js`)
//! answers with one line `NONCE {"ok", "result" | "error", "logs"}`. Before the first, once the
//! handler's module is loaded, it sends `NONCE {"ready": true}`: the init phase has a budget of
//! its own ([`INIT_TIMEOUT`], as Lambda's), apart from the function's timeout. The nonce is random per
//! process, so a line the function writes to the real stdout can't pass for an answer: such
//! lines, and the process's stderr, are kept as log output.

use crate::rotation::process::{Group, ProcessGroups};
use parking_lot::Mutex;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

/// The largest answer line a runtime may send (Lambda's 6 MB response limit, JSON-encoded, with logs).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;
/// How long a runtime may take to load the handler's module before its first invocation.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Stray output kept per invocation: the newest bytes.
const MAX_STRAY_BYTES: usize = 64 * 1024;

pub const PYTHON_BOOTSTRAP: &str = include_str!("runtime/bootstrap.py");
pub const NODE_BOOTSTRAP: &str = include_str!("runtime/bootstrap.js");

/// Which local runtime a function's `Runtime` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Python,
    Node,
}

impl Kind {
    /// `python3.x` and `nodejsNN.x`, the families smemu runs.
    pub fn of(runtime: &str) -> Option<Self> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(minor) = runtime.strip_prefix("python3.") {
            return digits(minor).then_some(Self::Python);
        }
        let major = runtime.strip_prefix("nodejs")?.strip_suffix(".x")?;
        digits(major).then_some(Self::Node)
    }
}

/// How to start a worker.
pub struct Launch<'a> {
    pub kind: Kind,
    /// The interpreter to run (`python3`, `node`, or what the flags name).
    pub program: &'a str,
    pub handler: &'a str,
    pub task_root: &'a Path,
    /// The whole environment: nothing of smemu's own is passed on but `PATH`.
    pub env: Vec<(String, String)>,
}

/// What a runtime answered.
#[derive(Debug)]
pub struct Answer {
    /// The init phase's end, rather than an invocation's answer.
    pub ready: bool,
    pub ok: bool,
    /// The handler's return value, or its error object.
    pub payload: Value,
    pub logs: String,
}

/// Why an invocation has no answer.
#[derive(Debug)]
pub enum Failure {
    /// Past the function's timeout; the worker was killed.
    TimedOut,
    /// The worker exited, or broke the protocol; it was killed.
    Died(String),
    /// It could not be started at all.
    Start(String),
}

pub struct Worker {
    /// Dropping it kills the process group.
    group: Group,
    stdin: ChildStdin,
    answers: mpsc::Receiver<Result<Answer, String>>,
    stray: Arc<Mutex<String>>,
    /// Whether the runtime said it finished its init phase.
    ready: bool,
}

impl Worker {
    /// Starts the runtime.
    ///
    /// # Errors
    /// When the interpreter can't be started (or smemu is shutting down).
    pub fn start(processes: &ProcessGroups, launch: Launch<'_>) -> Result<Self, String> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let mut command = tokio::process::Command::new(launch.program);
        match launch.kind {
            Kind::Python => command.args(["-u", "-c", PYTHON_BOOTSTRAP]),
            Kind::Node => command.args(["-e", NODE_BOOTSTRAP]),
        };
        command
            .env_clear()
            .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
            .envs(launch.env)
            .env("SMEMU_LAMBDA_NONCE", &nonce)
            .env("SMEMU_LAMBDA_HANDLER", launch.handler)
            .current_dir(launch.task_root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut group = processes.spawn(&mut command).map_err(|e| format!("cannot start {}: {e}", launch.program))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (group.child.stdin.take(), group.child.stdout.take(), group.child.stderr.take())
        else {
            return Err("the worker's pipes are missing".into());
        };
        let stray = Arc::new(Mutex::new(String::new()));
        let (tx, answers) = mpsc::channel(1);
        tokio::spawn(read_answers(stdout, format!("{nonce} "), tx, stray.clone()));
        tokio::spawn(read_stray(stderr, stray.clone()));
        Ok(Self { group, stdin, answers, stray, ready: false })
    }

    /// Sends one invocation and waits for its answer, at most `timeout`. After a failure the
    /// worker must be dropped (a timed-out one is killed here already).
    pub async fn invoke(&mut self, mut request: Value, timeout: Duration) -> Result<Answer, Failure> {
        self.stray.lock().clear();
        // The function's time starts now, after the init phase.
        let deadline = std::time::SystemTime::now() + timeout;
        let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        if let Value::Object(fields) = &mut request {
            fields.insert("deadlineMs".into(), Value::from(u64::try_from(deadline_ms).unwrap_or(u64::MAX)));
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        if !self.ready {
            match tokio::time::timeout(INIT_TIMEOUT, self.answers.recv()).await {
                Ok(Some(Ok(answer))) if answer.ready => self.ready = true,
                Ok(Some(Ok(_))) => return Err(self.died("the runtime answered before it was asked".into()).await),
                Ok(Some(Err(why))) => return Err(self.died(why).await),
                Ok(None) => return Err(self.died(String::new()).await),
                Err(_) => {
                    self.group.kill();
                    return Err(Failure::Died(format!(
                        "the runtime did not finish its init phase within {} seconds",
                        INIT_TIMEOUT.as_secs()
                    )));
                }
            }
        }
        let exchange = async {
            self.stdin.write_all(&line).await.map_err(|e| Failure::Died(format!("cannot write to the worker: {e}")))?;
            self.stdin.flush().await.map_err(|e| Failure::Died(format!("cannot write to the worker: {e}")))?;
            match self.answers.recv().await {
                Some(Ok(answer)) => Ok(answer),
                Some(Err(why)) => Err(Failure::Died(why)),
                None => Err(Failure::Died(String::new())),
            }
        };
        let outcome = match tokio::time::timeout(timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.group.kill();
                Err(Failure::TimedOut)
            }
        };
        match outcome {
            Ok(mut answer) => {
                let stray = std::mem::take(&mut *self.stray.lock());
                answer.logs.push_str(&stray);
                Ok(answer)
            }
            Err(Failure::Died(why)) => Err(self.died(why).await),
            Err(other) => Err(other),
        }
    }

    /// Kills a worker that broke off, and says why (by default, how it exited).
    async fn died(&mut self, why: String) -> Failure {
        self.group.kill();
        // The exit status says how it died; it is reaped already or within moments.
        let status = tokio::time::timeout(Duration::from_secs(1), self.group.child.wait()).await;
        let status = match status {
            Ok(Ok(status)) => status.to_string(),
            _ => "killed".to_owned(),
        };
        Failure::Died(if why.is_empty() { format!("Runtime exited with error: {status}") } else { why })
    }

    /// What the process printed outside the protocol since the last invocation began.
    pub fn stray_output(&self) -> String {
        self.stray.lock().clone()
    }
}

async fn read_answers(
    stdout: impl AsyncRead + Unpin,
    prefix: String,
    tx: mpsc::Sender<Result<Answer, String>>,
    stray: Arc<Mutex<String>>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_ANSWER_BYTES).read_until(b'\n', &mut line).await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_ANSWER_BYTES => {
                let _ = tx.send(Err(format!("the function's answer exceeds {MAX_ANSWER_BYTES} bytes"))).await;
                return;
            }
            Ok(_) => {}
        }
        let Some(body) = line.strip_prefix(prefix.as_bytes()) else {
            keep(&stray, &String::from_utf8_lossy(&line));
            continue;
        };
        let answer = serde_json::from_slice::<Value>(body)
            .map_err(|e| format!("the runtime sent an answer that is not JSON: {e}"))
            .map(|mut v| {
                let ready = v.get("ready").and_then(Value::as_bool).unwrap_or(false);
                let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(false);
                let logs = v.get("logs").and_then(Value::as_str).unwrap_or_default().to_owned();
                let payload = v.get_mut(if ok { "result" } else { "error" }).map(Value::take).unwrap_or(Value::Null);
                Answer { ready, ok, payload, logs }
            });
        if tx.send(answer).await.is_err() {
            return;
        }
    }
}

async fn read_stray(stderr: impl AsyncRead + Unpin, stray: Arc<Mutex<String>>) {
    let mut reader = BufReader::new(stderr);
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => keep(&stray, &String::from_utf8_lossy(&buf[..n])),
        }
    }
}

/// Appends to the stray output, keeping only the newest [`MAX_STRAY_BYTES`].
fn keep(stray: &Mutex<String>, text: &str) {
    let mut stray = stray.lock();
    stray.push_str(text);
    if stray.len() > MAX_STRAY_BYTES {
        let mut cut = stray.len() - MAX_STRAY_BYTES;
        while !stray.is_char_boundary(cut) {
            cut += 1;
        }
        stray.drain(..cut);
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn runtimes_are_the_python3_and_nodejs_families() {
        assert_eq!(Kind::of("python3.11"), Some(Kind::Python));
        assert_eq!(Kind::of("python3.13"), Some(Kind::Python));
        assert_eq!(Kind::of("nodejs20.x"), Some(Kind::Node));
        for other in ["python2.7", "python3.", "python3.x", "nodejs", "nodejs20", "java21", "provided.al2023", ""] {
            assert_eq!(Kind::of(other), None, "{other}");
        }
    }
}
