//! The smemu binary: flags, logging, bind, serve until SIGINT or SIGTERM.

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use smemu::auth::{AuthMode, CredentialStore};
use smemu::clock::{Clock, Timestamp};
use smemu::guard::{ControlMode, ControlToken};
use smemu::logging::{Banner, LogFilter, LogFormat};
use smemu::{App, config::Config};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// No `Debug`: the arguments hold the secret access key.
#[derive(Parser)]
#[command(name = "smemu", version, about = "A local emulator of AWS Secrets Manager")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SMEMU_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the ready line names it).
    #[arg(long, env = "SMEMU_PORT", default_value_t = 4566)]
    port: u16,
    /// Region for requests that carry no credential scope.
    #[arg(long, env = "SMEMU_REGION", default_value = smemu::config::DEFAULT_REGION)]
    region: String,
    /// Account for access keys that are not a 12-digit account id.
    #[arg(long, env = "SMEMU_ACCOUNT_ID", default_value = smemu::config::DEFAULT_ACCOUNT)]
    account_id: String,
    /// How callers are authenticated: `open` (any credentials; account from a 12-digit access key),
    /// `strict` (SigV4 verified against known credentials), or `off` (default account and region).
    #[arg(long, env = "SMEMU_AUTH", default_value = "open")]
    auth: AuthMode,
    /// Whether calls are authorised: `off` (every caller may do everything) or `enforce` (every
    /// Secrets Manager and KMS call is evaluated against identity, resource and key policies).
    #[arg(long, env = "SMEMU_AUTHORIZE", default_value = "off")]
    authorize: smemu::iam::AuthorizeMode,
    /// Known credentials (TOML or JSON): access_key_id, secret_access_key, account_id, and
    /// optionally principal_arn and session_token per entry.
    #[arg(long, env = "SMEMU_CREDENTIALS", value_name = "FILE")]
    credentials: Option<std::path::PathBuf>,
    /// One known access key, in the default account. Its secret comes from the environment
    /// (SMEMU_SECRET_ACCESS_KEY) or from --secret-access-key-file, never from the command line.
    #[arg(long, env = "SMEMU_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    /// A file holding the secret access key of --access-key-id (trailing newlines are ignored).
    #[arg(long, env = "SMEMU_SECRET_ACCESS_KEY_FILE", value_name = "FILE")]
    secret_access_key_file: Option<std::path::PathBuf>,
    /// Read from SMEMU_SECRET_ACCESS_KEY. The flag itself is refused at startup: a command line
    /// is visible to every user of the machine (`ps`).
    #[arg(
        long,
        env = "SMEMU_SECRET_ACCESS_KEY",
        hide = true,
        hide_env_values = true,
        num_args = 0..=1,
        default_missing_value = ""
    )]
    secret_access_key: Option<String>,
    /// When RotateSecret answers: `sync` (after the rotation's four steps ran, so the new value is
    /// readable at once) or `async` (at once, as AWS does).
    #[arg(long, env = "SMEMU_ROTATION_TIMING", value_enum, default_value = "sync")]
    rotation_timing: smemu::config::RotationTiming,
    /// Start smemu's clock at this instant (ISO-8601 with any UTC offset, or epoch seconds) for
    /// reproducible runs; it then runs with the system clock and can be moved forward through
    /// `/_smemu/clock`.
    #[arg(long, env = "SMEMU_START_TIME", value_parser = parse_instant)]
    start_time: Option<Timestamp>,
    /// Keep state in this directory (journal + snapshots) so it survives restarts and crashes.
    /// Without it smemu keeps everything in memory.
    #[arg(long, env = "SMEMU_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Start even if the journal is damaged in the middle: keep its intact prefix and move the
    /// rest aside into `*.damaged` files.
    #[arg(long = "repair-journal", requires = "data_dir")]
    repair_journal: bool,
    /// Secrets to create at start: a YAML or JSON file, or a directory of them. Secrets that
    /// already exist (for example restored from --data-dir) are left as they are.
    #[arg(long, env = "SMEMU_SEED")]
    seed: Option<std::path::PathBuf>,
    /// Scripts to run once smemu is ready, one at a time, with AWS_ENDPOINT_URL pointing at it: the
    /// directory's `ready.d` subfolder if it has one (LocalStack's layout), else the directory.
    #[arg(long, env = "SMEMU_INIT_DIR", value_name = "DIR")]
    init_dir: Option<std::path::PathBuf>,
    /// How long one init script may run before it is killed: e.g. `5m`, `30s`.
    #[arg(long, env = "SMEMU_INIT_TIMEOUT", default_value = "5m", value_parser = smemu::config::parse_timeout)]
    init_timeout: std::time::Duration,
    /// Check the health endpoint of a running smemu at this URL and exit 0 if it is ready
    /// (for container health checks, where no HTTP client is installed).
    #[arg(long, value_name = "URL")]
    probe: Option<String>,
    /// How long a client may take to send a request's headers (or, on a kept-alive connection,
    /// to start its next request), to send the whole body, and to take the answer, before smemu
    /// closes the connection: e.g. `30s`, `500ms`, `2m`.
    #[arg(long, env = "SMEMU_CLIENT_TIMEOUT", default_value = "30s", value_parser = smemu::config::parse_timeout)]
    client_timeout: std::time::Duration,
    /// Connections served at once; one more is answered 503 ServiceUnavailable and closed.
    #[arg(long, env = "SMEMU_MAX_CONNECTIONS", default_value_t = smemu::config::DEFAULT_MAX_CONNECTIONS,
          value_parser = smemu::config::parse_connections)]
    max_connections: usize,
    /// The largest state import (`POST /_smemu/state`) in bytes; `KiB`, `MiB` and `GiB` suffixes work.
    #[arg(long, env = "SMEMU_MAX_IMPORT_BYTES", default_value = "256MiB", value_parser = smemu::config::parse_size)]
    max_import_bytes: usize,
    /// The control token: with it set, every `/_smemu/` endpoint but health needs the header
    /// `X-Smemu-Control-Token: TOKEN` (or `Authorization: Bearer TOKEN`).
    #[arg(long, env = "SMEMU_CONTROL_TOKEN", value_name = "TOKEN", value_parser = parse_token, hide_env_values = true)]
    control_token: Option<ControlToken>,
    /// `auto`: without a token, the control API is open only on loopback and not with
    /// `--auth strict`, and locked otherwise. `open`: no token needed, on any address.
    #[arg(long, env = "SMEMU_CONTROL", value_enum, default_value = "auto")]
    control: ControlMode,
    /// Names (comma-separated) that may appear in `Host` and `Origin` besides loopback ones,
    /// e.g. the compose service name other containers call smemu by.
    #[arg(long, env = "SMEMU_ALLOWED_HOSTS", value_name = "NAMES", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Let `POST /_smemu/hooks` register `command` hooks, which run programs as smemu's user
    /// (without it they come only from the seed file).
    /// Also lets callers whose signature is not checked (`--auth open`/`off`) deploy Lambda
    /// functions, whose code smemu runs (with `--auth strict`, any signed caller may).
    #[arg(long, env = "SMEMU_ALLOW_COMMAND_HOOKS")]
    allow_command_hooks: bool,
    /// Record every call in the audit trail (CloudTrail's LookupEvents, `GET /_smemu/audit`):
    /// `on` or `off`.
    #[arg(long, env = "SMEMU_AUDIT", default_value = "on", value_parser = parse_switch, action = clap::ArgAction::Set,
          value_name = "on|off")]
    audit: bool,
    /// Also write each audit record to this file as it happens, one JSON object per line
    /// (appended; the file is never truncated).
    #[arg(long, env = "SMEMU_AUDIT_LOG", value_name = "FILE")]
    audit_log: Option<std::path::PathBuf>,
    /// How many audit events smemu keeps in memory (and in --data-dir); older ones are dropped.
    #[arg(long, env = "SMEMU_AUDIT_RETAIN", value_name = "N", default_value_t = smemu::audit::DEFAULT_RETAIN,
          value_parser = parse_retain)]
    audit_retain: usize,
    /// The Python interpreter of deployed `python3.x` functions (a virtualenv's, to give them
    /// packages such as boto3).
    #[arg(long, env = "SMEMU_LAMBDA_PYTHON", default_value = "python3")]
    lambda_python: String,
    /// The Node.js of deployed `nodejs` functions.
    #[arg(long, env = "SMEMU_LAMBDA_NODE", default_value = "node")]
    lambda_node: String,
    /// Log filter: error, warn, info, debug, trace or off, or tracing directives such as
    /// `smemu=debug,hyper=info`. At `info` every request has a line; `warn` turns them off.
    #[arg(long, env = "SMEMU_LOG_LEVEL", default_value = "info", value_parser = smemu::logging::parse_filter)]
    log_level: LogFilter,
    /// How log lines on stderr are written: `text`, or `json` (one object per line).
    #[arg(long, env = "SMEMU_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let matches = Args::command().get_matches();
    let secret_on_command_line = matches.value_source("secret_access_key") == Some(ValueSource::CommandLine);
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    if secret_on_command_line {
        eprintln!(
            "smemu: --secret-access-key is not accepted: every user of the machine can read a command line. \
             Set SMEMU_SECRET_ACCESS_KEY or use --secret-access-key-file FILE."
        );
        return std::process::ExitCode::from(2);
    }
    if let Some(url) = &args.probe {
        return probe(url);
    }
    // Held to the end of `main`, so the last lines are written before the process exits.
    let _log_writer = match smemu::logging::init(&args.log_level, args.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("smemu: cannot set up logging: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let credentials = match &args.credentials {
        Some(path) => match CredentialStore::from_file(path) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("smemu: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => CredentialStore::default(),
    };
    let secret = match static_secret(&args) {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!("smemu: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let (Some(key), Some(secret)) = (&args.access_key_id, &secret)
        && let Err(e) = credentials.add_static(key, secret, &args.account_id, None, None)
    {
        eprintln!("smemu: {e}");
        return std::process::ExitCode::from(2);
    }
    if args.auth == AuthMode::Strict && credentials.is_empty() {
        eprintln!(
            "smemu: --auth strict needs known credentials: --credentials FILE, or --access-key-id with \
             SMEMU_SECRET_ACCESS_KEY or --secret-access-key-file FILE"
        );
        return std::process::ExitCode::from(2);
    }
    let config = Config {
        default_region: args.region,
        default_account: args.account_id,
        auth_mode: args.auth,
        authorize: args.authorize,
        client_timeout: args.client_timeout,
        max_connections: args.max_connections,
        max_import_bytes: args.max_import_bytes,
        rotation_timing: args.rotation_timing,
        control: args.control,
        control_token: args.control_token,
        allowed_hosts: args.allowed_hosts,
        allow_command_hooks: args.allow_command_hooks,
        audit: args.audit,
        audit_retain: args.audit_retain,
        lambda_python: args.lambda_python,
        lambda_node: args.lambda_node,
        ..Config::default()
    };
    let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smemu: cannot listen on {}:{}: {e}", args.host, args.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr: SocketAddr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smemu: cannot read the bound address: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    Banner {
        listen: addr,
        auth: config.auth_mode,
        authorize: config.authorize,
        data_dir: args.data_dir.as_deref(),
        seed: args.seed.as_deref(),
        control: &smemu::control::protection(&config, addr),
    }
    .log();
    // A locked control API is a warning: the operator must be told how to open it, even at warn.
    let guard = smemu::guard::Guard::new(&config, Some(addr.ip()));
    if guard.is_locked() {
        tracing::warn!("{}", guard.describe());
    }
    let scripts = match &args.init_dir {
        Some(dir) => match smemu::init::discover(dir) {
            Ok(found) => {
                for warning in &found.warnings {
                    tracing::warn!("{warning}");
                }
                found.scripts
            }
            Err(e) => {
                eprintln!("smemu: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let clock = args.start_time.map_or_else(Clock::system, Clock::starting_at);
    let app = Arc::new(App::with_credentials(config, Arc::new(clock), credentials));
    if let Some(path) = &args.audit_log
        && let Err(e) = app.audit.open_log(path)
    {
        eprintln!("smemu: {e}");
        return std::process::ExitCode::from(2);
    }
    app.init.expect(&scripts);
    // Serve at once, so health can say "loading" while a large journal or seed loads; the AWS
    // APIs answer 503 until then, and the ready line comes only once smemu is ready.
    app.set_ready(false);
    let (stop_serving, serving_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smemu::run(listener, app.clone(), async {
        let _ = serving_stopped.await;
    }));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    if args.data_dir.is_some() || args.seed.is_some() {
        tracing::info!("listening on http://{addr}; loading state");
    }
    let loader = {
        let app = app.clone();
        let (data_dir, repair, seed) = (args.data_dir.clone(), args.repair_journal, args.seed.clone());
        tokio::task::spawn_blocking(move || load(&app, data_dir.as_deref(), repair, seed.as_deref()))
    };
    let loaded = tokio::select! {
        loaded = loader => loaded.unwrap_or_else(|e| Err(format!("loading state failed: {e}"))),
        () = &mut signal => {
            let _ = stop_serving.send(());
            let _ = server.await;
            tracing::info!("smemu stopped while loading");
            // The loader cannot be interrupted, and nothing it did was acknowledged: do not wait.
            std::process::exit(0);
        }
    };
    if let Err(e) = loaded {
        eprintln!("smemu: {e}");
        let _ = stop_serving.send(());
        let _ = server.await;
        return std::process::ExitCode::from(2);
    }
    app.set_ready(true);
    println!("smemu ready on http://{addr}");
    let running = (!scripts.is_empty()).then(|| {
        let settings = smemu::init::Settings {
            endpoint: smemu::endpoint_of(addr),
            region: app.config.default_region.clone(),
            timeout: args.init_timeout,
        };
        smemu::init::start(app.clone(), scripts, settings)
    });
    signal.await;
    if let Some(running) = running {
        running.stop().await;
    }
    let _ = stop_serving.send(());
    let _ = server.await;
    tracing::info!("smemu stopped");
    std::process::ExitCode::SUCCESS
}

/// `on`/`off` (also `true`/`false`), for switches that read better as words.
fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("cannot read {text:?}: use on or off")),
    }
}

/// An event count: at least 1.
fn parse_retain(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("cannot read {text:?}: use a whole number of events, at least 1")),
    }
}

/// Recovers `--data-dir` and loads `--seed` (blocking work, off the async workers).
fn load(
    app: &App,
    data_dir: Option<&std::path::Path>,
    repair: bool,
    seed: Option<&std::path::Path>,
) -> Result<(), String> {
    if let Some(dir) = data_dir {
        for warning in app.open_data_dir(dir, repair)? {
            tracing::warn!("{warning}");
        }
        tracing::info!(dir = %dir.display(), secrets = app.engine.secret_count(), "state recovered");
    }
    if let Some(seed) = seed {
        let created = smemu::seed::load(app, seed).map_err(|e| e.to_string())?;
        tracing::info!(created, path = %seed.display(), "seed loaded");
    }
    Ok(())
}

/// The secret of `--access-key-id`, from the environment or a file; it and the key come together.
fn static_secret(args: &Args) -> Result<Option<String>, String> {
    let secret = match (&args.secret_access_key, &args.secret_access_key_file) {
        (Some(_), Some(_)) => {
            return Err("give the secret access key once: SMEMU_SECRET_ACCESS_KEY or --secret-access-key-file".into());
        }
        (Some(secret), None) => Some(secret.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--secret-access-key-file {}: cannot read it: {e}", path.display()))?;
            Some(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        (None, None) => None,
    };
    match (&args.access_key_id, &secret) {
        (Some(_), None) => {
            Err("--access-key-id needs its secret: set SMEMU_SECRET_ACCESS_KEY or use --secret-access-key-file FILE"
                .into())
        }
        (None, Some(_)) => Err("a secret access key was given without --access-key-id".into()),
        _ => Ok(secret),
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed here, before the ready line: one
/// installed only when the future is first polled would leave a window after that line in which
/// SIGTERM still kills at once, skipping the drain, the journal flush and the hooks' cleanup.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (interrupt, terminate) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        async move {
            let wait = |stream: std::io::Result<tokio::signal::unix::Signal>| async move {
                match stream {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! { () = wait(interrupt) => {}, () = wait(terminate) => {} }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    let instant = Timestamp::parse(text)
        .ok_or_else(|| format!("cannot read {text:?}: use an ISO-8601 instant or epoch seconds"))?;
    if instant > smemu::clock::LATEST {
        return Err(format!(
            "{text:?} is past {}, the latest instant smemu's clock shows",
            smemu::clock::LATEST.to_iso8601()
        ));
    }
    Ok(instant)
}

fn parse_token(text: &str) -> Result<ControlToken, String> {
    ControlToken::new(text)
}

/// `GET url` over plain HTTP; success means a 200 answer.
fn probe(url: &str) -> std::process::ExitCode {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("smemu: --probe takes an http:// URL");
        return std::process::ExitCode::from(2);
    };
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let answer = std::net::TcpStream::connect(authority).and_then(|mut s| {
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head)
    });
    match answer {
        Ok(head) if head.ends_with(b" 200") => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("smemu: probe of {url} failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
