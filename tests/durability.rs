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

/// POSTs a control request to a spawned smemu (loopback, no token: the control API is open).
async fn control(endpoint: &str, path: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
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
    assert_eq!(control(&smemu.endpoint, "/_smemu/clock", r#"{"advance":"8d"}"#).await, 200);
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
