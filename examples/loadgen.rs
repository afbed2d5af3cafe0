//! smemu's load driver: signed Secrets Manager requests over HTTP/1.1 keep-alive connections.
//!
//! Every request is signed with SigV4 (the `aws-sigv4` crate derives the key and computes the
//! signature), so bodies may vary from request to request: unique version tokens, unique names,
//! secrets spread over the whole seeded set. Runs are bounded by a duration or a request count,
//! every request has a timeout, and only loopback targets are accepted.
//!
//! Subcommands (see `--help` of each):
//! - `run`: drive one workload and print one `RESULT key=value …` line per request class;
//! - `seed`: create N secrets of S bytes through signed CreateSecret calls, concurrently;
//! - `presign`: sign one request of a fixed-body workload and write a wrk Lua script for it;
//! - `bulk-import`: build a state export of N secrets and load it through `POST /_smemu/state`;
//! - `coldstart`: spawn a server R times, time spawn → first successful request, report the median;
//! - `rss`: print a process's resident set size from /proc;
//! - `report`: read the lines the others printed and print the results table and the targets.

use bytes::Bytes;
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One request never waits longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Whatever happens, a run ends this long after its planned end.
const GRACE: Duration = Duration::from_secs(15);
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const SERVICE: &str = "secretsmanager";

#[derive(Parser)]
#[command(name = "loadgen", about = "smemu's load driver")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive one workload for a fixed duration or request count.
    Run(RunArgs),
    /// Create `--count` secrets named PREFIX0000000… of `--size` bytes through signed CreateSecret calls.
    Seed(SeedArgs),
    /// Sign one request of a fixed-body workload and write a wrk Lua script sending it.
    Presign(PresignArgs),
    /// Load `--count` secrets at once through the control API's state import.
    BulkImport(BulkArgs),
    /// Time spawn → first successful signed request of a server, `--runs` times.
    Coldstart(ColdArgs),
    /// Print the resident set size of a process.
    Rss(RssArgs),
    /// Print the results table (and the targets) from files of RESULT/COLDSTART/RSS lines.
    Report(ReportArgs),
}

#[derive(ClapArgs, Clone)]
struct Target {
    /// Base URL of the server (loopback only), e.g. http://127.0.0.1:4566
    #[arg(long)]
    target: String,
    /// Label for the RESULT lines (e.g. smemu, moto, ceiling-verify).
    #[arg(long, default_value = "smemu")]
    label: String,
    #[arg(long, env = "LOADGEN_ACCESS_KEY_ID", default_value = "AKIASMEMUBENCH000001")]
    access_key_id: String,
    #[arg(long, env = "LOADGEN_SECRET_ACCESS_KEY", default_value = "smemu/bench/secret/access/key/000000000")]
    secret_access_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Names of seeded secrets are PREFIX followed by seven digits.
    #[arg(long, default_value = "bench/")]
    prefix: String,
    /// How many seeded secrets exist (reads spread over them).
    #[arg(long, default_value_t = 10_000)]
    count: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Workload {
    /// GetSecretValue by name.
    GetName,
    /// GetSecretValue by full ARN.
    GetArn,
    /// DescribeSecret by name.
    Describe,
    /// ListSecrets, first page of 100 (MaxResults 100), no filter.
    List,
    /// ListSecrets with a name-prefix filter matching 100 secrets, MaxResults 100.
    ListPrefix,
    /// BatchGetSecretValue of 20 ids.
    Batch,
    /// PutSecretValue with a unique ClientRequestToken per request.
    Put,
    /// CreateSecret with a unique name per request.
    Create,
    /// Half the connections GetSecretValue, half PutSecretValue on other secrets (two RESULT lines).
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::GetName => "get-name",
            Workload::GetArn => "get-arn",
            Workload::Describe => "describe",
            Workload::List => "list",
            Workload::ListPrefix => "list-prefix",
            Workload::Batch => "batch",
            Workload::Put => "put",
            Workload::Create => "create",
            Workload::Mixed => "mixed",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum SignerKind {
    /// Canonical request built here; key derivation and signature by `aws-sigv4`'s primitives.
    Fast,
    /// `aws_sigv4::http_request::sign` for every request (what the SDKs run).
    Full,
}

#[derive(ClapArgs)]
struct Load {
    /// Concurrent keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 64)]
    connections: usize,
    /// Runtime worker threads of the driver.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// How the driver signs.
    #[arg(long, value_enum, default_value_t = SignerKind::Fast)]
    signer: SignerKind,
}

#[derive(ClapArgs)]
struct RunArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    load: Load,
    #[arg(long, short = 'w', value_enum)]
    workload: Workload,
    /// Measured seconds (after the warm-up).
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests instead (the duration still bounds the run).
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    /// Seconds of unmeasured load before measuring.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Always ask for the same secret (as the pre-signed wrk requests do) instead of spreading.
    #[arg(long)]
    fixed: bool,
    /// Bytes of SecretString written by put and create.
    #[arg(long, default_value_t = 64)]
    value_size: usize,
}

#[derive(ClapArgs)]
struct SeedArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    load: Load,
    /// Bytes of each SecretString.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// First index to create (PREFIX + seven digits).
    #[arg(long, default_value_t = 0)]
    start: u64,
}

#[derive(ClapArgs)]
struct PresignArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, short = 'w', value_enum)]
    workload: Workload,
    /// The wrk connection count, only echoed in the RESULT line.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Where to write the Lua script.
    #[arg(long)]
    lua: std::path::PathBuf,
}

#[derive(ClapArgs)]
struct BulkArgs {
    #[command(flatten)]
    target: Target,
    /// Bytes of each SecretString.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Also keep the generated state export here.
    #[arg(long)]
    save: Option<std::path::PathBuf>,
}

#[derive(ClapArgs)]
struct ColdArgs {
    #[arg(long, default_value = "smemu")]
    label: String,
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Give up on one start after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    #[arg(long, env = "LOADGEN_ACCESS_KEY_ID", default_value = "AKIASMEMUBENCH000001")]
    access_key_id: String,
    #[arg(long, env = "LOADGEN_SECRET_ACCESS_KEY", default_value = "smemu/bench/secret/access/key/000000000")]
    secret_access_key: String,
    /// The command. An argument `{port}` is replaced by a free port that is then polled;
    /// without one, the port is read from the first `http://127.0.0.1:PORT` the command prints.
    #[arg(trailing_var_arg = true, required = true)]
    command: Vec<String>,
}

#[derive(ClapArgs)]
struct RssArgs {
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value = "smemu")]
    label: String,
    /// What the figure measures, e.g. idle or after-10000x4KiB.
    #[arg(long, default_value = "idle")]
    phase: String,
}

#[derive(ClapArgs)]
struct ReportArgs {
    /// Files holding RESULT, COLDSTART and RSS lines.
    files: Vec<std::path::PathBuf>,
    /// Label of the compared endpoint (`--vs`), if any.
    #[arg(long)]
    vs: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => report(&args),
        Command::Rss(args) => rss(&args),
        Command::Coldstart(args) => runtime(1).block_on(coldstart(args)),
        Command::Run(args) => runtime(args.load.threads).block_on(run(args)),
        Command::Seed(args) => runtime(args.load.threads).block_on(seed(args)),
        Command::Presign(args) => runtime(1).block_on(presign(args)),
        Command::BulkImport(args) => runtime(2).block_on(bulk_import(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, String>;

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// Signing

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds.
fn amz_date(secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()).unwrap_or_default();
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

struct Signed {
    amz_date: String,
    authorization: String,
}

/// A SigV4 signer for `POST /` JSON-1.1 requests; one per connection task (it caches per second
/// and per day, without locks).
#[derive(Clone)]
struct Signer {
    access_key_id: Arc<str>,
    secret_access_key: Arc<str>,
    region: Arc<str>,
    host: Arc<str>,
    kind: SignerKind,
    second: u64,
    date: String,
    day: u64,
    key: Vec<u8>,
    scope: String,
}

const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

impl Signer {
    fn new(target: &Target, host: &str, kind: SignerKind) -> Self {
        Self {
            access_key_id: target.access_key_id.as_str().into(),
            secret_access_key: target.secret_access_key.as_str().into(),
            region: target.region.as_str().into(),
            host: host.into(),
            kind,
            second: u64::MAX,
            date: String::new(),
            day: u64::MAX,
            key: Vec::new(),
            scope: String::new(),
        }
    }

    fn sign(&mut self, target: &str, body: &[u8], now: SystemTime) -> Signed {
        match self.kind {
            SignerKind::Fast => self.sign_fast(target, body, now),
            SignerKind::Full => self.sign_full(target, body, now),
        }
    }

    fn sign_fast(&mut self, target: &str, body: &[u8], now: SystemTime) -> Signed {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.second {
            self.second = secs;
            self.date = amz_date(secs);
        }
        if secs / 86_400 != self.day {
            self.day = secs / 86_400;
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            self.key = aws_sigv4::sign::v4::generate_signing_key(&self.secret_access_key, at, &self.region, SERVICE)
                .as_ref()
                .to_vec();
            self.scope = format!("{}/{}/{SERVICE}/aws4_request", &self.date[..8], self.region);
        }
        let mut canonical = String::with_capacity(320);
        let _ = write!(
            canonical,
            "POST\n/\n\ncontent-type:{JSON_CONTENT_TYPE}\nhost:{}\nx-amz-date:{}\nx-amz-target:{target}\n\n{SIGNED_HEADERS}\n{}",
            self.host,
            self.date,
            sha256_hex(body)
        );
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{}\n{}\n{}", self.date, self.scope, sha256_hex(canonical.as_bytes()));
        let signature = aws_sigv4::sign::v4::calculate_signature(&self.key, string_to_sign.as_bytes());
        Signed {
            amz_date: self.date.clone(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
                self.access_key_id, self.scope
            ),
        }
    }

    fn sign_full(&mut self, target: &str, body: &[u8], now: SystemTime) -> Signed {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity =
            aws_credential_types::Credentials::new(&*self.access_key_id, &*self.secret_access_key, None, None, "bench")
                .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .expect("signing parameters")
            .into();
        let headers = [("content-type", JSON_CONTENT_TYPE), ("host", &*self.host), ("x-amz-target", target)];
        let request = SignableRequest::new(
            "POST",
            format!("http://{}/", self.host),
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable request");
        let (instructions, _) = sign(request, &params).expect("signing").into_parts();
        let mut amz_date = String::new();
        let mut authorization = String::new();
        for (name, value) in instructions.headers() {
            match name {
                "x-amz-date" => amz_date = value.to_owned(),
                "authorization" => authorization = value.to_owned(),
                _ => {}
            }
        }
        Signed { amz_date, authorization }
    }
}

/// The fast signer must agree with the crate's full signer to the byte.
fn check_signer(target: &Target, host: &str) -> Res<()> {
    let at = SystemTime::now();
    let body = br#"{"SecretId":"bench/0000000"}"#;
    let fast = Signer::new(target, host, SignerKind::Fast).sign("secretsmanager.GetSecretValue", body, at);
    let full = Signer::new(target, host, SignerKind::Full).sign("secretsmanager.GetSecretValue", body, at);
    if fast.authorization != full.authorization || fast.amz_date != full.amz_date {
        return Err(format!(
            "the fast signer disagrees with aws-sigv4:\n  fast: {} {}\n  full: {} {}",
            fast.amz_date, fast.authorization, full.amz_date, full.authorization
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Targets and the HTTP client

/// The URL's `host:port` if it is a loopback address; anything else is refused.
fn loopback_authority(url: &str) -> Res<(Uri, String)> {
    let uri: Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// targets"));
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!("{url}: the benchmark only targets loopback addresses"));
    }
    let authority = uri.authority().map(ToString::to_string).ok_or_else(|| format!("{url}: no authority"))?;
    let base: Uri = format!("http://{authority}/").parse().map_err(|e| format!("{e}"))?;
    Ok((base, authority))
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client(connections: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(connections.max(1)).build(connector)
}

struct Endpoint {
    client: HttpClient,
    uri: Uri,
    host: String,
}

impl Endpoint {
    fn new(url: &str, connections: usize) -> Res<Self> {
        let (uri, host) = loopback_authority(url)?;
        Ok(Self { client: client(connections), uri, host })
    }

    fn request(&self, target: &str, body: Vec<u8>, signed: Signed) -> Request<Full<Bytes>> {
        Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(HOST, self.host.as_str())
            .header(CONTENT_TYPE, JSON_CONTENT_TYPE)
            .header("x-amz-target", target)
            .header("x-amz-date", signed.amz_date)
            .header(AUTHORIZATION, signed.authorization)
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Res<(StatusCode, Bytes)> {
        let exchange = async {
            let response = self.client.request(req).await.map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| "timed out".to_owned())?
    }

    /// One signed call; non-2xx answers are errors carrying the body.
    async fn call(&self, signer: &mut Signer, op: &str, body: &str) -> Res<serde_json::Value> {
        let target = format!("secretsmanager.{op}");
        let signed = signer.sign(&target, body.as_bytes(), SystemTime::now());
        let (status, answer) = self.send(self.request(&target, body.as_bytes().to_vec(), signed)).await?;
        if !status.is_success() {
            return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&answer)));
        }
        serde_json::from_slice(&answer).map_err(|e| format!("{op}: unreadable answer: {e}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads: what each request sends

struct Plan {
    workload: Option<Workload>,
    prefix: String,
    count: u64,
    arns: Vec<String>,
    run_id: u64,
    value: String,
    fixed: bool,
    /// Seeding: request i creates secret number start + i.
    start: u64,
}

/// A request class: GetSecretValue and PutSecretValue of the mixed workload are counted apart.
struct Class {
    workload: &'static str,
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

fn filler(size: usize, salt: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = salt | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % 62) as usize])
        })
        .collect()
}

impl Plan {
    fn name(&self, i: u64) -> String {
        format!("{}{:07}", self.prefix, i)
    }

    /// Spreads consecutive request numbers over the seeded set.
    fn pick(&self, i: u64) -> u64 {
        if self.fixed || self.count == 0 { 0 } else { i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % self.count }
    }

    fn token(&self, worker: usize, i: u64) -> String {
        format!("bench-{:016x}-{worker:04x}-{i:012x}", self.run_id)
    }

    fn classes(&self) -> Vec<Class> {
        match self.workload {
            Some(Workload::Mixed) => vec![Class { workload: "mixed-get" }, Class { workload: "mixed-put" }],
            Some(w) => vec![Class { workload: w.name() }],
            None => vec![Class { workload: "seed" }],
        }
    }

    /// (class, X-Amz-Target, body) of request number `i` sent by `worker`.
    fn request(&self, worker: usize, i: u64) -> (usize, &'static str, String) {
        let Some(workload) = self.workload else {
            let name = json_string(&self.name(self.start + i));
            let body = format!(
                r#"{{"Name":{name},"ClientRequestToken":"{}","SecretString":"{}"}}"#,
                self.token(worker, i),
                self.value
            );
            return (0, "secretsmanager.CreateSecret", body);
        };
        match workload {
            Workload::GetName => {
                (0, "secretsmanager.GetSecretValue", format!(r#"{{"SecretId":"{}"}}"#, self.name(self.pick(i))))
            }
            Workload::GetArn => {
                let arn = &self.arns[(self.pick(i) % self.arns.len() as u64) as usize];
                (0, "secretsmanager.GetSecretValue", format!(r#"{{"SecretId":"{arn}"}}"#))
            }
            Workload::Describe => {
                (0, "secretsmanager.DescribeSecret", format!(r#"{{"SecretId":"{}"}}"#, self.name(self.pick(i))))
            }
            Workload::List => (0, "secretsmanager.ListSecrets", r#"{"MaxResults":100}"#.to_owned()),
            Workload::ListPrefix => {
                let groups = self.count.div_ceil(100).max(1);
                let group = if self.fixed { 0 } else { self.pick(i) % groups };
                let prefix = format!("{}{:05}", self.prefix, group);
                let body = format!(r#"{{"MaxResults":100,"Filters":[{{"Key":"name","Values":["{prefix}"]}}]}}"#);
                (0, "secretsmanager.ListSecrets", body)
            }
            Workload::Batch => {
                let start = if self.count > 20 { self.pick(i) % (self.count - 19) } else { 0 };
                let ids: Vec<String> =
                    (start..start + 20).map(|k| format!("\"{}\"", self.name(k % self.count.max(1)))).collect();
                (0, "secretsmanager.BatchGetSecretValue", format!(r#"{{"SecretIdList":[{}]}}"#, ids.join(",")))
            }
            Workload::Put => (0, "secretsmanager.PutSecretValue", self.put_body(worker, i)),
            Workload::Create => {
                let name = format!("bench-create/{:x}/{i:010}", self.run_id);
                let body = format!(
                    r#"{{"Name":"{name}","ClientRequestToken":"{}","SecretString":"{}"}}"#,
                    self.token(worker, i),
                    self.value
                );
                (0, "secretsmanager.CreateSecret", body)
            }
            Workload::Mixed if worker.is_multiple_of(2) => {
                (0, "secretsmanager.GetSecretValue", format!(r#"{{"SecretId":"{}"}}"#, self.name(self.pick(i))))
            }
            Workload::Mixed => (1, "secretsmanager.PutSecretValue", self.put_body(worker, i)),
        }
    }

    fn put_body(&self, worker: usize, i: u64) -> String {
        // Writers spread over the set, away from the secret a reader of the same number asks for.
        let target = self.name((self.pick(i) + self.count / 2) % self.count.max(1));
        format!(
            r#"{{"SecretId":"{target}","ClientRequestToken":"{}","SecretString":"{}"}}"#,
            self.token(worker, i),
            self.value
        )
    }
}

/// ARNs of the first secrets, through DescribeSecret (ARNs carry a random suffix).
async fn fetch_arns(endpoint: &Endpoint, signer: &mut Signer, plan: &Plan, want: u64) -> Res<Vec<String>> {
    let mut arns = Vec::new();
    for i in 0..want.min(plan.count).max(1) {
        let answer = endpoint.call(signer, "DescribeSecret", &format!(r#"{{"SecretId":"{}"}}"#, plan.name(i))).await?;
        let arn = answer["ARN"].as_str().ok_or("DescribeSecret answered no ARN")?;
        arns.push(arn.to_owned());
    }
    Ok(arns)
}

// ---------------------------------------------------------------------------------------------
// The driver

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    non2xx: u64,
    err5xx: u64,
    errors: u64,
    first_failure: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.non2xx += other.non2xx;
        self.err5xx += other.err5xx;
        self.errors += other.errors;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }
}

struct Drive {
    endpoint: Endpoint,
    plan: Plan,
    signer: Signer,
    counter: AtomicU64,
    limit: Option<u64>,
    measure_from: Instant,
    stop_at: Instant,
}

async fn connection(drive: Arc<Drive>, worker: usize) -> Vec<Tally> {
    let mut signer = drive.signer.clone();
    let mut tallies: Vec<Tally> = drive.plan.classes().iter().map(|_| Tally::default()).collect();
    loop {
        if Instant::now() >= drive.stop_at {
            break;
        }
        let i = drive.counter.fetch_add(1, Ordering::Relaxed);
        if drive.limit.is_some_and(|limit| i >= limit) {
            break;
        }
        let (class, target, body) = drive.plan.request(worker, i);
        let signed = signer.sign(target, body.as_bytes(), SystemTime::now());
        let req = drive.endpoint.request(target, body.into_bytes(), signed);
        let started = Instant::now();
        let outcome = drive.endpoint.send(req).await;
        let elapsed = started.elapsed();
        if started < drive.measure_from {
            continue;
        }
        let tally = &mut tallies[class];
        tally.latencies_us.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        match outcome {
            Ok((status, _)) if status.is_success() => {}
            Ok((status, body)) => {
                tally.non2xx += 1;
                if status.is_server_error() {
                    tally.err5xx += 1;
                }
                tally.first_failure.get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_failure.get_or_insert(e);
                // A refused or broken connection must not spin.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    tallies
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// Drives `plan` over `connections` connections; returns the merged tallies per class and the
/// measured seconds.
async fn drive(
    endpoint: Endpoint,
    plan: Plan,
    signer: Signer,
    connections: usize,
    limit: Option<u64>,
    warmup: Duration,
    duration: Duration,
) -> (Vec<Tally>, f64) {
    let start = Instant::now();
    let drive = Arc::new(Drive {
        endpoint,
        plan,
        signer,
        counter: AtomicU64::new(0),
        limit,
        measure_from: start + warmup,
        stop_at: start + warmup + duration,
    });
    let tasks: Vec<_> = (0..connections).map(|w| tokio::spawn(connection(drive.clone(), w))).collect();
    let mut merged: Vec<Tally> = drive.plan.classes().iter().map(|_| Tally::default()).collect();
    let hard_stop = tokio::time::Instant::from_std(drive.stop_at + GRACE);
    for task in tasks {
        match tokio::time::timeout_at(hard_stop, task).await {
            Ok(Ok(tallies)) => {
                for (m, t) in merged.iter_mut().zip(tallies) {
                    m.merge(t);
                }
            }
            Ok(Err(e)) => eprintln!("loadgen: a connection task failed: {e}"),
            Err(_) => eprintln!("loadgen: a connection task did not stop in time"),
        }
    }
    let measured = Instant::now().min(drive.stop_at).saturating_duration_since(drive.measure_from);
    (merged, measured.as_secs_f64().max(1e-9))
}

fn result_line(tool: &str, label: &str, workload: &str, conns: usize, secs: f64, tally: &mut Tally) -> String {
    tally.latencies_us.sort_unstable();
    let n = tally.latencies_us.len();
    format!(
        "RESULT tool={tool} target={label} workload={workload} conns={conns} secs={secs:.2} requests={n} rps={:.1} p50_ms={:.3} p99_ms={:.3} non2xx={} err5xx={} errors={}",
        n as f64 / secs,
        percentile(&tally.latencies_us, 50.0),
        percentile(&tally.latencies_us, 99.0),
        tally.non2xx,
        tally.err5xx,
        tally.errors
    )
}

fn plan_for(target: &Target, workload: Option<Workload>, value_size: usize, fixed: bool) -> Plan {
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    Plan {
        workload,
        prefix: target.prefix.clone(),
        count: target.count,
        arns: Vec::new(),
        run_id,
        value: filler(value_size, run_id),
        fixed,
        start: 0,
    }
}

async fn run(args: RunArgs) -> Res<()> {
    let endpoint = Endpoint::new(&args.target.target, args.load.connections)?;
    check_signer(&args.target, &endpoint.host)?;
    let mut signer = Signer::new(&args.target, &endpoint.host, args.load.signer);
    let mut plan = plan_for(&args.target, Some(args.workload), args.value_size, args.fixed);
    if matches!(args.workload, Workload::GetArn) {
        plan.arns = fetch_arns(&endpoint, &mut signer, &plan, if args.fixed { 1 } else { 100 }).await?;
    }
    if args.duration <= 0.0 || args.duration > 600.0 {
        return Err("--duration must be within (0, 600] seconds".into());
    }
    let (mut tallies, secs) = drive(
        endpoint,
        plan,
        signer,
        args.load.connections,
        args.requests,
        Duration::from_secs_f64(args.warmup.clamp(0.0, 10.0)),
        Duration::from_secs_f64(args.duration),
    )
    .await;
    let classes = plan_for(&args.target, Some(args.workload), 0, false).classes();
    for (class, tally) in classes.iter().zip(tallies.iter_mut()) {
        println!("{}", result_line("loadgen", &args.target.label, class.workload, args.load.connections, secs, tally));
        if let Some(failure) = &tally.first_failure {
            eprintln!("loadgen: {} {}: first failure: {}", args.target.label, class.workload, clip(failure, 400));
        }
    }
    Ok(())
}

fn clip(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

async fn seed(args: SeedArgs) -> Res<()> {
    let endpoint = Endpoint::new(&args.target.target, args.load.connections)?;
    check_signer(&args.target, &endpoint.host)?;
    let signer = Signer::new(&args.target, &endpoint.host, args.load.signer);
    let mut plan = plan_for(&args.target, None, args.size, false);
    plan.start = args.start;
    let count = args.target.count.saturating_sub(args.start);
    let started = Instant::now();
    let (mut tallies, _) =
        drive(endpoint, plan, signer, args.load.connections, Some(count), Duration::ZERO, Duration::from_secs(600))
            .await;
    let secs = started.elapsed().as_secs_f64();
    let tally = &mut tallies[0];
    println!("{}", result_line("loadgen", &args.target.label, "seed", args.load.connections, secs, tally));
    let failed = tally.non2xx + tally.errors;
    if failed > 0 || (tally.latencies_us.len() as u64) < count {
        return Err(format!(
            "seeding {count} secrets: {failed} failed, {} answered; first failure: {}",
            tally.latencies_us.len(),
            tally.first_failure.as_deref().map_or("none", |f| clip(f, 400))
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// wrk: one pre-signed request per fixed-body workload

fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn presign(args: PresignArgs) -> Res<()> {
    if matches!(args.workload, Workload::Put | Workload::Create | Workload::Mixed) {
        return Err(format!("{} needs a different body per request: use `loadgen run`", args.workload.name()));
    }
    let endpoint = Endpoint::new(&args.target.target, 1)?;
    // The crate's own signer for the one request wrk repeats.
    let mut signer = Signer::new(&args.target, &endpoint.host, SignerKind::Full);
    let mut plan = plan_for(&args.target, Some(args.workload), 0, true);
    if args.workload == Workload::GetArn {
        plan.arns = fetch_arns(&endpoint, &mut signer, &plan, 1).await?;
    }
    let (_, target, body) = plan.request(0, 0);
    let signed = signer.sign(target, body.as_bytes(), SystemTime::now());
    // Check it once before wrk repeats it.
    let (status, answer) = endpoint.send(endpoint.request(target, body.clone().into_bytes(), signed)).await?;
    if !status.is_success() {
        return Err(format!(
            "the pre-signed request answered {status}: {}",
            clip(&String::from_utf8_lossy(&answer), 400)
        ));
    }
    let signed = signer.sign(target, body.as_bytes(), SystemTime::now());
    let script = format!(
        r#"-- Generated by `loadgen presign`: one SigV4-signed request (valid for 15 minutes).
wrk.method = "POST"
wrk.path = "/"
wrk.body = {body}
wrk.headers["Host"] = {host}
wrk.headers["Content-Type"] = {ct}
wrk.headers["X-Amz-Target"] = {target}
wrk.headers["X-Amz-Date"] = {date}
wrk.headers["Authorization"] = {auth}

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT tool=wrk target=%s workload=%s conns=%d secs=%.2f requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d err5xx=na errors=%d\n",
    {label}, {workload}, {conns}, secs, summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, errors))
end
"#,
        body = lua_string(&body),
        host = lua_string(&endpoint.host),
        ct = lua_string(JSON_CONTENT_TYPE),
        target = lua_string(target),
        date = lua_string(&signed.amz_date),
        auth = lua_string(&signed.authorization),
        label = lua_string(&args.target.label),
        workload = lua_string(args.workload.name()),
        conns = args.connections,
    );
    std::fs::write(&args.lua, script).map_err(|e| format!("{}: {e}", args.lua.display()))
}

// ---------------------------------------------------------------------------------------------
// Bulk import through the control API

fn suffix_for(i: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66;
    (0..6)
        .map(|_| {
            let c = ALPHABET[(x % 62) as usize];
            x /= 62;
            char::from(c)
        })
        .collect()
}

async fn bulk_import(args: BulkArgs) -> Res<()> {
    use serde_json::Value;
    let endpoint = Endpoint::new(&args.target.target, 2)?;
    check_signer(&args.target, &endpoint.host)?;
    let mut signer = Signer::new(&args.target, &endpoint.host, SignerKind::Fast);
    let count = args.target.count;
    // A real secret made through CreateSecret is the template: the export's shape is the server's.
    let template_name = format!("{}template-{:x}", args.target.prefix, std::process::id());
    endpoint
        .call(
            &mut signer,
            "CreateSecret",
            &format!(
                r#"{{"Name":"{template_name}","ClientRequestToken":"bench-template-{:032x}","SecretString":"x"}}"#,
                std::process::id()
            ),
        )
        .await?;
    let export = Request::builder()
        .method(Method::GET)
        .uri(format!("http://{}/_smemu/state", endpoint.host))
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let (status, body) = endpoint.send(export).await?;
    if !status.is_success() {
        return Err(format!("GET /_smemu/state answered {status}"));
    }
    let state: Value = serde_json::from_slice(&body).map_err(|e| format!("state export: {e}"))?;
    let (account, region, template) = state["stores"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|store| {
            let secret = store["secrets"].as_array()?.iter().find(|s| s["name"] == template_name.as_str())?;
            Some((store["account"].clone(), store["region"].clone(), secret.clone()))
        })
        .ok_or("the template secret is not in the state export (has its shape changed?)")?;
    let arn = template["arn"].as_str().ok_or("template has no arn")?;
    let arn_base = arn
        .strip_suffix(&arn[arn.len().saturating_sub(template_name.len() + 7)..])
        .ok_or("unexpected ARN shape")?
        .to_owned();
    if !template["versions"][0]["value"]["String"].is_string() || !template["seq"].is_u64() {
        return Err("unexpected secret shape in the state export".into());
    }
    let value = Value::String(filler(args.size, 11));
    let built = Instant::now();
    let mut out = Vec::with_capacity(count as usize * (args.size + 640));
    write!(out, r#"{{"stores":[{{"account":{account},"region":{region},"secrets":["#).map_err(|e| e.to_string())?;
    let mut secret = template;
    for i in 0..count {
        let name = format!("{}{:07}", args.target.prefix, i);
        secret["arn"] = Value::String(format!("{arn_base}{name}-{}", suffix_for(i)));
        secret["name"] = Value::String(name);
        secret["seq"] = Value::from(i);
        secret["versions"][0]["id"] = Value::String(format!("{:08x}-0000-4000-8000-{i:012x}", count as u32));
        secret["versions"][0]["value"]["String"] = value.clone();
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &secret).map_err(|e| e.to_string())?;
    }
    out.extend_from_slice(b"]}]}");
    let build_secs = built.elapsed().as_secs_f64();
    if let Some(path) = &args.save {
        std::fs::write(path, &out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let bytes = out.len();
    let posted = Instant::now();
    let import = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/_smemu/state", endpoint.host))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(out)))
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(Duration::from_secs(300), async {
        let response = endpoint.client.request(import).await.map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, body))
    })
    .await
    .map_err(|_| "the state import did not answer within 300 s".to_owned())??;
    if !answer.0.is_success() {
        return Err(format!("state import answered {}: {}", answer.0, clip(&String::from_utf8_lossy(&answer.1), 400)));
    }
    println!(
        "IMPORT target={} count={count} bytes={bytes} build_s={build_secs:.2} import_s={:.2}",
        args.target.label,
        posted.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cold start and memory

fn free_port() -> Res<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn port_in(line: &str) -> Option<u16> {
    let rest = &line[line.find("http://127.0.0.1:")? + "http://127.0.0.1:".len()..];
    rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

async fn one_start(args: &ColdArgs) -> Res<Duration> {
    use tokio::io::AsyncBufReadExt;
    let placeholder = args.command.iter().any(|a| a.contains("{port}"));
    let chosen = if placeholder { free_port()? } else { 0 };
    let argv: Vec<String> = args.command.iter().map(|a| a.replace("{port}", &chosen.to_string())).collect();
    let deadline = Duration::from_secs_f64(args.timeout.clamp(0.1, 120.0));
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(if placeholder { std::process::Stdio::null() } else { std::process::Stdio::piped() })
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let outcome = async {
        let port = if placeholder {
            chosen
        } else {
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            loop {
                let line = tokio::time::timeout(deadline.saturating_sub(started.elapsed()), lines.next_line())
                    .await
                    .map_err(|_| "no ready line in time".to_owned())?
                    .map_err(|e| e.to_string())?
                    .ok_or("the server exited before printing its address")?;
                if let Some(port) = port_in(&line) {
                    break port;
                }
            }
        };
        let endpoint = Endpoint::new(&format!("http://127.0.0.1:{port}"), 1)?;
        let target = Target {
            target: String::new(),
            label: String::new(),
            access_key_id: args.access_key_id.clone(),
            secret_access_key: args.secret_access_key.clone(),
            region: "us-east-1".into(),
            prefix: String::new(),
            count: 0,
        };
        let mut signer = Signer::new(&target, &endpoint.host, SignerKind::Fast);
        let body = br#"{"MaxResults":1}"#;
        loop {
            if started.elapsed() > deadline {
                return Err(format!("no successful answer within {:.1} s", deadline.as_secs_f64()));
            }
            let signed = signer.sign("secretsmanager.ListSecrets", body, SystemTime::now());
            match endpoint.send(endpoint.request("secretsmanager.ListSecrets", body.to_vec(), signed)).await {
                Ok((status, _)) if status.is_success() => return Ok(started.elapsed()),
                Ok((StatusCode::SERVICE_UNAVAILABLE, _)) | Err(_) => {
                    tokio::time::sleep(Duration::from_micros(250)).await;
                }
                Ok((status, body)) => {
                    return Err(format!(
                        "the server answered {status}: {}",
                        clip(&String::from_utf8_lossy(&body), 300)
                    ));
                }
            }
        }
    }
    .await;
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    outcome
}

async fn coldstart(args: ColdArgs) -> Res<()> {
    let mut times = Vec::new();
    for _ in 0..args.runs.clamp(1, 100) {
        times.push(one_start(&args).await?.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "COLDSTART target={} runs={} median_ms={:.2} min_ms={:.2} max_ms={:.2}",
        args.label,
        times.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}

fn rss(args: &RssArgs) -> Res<()> {
    let path = format!("/proc/{}/status", args.pid);
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS"))?;
    println!("RSS target={} phase={} kib={kib} mib={:.1}", args.label, args.phase, kib as f64 / 1024.0);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report

type Line = BTreeMap<String, String>;

fn read_lines(files: &[std::path::PathBuf]) -> Res<Vec<(String, Line)>> {
    let mut out = Vec::new();
    for file in files {
        let reader =
            std::io::BufReader::new(std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?);
        for line in reader.lines() {
            let line = line.map_err(|e| e.to_string())?;
            let mut words = line.split_whitespace();
            let Some(kind @ ("RESULT" | "COLDSTART" | "RSS" | "IMPORT")) = words.next() else { continue };
            let fields = words.filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            out.push((kind.to_owned(), fields));
        }
    }
    Ok(out)
}

fn num(line: &Line, key: &str) -> Option<f64> {
    line.get(key)?.parse().ok()
}

const ORDER: [&str; 11] = [
    "get-name",
    "get-arn",
    "describe",
    "list",
    "list-prefix",
    "batch",
    "put",
    "create",
    "mixed-get",
    "mixed-put",
    "seed",
];

fn report(args: &ReportArgs) -> Res<()> {
    let lines = read_lines(&args.files)?;
    // The last line for a (kind, tool, target, workload/phase) wins.
    let find = |kind: &str, tool: Option<&str>, target: &str, workload: &str| -> Option<&Line> {
        lines.iter().rev().map(|(_, l)| l).zip(lines.iter().rev().map(|(k, _)| k)).find_map(|(l, k)| {
            let ok = k == kind
                && l.get("target").map(String::as_str) == Some(target)
                && tool.is_none_or(|t| l.get("tool").map(String::as_str) == Some(t))
                && (l.get("workload").or_else(|| l.get("phase")).map(String::as_str) == Some(workload)
                    || workload.is_empty());
            ok.then_some(l)
        })
    };
    // The SigV4 ceiling may be measured more than once in a run (before and after smemu's
    // GetSecretValue): ratios use the mean.
    let ceiling = |tool: &str| mean_rps(&lines, tool, "ceiling-verify");
    let vs = args.vs.as_deref();
    let mut out = String::new();
    let has_rows = lines.iter().any(|(k, l)| k == "RESULT" && l.get("target").map(String::as_str) == Some("smemu"));
    let _ = write!(
        out,
        "{:<12} {:<8} {:>10} {:>8} {:>8} {:>7} {:>5} {:>9}",
        "workload", "tool", "req/s", "p50 ms", "p99 ms", "non-2xx", "5xx", "×ceiling"
    );
    if let Some(vs) = vs {
        let _ = write!(
            out,
            " │ {:>9} {:>8} {:>7} {:>5} {:>10}",
            format!("{vs} req/s"),
            "p99 ms",
            "non-2xx",
            "5xx",
            "smemu/vs"
        );
    }
    out.push('\n');
    for tool in ["wrk", "loadgen"] {
        for workload in ORDER {
            let Some(row) = find("RESULT", Some(tool), "smemu", workload) else { continue };
            let rps = num(row, "rps").unwrap_or(0.0);
            let ratio = ceiling(tool).map_or("-".to_owned(), |c| format!("{:.2}", rps / c));
            let _ = write!(
                out,
                "{:<12} {:<8} {:>10.0} {:>8.3} {:>8.3} {:>7} {:>5} {:>9}",
                workload,
                tool,
                rps,
                num(row, "p50_ms").unwrap_or(0.0),
                num(row, "p99_ms").unwrap_or(0.0),
                row.get("non2xx").map_or("-", String::as_str),
                row.get("err5xx").map_or("-", String::as_str),
                ratio
            );
            if let Some(vs) = vs {
                match find("RESULT", Some(tool), vs, workload) {
                    Some(other) => {
                        let theirs = num(other, "rps").unwrap_or(0.0);
                        let _ = write!(
                            out,
                            " │ {:>9.1} {:>8.3} {:>7} {:>5} {:>10}",
                            theirs,
                            num(other, "p99_ms").unwrap_or(0.0),
                            other.get("non2xx").map_or("-", String::as_str),
                            other.get("err5xx").map_or("-", String::as_str),
                            if theirs > 0.0 { format!("{:.0}×", rps / theirs) } else { "-".into() }
                        );
                    }
                    None => out.push_str(" │         -"),
                }
            }
            out.push('\n');
        }
    }
    if !has_rows {
        out.clear();
    } else {
        out.push_str("\nceilings (same run; the server answers a fixed body):\n");
    }
    for (target, what) in [
        ("ceiling", "hyper, fixed body"),
        ("ceiling-verify", "hyper + SigV4 verification"),
        ("ceiling-verify-4k", "same, 4 KiB SecretString"),
    ] {
        for tool in ["wrk", "loadgen"] {
            let rows = lines.iter().filter(|(k, l)| {
                k == "RESULT"
                    && l.get("tool").map(String::as_str) == Some(tool)
                    && l.get("target").map(String::as_str) == Some(target)
            });
            for row in rows.map(|(_, l)| l) {
                let _ = writeln!(
                    out,
                    "  {what:<28} {tool:<8} {:>10.0} req/s  p50 {:.3} ms  p99 {:.3} ms  non-2xx {}",
                    num(row, "rps").unwrap_or(0.0),
                    num(row, "p50_ms").unwrap_or(0.0),
                    num(row, "p99_ms").unwrap_or(0.0),
                    row.get("non2xx").map_or("-", String::as_str)
                );
            }
        }
    }
    let mut others = String::new();
    for (kind, l) in &lines {
        match kind.as_str() {
            "COLDSTART" => {
                let _ = writeln!(
                    others,
                    "  cold start   {:<10} median {} ms (min {}, max {}, {} runs)",
                    l["target"], l["median_ms"], l["min_ms"], l["max_ms"], l["runs"]
                );
            }
            "RSS" => {
                let _ = writeln!(others, "  RSS          {:<10} {:<22} {} MiB", l["target"], l["phase"], l["mib"]);
            }
            "IMPORT" => {
                let _ = writeln!(
                    others,
                    "  state import {:<10} {} secrets, {} MB: built in {} s, imported in {} s",
                    l["target"],
                    l["count"],
                    l["bytes"].parse::<f64>().map_or(0.0, |b| b / 1e6).round(),
                    l["build_s"],
                    l["import_s"]
                );
            }
            "RESULT" if l.get("workload").map(String::as_str) == Some("seed") => {
                let _ = writeln!(
                    others,
                    "  seeding      {:<10} {} secrets by CreateSecret at {} req/s",
                    l["target"], l["requests"], l["rps"]
                );
            }
            _ => {}
        }
    }
    if !others.is_empty() {
        out.push('\n');
        out.push_str(&others);
    }
    scale_section(&mut out, &find);
    isolation_section(&mut out, &find);
    targets(&mut out, &find, vs, ceiling("wrk"));
    print!("{out}");
    Ok(())
}

fn mean_rps(lines: &[(String, Line)], tool: &str, target: &str) -> Option<f64> {
    let all: Vec<f64> = lines
        .iter()
        .filter(|(k, l)| {
            k == "RESULT"
                && l.get("tool").map(String::as_str) == Some(tool)
                && l.get("target").map(String::as_str) == Some(target)
                && l.get("workload").map(String::as_str) == Some("get-name")
        })
        .filter_map(|(_, l)| num(l, "rps"))
        .collect();
    (!all.is_empty()).then(|| all.iter().sum::<f64>() / all.len() as f64).filter(|r| *r > 0.0)
}

fn isolation_section<'a>(out: &mut String, find: &impl Fn(&str, Option<&str>, &str, &str) -> Option<&'a Line>) {
    let cases = [
        ("iso-alone", "readers alone"),
        ("iso-spread", "+ writers spread over the store"),
        ("iso-hot", "+ writers all on one secret"),
    ];
    let rows: Vec<_> = cases
        .iter()
        .filter_map(|(label, what)| Some((label, what, find("RESULT", None, label, "get-name")?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nisolation (loadgen, same run): GetSecretValue of some secrets while PutSecretValue writes others"
    );
    let _ = writeln!(
        out,
        "  {:<34} {:>11} {:>8} {:>8} {:>13} {:>8}",
        "case", "reads/s", "p50 ms", "p99 ms", "writes/s", "p99 ms"
    );
    for (label, what, reads) in rows {
        let writes = find("RESULT", None, &format!("{label}-writers"), "put");
        let _ = writeln!(
            out,
            "  {:<34} {:>11.0} {:>8.3} {:>8.3} {:>13} {:>8}",
            what,
            num(reads, "rps").unwrap_or(0.0),
            num(reads, "p50_ms").unwrap_or(0.0),
            num(reads, "p99_ms").unwrap_or(0.0),
            writes.and_then(|w| num(w, "rps")).map_or("-".to_owned(), |r| format!("{r:.0}")),
            writes.and_then(|w| num(w, "p99_ms")).map_or("-".to_owned(), |r| format!("{r:.3}")),
        );
    }
}

fn scale_section<'a>(out: &mut String, find: &impl Fn(&str, Option<&str>, &str, &str) -> Option<&'a Line>) {
    let rows: Vec<_> = ["get-name", "describe", "list-prefix", "list", "mixed-get", "mixed-put"]
        .into_iter()
        .filter_map(|w| {
            Some((w, find("RESULT", Some("loadgen"), "smemu-10k", w)?, find("RESULT", Some("loadgen"), "smemu-1m", w)?))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let count = |label: &str| find("IMPORT", None, label, "").map_or("?".to_owned(), |l| l["count"].clone());
    let _ = writeln!(
        out,
        "\nscale (loadgen, same run): {} vs {} secrets in one account and region",
        count("smemu-10k"),
        count("smemu-1m")
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>11} {:>9} {:>11} {:>9} {:>8}",
        "workload", "10k req/s", "p99 ms", "1M req/s", "p99 ms", "1M/10k"
    );
    for (w, small, large) in rows {
        let a = num(small, "rps").unwrap_or(0.0);
        let b = num(large, "rps").unwrap_or(0.0);
        let _ = writeln!(
            out,
            "  {:<12} {:>11.0} {:>9.3} {:>11.0} {:>9.3} {:>8.2}",
            w,
            a,
            num(small, "p99_ms").unwrap_or(0.0),
            b,
            num(large, "p99_ms").unwrap_or(0.0),
            if a > 0.0 { b / a } else { 0.0 }
        );
    }
}

fn targets<'a>(
    out: &mut String,
    find: &impl Fn(&str, Option<&str>, &str, &str) -> Option<&'a Line>,
    vs: Option<&str>,
    ceiling_wrk: Option<f64>,
) {
    // (what, verdict: Some(met) or None for a figure reported without a verdict, value)
    let mut checks: Vec<(String, Option<bool>, String)> = Vec::new();
    let either = |workload: &str| {
        find("RESULT", Some("wrk"), "smemu", workload)
            .map(|l| ("wrk", l))
            .or_else(|| find("RESULT", Some("loadgen"), "smemu", workload).map(|l| ("loadgen", l)))
    };
    if let Some((tool, get)) = either("get-name") {
        let rps = num(get, "rps").unwrap_or(0.0);
        let p99 = num(get, "p99_ms").unwrap_or(f64::MAX);
        checks.push(("GetSecretValue ≥ 60,000 req/s".into(), Some(rps >= 60_000.0), format!("{rps:.0} ({tool})")));
        checks.push(("GetSecretValue p99 ≤ 5 ms".into(), Some(p99 <= 5.0), format!("{p99:.3} ms ({tool})")));
        if let (Some(c), "wrk") = (ceiling_wrk, tool) {
            // "About 70%": the absolute target is 60,000 req/s; the ratio is what survives noise.
            checks.push((
                "GetSecretValue ≈ 70% of the SigV4 ceiling".into(),
                Some(rps / c >= 0.65),
                format!("{:.0}% of {c:.0}", 100.0 * rps / c),
            ));
        }
    }
    if let (Some(get), Some(c4k)) = (
        find("RESULT", Some("wrk"), "smemu", "get-name"),
        find("RESULT", Some("wrk"), "ceiling-verify-4k", "get-name").and_then(|l| num(l, "rps")),
    ) {
        let rps = num(get, "rps").unwrap_or(0.0);
        checks.push((
            "GetSecretValue vs same-size SigV4 ceiling".into(),
            None,
            format!("{:.0}% of {c4k:.0}", 100.0 * rps / c4k),
        ));
    }
    if let Some(vs) = vs {
        let ours = find("RESULT", Some("loadgen"), "smemu", "get-name").and_then(|l| num(l, "rps"));
        let theirs = find("RESULT", Some("loadgen"), vs, "get-name").and_then(|l| num(l, "rps"));
        if let (Some(a), Some(b)) = (ours, theirs) {
            let ratio = if b > 0.0 { a / b } else { f64::INFINITY };
            checks.push((
                format!("GetSecretValue ≥ 100× {vs}"),
                Some(ratio >= 100.0),
                format!("{ratio:.0}× (loadgen)"),
            ));
        }
    }
    if let Some(put) = find("RESULT", Some("loadgen"), "smemu", "put") {
        let rps = num(put, "rps").unwrap_or(0.0);
        let e5 = num(put, "err5xx").unwrap_or(0.0);
        checks.push(("PutSecretValue ≥ 30,000 req/s".into(), Some(rps >= 30_000.0), format!("{rps:.0} (loadgen)")));
        checks.push(("PutSecretValue: no 5xx, 64 writers".into(), Some(e5 == 0.0), format!("{e5:.0} 5xx")));
    }
    if let Some((tool, list)) = either("list") {
        let rps = num(list, "rps").unwrap_or(0.0);
        checks.push((
            "ListSecrets (100 of 10,000) ≥ 5,000 req/s".into(),
            Some(rps >= 5_000.0),
            format!("{rps:.0} ({tool})"),
        ));
    }
    if let Some(cold) = find("COLDSTART", None, "smemu", "") {
        let ms = num(cold, "median_ms").unwrap_or(f64::MAX);
        checks.push(("cold start ≤ 20 ms".into(), Some(ms <= 20.0), format!("{ms:.1} ms")));
    }
    if let Some(idle) = find("RSS", None, "smemu", "idle") {
        let mib = num(idle, "mib").unwrap_or(f64::MAX);
        checks.push(("idle RSS ≤ 10 MiB".into(), Some(mib <= 10.0), format!("{mib:.1} MiB")));
    }
    if let Some(full) = find("RSS", None, "smemu", "after-10000x4KiB") {
        let mib = num(full, "mib").unwrap_or(f64::MAX);
        checks.push(("RSS after 10,000 × 4 KiB ≤ 100 MiB".into(), Some(mib <= 100.0), format!("{mib:.1} MiB")));
    }
    if checks.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ntargets (issue 7):");
    for (what, met, value) in checks {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "-",
        };
        let _ = writeln!(out, "  {what:<44} {value:<26} {verdict}");
    }
}
