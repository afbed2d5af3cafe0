//! `--data-dir`: every acknowledged change survives `kill -9`; damage is detected and reported.

mod common;

use aws_sdk_secretsmanager::types::Tag;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Smemu {
    child: Child,
    endpoint: String,
}

impl Smemu {
    fn start(dir: &Path, extra: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smemu"))
            .args(["--port", "0", "--log-level", "warn", "--data-dir", dir.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if line.is_empty() {
            let out = child.wait_with_output().unwrap();
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let endpoint = line.trim().trim_start_matches("smemu ready on ").to_owned();
        Ok(Self { child, endpoint })
    }

    fn client(&self) -> aws_sdk_secretsmanager::Client {
        common::client_for(&self.endpoint, "AKIDDURABLE", "us-east-1")
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    /// Stops with SIGTERM and returns what smemu logged.
    fn stop(mut self) -> String {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(self.child.wait().unwrap().success());
        let mut log = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut log).unwrap();
        log
    }
}

impl Drop for Smemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn data_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smemu-durable-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn journal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_secrets_survive_kill_9() {
    let dir = data_dir("thousand");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let sm = sm.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..1000usize).step_by(8) {
                let name = format!("app/s{i:04}");
                sm.create_secret()
                    .name(&name)
                    .secret_string(format!("v1-{i}"))
                    .tags(Tag::builder().key("n").value(i.to_string()).build())
                    .send()
                    .await
                    .unwrap();
                if i.is_multiple_of(10) {
                    sm.put_secret_value().secret_id(&name).secret_string(format!("v2-{i}")).send().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    smemu.kill_9();

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    let mut count = 0;
    let mut pages = sm.list_secrets().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.unwrap().secret_list() {
            let i: usize = s.name().unwrap()[5..].parse().unwrap();
            assert_eq!(s.tags()[0].value(), Some(i.to_string().as_str()));
            let versions = s.secret_versions_to_stages().unwrap();
            assert_eq!(versions.len(), if i.is_multiple_of(10) { 2 } else { 1 }, "{}", s.name().unwrap());
            count += 1;
        }
    }
    assert_eq!(count, 1000);
    let v = sm.get_secret_value().secret_id("app/s0990").send().await.unwrap();
    assert_eq!(v.secret_string(), Some("v2-990"));
    let prev = sm.get_secret_value().secret_id("app/s0990").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(prev.secret_string(), Some("v1-990"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_kill_mid_stream() {
    let dir = data_dir("midstream");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    let sm2 = sm.clone();
    sm.create_secret().name("counter").secret_string("0").send().await.unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let (tick, mut ticks) = tokio::sync::mpsc::unbounded_channel::<()>();
    let created: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let (sm, acked, created, tick) = (sm.clone(), acked.clone(), created.clone(), tick.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{worker}/s{i}");
                if sm.create_secret().name(&name).secret_string(&name).send().await.is_err() {
                    return;
                }
                created.lock().push(name);
                acked.fetch_add(1, Ordering::SeqCst);
                let _ = tick.send(());
            }
        }));
    }
    for _ in 0..400 {
        ticks.recv().await.unwrap();
    }
    let _ = sm2;
    smemu.kill_9();
    for t in tasks {
        t.await.unwrap();
    }
    let acknowledged = created.lock().clone();
    assert!(acknowledged.len() >= 400);

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    for name in &acknowledged {
        let v = sm.get_secret_value().secret_id(name).send().await.unwrap_or_else(|e| panic!("{name} lost: {e:?}"));
        assert_eq!(v.secret_string(), Some(name.as_str()));
    }
    // Whatever else made it in (in flight at the kill) is whole: it has its value.
    let mut all = Vec::new();
    let mut pages = sm.list_secrets().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        all.extend(page.unwrap().secret_list().to_vec());
    }
    for s in &all {
        assert!(s.secret_versions_to_stages().is_some_and(|m| !m.is_empty()), "{s:?}");
    }
    assert!(all.len() > acknowledged.len());
}

/// Keys are made while values are sealed under them (customer keys, and the managed key on its
/// first use): whatever a kill leaves, every value that made it in still opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_keys_are_made_never_leaves_a_value_that_cannot_be_opened() {
    let dir = data_dir("keys");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let (tick, mut ticks) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let sm = common::client_for(&smemu.endpoint, "AKIDDURABLE", "us-east-1");
        let kms = common::kms_client_for(&smemu.endpoint, "AKIDDURABLE", "us-east-1");
        let (acked, tick) = (acked.clone(), tick.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                // Every other secret on a key made just before it, the others on the managed key.
                let key = if i % 2 == 0 {
                    let Ok(key) = kms.create_key().send().await else { return };
                    key.key_metadata().and_then(|m| m.arn()).map(str::to_owned)
                } else {
                    None
                };
                let name = format!("w{worker}/s{i}");
                let create = sm.create_secret().name(&name).secret_string(&name).set_kms_key_id(key);
                if create.send().await.is_err() {
                    return;
                }
                acked.fetch_add(1, Ordering::SeqCst);
                let _ = tick.send(());
            }
        }));
    }
    for _ in 0..100 {
        ticks.recv().await.unwrap();
    }
    smemu.kill_9();
    for t in tasks {
        t.await.unwrap();
    }

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    let mut names = Vec::new();
    let mut pages = sm.list_secrets().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page.unwrap().secret_list().iter().map(|s| s.name().unwrap().to_owned()));
    }
    assert!(names.len() >= acked.load(Ordering::SeqCst), "every acknowledged secret is there");
    for name in &names {
        let v = sm.get_secret_value().secret_id(name).send().await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(v.secret_string(), Some(name.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_off_and_reported() {
    let dir = data_dir("torn");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    for i in 0..20 {
        sm.create_secret().name(format!("t{i}")).secret_string("x").send().await.unwrap();
    }
    smemu.stop();
    let last = journal_files(&dir).pop().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&last).unwrap();
    f.write_all(&[0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    drop(f);
    let smemu = Smemu::start(&dir, &[]).unwrap();
    assert_eq!(smemu.client().list_secrets().send().await.unwrap().secret_list().len(), 20);
    let log = smemu.stop();
    assert!(log.contains(last.file_name().unwrap().to_str().unwrap()), "the warning names the file: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_in_the_middle_stops_startup_until_repaired() {
    let dir = data_dir("damaged");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    for i in 0..20 {
        sm.create_secret().name(format!("d{i}")).secret_string("x").send().await.unwrap();
    }
    smemu.stop();
    let file = journal_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let err = Smemu::start(&dir, &[]).err().expect("damage must stop startup");
    assert!(err.contains(file.file_name().unwrap().to_str().unwrap()), "{err}");
    assert!(err.contains("--repair-journal"), "{err}");
    let smemu = Smemu::start(&dir, &["--repair-journal"]).unwrap();
    let n = smemu.client().list_secrets().send().await.unwrap().secret_list().len();
    assert!(n > 0 && n < 20, "the intact prefix is kept: {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_cannot_share_a_data_dir() {
    let dir = data_dir("locked");
    let _first = Smemu::start(&dir, &[]).unwrap();
    let err = Smemu::start(&dir, &[]).err().expect("second start must fail");
    assert!(err.to_lowercase().contains("lock") || err.contains("in use"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_with_a_data_dir_is_idempotent() {
    let dir = data_dir("seeded");
    let seed = dir.join("seed.yaml");
    std::fs::write(&seed, "secrets:\n  - name: seeded\n    secretString: one\n").unwrap();
    let smemu = Smemu::start(&dir, &["--seed", seed.to_str().unwrap()]).unwrap();
    smemu.client().put_secret_value().secret_id("seeded").secret_string("two").send().await.unwrap();
    smemu.stop();
    let smemu = Smemu::start(&dir, &["--seed", seed.to_str().unwrap()]).unwrap();
    let sm = smemu.client();
    assert_eq!(sm.get_secret_value().secret_id("seeded").send().await.unwrap().secret_string(), Some("two"));
    assert_eq!(sm.list_secret_version_ids().secret_id("seeded").send().await.unwrap().versions().len(), 2);
}

/// Writers keep changing a replicated primary while smemu is killed: whatever fell between the
/// primary's record and its replica's, the restarted replica holds exactly what its primary does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_replication_never_leaves_a_replica_behind_its_primary() {
    use aws_sdk_secretsmanager::types::ReplicaRegionType;
    let dir = data_dir("replicated");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let sm = smemu.client();
    sm.create_secret()
        .name("app/db")
        .secret_string("v0")
        .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").build())
        .send()
        .await
        .unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(tokio::sync::Notify::new());
    let mut writers = Vec::new();
    for w in 0..2 {
        let (sm, acked, progress) = (sm.clone(), acked.clone(), progress.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let put = sm.put_secret_value().secret_id("app/db").secret_string(format!("w{w}-{i}"));
                let tagged =
                    sm.tag_resource().secret_id("app/db").tags(Tag::builder().key("n").value(i.to_string()).build());
                if put.send().await.is_err() || tagged.send().await.is_err() {
                    return;
                }
                acked.fetch_add(1, Ordering::SeqCst);
                progress.notify_one();
            }
        }));
    }
    while acked.load(Ordering::SeqCst) < 20 {
        progress.notified().await;
    }
    smemu.kill_9();
    for writer in writers {
        let _ = writer.await;
    }
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let east = smemu.client();
    let west = common::client_for(&smemu.endpoint, "AKIDDURABLE", "eu-west-1");
    let primary = east.describe_secret().secret_id("app/db").send().await.unwrap();
    let replica = west.describe_secret().secret_id("app/db").send().await.unwrap();
    assert_eq!(primary.version_ids_to_stages(), replica.version_ids_to_stages());
    assert_eq!(primary.tags(), replica.tags());
    let value = |sm: aws_sdk_secretsmanager::Client| async move {
        sm.get_secret_value().secret_id("app/db").send().await.unwrap().secret_string().unwrap().to_owned()
    };
    assert_eq!(value(east.clone()).await, value(west.clone()).await);
    assert_eq!(primary.replication_status()[0].status().map(|s| s.as_str()), Some("InSync"));
    smemu.stop();
}

// --- kill -9 during a storm of writers, resets and imports ------------------------------------

/// What a secret holds after a write: its current value and description, or nothing.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Absent,
    Present { value: String, description: Option<String> },
}

/// One writer's secret: the state after each acknowledged write, in order.
#[derive(Debug)]
struct History {
    region: &'static str,
    name: String,
    /// When its creation was sent, on the storm's tick counter.
    created_at: u64,
    acked: Vec<Expect>,
    /// The state the write in flight at the kill would leave.
    in_flight: Option<Expect>,
    /// A write failed while smemu was up (a reset or import took the secret away): not checked.
    broken: bool,
}

/// A reset or an import: when it was sent and answered, and whether it touched only eu-west-1.
#[derive(Clone, Copy, Debug)]
struct Replacement {
    answered: u64,
    only_eu: bool,
}

struct Storm {
    ticks: std::sync::atomic::AtomicU64,
    acked: tokio::sync::watch::Sender<usize>,
    /// Set just before the kill (or the quiet stop): writers start nothing new.
    stopping: std::sync::atomic::AtomicBool,
    killing: bool,
}

impl Storm {
    fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::SeqCst)
    }

    async fn acked_at_least(&self, n: usize) {
        let _ = self.acked.subscribe().wait_for(|&a| a >= n).await;
    }
}

/// A small seeded generator, so a failing run can be told by its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A control-API request; the status and the JSON answer.
async fn control(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = endpoint.trim_start_matches("http://");
    let token = std::env::var("SMEMU_CONTROL_TOKEN").map(|t| format!("X-Smemu-Control-Token: {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{body}",
        token.unwrap_or_default(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
    (status, serde_json::from_slice(&answer[split + 4..]).unwrap_or_default())
}

/// One writer: create, put, update and sometimes delete secret after secret, recording each
/// acknowledged state.
async fn writer(endpoint: String, storm: Arc<Storm>, id: usize, phase: usize) -> Vec<History> {
    let region = if id % 4 == 3 { "eu-west-1" } else { "us-east-1" };
    let sm = common::client_for(&endpoint, "AKIDDURABLE", region);
    let mut histories: Vec<History> = Vec::new();
    for i in 0.. {
        let name = format!("p{phase}/w{id}/s{i}");
        histories.push(History {
            region,
            name: name.clone(),
            created_at: storm.tick(),
            acked: Vec::new(),
            in_flight: None,
            broken: false,
        });
        for step in 0..4 {
            if storm.stopping.load(Ordering::SeqCst) {
                return histories;
            }
            let value = format!("{name}#{step}");
            let description = Some(format!("d{step}")).filter(|_| step == 2);
            let (result, next) = match step {
                0 => {
                    let sent = sm.create_secret().name(&name).secret_string(&value).send().await;
                    (sent.map(|_| ()).map_err(|e| format!("{e:?}")), Expect::Present { value, description: None })
                }
                1 => {
                    let sent = sm.put_secret_value().secret_id(&name).secret_string(&value).send().await;
                    let before = histories.last().and_then(|h| h.acked.last().cloned());
                    let description = match before {
                        Some(Expect::Present { description, .. }) => description,
                        _ => None,
                    };
                    (sent.map(|_| ()).map_err(|e| format!("{e:?}")), Expect::Present { value, description })
                }
                2 => {
                    let sent = sm
                        .update_secret()
                        .secret_id(&name)
                        .description(description.clone().unwrap_or_default())
                        .secret_string(&value)
                        .send()
                        .await;
                    (sent.map(|_| ()).map_err(|e| format!("{e:?}")), Expect::Present { value, description })
                }
                _ if i % 4 == 0 => {
                    let sent = sm.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await;
                    (sent.map(|_| ()).map_err(|e| format!("{e:?}")), Expect::Absent)
                }
                _ => break,
            };
            let history = histories.last_mut().unwrap();
            match result {
                Ok(()) => {
                    history.acked.push(next);
                    storm.acked.send_modify(|n| *n += 1);
                }
                Err(_) if storm.killing && storm.stopping.load(Ordering::SeqCst) => {
                    history.in_flight = Some(next);
                    return histories;
                }
                Err(_) => {
                    history.broken = true;
                    break;
                }
            }
        }
    }
    histories
}

/// Resets of eu-west-1 and imports of the whole state (exported moments before, so writes in
/// between are taken back), each once the writers have acknowledged `at[i]` writes.
async fn replacer(endpoint: String, storm: Arc<Storm>, at: Vec<usize>) -> Vec<Replacement> {
    let mut done = Vec::new();
    for (i, &n) in at.iter().enumerate() {
        storm.acked_at_least(n).await;
        let only_eu = i % 2 == 0;
        if only_eu {
            let (status, _) =
                control(&endpoint, "POST", "/_smemu/reset", r#"{"account":"000000000000","region":"eu-west-1"}"#).await;
            assert_eq!(status, 200);
        } else {
            let (status, state) = control(&endpoint, "GET", "/_smemu/state", "").await;
            assert_eq!(status, 200);
            let (status, answer) = control(&endpoint, "POST", "/_smemu/state", &state.to_string()).await;
            assert_eq!(status, 200, "{answer}");
        }
        done.push(Replacement { answered: storm.tick(), only_eu });
    }
    done
}

/// A secret's current value and description in an export, or `Absent`.
fn exported(state: &serde_json::Value, region: &str, name: &str) -> Expect {
    let stores = state["stores"].as_array().unwrap();
    let secret = stores
        .iter()
        .filter(|s| s["region"] == region)
        .flat_map(|s| s["secrets"].as_array().unwrap())
        .find(|s| s["name"] == name);
    let Some(secret) = secret else { return Expect::Absent };
    let current = secret["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["stages"].as_array().unwrap().iter().any(|s| s == "AWSCURRENT"));
    Expect::Present {
        value: current.and_then(|v| v["value"]["String"].as_str()).unwrap_or_default().to_owned(),
        description: secret["description"].as_str().map(str::to_owned),
    }
}

/// Runs 32 writers, with two resets and two imports among their first writes, until `after`
/// more writes are acknowledged once the last of those was answered; then either kills smemu
/// mid-storm (`kill`) or stops the writers first. Returns the writers' histories and the
/// replacements made.
async fn storm(
    smemu: &Smemu,
    phase: usize,
    rng: &mut Rng,
    after: usize,
    kill: bool,
) -> (Vec<History>, Vec<Replacement>) {
    let storm = Arc::new(Storm {
        ticks: std::sync::atomic::AtomicU64::new(0),
        acked: tokio::sync::watch::Sender::new(0),
        stopping: std::sync::atomic::AtomicBool::new(false),
        killing: kill,
    });
    let writers: Vec<_> =
        (0..32).map(|id| tokio::spawn(writer(smemu.endpoint.clone(), storm.clone(), id, phase))).collect();
    let mut at: Vec<usize> = (0..4).map(|_| rng.below(150) as usize).collect();
    at.sort_unstable();
    let replacements = tokio::spawn(replacer(smemu.endpoint.clone(), storm.clone(), at)).await.unwrap();
    let so_far = *storm.acked.borrow();
    storm.acked_at_least(so_far + after).await;
    storm.stopping.store(true, Ordering::SeqCst);
    if kill {
        Command::new("kill").args(["-KILL", &smemu.child.id().to_string()]).status().unwrap();
    }
    let mut histories = Vec::new();
    for w in writers {
        histories.extend(w.await.unwrap());
    }
    (histories, replacements)
}

/// Checks every acknowledged write whose secret no reset or import could touch; returns how
/// many writes that covered.
fn check_acknowledged(state: &serde_json::Value, histories: &[History], replacements: &[Replacement]) -> usize {
    let mut checked = 0;
    for h in histories.iter().filter(|h| !h.broken) {
        let untouched =
            replacements.iter().filter(|r| !r.only_eu || h.region == "eu-west-1").all(|r| r.answered < h.created_at);
        let Some(last) = h.acked.last() else { continue };
        if !untouched {
            continue;
        }
        let found = exported(state, h.region, &h.name);
        assert!(
            &found == last || h.in_flight.as_ref() == Some(&found),
            "{} in {}: after a restart it holds {found:?}, but {last:?} was acknowledged (in flight: {:?})",
            h.name,
            h.region,
            h.in_flight
        );
        checked += h.acked.len();
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_storm_of_writers_resets_and_imports_restarts_to_the_state_served() {
    let seed = u64::try_from(uuid::Uuid::new_v4().as_u128() >> 64).unwrap() | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let (mut checked, mut compared) = (0, 0);
    for round in 0..5 {
        // A fresh directory per round keeps each restart's replay short.
        let dir = data_dir("storm");
        let mut smemu = Smemu::start(&dir, &[]).unwrap();
        // Mid-storm: every write acknowledged before the kill is there after the restart.
        let after = 150 + rng.below(150) as usize;
        let (histories, replacements) = storm(&smemu, round * 2, &mut rng, after, true).await;
        smemu.kill_9();
        smemu = Smemu::start(&dir, &[]).unwrap();
        let (_, state) = control(&smemu.endpoint, "GET", "/_smemu/state", "").await;
        checked += check_acknowledged(&state, &histories, &replacements);

        // Quiet point: what was served just before the kill is exactly what the restart serves.
        let after = 150 + rng.below(150) as usize;
        let (histories, replacements) = storm(&smemu, round * 2 + 1, &mut rng, after, false).await;
        let (_, served) = control(&smemu.endpoint, "GET", "/_smemu/state", "").await;
        checked += check_acknowledged(&served, &histories, &replacements);
        smemu.kill_9();
        smemu = Smemu::start(&dir, &[]).unwrap();
        let (_, restarted) = control(&smemu.endpoint, "GET", "/_smemu/state", "").await;
        assert!(restarted == served, "round {round} (seed {seed}): the restart serves another state");
        compared +=
            served["stores"].as_array().unwrap().iter().map(|s| s["secrets"].as_array().unwrap().len()).sum::<usize>();
        smemu.kill_9();
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "10 kills in 5 rounds: {checked} acknowledged writes checked one by one, {compared} secrets compared exactly"
    );
    assert!(checked > 500, "too few writes could be checked: {checked}");
}

/// smemu's clock as `GET /_smemu/clock` reports it, in epoch seconds.
fn clock_of(endpoint: &str) -> f64 {
    use std::io::Read;
    let authority = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    write!(s, "GET /_smemu/clock HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
    let view: serde_json::Value = serde_json::from_str(body).unwrap();
    view["epochSeconds"].as_f64().unwrap()
}

fn advance(endpoint: &str, by: &str) {
    use std::io::Read;
    let authority = endpoint.trim_start_matches("http://");
    let body = format!(r#"{{"advance":"{by}"}}"#);
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    write!(
        s,
        "POST /_smemu/clock HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_clock_so_no_secret_is_dated_in_the_future() {
    let dir = data_dir("clock");
    let created = |sm: aws_sdk_secretsmanager::Client, name: &'static str| async move {
        sm.create_secret().name(name).secret_string("x").send().await.unwrap();
        let d = sm.describe_secret().secret_id(name).send().await.unwrap();
        d.created_date().unwrap().as_secs_f64()
    };
    // A start in the future is kept even when the clock never moved.
    let smemu = Smemu::start(&dir, &["--start-time", "2040-01-01T00:00:00Z"]).unwrap();
    let a = created(smemu.client(), "a").await;
    assert!(a >= 2_208_988_800.0, "{a}");
    smemu.kill_9();

    let smemu = Smemu::start(&dir, &[]).unwrap();
    assert!(clock_of(&smemu.endpoint) >= a, "after restart smemu's clock is past secret a");
    advance(&smemu.endpoint, "30d");
    let b = created(smemu.client(), "b").await;
    smemu.kill_9();

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let now = clock_of(&smemu.endpoint);
    assert!(now >= b, "{now} < {b}: secret b would be dated in the future");
    assert!(now < b + 3600.0, "the clock resumes where it was, not further: {now} vs {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_keys_survive_kill_9_with_their_material_apart_from_the_journal() {
    use aws_sdk_kms::primitives::Blob;
    let dir = data_dir("kms");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let kms = common::kms_client_for(&smemu.endpoint, "111122223333", "us-east-1");
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/kept").target_key_id(&key).send().await.unwrap();
    let blob = kms
        .encrypt()
        .key_id("alias/kept")
        .plaintext(Blob::new("survives"))
        .encryption_context("app", "test")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let doomed = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.schedule_key_deletion().key_id(&doomed).pending_window_in_days(7).send().await.unwrap();
    smemu.kill_9();

    // The material is in `keys`, readable by its owner only, and nowhere in the journal.
    let keys = std::fs::read_to_string(dir.join("keys")).unwrap();
    let line = keys.lines().find(|l| l.contains(&key)).expect("the key's material line");
    let material = line.rsplit(' ').next().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("keys")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    for file in journal_files(&dir) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(&key), "the journal records the key");
        assert!(!text.contains(material), "the journal never holds key material");
    }

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let kms = common::kms_client_for(&smemu.endpoint, "111122223333", "us-east-1");
    let opened = kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("app", "test").send().await.unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"survives");
    let pending = kms.describe_key().key_id(&doomed).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(pending.key_state, Some(aws_sdk_kms::types::KeyState::PendingDeletion));
    assert_eq!(control(&smemu.endpoint, "POST", "/_smemu/clock", r#"{"advance":"8d"}"#).await.0, 200);
    assert!(kms.describe_key().key_id(&doomed).send().await.is_err());
    assert!(!std::fs::read_to_string(dir.join("keys")).unwrap().contains(&doomed), "deleted material is erased");
    smemu.stop();

    let smemu = Smemu::start(&dir, &[]).unwrap();
    let kms = common::kms_client_for(&smemu.endpoint, "111122223333", "us-east-1");
    assert!(kms.describe_key().key_id(&doomed).send().await.is_err(), "deleted for good");
    let opened = kms.decrypt().ciphertext_blob(blob).encryption_context("app", "test").send().await.unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"survives");
    smemu.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_fails_part_way_leaves_the_keys_as_they_were_on_disk_too() {
    let dir = data_dir("import");
    let smemu = Smemu::start(&dir, &[]).unwrap();
    let (sm, kms) = (smemu.client(), common::kms_client_for(&smemu.endpoint, "AKIDDURABLE", "us-east-1"));
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/kept").target_key_id(&key).send().await.unwrap();
    sm.create_secret().name("s").kms_key_id("alias/kept").secret_string("before").send().await.unwrap();

    // The export again, but with its key disabled and a key of its own: the value cannot be
    // sealed under a disabled key, so the import fails after the keys were replaced.
    let (status, mut export) = control(&smemu.endpoint, "GET", "/_smemu/state", "").await;
    assert_eq!(status, 200);
    let keys = export["kms"][0]["keys"].as_array_mut().unwrap();
    let mut stranger = keys[0].clone();
    stranger["id"] = "0000aaaa-0000-4000-8000-000000000000".into();
    keys[0]["state"] = "Disabled".into();
    keys.push(stranger);
    let (status, answer) = control(&smemu.endpoint, "POST", "/_smemu/state", &export.to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("cannot be sealed"), "{answer}");

    let check = |sm: aws_sdk_secretsmanager::Client, kms: aws_sdk_kms::Client| async move {
        let value = sm.get_secret_value().secret_id("s").send().await.unwrap();
        assert_eq!(value.secret_string(), Some("before"));
        let kept = kms.describe_key().key_id("alias/kept").send().await.unwrap().key_metadata.unwrap();
        assert_eq!(kept.key_state, Some(aws_sdk_kms::types::KeyState::Enabled));
        let listed = kms.list_keys().send().await.unwrap();
        assert_eq!(listed.keys().len(), 1, "the export's own key is not kept");
    };
    check(sm, kms).await;
    smemu.kill_9();
    let smemu = Smemu::start(&dir, &[]).unwrap();
    check(smemu.client(), common::kms_client_for(&smemu.endpoint, "AKIDDURABLE", "us-east-1")).await;
    smemu.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
