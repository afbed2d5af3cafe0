//! The Dockerfile, checked without Docker: its build stage copies every file the release build
//! reads, and its image starts with the control API locked (it listens on 0.0.0.0).

use std::path::{Component, Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn dockerfile() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap()
}

/// The lines of each stage, in order (each starts at a `FROM`).
fn stages() -> Vec<Vec<String>> {
    let mut stages: Vec<Vec<String>> = Vec::new();
    for line in dockerfile().lines().map(str::trim) {
        if line.starts_with("FROM ") {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push(line.to_owned());
        }
    }
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    stages
}

/// The sources of the build stage's `COPY` lines.
fn copied_into_build_stage() -> Vec<PathBuf> {
    let mut copied = Vec::new();
    for line in &stages()[0] {
        let Some(args) = line.strip_prefix("COPY ") else { continue };
        let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        let (_, sources) = words.split_last().expect("COPY names a destination");
        copied.extend(sources.iter().map(|s| normalize(Path::new(s))));
    }
    copied
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_copied(copied: &[PathBuf], file: &Path) -> bool {
    copied.iter().any(|c| file.starts_with(c))
}

/// Every `.rs` file under `dir`, relative to the repository root.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(Path::new(ROOT).join(dir)).unwrap() {
        let path = dir.join(entry.unwrap().file_name());
        if Path::new(ROOT).join(&path).is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_build_stage_copies_everything_the_build_reads() {
    let copied = copied_into_build_stage();
    for needed in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs"] {
        assert!(is_copied(&copied, Path::new(needed)), "the Dockerfile does not copy {needed}: {copied:?}");
    }
    assert!(
        !Path::new(ROOT).join("build.rs").exists() || is_copied(&copied, Path::new("build.rs")),
        "build.rs is not copied"
    );
    // Targets named by path in the manifest.
    let manifest: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap().parse().unwrap();
    let mut targets: Vec<&toml::Value> = manifest.get("lib").into_iter().collect();
    targets.extend(manifest.get("bin").and_then(toml::Value::as_array).into_iter().flatten());
    for target in targets {
        if let Some(path) = target.get("path").and_then(toml::Value::as_str) {
            assert!(is_copied(&copied, Path::new(path)), "the Dockerfile does not copy {path}");
        }
    }
    // Files the crate embeds at compile time.
    let mut sources = Vec::new();
    rust_files(Path::new("src"), &mut sources);
    let mut embedded = 0;
    for source in sources {
        let text = std::fs::read_to_string(Path::new(ROOT).join(&source)).unwrap();
        for macro_name in ["include_str!(\"", "include_bytes!(\""] {
            for (start, _) in text.match_indices(macro_name) {
                let rest = &text[start + macro_name.len()..];
                let relative = &rest[..rest.find('"').unwrap()];
                let file = normalize(&source.parent().unwrap().join(relative));
                assert!(
                    is_copied(&copied, &file),
                    "{} embeds {}, which the Dockerfile does not copy",
                    source.display(),
                    file.display()
                );
                embedded += 1;
            }
        }
    }
    assert!(embedded > 0, "the embedded service model was found");
}

/// The runtime stage's instructions, comments dropped and continued lines joined.
fn runtime_instructions() -> Vec<String> {
    let runtime = stages().pop().unwrap();
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in runtime.iter().map(String::as_str).filter(|l| !l.starts_with('#')) {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
}

#[test]
fn the_image_listens_everywhere_with_the_control_api_locked() {
    let instructions = runtime_instructions();
    let env: Vec<&String> = instructions.iter().filter(|i| i.starts_with("ENV ")).collect();
    assert!(env.iter().any(|i| i.contains("SMEMU_HOST=0.0.0.0")), "{env:?}");
    // Whoever pulls the image gets a locked control API, and no token baked in.
    for instruction in &instructions {
        assert!(!instruction.contains("SMEMU_CONTROL"), "{instruction}");
        assert!(!instruction.contains("--control") && !instruction.contains("--allow-command-hooks"), "{instruction}");
    }
    // The health check stays open without a token.
    assert!(
        instructions.iter().any(|i| i.starts_with("HEALTHCHECK") && i.contains("/_smemu/health")),
        "{instructions:?}"
    );
    // And the file tells its reader how to set the token.
    assert!(dockerfile().contains("-e SMEMU_CONTROL_TOKEN"), "the Dockerfile says how to pass the token");
}
