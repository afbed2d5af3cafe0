//! Key-store rules, synchronous and HTTP-free, on a manual clock.

use super::*;
use crate::error::ErrorCode;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const USER: &str = "arn:aws:iam::111122223333:root";
const START: Timestamp = Timestamp(1_767_225_600_000);

fn setup() -> (Kms, Arc<Clock>, Arc<DueQueue>) {
    let clock = Arc::new(Clock::manual(START));
    let due = Arc::new(DueQueue::default());
    (Kms::new(clock.clone(), due.clone()), clock, due)
}

fn user() -> Caller<'static> {
    Caller { account: ACCOUNT, region: REGION, principal: Principal::User(USER) }
}

fn new_key(kms: &Kms) -> Key {
    kms.create_key(user(), NewKey::default()).unwrap()
}

fn code<T: std::fmt::Debug>(result: Result<T>) -> (ErrorCode, String) {
    let e = result.unwrap_err();
    (e.error_code(), e.message().to_owned())
}

fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn a_new_key_is_enabled_symmetric_with_the_default_policy() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    assert_eq!(key.arn, format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{}", key.id));
    assert!(is_key_id(&key.id));
    assert_eq!(key.state, KeyState::Enabled);
    assert_eq!(key.manager, KeyManager::Customer);
    assert_eq!(key.description, "");
    assert_eq!(key.created, START);
    assert_eq!(key.material_id.len(), 64);
    let policy: serde_json::Value = serde_json::from_str(&key.policy).unwrap();
    assert_eq!(policy["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
    assert!(key.policy.contains("\"Version\" : \"2012-10-17\""));
    let described = kms.describe_key(user(), &key.arn).unwrap();
    assert_eq!(described, key);
}

#[test]
fn references_that_name_nothing_say_why() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    let missing = "134f2428-cec1-4b25-a1ae-9048164dba47";
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}");
    let not_found = (ErrorCode::NotFoundException, format!("Key '{arn}' does not exist"));
    assert_eq!(code(kms.describe_key(user(), missing)), not_found);
    assert_eq!(code(kms.describe_key(user(), &arn)), not_found);
    for bad in ["fake-key-id", "134f2428cec14b25a1ae9048164dba47", "mrk-fake-key-id", "arn:aws:kms:us-east-1"] {
        assert_eq!(
            code(kms.describe_key(user(), bad)),
            (ErrorCode::NotFoundException, format!("Invalid keyId '{bad}'"))
        );
    }
    let mrk = "mrk-0123456789abcdef0123456789abcdef";
    assert_eq!(
        code(kms.describe_key(user(), mrk)).1,
        format!("Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{mrk}' does not exist")
    );
    let elsewhere = format!("arn:aws:kms:us-west-2:{ACCOUNT}:key/{}", key.id);
    assert_eq!(
        code(kms.describe_key(user(), &elsewhere)),
        (ErrorCode::NotFoundException, "Invalid arn us-west-2".into())
    );
    let other_region = Caller { region: "eu-west-1", ..user() };
    assert_eq!(
        code(kms.describe_key(other_region, &key.id)).1,
        format!("Key 'arn:aws:kms:eu-west-1:{ACCOUNT}:key/{}' does not exist", key.id)
    );
    assert_eq!(
        code(kms.describe_key(user(), "alias/nope")),
        (ErrorCode::NotFoundException, format!("Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/nope is not found."))
    );
    // Management calls take key ids and ARNs only.
    assert_eq!(code(kms.enable_key(user(), "alias/nope")).1, "Invalid keyId 'alias/nope'");
}

#[test]
fn all_four_forms_reach_the_key_for_cryptography() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    kms.create_alias(user(), "alias/app", &key.id).unwrap();
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/app");
    for form in [key.id.as_str(), &key.arn, "alias/app", &alias_arn] {
        let sealed = kms.encrypt(user(), form, b"data", &[], false).unwrap();
        assert_eq!(sealed.key_arn, key.arn);
        let opened = kms.decrypt(user(), &sealed.blob, None, &[], false).unwrap();
        assert_eq!(opened.plaintext.as_bytes(), b"data");
        assert_eq!(opened.key_arn, key.arn);
        assert_eq!(opened.material_id, key.material_id);
    }
}

#[test]
fn the_context_is_bound_and_tampering_is_caught() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    let context = ctx(&[("purpose", "test"), ("tenant", "a")]);
    let sealed = kms.encrypt(user(), &key.id, b"secret", &context, false).unwrap();
    let reordered = ctx(&[("tenant", "a"), ("purpose", "test")]);
    assert_eq!(kms.decrypt(user(), &sealed.blob, None, &reordered, false).unwrap().plaintext.as_bytes(), b"secret");
    let invalid = (ErrorCode::InvalidCiphertextException, String::new());
    assert_eq!(code(kms.decrypt(user(), &sealed.blob, None, &[], false)), invalid);
    assert_eq!(code(kms.decrypt(user(), &sealed.blob, None, &ctx(&[("purpose", "test")]), false)), invalid);
    let mut tampered = sealed.blob.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(code(kms.decrypt(user(), &tampered, None, &context, false)), invalid);
    assert_eq!(code(kms.decrypt(user(), b"not a blob", None, &[], false)), invalid);
}

#[test]
fn a_key_id_that_is_not_the_sealing_key_is_incorrect() {
    let (kms, _, _) = setup();
    let (a, b) = (new_key(&kms), new_key(&kms));
    let sealed = kms.encrypt(user(), &a.id, b"x", &[], false).unwrap();
    assert_eq!(kms.decrypt(user(), &sealed.blob, Some(&a.arn), &[], false).unwrap().plaintext.as_bytes(), b"x");
    let incorrect = code(kms.decrypt(user(), &sealed.blob, Some(&b.id), &[], false));
    assert_eq!(incorrect.0, ErrorCode::IncorrectKeyException);
    assert_eq!(incorrect.1, "The key ID in the request does not identify a CMK that can perform this operation.");
    let resealed = kms.re_encrypt(user(), &sealed.blob, Some(&a.id), &[], &b.id, &ctx(&[("k", "v")]), false).unwrap();
    assert_eq!((resealed.source_arn.as_str(), resealed.key_arn.as_str()), (a.arn.as_str(), b.arn.as_str()));
    let opened = kms.decrypt(user(), &resealed.blob, None, &ctx(&[("k", "v")]), false).unwrap();
    assert_eq!(opened.plaintext.as_bytes(), b"x");
    assert_eq!(
        code(kms.re_encrypt(user(), &sealed.blob, Some(&b.id), &[], &b.id, &[], false)).0,
        ErrorCode::IncorrectKeyException
    );
}

#[test]
fn states_follow_the_key_state_table() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    let sealed = kms.encrypt(user(), &key.id, b"x", &[], false).unwrap();
    kms.disable_key(user(), &key.id).unwrap();
    let disabled = (ErrorCode::DisabledException, format!("{} is disabled.", key.arn));
    assert_eq!(code(kms.encrypt(user(), &key.id, b"x", &[], false)), disabled);
    assert_eq!(code(kms.decrypt(user(), &sealed.blob, None, &[], false)), disabled);
    assert_eq!(code(kms.generate_data_key(user(), &key.id, 32, &[], false, "GenerateDataKey")), disabled);
    assert_eq!(code(kms.enable_key_rotation(user(), &key.id, None)), disabled);
    // Disabled keys can still be described, tagged, aliased and deleted.
    kms.tag_resource(user(), &key.id, &[Tag { key: "a".into(), value: "b".into() }]).unwrap();
    kms.create_alias(user(), "alias/off", &key.id).unwrap();
    let not_pending = (ErrorCode::KMSInvalidStateException, format!("{} is not pending deletion.", key.arn));
    assert_eq!(code(kms.cancel_key_deletion(user(), &key.id)), not_pending);

    let scheduled = kms.schedule_key_deletion(user(), &key.id, Some(7)).unwrap();
    assert_eq!(scheduled.state, KeyState::PendingDeletion);
    assert!(!scheduled.enabled());
    let pending = (ErrorCode::KMSInvalidStateException, format!("{} is pending deletion.", key.arn));
    for result in [
        kms.enable_key(user(), &key.id),
        kms.disable_key(user(), &key.id),
        kms.tag_resource(user(), &key.id, &[]),
        kms.update_key_description(user(), &key.id, "d".into()),
        kms.enable_key_rotation(user(), &key.id, None),
        kms.create_alias(user(), "alias/new", &key.id),
    ] {
        assert_eq!(code(result), pending);
    }
    assert_eq!(code(kms.encrypt(user(), &key.id, b"x", &[], false)), pending);
    assert_eq!(code(kms.schedule_key_deletion(user(), &key.id, None)), pending);
    // Reads still work; rotation reads false.
    assert!(kms.get_key_policy(user(), &key.id, None).is_ok());
    let (pending_key, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert!(pending_key.rotation_status(now).is_none());

    assert_eq!(kms.cancel_key_deletion(user(), &key.id).unwrap(), key.arn);
    let after = kms.describe_key(user(), &key.id).unwrap();
    assert_eq!((after.state, after.deletion), (KeyState::Disabled, None));
    kms.enable_key(user(), &key.id).unwrap();
    assert_eq!(kms.decrypt(user(), &sealed.blob, None, &[], false).unwrap().plaintext.as_bytes(), b"x");
}

#[test]
fn deletion_windows_end_on_the_clock_and_take_aliases_and_data_with_them() {
    let (kms, clock, due) = setup();
    let key = new_key(&kms);
    kms.create_alias(user(), "alias/doomed", &key.id).unwrap();
    let sealed = kms.encrypt(user(), &key.id, b"x", &[], false).unwrap();
    for window in [0, 6, 31, 365] {
        let e = code(kms.schedule_key_deletion(user(), &key.id, Some(window)));
        assert_eq!(e, (ErrorCode::ValidationException, "PendingWindowInDays must be between 7 and 30".into()));
    }
    let scheduled = kms.schedule_key_deletion(user(), &key.id, None).unwrap();
    let deletion = scheduled.deletion.unwrap();
    assert_eq!(deletion.window_days, 30);
    assert_eq!(deletion.at, START.plus_days(30));
    assert_eq!(due.next(), Some(deletion.at));

    clock.advance(30 * MILLIS_PER_DAY - 1);
    assert!(kms.describe_key(user(), &key.id).is_ok());
    clock.advance(1);
    // Gone from the moment the window ends, even before the scheduler runs.
    assert_eq!(code(kms.describe_key(user(), &key.id)).0, ErrorCode::NotFoundException);
    let taken = due.take(clock.now());
    assert_eq!(taken.len(), 1);
    assert!(kms.purge(&taken[0]));
    assert!(!kms.purge(&taken[0]), "a second run finds nothing");
    assert_eq!(
        code(kms.decrypt(user(), &sealed.blob, None, &[], false)),
        (ErrorCode::NotFoundException, format!("Key '{}' does not exist", key.arn))
    );
    assert!(kms.list_aliases(user(), None, None, None).unwrap().items.is_empty());
    assert!(kms.list_keys(user(), None, None).unwrap().items.is_empty());
    assert_eq!(kms.key_count(), 0);
}

#[test]
fn a_cancelled_deletion_leaves_a_stale_entry_that_deletes_nothing() {
    let (kms, clock, due) = setup();
    let key = new_key(&kms);
    kms.schedule_key_deletion(user(), &key.id, Some(7)).unwrap();
    kms.cancel_key_deletion(user(), &key.id).unwrap();
    clock.advance(8 * MILLIS_PER_DAY);
    for entry in due.take(clock.now()) {
        assert!(!kms.purge(&entry));
    }
    assert!(kms.describe_key(user(), &key.id).is_ok());
}

#[test]
fn alias_rules() {
    let (kms, _, _) = setup();
    let (a, b) = (new_key(&kms), new_key(&kms));
    let prefix = code(kms.create_alias(user(), "app", &a.id));
    assert_eq!(prefix.0, ErrorCode::ValidationException);
    assert!(prefix.1.starts_with("Alias must start with the prefix \"alias/\"."));
    assert_eq!(code(kms.create_alias(user(), "alias/aws/mine", &a.id)).0, ErrorCode::NotAuthorizedException);
    kms.create_alias(user(), "alias/app", &a.id).unwrap();
    assert_eq!(
        code(kms.create_alias(user(), "alias/app", &b.id)),
        (
            ErrorCode::AlreadyExistsException,
            format!("An alias with the name arn:aws:kms:{REGION}:{ACCOUNT}:alias/app already exists")
        )
    );
    assert_eq!(
        code(kms.create_alias(user(), "alias/other", "alias/app")),
        (ErrorCode::ValidationException, "Aliases must refer to keys. Not aliases".into())
    );
    kms.update_alias(user(), "alias/app", &b.arn).unwrap();
    let listed = kms.list_aliases(user(), Some(&b.id), None, None).unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].target, b.id);
    assert_eq!(listed.items[0].arn, format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/app"));
    assert!(kms.list_aliases(user(), Some(&a.id), None, None).unwrap().items.is_empty());
    // The key an alias leaves may be pending deletion; the one it moves to may not.
    kms.schedule_key_deletion(user(), &b.id, None).unwrap();
    kms.update_alias(user(), "alias/app", &a.id).unwrap();
    assert_eq!(code(kms.update_alias(user(), "alias/app", &b.id)).0, ErrorCode::KMSInvalidStateException);
    assert_eq!(
        code(kms.update_alias(user(), "alias/none", &a.id)).1,
        format!("Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/none is not found.")
    );
    kms.delete_alias(user(), "alias/app").unwrap();
    assert_eq!(code(kms.delete_alias(user(), "alias/app")).0, ErrorCode::NotFoundException);
}

#[test]
fn tags_are_checked_merged_and_listed_in_pages() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
    assert_eq!(
        code(kms.tag_resource(user(), &key.id, &[tag("AWS:x", "v")])),
        (ErrorCode::TagException, "Tags beginning with aws: are reserved".into())
    );
    assert_eq!(code(kms.tag_resource(user(), &key.id, &[tag("a", "1"), tag("a", "2")])).1, "Duplicate tag keys");
    let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(code(kms.tag_resource(user(), &key.id, &many)).1, "Too many tags");
    kms.tag_resource(user(), &key.id, &many[..50]).unwrap();
    assert_eq!(code(kms.tag_resource(user(), &key.id, &[tag("one-more", "v")])).1, "Too many tags");
    kms.tag_resource(user(), &key.id, &[tag("k0", "changed")]).unwrap();
    let first = kms.list_resource_tags(user(), &key.id, Some(20), None).unwrap();
    assert_eq!(first.items.len(), 20);
    assert_eq!(first.items[0], tag("k0", "changed"));
    let mut all = first.items;
    let mut marker = first.next_marker;
    while let Some(m) = marker {
        let page = kms.list_resource_tags(user(), &key.id, Some(20), Some(&m)).unwrap();
        all.extend(page.items);
        marker = page.next_marker;
    }
    assert_eq!(all.len(), 50);
    kms.untag_resource(user(), &key.id, &["k1".into(), "absent".into()]).unwrap();
    assert_eq!(kms.list_resource_tags(user(), &key.id, None, None).unwrap().items.len(), 49);
    assert_eq!(code(kms.list_resource_tags(user(), &key.id, None, Some("!!"))).0, ErrorCode::InvalidMarkerException);
}

#[test]
fn listings_page_in_creation_and_name_order() {
    let (kms, _, _) = setup();
    let keys: Vec<Key> = (0..5).map(|_| new_key(&kms)).collect();
    for (i, key) in keys.iter().enumerate() {
        kms.create_alias(user(), &format!("alias/a{i}"), &key.id).unwrap();
    }
    let page = kms.list_keys(user(), Some(2), None).unwrap();
    assert_eq!(page.items.iter().map(|k| &k.id).collect::<Vec<_>>(), [&keys[0].id, &keys[1].id]);
    let rest = kms.list_keys(user(), Some(10), page.next_marker.as_deref()).unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(rest.next_marker.is_none());
    let aliases = kms.list_aliases(user(), None, Some(4), None).unwrap();
    assert_eq!(aliases.items.last().unwrap().name, "alias/a3");
    let last = kms.list_aliases(user(), None, Some(4), aliases.next_marker.as_deref()).unwrap();
    assert_eq!(last.items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["alias/a4"]);
    assert!(kms.list_keys(Caller { account: "999999999999", ..user() }, None, None).unwrap().items.is_empty());
}

#[test]
fn rotation_settings_and_dates() {
    let (kms, clock, _) = setup();
    let key = new_key(&kms);
    let (k, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert!(k.rotation_status(now).is_none());
    kms.enable_key_rotation(user(), &key.id, Some(90)).unwrap();
    let (k, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert_eq!(k.rotation_status(now), Some((90, START.plus_days(90))));
    clock.advance(100 * MILLIS_PER_DAY);
    let (k, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert_eq!(k.rotation_status(now), Some((90, START.plus_days(180))));
    kms.disable_key_rotation(user(), &key.id).unwrap();
    let (k, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert!(k.rotation_status(now).is_none());
}

#[test]
fn key_policies() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    assert_eq!(kms.list_key_policies(user(), &key.id).unwrap(), ["default"]);
    assert_eq!(code(kms.get_key_policy(user(), &key.id, Some("AWS_RAM"))).0, ErrorCode::NotFoundException);
    assert_eq!(
        code(kms.put_key_policy(user(), &key.id, None, "not json".into())).0,
        ErrorCode::MalformedPolicyDocumentException
    );
    kms.put_key_policy(user(), &key.id, None, r#"{"Version":"2012-10-17","Statement":[]}"#.into()).unwrap();
    assert_eq!(
        kms.get_key_policy(user(), &key.id, Some("default")).unwrap(),
        r#"{"Version":"2012-10-17","Statement":[]}"#
    );
    let with_policy = NewKey { policy: Some("[]".into()), ..NewKey::default() };
    assert_eq!(code(kms.create_key(user(), with_policy)).0, ErrorCode::MalformedPolicyDocumentException);
}

#[test]
fn the_managed_key_is_made_once_and_only_secrets_manager_uses_it() {
    let (kms, _, _) = setup();
    let acting = acting();
    let sm = kms.for_secrets_manager(&acting);
    let context = ctx(&[
        ("SecretARN", "arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf"),
        ("SecretVersionId", "v1"),
    ]);
    let data_key = sm.generate_data_key(None, &context).unwrap();
    assert_eq!(data_key.plaintext.as_bytes().len(), 32);
    let again = sm.generate_data_key(None, &context).unwrap();
    assert_eq!(again.key_arn, data_key.key_arn, "one managed key per account and region");
    assert_eq!(sm.decrypt(&data_key.ciphertext, &context).unwrap().as_bytes(), data_key.plaintext.as_bytes());
    assert_eq!(sm.key_arn(None).unwrap(), data_key.key_arn);

    let key = kms.describe_key(user(), SECRETS_MANAGER_ALIAS).unwrap();
    assert_eq!(key.arn, data_key.key_arn);
    assert_eq!(key.manager, KeyManager::Aws);
    assert_eq!(key.description, SECRETS_MANAGER_KEY_DESCRIPTION);
    assert!(key.policy.contains("\"Id\" : \"auto-secretsmanager-2\""));
    assert!(key.policy.contains("secretsmanager.us-east-1.amazonaws.com"));
    let (k, now) = kms.get_key_rotation_status(user(), &key.id).unwrap();
    assert_eq!(k.rotation_status(now).map(|r| r.0), Some(365));

    // A direct caller reads metadata only.
    let denied = code(kms.encrypt(user(), SECRETS_MANAGER_ALIAS, b"x", &[], false));
    assert_eq!(denied.0, ErrorCode::AccessDeniedException);
    assert_eq!(
        denied.1,
        format!(
            "User: {USER} is not authorized to perform: kms:Encrypt on resource: {} because no resource-based policy allows the kms:Encrypt action",
            key.arn
        )
    );
    assert_eq!(
        code(kms.decrypt(user(), &data_key.ciphertext, None, &context, false)).0,
        ErrorCode::AccessDeniedException
    );
    assert_eq!(code(kms.schedule_key_deletion(user(), &key.id, None)).0, ErrorCode::AccessDeniedException);
    assert_eq!(code(kms.disable_key(user(), &key.id)).0, ErrorCode::AccessDeniedException);
    assert_eq!(code(kms.create_alias(user(), "alias/mine", &key.id)).0, ErrorCode::AccessDeniedException);
    assert!(kms.list_resource_tags(user(), &key.id, None, None).is_ok());
    let stranger = Caller {
        account: "999999999999",
        region: REGION,
        principal: Principal::User("arn:aws:iam::999999999999:root"),
    };
    assert_eq!(code(kms.describe_key(stranger, &key.arn)).0, ErrorCode::AccessDeniedException);
    // Naming another account's managed alias creates nothing there.
    let elsewhere = format!("arn:aws:kms:{REGION}:444455556666:alias/aws/secretsmanager");
    assert_eq!(code(kms.describe_key(user(), &elsewhere)).0, ErrorCode::NotFoundException);
    assert_eq!(kms.key_count(), 1);
    // Deleting a managed alias is refused like any reserved alias.
    assert_eq!(code(kms.delete_alias(user(), SECRETS_MANAGER_ALIAS)).0, ErrorCode::NotAuthorizedException);
}

#[test]
fn secrets_manager_gets_the_kms_errors_of_a_customer_key() {
    let (kms, _, _) = setup();
    let acting = acting();
    let sm = kms.for_secrets_manager(&acting);
    let key = new_key(&kms);
    let sealed = sm.generate_data_key(Some(&key.arn), &[]).unwrap();
    kms.disable_key(user(), &key.id).unwrap();
    let e = sm.generate_data_key(Some(&key.id), &[]).unwrap_err();
    assert_eq!((e.code(), e.message()), ("DisabledException", format!("{} is disabled.", key.arn).as_str()));
    assert_eq!(sm.decrypt(&sealed.ciphertext, &[]).unwrap_err().code(), "DisabledException");
    let missing = sm.generate_data_key(Some("alias/none"), &[]).unwrap_err();
    assert_eq!(missing.code(), "NotFoundException");
    assert_eq!(missing.status(), 400);
}

#[test]
fn dry_runs_check_everything_and_change_nothing() {
    let (kms, _, _) = setup();
    let key = new_key(&kms);
    assert_eq!(code(kms.encrypt(user(), &key.id, b"x", &[], true)).0, ErrorCode::DryRunOperationException);
    kms.disable_key(user(), &key.id).unwrap();
    assert_eq!(code(kms.encrypt(user(), &key.id, b"x", &[], true)).0, ErrorCode::DisabledException);
}

#[test]
fn replaying_the_journal_or_a_snapshot_rebuilds_the_store() {
    struct Collect(parking_lot::Mutex<Vec<Vec<u8>>>);
    impl ChangeLog for Collect {
        fn append(&self, record: &[u8]) -> u64 {
            let mut records = self.0.lock();
            records.push(record.to_vec());
            records.len() as u64
        }
        fn check_writable(&self) -> crate::error::Result<()> {
            Ok(())
        }
        fn observed(&self, _ticket: u64) {}
    }
    let (kms, _, _) = setup();
    let log = Arc::new(Collect(parking_lot::Mutex::new(Vec::new())));
    kms.set_changelog(log.clone());
    let key = new_key(&kms);
    let gone = new_key(&kms);
    kms.create_alias(user(), "alias/app", &key.id).unwrap();
    kms.create_alias(user(), "alias/tmp", &gone.id).unwrap();
    kms.delete_alias(user(), "alias/tmp").unwrap();
    kms.tag_resource(user(), &key.id, &[Tag { key: "t".into(), value: "v".into() }]).unwrap();
    kms.schedule_key_deletion(user(), &gone.id, None).unwrap();
    kms.for_secrets_manager(&acting()).generate_data_key(None, &[]).unwrap();
    let records = log.0.lock().clone();
    for record in &records {
        let text = String::from_utf8(record.clone()).unwrap();
        assert!(!text.contains("material\""), "no material in the journal: {text}");
    }

    let (replayed, _, due) = setup();
    for record in &records {
        match serde_json::from_slice::<crate::services::secretsmanager::state::Change<'_>>(record).unwrap() {
            crate::services::secretsmanager::state::Change::Kms(change) => replayed.apply_change(change),
            _ => panic!("only KMS records"),
        }
    }
    assert_eq!(replayed.export().len(), 1);
    let original: Vec<_> = kms.export().into_iter().map(|d| (d.keys, d.aliases)).collect();
    let rebuilt: Vec<_> = replayed.export().into_iter().map(|d| (d.keys, d.aliases)).collect();
    assert_eq!(original, rebuilt);
    assert!(due.next().is_some(), "the pending deletion is scheduled again");

    let (loaded, _, _) = setup();
    loaded.load(kms.export());
    let reloaded: Vec<_> = loaded.export().into_iter().map(|d| (d.keys, d.aliases)).collect();
    assert_eq!(original, reloaded);
}

#[test]
fn seeded_keys_are_found_again_by_their_stable_id() {
    let (kms, _, _) = setup();
    let seed = || SeedKey {
        aliases: vec!["alias/seeded".into()],
        enabled: false,
        rotation_period_days: Some(180),
        ..SeedKey::default()
    };
    assert!(kms.seed_key(ACCOUNT, REGION, seed()).unwrap());
    assert!(!kms.seed_key(ACCOUNT, REGION, seed()).unwrap());
    let key = kms.describe_key(user(), "alias/seeded").unwrap();
    assert_eq!(key.state, KeyState::Disabled);
    assert_eq!(key.rotation.map(|r| r.period_days), Some(180));
    assert_eq!(kms.key_count(), 1);
}

fn acting() -> crate::auth::Caller {
    crate::auth::Caller {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        access_key_id: None,
        principal_arn: USER.into(),
        user_id: ACCOUNT.into(),
        session_policy: None,
    }
}

#[test]
fn the_calls_secrets_manager_makes_are_recorded_as_invoked_by_it_without_the_data_key() {
    let (kms, clock, _) = setup();
    let audit = Arc::new(crate::audit::Audit::new(true, 10, clock));
    kms.attach_audit(audit.clone());
    let caller = acting();
    let sm = kms.for_secrets_manager(&caller);
    let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf";
    let context = ctx(&[("SecretARN", arn), ("SecretVersionId", "v1")]);
    let data_key = sm.generate_data_key(None, &context).unwrap();
    sm.decrypt(&data_key.ciphertext, &ctx(&[("SecretARN", arn)])).unwrap_err();
    let events = audit.trail().events();
    let records: Vec<serde_json::Value> = events.iter().map(|e| serde_json::from_str(&e.record()).unwrap()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["eventName"], "GenerateDataKey");
    assert_eq!(records[0]["eventSource"], "kms.amazonaws.com");
    assert_eq!(records[0]["userIdentity"]["invokedBy"], "secretsmanager.amazonaws.com");
    assert_eq!(records[0]["sourceIPAddress"], "secretsmanager.amazonaws.com");
    assert_eq!(records[0]["requestParameters"]["keyId"], data_key.key_arn.as_str());
    assert_eq!(records[0]["requestParameters"]["encryptionContext"]["SecretARN"], arn);
    assert_eq!(records[0]["resources"][0]["ARN"], data_key.key_arn.as_str());
    assert_eq!(records[1]["eventName"], "Decrypt");
    assert_eq!(records[1]["errorCode"], "InvalidCiphertextException");
    let b64 = |bytes: &[u8]| STANDARD.encode(bytes);
    for record in &events {
        assert!(!record.record().contains(&b64(data_key.plaintext.as_bytes())));
        assert!(!record.record().contains(&b64(&data_key.ciphertext)));
    }
}
