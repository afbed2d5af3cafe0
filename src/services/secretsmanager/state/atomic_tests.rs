//! Every operation is all-or-nothing, and the journal replays to the state served: random
//! sequences of operations, many of them bound to fail (reused tokens, label conflicts, deleted
//! secrets, the tag limit, a journal that refuses changes), checked after every call.
//!
//! The generator is a seeded xorshift, so a failure names the seed and step that reproduce it.

use super::rotation::RotateRequest;
use super::secret::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, ResourcePolicy, RotationRules};
use super::*;
use crate::clock::MILLIS_PER_DAY;
use std::sync::atomic::AtomicBool;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: plenty for choosing test inputs, and the same on every machine.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Keeps every record, and refuses changes while told to (a journal that cannot write).
#[derive(Default)]
struct Journal {
    records: parking_lot::Mutex<Vec<Vec<u8>>>,
    refusing: AtomicBool,
}

impl ChangeLog for Journal {
    fn append(&self, record: &[u8]) -> u64 {
        let mut records = self.records.lock();
        records.push(record.to_vec());
        records.len() as u64
    }

    fn check_writable(&self) -> Result<()> {
        if self.refusing.load(Ordering::SeqCst) { Err(ApiError::internal("refused by the test")) } else { Ok(()) }
    }

    fn observed(&self, _ticket: u64) {}
}

const NAMES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const TOKENS: [&str; 4] = [
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
    "44444444-4444-4444-8444-444444444444",
];
const VALUES: [&str; 3] = ["red", "green", "blue"];
const STAGES: [&str; 4] = [AWSCURRENT, AWSPENDING, AWSPREVIOUS, "CUSTOM"];
const SCOPES: [Scope<'static>; 2] = [Scope::of("000000000000", "us-east-1"), Scope::of("000000000000", "eu-west-1")];

fn snapshot(engine: &Engine) -> serde_json::Value {
    serde_json::to_value(engine.export()).unwrap()
}

fn value(rng: &mut Rng) -> SecretValue {
    if rng.chance(15) {
        SecretValue::Binary(rng.pick(&VALUES).as_bytes().to_vec())
    } else {
        SecretValue::String((*rng.pick(&VALUES)).to_owned())
    }
}

fn tags(rng: &mut Rng, most: usize) -> Vec<Tag> {
    (0..rng.below(most + 1))
        .map(|_| Tag { key: format!("k{}", rng.below(60)), value: (*rng.pick(&VALUES)).to_owned() })
        .collect()
}

/// Replica Regions to ask for from `scope`: usually the other one, sometimes its own (refused).
fn replica_of(scope: Scope<'_>, rng: &mut Rng) -> Vec<replication::ReplicaRequest> {
    let region = if rng.chance(85) { SCOPES.iter().find(|s| s.region != scope.region) } else { Some(&scope) };
    let key = rng.chance(20).then(|| "alias/mine".to_owned());
    region.map(|s| replication::ReplicaRequest { region: s.region.to_owned(), kms_key_id: key }).into_iter().collect()
}

/// A version id of the secret (or one it does not have), for label moves and rotation steps.
fn version_id(engine: &Engine, scope: Scope<'_>, name: &str, rng: &mut Rng) -> String {
    let ids = engine.read_secret(scope, name, |s| Ok(s.versions.iter().map(|v| v.id.clone()).collect::<Vec<_>>()));
    match ids {
        Ok(ids) if !ids.is_empty() && rng.chance(85) => rng.pick(&ids).clone(),
        _ => (*rng.pick(&TOKENS)).to_owned(),
    }
}

/// The secret id a request names: usually the name, sometimes the full ARN.
fn secret_id(engine: &Engine, scope: Scope<'_>, rng: &mut Rng) -> String {
    let name = *rng.pick(&NAMES);
    if rng.chance(20)
        && let Ok(arn) = engine.read_secret(scope, name, |s| Ok(s.arn.clone()))
    {
        return arn;
    }
    name.to_owned()
}

/// One random call; returns what it was and whether it failed.
#[allow(clippy::too_many_lines)] // one arm per operation reads best as one table
fn step(engine: &Engine, journal: &Journal, rng: &mut Rng) -> (String, bool) {
    let scope = *rng.pick(&SCOPES);
    let id = secret_id(engine, scope, rng);
    let token = (*rng.pick(&TOKENS)).to_owned();
    let refusing = journal.refusing.load(Ordering::SeqCst);
    let (what, failed) = match rng.below(20) {
        0 | 1 => {
            let new = NewSecret {
                name: (*rng.pick(&NAMES)).to_owned(),
                token,
                description: rng.chance(30).then(|| "described".to_owned()),
                kms_key_id: rng.chance(20).then(|| "alias/mine".to_owned()),
                secret_type: None,
                value: rng.chance(80).then(|| value(rng)),
                tags: if rng.chance(10) { tags(rng, 200) } else { tags(rng, 3) },
                replicas: if rng.chance(25) { replica_of(scope, rng) } else { Vec::new() },
                overwrite_replicas: rng.chance(50),
                ..NewSecret::default()
            };
            ("create", engine.create_secret(scope, new).is_err())
        }
        2..=4 => {
            let stages: Option<Vec<String>> = match rng.below(4) {
                0 => None,
                n => Some(vec![STAGES[n].to_owned()]),
            };
            ("put", engine.put_secret_value(scope, &id, token, value(rng), stages.as_deref()).is_err())
        }
        5 | 6 => {
            let with_value = rng.chance(60);
            let update = SecretUpdate {
                token: with_value.then_some(token),
                description: rng.chance(60).then(|| format!("d{}", rng.below(3))),
                kms_key_id: rng.chance(40).then(|| format!("alias/k{}", rng.below(3))),
                secret_type: rng.chance(10).then(|| "t".to_owned()),
                value: with_value.then(|| value(rng)),
            };
            ("update", engine.update_secret(scope, &id, update).is_err())
        }
        7 => {
            let force = rng.chance(30);
            let window = (!force && rng.chance(50)).then_some(7);
            ("delete", engine.delete_secret(scope, &id, window, force).is_err())
        }
        8 => ("restore", engine.restore_secret(scope, &id).is_err()),
        9 | 10 => {
            let stage = *rng.pick(&STAGES);
            let from = rng.chance(60).then(|| version_id(engine, scope, &id, rng));
            let to = rng.chance(70).then(|| version_id(engine, scope, &id, rng));
            let result = engine.update_secret_version_stage(scope, &id, stage, from.as_deref(), to.as_deref());
            ("move label", result.is_err())
        }
        11 => ("tag", engine.tag_resource(scope, &id, &tags(rng, 30)).is_err()),
        12 => {
            let keys: Vec<String> = (0..rng.below(4)).map(|_| format!("k{}", rng.below(60))).collect();
            ("untag", engine.untag_resource(scope, &id, &keys).is_err())
        }
        13 => {
            let policy = rng.chance(70).then(|| ResourcePolicy {
                document: "{}".to_owned().into(),
                block_public: true,
                name: None,
            });
            ("policy", engine.set_policy(scope, &id, policy).is_err())
        }
        14 => {
            let request = RotateRequest {
                token,
                lambda_arn: rng.chance(80).then(|| "arn:aws:lambda:us-east-1:000000000000:function:f".to_owned()),
                rules: rng
                    .chance(50)
                    .then(|| RotationRules { automatically_after_days: Some(7), ..RotationRules::default() }),
                rotate_immediately: rng.chance(70),
            };
            let hook_fails = rng.chance(20);
            let result = engine.begin_rotation(scope, &id, request, |_| {
                if hook_fails { Err(api_error!(AccessDeniedException, "no such function")) } else { Ok(()) }
            });
            ("rotate", result.is_err())
        }
        15 => {
            let version = version_id(engine, scope, &id, rng);
            let result = match rng.below(3) {
                0 => engine.finish_rotation(scope, &id, &version),
                1 => engine.discard_version(scope, &id, &version),
                _ => engine.cancel_rotation(scope, &id).map(|_| ()).map_err(|e| e.message.into_owned()),
            };
            ("rotation step", result.is_err())
        }
        16 => {
            let selector = VersionSelector { version_id: None, stage: rng.chance(30).then_some(AWSPREVIOUS) };
            ("get", engine.get_secret_value(scope, &id, selector, |_, _, _| ()).is_err())
        }
        17 => {
            engine.clock().advance(*rng.pick(&[0, MILLIS_PER_DAY / 2, MILLIS_PER_DAY, 8 * MILLIS_PER_DAY]));
            for due in engine.take_due(engine.now()) {
                if due.kind == DueKind::Purge {
                    engine.purge(&due);
                }
            }
            ("advance and purge", false)
        }
        18 if !refusing => {
            match rng.below(3) {
                0 => engine.reset(None, None),
                1 => engine.reset(Some(scope.account), Some(scope.region)),
                _ => {
                    let mut state = engine.export();
                    state.stores.retain(|s| s.region != scope.region || rng.chance(50));
                    engine.import(state);
                }
            }
            ("reset or import", false)
        }
        _ if rng.chance(60) => {
            let result = match rng.below(3) {
                0 => engine.replicate_to_regions(scope, &id, &replica_of(scope, rng), rng.chance(50)).map(|_| ()),
                1 => {
                    let regions: Vec<String> = SCOPES.iter().map(|s| s.region.to_owned()).collect();
                    engine.remove_regions(scope, &id, &regions).map(|_| ())
                }
                _ => engine.stop_replication(scope, &id).map(|_| ()),
            };
            ("replication", result.is_err())
        }
        _ => {
            // Toggles a journal that refuses every change: nothing may change meanwhile.
            journal.refusing.store(!refusing && rng.chance(40), Ordering::SeqCst);
            ("journal refusal", false)
        }
    };
    (format!("{what} {id} in {}", scope.region), failed)
}

fn replayed(engine: &Engine, journal: &Journal) -> serde_json::Value {
    let rebuilt = engine.sibling();
    for record in journal.records.lock().iter() {
        rebuilt.apply_change(serde_json::from_slice(record).unwrap());
    }
    snapshot(&rebuilt)
}

#[test]
fn every_failed_call_leaves_the_state_as_it_was_and_the_journal_replays_to_the_state_served() {
    let mut failures = 0;
    for seed in 1..=60u64 {
        let engine = Engine::new(Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600))));
        let journal = Arc::new(Journal::default());
        engine.set_changelog(journal.clone());
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for i in 0..300 {
            let refusing = journal.refusing.load(Ordering::SeqCst);
            let before = snapshot(&engine);
            let records = journal.records.lock().len();
            let (what, failed) = step(&engine, &journal, &mut rng);
            if failed {
                failures += 1;
                assert_eq!(snapshot(&engine), before, "seed {seed}, step {i}: {what} failed but changed the state");
                assert_eq!(
                    journal.records.lock().len(),
                    records,
                    "seed {seed}, step {i}: {what} failed but journalled"
                );
            }
            if refusing {
                assert_eq!(
                    snapshot(&engine),
                    before,
                    "seed {seed}, step {i}: {what} changed state the journal refused"
                );
            }
        }
        assert_eq!(replayed(&engine, &journal), snapshot(&engine), "seed {seed}: the journal replays to another state");
    }
    // The generator must really reach the error paths.
    assert!(failures > 3_000, "only {failures} failing calls");
}
