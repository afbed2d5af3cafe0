//! Engine rules exercised without HTTP, on a clock that only moves when told.

use super::*;
use crate::clock::MILLIS_PER_DAY;

const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";

fn engine() -> Engine {
    Engine::new(Arc::new(Clock::manual(Timestamp::from_secs(1_767_225_600))))
}

fn scope() -> Scope<'static> {
    Scope::of("000000000000", "us-east-1")
}

fn create(engine: &Engine, name: &str, value: Option<&str>) -> Created {
    let new = NewSecret {
        name: name.to_owned(),
        token: T1.to_owned(),
        value: value.map(|v| SecretValue::String(v.to_owned())),
        ..NewSecret::default()
    };
    engine.create_secret(scope(), new).unwrap()
}

fn current(engine: &Engine, id: &str) -> Result<String> {
    engine.get_secret_value(scope(), id, VersionSelector::default(), |_, _, v| match v {
        SecretValue::String(s) => s.clone(),
        SecretValue::Binary(_) => String::new(),
    })
}

#[test]
fn purge_happens_exactly_when_the_window_ends() {
    let engine = engine();
    let arn = create(&engine, "w", Some("x")).arn;
    let deleted = engine.delete_secret(scope(), "w", Some(7), false).unwrap();
    assert_eq!(deleted.deletion_date, engine.now().plus_days(7));
    engine.clock().advance(7 * MILLIS_PER_DAY - 1);
    assert_eq!(current(&engine, &arn).unwrap_err(), ApiError::marked_for_deletion());
    engine.clock().advance(1);
    assert_eq!(current(&engine, &arn).unwrap_err(), ApiError::secret_not_found());
    let again = create(&engine, "w", Some("y"));
    assert_ne!(again.arn, arn);
}

#[test]
fn restore_before_the_deadline_keeps_everything() {
    let engine = engine();
    create(&engine, "r", Some("x"));
    engine.delete_secret(scope(), "r", None, false).unwrap();
    engine.clock().advance(29 * MILLIS_PER_DAY);
    engine.restore_secret(scope(), "r").unwrap();
    engine.clock().advance(2 * MILLIS_PER_DAY);
    assert_eq!(current(&engine, "r").unwrap(), "x");
}

#[test]
fn the_same_token_creates_one_version() {
    let engine = engine();
    create(&engine, "t", Some("v"));
    let stored = engine.put_secret_value(scope(), "t", T1.to_owned(), SecretValue::String("v".into()), None).unwrap();
    assert_eq!(stored.version_id, T1);
    engine
        .read_secret(scope(), "t", |s| {
            let _: () = assert_eq!(s.versions.len(), 1);
            Ok(())
        })
        .unwrap();
    let err = engine.put_secret_value(scope(), "t", T1.to_owned(), SecretValue::String("w".into()), None).unwrap_err();
    assert_eq!(err.code, crate::error::ErrorCode::ResourceExistsException);
}

#[test]
fn the_rotation_placeholder_is_filled_by_its_token() {
    let engine = engine();
    create(&engine, "p", Some("old"));
    engine
        .write_secret(scope(), "p", |s, now| {
            let placeholder =
                Version { id: T2.to_owned(), value: None, stages: Vec::new(), created: now, last_accessed: None };
            s.add_version(placeholder, Some(&[secret::AWSPENDING.to_owned()]), now);
            Ok(())
        })
        .unwrap();
    let pending = VersionSelector { version_id: None, stage: Some(secret::AWSPENDING) };
    let err = engine.get_secret_value(scope(), "p", pending, |_, _, _| ()).unwrap_err();
    assert_eq!(err.code, crate::error::ErrorCode::ResourceNotFoundException);
    let stages = [secret::AWSPENDING.to_owned()];
    engine.put_secret_value(scope(), "p", T2.to_owned(), SecretValue::String("new".into()), Some(&stages)).unwrap();
    assert!(engine.get_secret_value(scope(), "p", pending, |_, _, _| ()).is_ok());
    assert_eq!(current(&engine, "p").unwrap(), "old");
}

#[test]
fn reads_of_an_unknown_scope_create_nothing() {
    let engine = engine();
    assert_eq!(current(&engine, "x").unwrap_err(), ApiError::secret_not_found());
    assert!(engine.accounts.read().is_empty());
}

/// Records every journalled change in memory.
#[derive(Default)]
struct Recorder(parking_lot::Mutex<Vec<Vec<u8>>>);

impl ChangeLog for Recorder {
    fn append(&self, record: &[u8]) -> u64 {
        let mut records = self.0.lock();
        records.push(record.to_vec());
        records.len() as u64
    }

    fn check_writable(&self) -> Result<()> {
        Ok(())
    }

    fn observed(&self, _ticket: u64) {}
}

#[test]
fn replaying_the_journal_rebuilds_exactly_the_same_state() {
    let engine = engine();
    let recorder = Arc::new(Recorder::default());
    engine.set_changelog(recorder.clone());
    let value = |s: &str| SecretValue::String(s.to_owned());
    create(&engine, "a", Some("v1"));
    for i in 0..5 {
        let token = format!("{i:08}-0000-4000-8000-000000000000");
        engine.put_secret_value(scope(), "a", token, value(&format!("v{}", i + 2)), None).unwrap();
    }
    engine.put_secret_value(scope(), "a", T2.to_owned(), value("pending"), Some(&["AWSPENDING".to_owned()])).unwrap();
    engine
        .update_secret_version_stage(scope(), "a", "AWSCURRENT", Some("00000004-0000-4000-8000-000000000000"), Some(T2))
        .unwrap();
    engine.tag_resource(scope(), "a", &[Tag { key: "k".into(), value: "v".into() }]).unwrap();
    engine.get_secret_value(scope(), "a", VersionSelector::default(), |_, _, _| ()).unwrap();
    create(&engine, "b", None);
    engine
        .update_secret(scope(), "b", SecretUpdate { description: Some("d".into()), ..SecretUpdate::default() })
        .unwrap();
    engine.delete_secret(scope(), "b", Some(7), false).unwrap();
    create(&engine, "c", Some("x"));
    engine.delete_secret(scope(), "c", None, true).unwrap();
    // A rotation: placeholder, value, label move, finish; and a test-only copy discarded.
    let request = rotation::RotateRequest {
        token: "33333333-3333-4333-8333-333333333333".into(),
        lambda_arn: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
        rules: Some(secret::RotationRules { automatically_after_days: Some(7), ..secret::RotationRules::default() }),
        rotate_immediately: true,
    };
    engine.begin_rotation(scope(), "a", request, |_| Ok(())).unwrap();
    let pending = ["AWSPENDING".to_owned()];
    engine
        .put_secret_value(scope(), "a", "33333333-3333-4333-8333-333333333333".into(), value("rotated"), Some(&pending))
        .unwrap();
    let current = engine.read_secret(scope(), "a", |s| Ok(s.holder_of("AWSCURRENT").unwrap().id.clone())).unwrap();
    engine
        .update_secret_version_stage(
            scope(),
            "a",
            "AWSCURRENT",
            Some(&current),
            Some("33333333-3333-4333-8333-333333333333"),
        )
        .unwrap();
    engine.finish_rotation(scope(), "a", "33333333-3333-4333-8333-333333333333").unwrap();
    engine.discard_version(scope(), "a", T1).unwrap();
    engine.cancel_rotation(scope(), "a").unwrap();
    // Old deprecated versions are pruned once there are more than 100.
    engine.clock().advance(2 * MILLIS_PER_DAY);
    for i in 0..100 {
        let token = format!("{i:08}-1111-4000-8000-000000000000");
        engine.put_secret_value(scope(), "a", token, value(&format!("w{i}")), None).unwrap();
    }

    let replayed = Engine::new(Arc::new(Clock::manual(engine.now())));
    for record in recorder.0.lock().iter() {
        replayed.apply_change(serde_json::from_slice(record).unwrap());
    }
    let (original, rebuilt) = (engine.export(), replayed.export());
    assert_eq!(serde_json::to_value(&original).unwrap(), serde_json::to_value(&rebuilt).unwrap());
    let versions = original.stores[0].secrets.iter().find(|s| s.name == "a").unwrap().versions.len();
    assert!(versions <= secret::MAX_VERSIONS + 1, "{versions}");
    // Records stay small: a put journals one new version (sealed, with its wrapped data key) and
    // only the labels of the two it moved them off, not their values again.
    let last = String::from_utf8(recorder.0.lock().last().unwrap().clone()).unwrap();
    assert_eq!(last.matches("\"ciphertext\"").count(), 1, "{last}");
    assert_eq!(last.matches("\"stages\"").count(), 3, "{last}");
    assert!(last.len() < 1_500, "{} bytes", last.len());
}
