//! The enforcement benchmark's seed (bench/policies/enforce.yaml): it loads, the benchmark's
//! caller may read the benchmark's secrets under enforcement and may do nothing else, and
//! bench/run signs as that caller and reads those secrets.

mod common;

use common::{TestServer, err_of};
use smemu::config::Config;
use smemu::iam::AuthorizeMode;

const SEED: &str = "bench/policies/enforce.yaml";
/// What bench/run's `--policies` mode signs with and reads.
const USER_KEY: &str = "AKIASMEMUBENCHUSER01";
const USER_SECRET: &str = "smemu/bench/user/secret/access/key/0001";
const PREFIX: &str = "bench-enforced/";
const COUNT: usize = 10;

#[tokio::test]
async fn the_bench_caller_reads_the_bench_secrets_and_nothing_else() {
    let root = env!("CARGO_MANIFEST_DIR");
    let server = TestServer::start_strict_with(Config { authorize: AuthorizeMode::Enforce, ..Config::default() }).await;
    smemu::seed::load(&server.app, &std::path::Path::new(root).join(SEED)).expect("the bench seed loads");
    let user = server.client_with(USER_KEY, USER_SECRET, None);

    for i in 0..COUNT {
        let name = format!("{PREFIX}{i:07}");
        let value = user.get_secret_value().secret_id(&name).send().await.expect("GetSecretValue is allowed");
        assert_eq!(value.secret_string().map(str::len), Some(4096), "{name}");
    }
    // The secrets are under the customer key, with a resource policy: all three policies decide.
    let described = user.describe_secret().secret_id(format!("{PREFIX}0000000")).send().await.unwrap();
    assert!(described.kms_key_id().is_some_and(|k| k.contains(":key/") || k.starts_with("alias/")), "{described:?}");
    let policy = server.client_with(common::KEY_ID, common::SECRET_KEY, None);
    let policy = policy.get_resource_policy().secret_id(format!("{PREFIX}0000000")).send().await.unwrap();
    assert!(policy.resource_policy().is_some());

    let (code, message) = err_of(
        user.put_secret_value().secret_id(format!("{PREFIX}0000000")).secret_string("x").send().await.unwrap_err(),
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.ends_with("with an explicit deny in an identity-based policy"), "{message}");
    let (code, message) = err_of(user.list_secrets().send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(
        message.ends_with("because no identity-based policy allows the secretsmanager:ListSecrets action"),
        "{message}"
    );
    let (code, _) =
        err_of(user.create_secret().name("bench-enforced/new").secret_string("x").send().await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
}

#[test]
fn bench_run_signs_as_the_seeds_user_and_reads_its_secrets() {
    let run = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run")).expect("bench/run");
    for expected in [USER_KEY, USER_SECRET, PREFIX, &format!("--count {COUNT}"), "--policies"] {
        assert!(run.contains(expected), "bench/run does not mention {expected}");
    }
}
