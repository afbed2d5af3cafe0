//! The process's logs: the `--log-level` filter, text or JSON lines on stderr, colour, and the
//! startup banner.

use crate::auth::AuthMode;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use tracing::Dispatch;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The words `--log-level` takes on its own (any case).
pub const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// How each event is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, with the event's fields at the top level.
    Json,
}

/// A `--log-level` that has been checked: a level word, or tracing directives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads `--log-level`: one of [`LEVELS`], or comma-separated tracing directives such as
/// `smemu=debug,hyper=info`.
///
/// A bare word that is not a level is refused: tracing would take `verbose` as the name of a
/// module to log at `trace`, which would silently log nothing of smemu's.
///
/// # Errors
/// A message listing the valid words.
pub fn parse_filter(text: &str) -> Result<LogFilter, String> {
    let refuse = |what: &str| {
        format!(
            "unknown log level {what:?}: use one of {}, or tracing directives such as smemu=debug,hyper=info",
            LEVELS.join(", ")
        )
    };
    let mut directives = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(refuse(text));
        }
        if part.contains(['=', '[']) {
            directives.push(part.to_owned());
        } else if let Some(level) = LEVELS.iter().find(|level| level.eq_ignore_ascii_case(part)) {
            directives.push((*level).to_owned());
        } else {
            return Err(refuse(part));
        }
    }
    let filter = directives.join(",");
    EnvFilter::builder().parse(&filter).map_err(|e| format!("{} ({e})", refuse(text)))?;
    Ok(LogFilter(filter))
}

/// Whether text logs are coloured: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
#[must_use]
pub fn use_colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// The subscriber smemu logs through, writing to `writer`; JSON is never coloured.
pub fn dispatch<W>(filter: &LogFilter, format: LogFormat, colour: bool, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Checked by `parse_filter`; a filter that fails here only loses its directives.
    let env_filter = EnvFilter::builder().parse_lossy(filter.as_str());
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(writer);
    match format {
        LogFormat::Text => Dispatch::new(builder.with_ansi(colour).finish()),
        LogFormat::Json => Dispatch::new(
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).with_ansi(false).finish(),
        ),
    }
}

/// Installs the process's subscriber: `format` lines on stderr, coloured on a terminal unless
/// `NO_COLOR` says otherwise. Keep the guard until the process ends: dropping it writes out the
/// lines still queued.
///
/// Lines are written by a thread of their own, through a buffer it flushes whenever its queue
/// runs dry: under load one `write` carries many lines instead of one system call per request on
/// the thread that serves it. The queue never drops a line; when it is full (a reader of stderr
/// that stopped reading), logging waits, as a direct write would.
///
/// # Errors
/// When a subscriber is already installed.
pub fn init(filter: &LogFilter, format: LogFormat) -> Result<WorkerGuard, String> {
    use std::io::IsTerminal;
    let colour = use_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("smemu-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing::dispatcher::set_global_default(dispatch(filter, format, colour, writer)).map_err(|e| e.to_string())?;
    Ok(guard)
}

/// What the startup banner states.
pub struct Banner<'a> {
    pub listen: SocketAddr,
    pub auth: AuthMode,
    pub authorize: crate::iam::AuthorizeMode,
    pub data_dir: Option<&'a Path>,
    pub seed: Option<&'a Path>,
    /// How the control API is protected ([`crate::control::protection`]).
    pub control: &'a str,
}

impl Banner<'_> {
    /// One `info` event, before smemu loads any state.
    pub fn log(&self) {
        let data_dir = self.data_dir.map(Path::to_string_lossy);
        let seed = self.seed.map(Path::to_string_lossy);
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            listen = %self.listen,
            auth = self.auth.as_str(),
            authorize = self.authorize.as_str(),
            data_dir = data_dir.as_deref().unwrap_or("in memory"),
            seed = seed.as_deref().unwrap_or("none"),
            control = self.control,
            "smemu {} starting",
            env!("CARGO_PKG_VERSION")
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A `MakeWriter` that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn level_words_in_any_case_and_directives_are_accepted() {
        for (given, kept) in [
            ("info", "info"),
            ("WARN", "warn"),
            (" Debug ", "debug"),
            ("off", "off"),
            ("smemu=debug,hyper=info", "smemu=debug,hyper=info"),
            ("warn,smemu::access=info", "warn,smemu::access=info"),
            ("smemu::access=warn, INFO", "smemu::access=warn,info"),
        ] {
            assert_eq!(parse_filter(given).unwrap().as_str(), kept, "{given}");
        }
    }

    #[test]
    fn unknown_words_are_refused_with_the_valid_ones() {
        for bad in ["verbose", "", "info,", "smemu", "info,loud", "smemu=loud"] {
            let err = parse_filter(bad).unwrap_err();
            assert!(err.contains("error, warn, info, debug, trace, off"), "{bad}: {err}");
        }
        assert!(parse_filter("verbose").unwrap_err().starts_with("unknown log level \"verbose\""));
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
    }

    #[test]
    fn warn_turns_request_lines_off() {
        use crate::access_log::{Entry, Service};
        let out = Captured::default();
        let dispatch = dispatch(&parse_filter("warn").unwrap(), LogFormat::Text, false, out.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            let mut entry = Entry::default();
            entry.route(Service::SecretsManager, Some("GetSecretValue"));
            entry.write(http::StatusCode::OK, std::time::Duration::ZERO);
            tracing::warn!("kept");
        });
        let text = out.text();
        assert!(!text.contains("GetSecretValue") && text.contains("kept"), "{text}");
    }

    #[test]
    fn the_banner_states_how_smemu_runs() {
        let out = Captured::default();
        let dispatch = dispatch(&parse_filter("info").unwrap(), LogFormat::Json, false, out.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            Banner {
                listen: "127.0.0.1:4566".parse().unwrap(),
                auth: AuthMode::Strict,
                authorize: crate::iam::AuthorizeMode::Enforce,
                data_dir: None,
                seed: Some(Path::new("/seed.yaml")),
                control: "open",
            }
            .log();
        });
        let v: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["listen"], "127.0.0.1:4566");
        assert_eq!(v["auth"], "strict");
        assert_eq!(v["authorize"], "enforce");
        assert_eq!(v["data_dir"], "in memory");
        assert_eq!(v["seed"], "/seed.yaml");
        assert_eq!(v["control"], "open");
    }
}
