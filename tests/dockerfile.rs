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

/// The runtime stage's `ENV` settings, as name and value.
fn runtime_env() -> Vec<(String, String)> {
    let mut env = Vec::new();
    for instruction in runtime_instructions() {
        let Some(pairs) = instruction.strip_prefix("ENV ") else { continue };
        for pair in pairs.split_whitespace() {
            if let Some((name, value)) = pair.split_once('=') {
                env.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    env
}

#[test]
fn a_new_volume_on_the_data_directory_is_writable_by_smemu() {
    // The README mounts a named volume on /data; Docker gives a new volume the owner of the
    // image's directory, so that directory must exist and belong to the user smemu runs as.
    let instructions = runtime_instructions();
    let user = instructions
        .iter()
        .filter_map(|i| i.strip_prefix("USER "))
        .next_back()
        .map(str::trim)
        .expect("the image names its user")
        .to_owned();
    assert_ne!(user, "root");
    let prepares = instructions.iter().filter(|i| i.starts_with("RUN ")).any(|run| {
        let words: Vec<&str> = run.split_whitespace().collect();
        words.windows(2).any(|w| w[0] == "mkdir" && w[1] == "/data")
            && words.windows(3).any(|w| w[0] == "chown" && w[1].split(':').next() == Some(&user) && w[2] == "/data")
    });
    assert!(prepares, "no RUN makes /data and gives it to {user}: {instructions:?}");
    assert!(readme().contains(":/data -e SMEMU_DATA_DIR=/data"), "the README's data volume example uses /data");
}

#[test]
fn the_health_check_probes_the_port_the_image_listens_on() {
    let port = runtime_env().into_iter().find(|(n, _)| n == "SMEMU_PORT").map(|(_, v)| v).expect("SMEMU_PORT");
    let instructions = runtime_instructions();
    assert!(instructions.iter().any(|i| i == &format!("EXPOSE {port}")), "{instructions:?}");
    let check = instructions.iter().find(|i| i.starts_with("HEALTHCHECK")).expect("a HEALTHCHECK");
    // The image has no curl: smemu probes itself, on whatever port the container sets.
    assert!(check.contains("smemu --probe") || check.contains(r#""smemu", "--probe""#), "{check}");
    assert!(check.contains("http://127.0.0.1:${SMEMU_PORT}/_smemu/health"), "{check}");
    assert!(!check.contains("CMD ["), "the exec form would not expand ${{SMEMU_PORT}}: {check}");
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

/// The README's blocks marked `<!-- readme-check: compose -->` (see compat/readme/check_readme.py).
fn readme_compose_files() -> Vec<String> {
    let text = readme();
    let mut files = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- readme-check: compose -->" {
            continue;
        }
        assert_eq!(lines.next().map(str::trim), Some("```yaml"), "a compose marker stands before a yaml block");
        files.push(lines.by_ref().take_while(|l| l.trim() != "```").map(|l| format!("{l}\n")).collect());
    }
    files
}

fn yaml_str<'a>(value: &'a serde_norway::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(serde_norway::Value::as_str)
}

/// What a compose file must get right for smemu: the app waits for smemu's health check, reaches
/// it by service name, and a seed or data directory smemu is told about is really mounted.
fn check_compose(name: &str, text: &str) {
    let file: serde_norway::Value = serde_norway::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let services = file.get("services").and_then(serde_norway::Value::as_mapping).expect("services");
    let smemu = file["services"].get("smemu").unwrap_or_else(|| panic!("{name}: a service named smemu"));
    match smemu.get("healthcheck") {
        Some(check) => {
            let test: Vec<&str> =
                check["test"].as_sequence().expect("test").iter().filter_map(|v| v.as_str()).collect();
            assert_eq!(test.first(), Some(&"CMD"), "{name}: {test:?}");
            assert_eq!(test.get(1..3), Some(&["smemu", "--probe"][..]), "{name}: the image has no curl: {test:?}");
            assert!(test.get(3).is_some_and(|url| url.ends_with("/_smemu/health")), "{name}: {test:?}");
        }
        // Without one of its own, the service must be built from this Dockerfile, which has one.
        None => assert!(smemu.get("build").is_some(), "{name}: smemu has no health check"),
    }
    let env = |service: &serde_norway::Value, key: &str| {
        service.get("environment").and_then(|e| e.get(key)).and_then(serde_norway::Value::as_str).map(str::to_owned)
    };
    let mounts: Vec<(String, String)> = smemu
        .get("volumes")
        .and_then(serde_norway::Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .map(|v| {
            let mut parts = v.split(':');
            (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned())
        })
        .collect();
    if let Some(seed) = env(smemu, "SMEMU_SEED") {
        assert!(mounts.iter().any(|(_, target)| *target == seed), "{name}: the seed {seed} is not mounted: {mounts:?}");
    }
    if let Some(dir) = env(smemu, "SMEMU_DATA_DIR") {
        assert_eq!(dir, "/data", "{name}: the image prepares /data for smemu's user");
        let (volume, _) = mounts.iter().find(|(_, target)| *target == dir).expect("the data directory is a volume");
        assert!(
            file.get("volumes").and_then(|v| v.get(volume.as_str())).is_some(),
            "{name}: {volume} is a named volume, declared at the top level"
        );
    }
    if let Some(token) = env(smemu, "SMEMU_CONTROL_TOKEN") {
        assert!(
            token.starts_with("${SMEMU_CONTROL_TOKEN"),
            "{name}: a token comes from the environment, never the file"
        );
    }
    let mut apps = 0;
    for (service_name, service) in services.iter().filter(|(n, _)| n.as_str() != Some("smemu")) {
        let Some(endpoint) = env(service, "AWS_ENDPOINT_URL") else { continue };
        apps += 1;
        assert_eq!(endpoint, "http://smemu:4566", "{name}: {service_name:?} reaches smemu by its service name");
        let condition = service.get("depends_on").and_then(|d| d.get("smemu")).and_then(|s| yaml_str(s, "condition"));
        assert_eq!(condition, Some("service_healthy"), "{name}: {service_name:?} waits for smemu's health check");
    }
    assert!(apps > 0, "{name}: an application container uses AWS_ENDPOINT_URL");
}

#[test]
fn the_compose_recipes_start_the_app_once_smemu_is_healthy() {
    let recipes = readme_compose_files();
    assert!(!recipes.is_empty(), "the README has a compose recipe");
    for (i, recipe) in recipes.iter().enumerate() {
        check_compose(&format!("README compose recipe #{}", i + 1), recipe);
    }
    let compat = std::fs::read_to_string(Path::new(ROOT).join("compat/docker-compose.yml")).unwrap();
    check_compose("compat/docker-compose.yml", &compat);
}
