//! The binary's logs: one line per request on stderr, text or JSON, never a value.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn an_unknown_log_level_stops_startup_naming_the_valid_ones() {
    for (args, env) in [(vec!["--log-level", "verbose"], vec![]), (vec![], vec![("SMEMU_LOG_LEVEL", "verbose")])] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--port", "0"]).args(args).envs(env).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("verbose") && stderr.contains("error, warn, info, debug, trace, off"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_smemu")).args(["--log-format", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The banner as smemu writes it on a terminal (a pseudo-terminal made by util-linux `script`).
fn banner_on_a_terminal(no_color: Option<&str>) -> String {
    let command = format!("exec {} --port 0", env!("CARGO_BIN_EXE_smemu"));
    let mut script = Command::new("script");
    script.args(["-qfec", &command, "/dev/null"]).env_remove("NO_COLOR").stdin(Stdio::null()).stdout(Stdio::piped());
    if let Some(value) = no_color {
        script.env("NO_COLOR", value);
    }
    let mut child = script.spawn().expect("util-linux script");
    // The banner is written by the log thread, so it may come before or after the ready line.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("starting") {
            break;
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let coloured = banner_on_a_terminal(None);
    assert!(coloured.contains("starting") && coloured.contains("\u{1b}["), "{coloured:?}");
    let empty = banner_on_a_terminal(Some(""));
    assert!(empty.contains("\u{1b}["), "an empty NO_COLOR does not count: {empty:?}");
    let plain = banner_on_a_terminal(Some("1"));
    assert!(plain.contains("starting") && !plain.contains('\u{1b}'), "{plain:?}");
}
