"""Checks that README.md's examples work as written, so the README cannot rot silently.

A fenced block is checked when the line before its fence is a marker:

    <!-- readme-check: run [FLAG...] -->     a shell block: run with bash -e against a fresh smemu
                                             started with FLAGs; `localhost:4566` and
                                             `127.0.0.1:4566` in it are pointed at that smemu's
                                             port, and curl fails on an error status
    <!-- readme-check: seed -->              a seed file: smemu must start with --seed on it
    <!-- readme-check: credentials -->       a credentials file: smemu must start with
                                             --auth strict --credentials on it
    <!-- readme-check: hooks -->             one hook per line: POST /_smemu/hooks must take each
    <!-- readme-check: testcontainers-python --> the Python Testcontainers recipe: every call into
                                             testcontainers is checked against the installed
                                             package's signatures, then the recipe runs with a
                                             stand-in that starts the smemu binary (fake/)
    <!-- readme-check: compose -->           a compose file, played without Docker: its smemu
                                             service's environment and mounts (a relative file
                                             mount gets the seed block before it, a named volume
                                             a directory) start the binary, its healthcheck must
                                             pass, and then the app's command must succeed with
                                             the app's environment (for the amazon/aws-cli image:
                                             the AWS CLI), twice, with a restart on the same
                                             volume between; tests/dockerfile.rs checks its shape

Besides: the Configuration table must list exactly the flags of `smemu --help`, each with its
environment variable; every `cargo run --release -- FLAGS` in the README must start the binary
with those FLAGS (on a free port); every `docker run` example may pass smemu only variables and
flags it has (Docker itself is not run here); and `smemu --version` must print the version.
Shell blocks without a marker are listed as not run, so a reader can see what is not checked.

Prints one line per check and `readme: N passed, M failed`.
"""

import argparse
import ast
import importlib
import inspect
import os
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^\s*<!--\s*readme-check:\s*(?P<kind>[\w-]+)(?P<args>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>[^`]*)$")
READY = "smemu ready on http://"
TIMEOUT = 60
# curl exits 0 on an error answer; as a reader would, count a 4xx or 5xx as a failure (unless the
# block already asks for -f/--fail, which cannot be combined with --fail-with-body).
CURL_FAILS = r"""
curl() {
  local arg
  for arg in "$@"; do
    if [[ $arg == --fail* || ($arg == -[!-]* && $arg == *f*) ]]; then command curl "$@"; return; fi
  done
  command curl --fail-with-body "$@"
}
"""


class Block:
    def __init__(self, line, info, text, marker):
        self.line = line
        self.info = info
        self.text = text
        self.marker = marker  # (kind, args) or None

    def title(self):
        first = next((l for l in self.text.splitlines() if l.strip()), "")
        return f"README.md:{self.line} {first.strip()[:70]}"


def blocks(readme):
    lines = readme.splitlines()
    found = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent = len(fence["indent"])
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before)
        found.append(
            Block(
                start + 1,
                fence["info"].strip(),
                "\n".join(body) + "\n",
                (marker["kind"], shlex.split(marker["args"])) if marker else None,
            )
        )
    return found


class Smemu:
    """A smemu on loopback and a free port, in memory, without a control token."""

    def __init__(self, binary, flags, env):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn", *flags],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        line = [""]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.process.stdout.readline()))
        reader.start()
        reader.join(TIMEOUT)
        self.url = line[0][len("smemu ready on ") :].strip() if line[0].startswith(READY) else None
        self.port = self.url.rsplit(":", 1)[1] if self.url else None

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.log.close()


class Checker:
    def __init__(self, binary, path, root):
        self.binary = binary
        self.root = root
        # What a newcomer's shell has: no AWS settings of the caller's, no smemu settings (compat/run
        # exports a control token; the README's examples assume none), the README's tools on PATH.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMEMU_"))}
        env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["PATH"] = os.pathsep.join(p for p in (path, env.get("PATH", "")) if p)
        self.env = env
        self.passed = 0
        self.failed = 0
        self.last_seed = None

    def report(self, title, problem):
        if problem is None:
            self.passed += 1
            print(f"ok    {title}")
        else:
            self.failed += 1
            print(f"FAIL  {title}")
            for line in problem.rstrip().splitlines():
                print(f"      {line}")

    def started(self, flags, env=None):
        return Smemu(self.binary, flags, env or self.env)

    def check_run(self, block, flags):
        with self.started(flags) as smemu:
            if smemu.url is None:
                return f"smemu {' '.join(flags)} did not start:\n{smemu.stderr()}"
            script = re.sub(r"\b(localhost|127\.0\.0\.1):4566\b", rf"\g<1>:{smemu.port}", block.text)
            script = CURL_FAILS + script
            try:
                done = subprocess.run(
                    ["bash", "-e", "-o", "pipefail", "-c", script],
                    cwd=self.root,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                )
            except subprocess.TimeoutExpired:
                return f"still running after {TIMEOUT} s"
            if done.returncode != 0:
                return f"exit status {done.returncode}\n{done.stdout}{done.stderr}"
        return None

    def check_start(self, flags, env=None):
        with self.started(flags, env) as smemu:
            if smemu.url is None:
                return f"smemu {' '.join(flags)} did not start:\n{smemu.stderr()}"
        return None

    def check_file(self, block, suffix, flags):
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / f"example{suffix}"
            file.write_text(block.text)
            return self.check_start([*flags, str(file)])

    def check_hooks(self, block):
        with self.started(["--allow-command-hooks"]) as smemu:
            if smemu.url is None:
                return f"smemu did not start:\n{smemu.stderr()}"
            for hook in (l for l in block.text.splitlines() if l.strip()):
                request = urllib.request.Request(
                    f"{smemu.url}/_smemu/hooks",
                    data=hook.encode(),
                    method="POST",
                    headers={"Content-Type": "application/json"},
                )
                try:
                    urllib.request.urlopen(request, timeout=10).close()
                except urllib.error.HTTPError as e:
                    return f"{hook}\n{e.code} {e.read().decode(errors='replace')}"
        return None

    def check_testcontainers(self, block):
        problem = check_calls_against(block.text, real_testcontainers_api())
        if problem:
            return problem
        env = dict(self.env, SMEMU_BIN=self.binary, PYTHONPATH=str(HERE / "fake"))
        try:
            done = subprocess.run(
                [sys.executable, "-c", block.text], env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return f"still running after {TIMEOUT} s"
        if done.returncode != 0:
            return f"exit status {done.returncode}\n{done.stdout}{done.stderr}"
        return None

    def check_compose(self, block):
        import yaml  # in the suite's virtualenv

        # What the reader exports before `docker compose up`.
        shell = dict(self.env, SMEMU_CONTROL_TOKEN=secrets.token_hex(16))
        try:
            file = yaml.safe_load(interpolate(block.text, shell))
        except ValueError as e:
            return str(e)
        services = file["services"]
        smemu, apps = services["smemu"], [s for n, s in services.items() if n != "smemu"]
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for mount in smemu.get("volumes", []):
                source, target = mount.split(":")[:2]
                if source.startswith("."):
                    if self.last_seed is None:
                        return f"{source} is mounted, but no seed block comes before this one"
                    paths[target] = Path(tmp) / Path(source).name
                    paths[target].write_text(self.last_seed.text)
                else:
                    paths[target] = Path(tmp) / "volumes" / source
                    paths[target].mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in self.env.items() if not k.startswith("SMEMU_")}
            for name, value in (smemu.get("environment") or {}).items():
                env[name] = str(paths.get(str(value), value))
            for attempt in ("first start", "restart on the same volume"):
                with self.started([], env) as server:
                    if server.url is None:
                        return f"{attempt}: smemu did not start:\n{server.stderr()}"
                    problem = self.compose_health(smemu, server) or self.compose_apps(apps, server)
                    if problem:
                        return f"{attempt}: {problem}"
        return None

    def compose_health(self, service, server):
        test = service["healthcheck"]["test"]
        if test[0] != "CMD" or test[1] != "smemu":
            return f"cannot play the health check {test}"
        argv = [self.binary, *(re.sub(r":4566\b", f":{server.port}", a) for a in test[2:])]
        for _ in range(int(service["healthcheck"].get("retries", 3))):
            if subprocess.run(argv, env=self.env, capture_output=True, timeout=TIMEOUT).returncode == 0:
                return None
            time.sleep(0.2)
        return f"the health check {test} never passed"

    def compose_apps(self, apps, server):
        for app in apps:
            if app.get("image") != "amazon/aws-cli":
                return f"cannot play an app of image {app.get('image')} here"
            env = dict(self.env)
            for name, value in (app.get("environment") or {}).items():
                env[name] = re.sub(r"^http://smemu:4566\b", server.url, str(value))
            done = subprocess.run(["aws", *app["command"]], env=env, capture_output=True, text=True, timeout=TIMEOUT)
            if done.returncode != 0:
                return f"aws {' '.join(app['command'])}: exit status {done.returncode}\n{done.stdout}{done.stderr}"
        return None

    def check_cargo_run_flags(self, readme):
        for match in re.finditer(r"cargo run --release -- ([^`\n]+)", readme):
            words = shlex.split(match[1])
            if words == ["…"]:
                continue  # the prose's placeholder, not an example
            # The README's own port is fine in a shell; here every check takes a free one.
            flags = []
            skip = False
            for word in words:
                if skip:
                    skip = False
                    continue
                if word == "--port":
                    skip = True
                    continue
                flags.append(word)
            # The README says where the secret of --access-key-id comes from: the environment.
            env = dict(self.env, SMEMU_SECRET_ACCESS_KEY="example-secret")
            line = readme[: match.start()].count("\n") + 1
            self.report(f"README.md:{line} cargo run --release -- {match[1]}", self.check_start(flags, env))

    def options(self):
        """The binary's flags and the environment variable of each, from --help."""
        done = subprocess.run([self.binary, "--help"], capture_output=True, text=True, env=self.env)
        options, current = {}, None
        for line in done.stdout.splitlines():
            flag = re.match(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", line)
            if flag:
                current = flag[1]
                options[current] = None
            env = re.search(r"\[env: ([A-Z0-9_]+)", line)
            if env and current:
                options[current] = env[1]
        options.pop("--help", None)
        options.pop("--version", None)
        return options

    def check_configuration_table(self, readme):
        """The Configuration table lists every flag the binary has, with its variable, and no other."""
        options = self.options()
        rows = {}
        for line in readme.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            flag = re.fullmatch(r"`(--[a-z][a-z-]*)(?: [A-Z]+)?`", cells[0]) if len(cells) > 2 else None
            if flag:
                env = re.match(r"`(SMEMU_[A-Z0-9_]+)`", cells[1])
                rows[flag[1]] = env[1] if env else None
        problems = [f"{f} is missing from the table" for f in options if f not in rows]
        problems += [f"{f} is in the table but not in smemu --help" for f in rows if f not in options]
        problems += [
            f"{f}: the table says {rows[f]}, smemu --help says {options[f]}"
            for f in rows
            if f in options and rows[f] != options[f]
        ]
        self.report("Configuration table = smemu --help", "\n".join(problems) or None)
        return options

    def check_docker_run_lines(self, readme, options):
        """`docker run` examples pass smemu only variables and flags it has (Docker itself is not run)."""
        variables = set(options.values()) | {"SMEMU_SECRET_ACCESS_KEY"}
        for line, text in logical_lines(readme):
            for match in re.finditer(r"docker run ([^`]+)", text):
                problems = docker_run_problems(match[1], options, variables)
                self.report(f"README.md:{line} docker run {match[1][:60]}", problems)

    def check_version(self):
        done = subprocess.run([self.binary, "--version"], capture_output=True, text=True, env=self.env)
        ok = done.returncode == 0 and re.fullmatch(r"smemu \d+\.\d+\.\d+\S*\n", done.stdout)
        self.report("smemu --version", None if ok else f"{done.returncode}: {done.stdout}{done.stderr}")

    def check(self, block):
        kind, args = block.marker
        if kind == "run":
            return self.check_run(block, args)
        if kind == "seed":
            return self.check_file(block, ".yaml" if block.info in ("yaml", "yml") else ".json", ["--seed"])
        if kind == "credentials":
            suffix = ".toml" if block.info == "toml" else ".json"
            return self.check_file(block, suffix, ["--auth", "strict", "--credentials"])
        if kind == "hooks":
            return self.check_hooks(block)
        if kind == "testcontainers-python":
            return self.check_testcontainers(block)
        if kind == "compose":
            return self.check_compose(block)
        return f"unknown readme-check marker {kind!r}"


def interpolate(text, env):
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}`."""

    def value(match):
        name, how, rest = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        if how == ":?":
            raise ValueError(f"compose would stop: {rest}")
        return rest if how == ":-" else ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", value, text)


def logical_lines(text):
    """(number, line) with backslash-continued lines joined, numbered by their first line."""
    joined, pending, start = [], "", None
    for number, line in enumerate(text.splitlines(), 1):
        start = start or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append((start, pending + line))
        pending, start = "", None
    return joined


def docker_run_problems(command, options, variables):
    words = shlex.split(re.split(r"&&|\||;", command)[0], comments=True)
    problems, i = [], 0
    while i < len(words) and words[i] != "smemu":
        word = words[i]
        if word in ("-e", "--env") and i + 1 < len(words):
            name = words[i + 1].split("=", 1)[0]
            if name.startswith("SMEMU_") and name not in variables:
                problems.append(f"smemu reads no variable {name}")
            i += 2
        elif word in ("-p", "-v", "--name", "--user", "--publish", "--volume", "--network", "-w"):
            i += 2
        else:
            i += 1
    if i == len(words):
        return "no smemu image in this docker run"
    for word in words[i + 1 :]:
        if word.startswith("--") and word.split("=", 1)[0] not in options:
            problems.append(f"smemu has no flag {word}")
    return "\n".join(problems) or None


def real_testcontainers_api():
    """The installed package's callables the fake stands in for, by module."""
    api = {}
    for module in ("testcontainers.core.container", "testcontainers.core.wait_strategies"):
        api[module] = importlib.import_module(module)
    return api


def check_calls_against(source, modules):
    """Every name imported from testcontainers exists, and every call on one of its classes, or on
    a value of such a class (a variable, or what a fluent `-> Self` method returns), names a real
    method and fits its signature."""
    tree = ast.parse(source)
    classes = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("testcontainers"):
            module = modules.get(node.module)
            if module is None:
                return f"the recipe imports from {node.module}, which this check does not know"
            for alias in node.names:
                if not hasattr(module, alias.name):
                    return f"{node.module} has no {alias.name}"
                classes[alias.asname or alias.name] = getattr(module, alias.name)
    variables = {}

    def type_of(expr):
        if isinstance(expr, ast.Name):
            return variables.get(expr.id)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            return classes.get(expr.func.id)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            cls = type_of(expr.func.value)
            method = getattr(cls, expr.func.attr, None) if cls else None
            returns = inspect.signature(method).return_annotation if callable(method) else None
            return cls if "Self" in str(returns) else None
        return None

    problems = []
    # Statements in order, so a variable's type is known before its uses.
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and type_of(statement.value):
                variables[target.id] = type_of(statement.value)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        args = [None] * len(node.args)
        kwargs = {k.arg: None for k in node.keywords if k.arg}
        if isinstance(node.func, ast.Name) and node.func.id in classes:
            name, callee = node.func.id, classes[node.func.id]
        elif isinstance(node.func, ast.Attribute) and type_of(node.func.value):
            cls = type_of(node.func.value)
            name = f"{cls.__name__}.{node.func.attr}"
            callee = getattr(cls, node.func.attr, None)
            if not callable(callee):
                problems.append(f"line {node.lineno}: testcontainers' {cls.__name__} has no method {node.func.attr}")
                continue
            # Looked up on the class: the receiver takes the place of self.
            args = [None, *args]
        else:
            continue
        try:
            inspect.signature(callee).bind(*args, **kwargs)
        except TypeError as e:
            problems.append(f"line {node.lineno}: {name}(…) does not fit testcontainers' signature: {e}")
    return "\n".join(problems) or None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smemu", required=True, help="the smemu binary")
    parser.add_argument("--path", default="", help="a directory to put first on PATH (the AWS CLI)")
    parser.add_argument("readme")
    options = parser.parse_args()
    readme_path = Path(options.readme).resolve()
    readme = readme_path.read_text()
    checker = Checker(str(Path(options.smemu).resolve()), options.path, readme_path.parent)

    checker.check_version()
    options = checker.check_configuration_table(readme)
    checker.check_cargo_run_flags(readme)
    checker.check_docker_run_lines(readme, options)
    for block in blocks(readme):
        if block.marker is None:
            if block.info in ("sh", "bash", "shell"):
                print(f"-     {block.title()} (not run: no readme-check marker)")
            continue
        if block.marker[0] == "seed":
            checker.last_seed = block
        checker.report(block.title(), checker.check(block))
    print(f"readme: {checker.passed} passed, {checker.failed} failed")
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
