//! The benchmark's ceiling: the least an HTTP/1.1 server on hyper can do per request.
//!
//! It reads the request body and answers a fixed small JSON body. With `--verify` it first
//! verifies the request's SigV4 signature with `smemu::auth::Authenticator` in strict mode, the
//! same code smemu runs, so "ceiling with verification" is what smemu could reach if everything
//! after authentication were free. Same runtime (tokio multi-thread, default workers), same
//! connection builder and the same body collection as smemu's server.
//!
//! ```sh
//! cargo run --release --example ceiling -- --port 0 --verify --credentials creds.toml
//! ```
//! Prints `ceiling ready on http://127.0.0.1:PORT` once it listens.

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use smemu::auth::{AuthMode, Authenticator, CredentialStore};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(name = "ceiling", about = "Minimal hyper server answering a fixed body, optionally verifying SigV4")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// 0 picks a free port; the ready line names it.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Verify every request's SigV4 signature (strict mode) before answering.
    #[arg(long)]
    verify: bool,
    /// Known credentials (the same TOML or JSON file smemu reads).
    #[arg(long, value_name = "FILE")]
    credentials: Option<std::path::PathBuf>,
    #[arg(long, requires = "secret_access_key_file")]
    access_key_id: Option<String>,
    /// The secret of --access-key-id, read from this file (a command line is visible in `ps`).
    #[arg(long, requires = "access_key_id", value_name = "FILE")]
    secret_access_key_file: Option<std::path::PathBuf>,
    #[arg(long, default_value = smemu::config::DEFAULT_ACCOUNT)]
    account_id: String,
    /// Length of the answer's SecretString (the default answer is about 240 bytes in all); the
    /// bench also runs a ceiling whose answer is as large as a GetSecretValue of a 4 KiB secret.
    #[arg(long, default_value_t = 7)]
    value_bytes: usize,
}

/// A GetSecretValue answer whose SecretString has `value_bytes` characters.
fn answer_body(value_bytes: usize) -> Bytes {
    let value: String = "ceiling".chars().cycle().take(value_bytes).collect();
    Bytes::from(format!(
        r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:111122223333:secret:bench/0000000-AbCdEf","CreatedDate":1.7e9,"Name":"bench/0000000","SecretString":"{value}","VersionId":"00000000-0000-4000-8000-000000000000","VersionStages":["AWSCURRENT"]}}"#
    ))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let store = match &args.credentials {
        Some(path) => match CredentialStore::from_file(path) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("ceiling: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => CredentialStore::default(),
    };
    if let (Some(key), Some(path)) = (&args.access_key_id, &args.secret_access_key_file) {
        let added = std::fs::read_to_string(path)
            .map_err(|e| format!("--secret-access-key-file {}: {e}", path.display()))
            .and_then(|secret| {
                store
                    .add_static(key, secret.trim_end_matches(['\n', '\r']), &args.account_id, None, None)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = added {
            eprintln!("ceiling: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    if args.verify && store.is_empty() {
        eprintln!("ceiling: --verify needs --credentials FILE or --access-key-id/--secret-access-key-file");
        return std::process::ExitCode::from(2);
    }
    let auth = args.verify.then(|| {
        Arc::new(Authenticator::new(
            AuthMode::Strict,
            args.account_id.clone(),
            smemu::config::DEFAULT_REGION.to_owned(),
            store,
        ))
    });
    let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ceiling: cannot listen on {}:{}: {e}", args.host, args.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().expect("bound address");
    let body = answer_body(args.value_bytes);
    println!("ceiling ready on http://{addr} (verify: {}, answer: {} bytes)", args.verify, body.len());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let auth = auth.clone();
                let body = body.clone();
                let service = service_fn(move |req| {
                    let auth = auth.clone();
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(handle(auth.as_deref(), body, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    std::process::ExitCode::SUCCESS
}

async fn handle(auth: Option<&Authenticator>, answer_body: Bytes, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return answer(StatusCode::PAYLOAD_TOO_LARGE, Bytes::from_static(b"{}")),
    };
    if let Some(auth) = auth
        && let Err(e) = auth.authenticate(
            smemu::auth::SECRETS_MANAGER,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
            SystemTime::now(),
        )
    {
        return answer(StatusCode::BAD_REQUEST, Bytes::from(e.to_json()));
    }
    answer(StatusCode::OK, answer_body)
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    response
}
