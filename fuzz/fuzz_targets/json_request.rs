//! Request bodies through the JSON decoder, the model validator and the operation handlers.
//!
//! An input is up to four requests separated by 0xFF (a byte no JSON text contains); each
//! request's first byte picks the operation (or, past the last one, a clock advance that runs
//! due purges and rotations) and the rest is the body. Every input starts from a fresh app with
//! a few secrets, so a crash reproduces from its input alone.
//!
//! Checked besides "no panic": a body the model check accepts is never refused by the typed
//! decoding after it (that would answer serde's text instead of AWS's), every success body is
//! JSON, and no answer ever carries a stored secret value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smemu::App;
use smemu::clock::{Clock, Timestamp};
use smemu::config::Config;
use smemu::error::ErrorCode;
use smemu::protocol;
use smemu::rotation::HookSpec;
use smemu::services::secretsmanager::ops::{self, Ctx, Operation};
use std::sync::{Arc, OnceLock};

/// A marker inside every stored value: it must never show up in an answer.
const MARKER: &str = "QX7Z";

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const PRINCIPAL: &str = "arn:aws:iam::000000000000:root";
const ROTATE_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotate";
const ROTATE_JSON_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:rotate-json";

const SETUP: &[(&str, &str)] = &[
    (
        "CreateSecret",
        r#"{"Name":"fuzz/plain","SecretString":"plain-QX7Z","ClientRequestToken":"00000000-0000-4000-8000-000000000001","Tags":[{"Key":"team","Value":"core"}]}"#,
    ),
    (
        "CreateSecret",
        r#"{"Name":"fuzz/json","SecretString":"{\"user\":\"app\",\"password\":\"json-QX7Z\"}","Description":"db","ClientRequestToken":"00000000-0000-4000-8000-000000000002"}"#,
    ),
    (
        "CreateSecret",
        r#"{"Name":"fuzz/binary","SecretBinary":"UVg3WmJpbmFyeQ==","ClientRequestToken":"00000000-0000-4000-8000-000000000003"}"#,
    ),
    (
        "CreateSecret",
        r#"{"Name":"fuzz/gone","SecretString":"gone-QX7Z","ClientRequestToken":"00000000-0000-4000-8000-000000000004"}"#,
    ),
    ("DeleteSecret", r#"{"SecretId":"fuzz/gone","RecoveryWindowInDays":7}"#),
];

struct World {
    runtime: tokio::runtime::Runtime,
    hooks: Vec<HookSpec>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let hook = |arn: &str, extra: &str| {
            HookSpec::from_json(format!(r#"{{"functionArn":"{arn}","kind":"builtin"{extra}}}"#).as_bytes())
                .expect("a valid builtin hook")
        };
        World {
            runtime: smemu_fuzz::runtime(),
            hooks: vec![hook(ROTATE_ARN, ""), hook(ROTATE_JSON_ARN, r#","jsonKey":"password""#)],
        }
    })
}

fn fresh_app(world: &World) -> Arc<App> {
    let app = Arc::new(App::new(Config::default(), Arc::new(Clock::manual(Timestamp(1_767_225_600_000)))));
    for hook in &world.hooks {
        app.hooks.register(hook.clone());
    }
    app
}

async fn one(app: &Arc<App>, name: &str, body: &[u8], check_marker: bool) {
    let request_id = protocol::request_id();
    let answer = match protocol::decode_body(body) {
        Err(err) => Err(err),
        Ok(json) => {
            let op = Operation::from_name(name).expect("the harness only names model operations");
            let vetted = app.model.validate(name, &json).is_ok();
            let caller = smemu::auth::Caller {
                account_id: ACCOUNT.to_owned(),
                region: REGION.to_owned(),
                access_key_id: None,
                principal_arn: PRINCIPAL.to_owned(),
                user_id: ACCOUNT.to_owned(),
                session_policy: None,
            };
            let ctx = Ctx { app, account: ACCOUNT, region: REGION, principal: PRINCIPAL, caller: &caller };
            let outcome = ops::dispatch(&ctx, op, json).await;
            if vetted && let Err(err) = &outcome {
                assert_ne!(
                    err.code,
                    ErrorCode::SerializationException,
                    "{name}: the model check passed but decoding refused the body: {}",
                    err.message
                );
            }
            outcome
        }
    };
    let response = match &answer {
        Ok(body) => {
            if let Some(bytes) = body {
                assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_ok(), "{name}: success body is not JSON");
            }
            protocol::success(&request_id, body.clone())
        }
        Err(err) => {
            if check_marker {
                assert!(
                    !err.message.contains(MARKER),
                    "{name}: an error message shows a secret value: {}",
                    err.message
                );
            }
            protocol::error(&request_id, err)
        }
    };
    let _ = response;
}

async fn run(app: &Arc<App>, data: &[u8]) {
    for (name, body) in SETUP {
        one(app, name, body.as_bytes(), false).await;
    }
    // A marker the input itself sends (as a name, say, perhaps spelled with \u escapes) may be
    // echoed legitimately.
    let text = String::from_utf8_lossy(data);
    let check_marker = !text.contains(MARKER) && !text.contains("\\u");
    for request in smemu_fuzz::split(data, 0xFF, 4) {
        let Some((&pick, body)) = request.split_first() else { continue };
        // Operation::ALL keeps the model's order, so a corpus byte keeps naming its operation.
        match Operation::ALL.get(usize::from(pick) % (Operation::ALL.len() + 1)) {
            Some(op) => one(app, op.name(), body, check_marker).await,
            None => {
                // A clock advance of up to ~7 years, in hours, running what falls due.
                let hours = body.iter().take(2).fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
                let target = app.engine.now().plus_millis(hours * 3_600_000);
                smemu::scheduler::advance_to(app, target).await;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let app = fresh_app(world);
    world.runtime.block_on(run(&app, data));
});
