"""Runs Terraform configurations against smemu and reports what went wrong, per scenario.

A scenario is a module under scenarios/NAME with two variables, `prefix` (where its secret
names start) and `modified` (false for the first apply, true for the change). Scenarios that
share a flow run as one *stack*: a root configuration that calls each scenario's module, so
that one `terraform apply` covers all of them (the AWS provider takes seconds to start and
load its schema, several times per command, so commands are what the suite's run time is
made of). Every plan, error and output is attributed back to its scenario by its module
address.

Environment: SMEMU_ENDPOINT (smemu's URL), TERRAFORM (the CLI), TF_PROVIDER_MIRROR (a local
filesystem mirror holding hashicorp/aws), SMEMU_CONTROL_TOKEN (sent to the control API when set).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
# Working directories and transcripts of the last run (compat/.logs is not committed).
WORK = HERE.parent / ".logs" / "terraform"
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "AKIDSMEMUTERRAFORM"
SECRET_KEY = "compat-secret-key"
# One command (an apply of every scenario, say) may take a while on a loaded machine; one that
# takes longer than this is stuck.
COMMAND_TIMEOUT = 600


def endpoint():
    url = os.environ.get("SMEMU_ENDPOINT")
    if not url:
        raise RuntimeError("SMEMU_ENDPOINT is not set: run the suite through compat/run or compat/terraform/run")
    return url.rstrip("/")


def secretsmanager(url=None, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    return boto3.client(
        "secretsmanager",
        endpoint_url=url or endpoint(),
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def control(method, path, body=None):
    """Calls smemu's control API (/_smemu/...) and returns its JSON answer."""
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("SMEMU_CONTROL_TOKEN")
    if token:
        headers["X-Smemu-Control-Token"] = token
    request = urllib.request.Request(
        endpoint() + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{method} {path} answered {error.code}: {error.read()[:500]!r}") from None


class CommandFailed(Exception):
    def __init__(self, result):
        super().__init__(f"`{result.command}` exited {result.code}:\n{result.output}")
        self.result = result


class Result:
    def __init__(self, command, code, output):
        self.command = command
        self.code = code
        self.output = output


# Without colour, Terraform prints each diagnostic as a paragraph starting "Error: " or
# "Warning: "; an error about a resource names it ("  with module.NAME.TYPE.LABEL,"), one about
# the configuration names the file ("  on .terraform/modules/NAME/main.tf line 3").
_DIAGNOSTIC = re.compile(r"^(?:Error|Warning): .*?(?=^(?:Error|Warning): |\Z)", re.M | re.S)
_ERROR_SUBJECT = re.compile(r"^\s+(?:with module\.|on \.terraform/modules/)([A-Za-z0-9_-]+)[./]", re.M)


def errors_by_module(output):
    """A command's errors by the scenario they name; those naming none are under None."""
    found = {}
    for diagnostic in _DIAGNOSTIC.findall(output):
        if not diagnostic.startswith("Error: "):
            continue
        match = _ERROR_SUBJECT.search(diagnostic)
        found.setdefault(match.group(1) if match else None, []).append(diagnostic.rstrip())
    return found


class Workspace:
    """A root configuration in its own directory, and the terraform commands run in it."""

    def __init__(self, base, name, modules, *, via_env=False, url=None, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        """`modules` maps a scenario name to extra module arguments (a dict).

        `via_env` points the provider at smemu through AWS_ENDPOINT_URL instead of the
        provider's endpoints block; `url` is another smemu than SMEMU_ENDPOINT's.
        """
        self.name = name
        self.dir = Path(base) / name
        self.dir.mkdir(parents=True)
        self.modules = modules
        self.transcript = self.dir / "transcript.log"
        shutil.copy(HERE / ("provider_env.tf" if via_env else "provider.tf"), self.dir / "provider.tf")
        root = ['variable "modified" {\n  type    = bool\n  default = false\n}\n']
        for scenario, args in modules.items():
            lines = [
                f'module "{scenario}" {{',
                f"  source   = {json.dumps(str(SCENARIOS / scenario))}",
                f"  prefix   = {json.dumps(prefix(scenario))}",
                "  modified = var.modified",
            ]
            lines += [f"  {key} = {json.dumps(value)}" for key, value in args.items()]
            lines += ["}", f'output "{scenario}" {{', f"  value     = module.{scenario}", "  sensitive = true", "}"]
            root.append("\n".join(lines) + "\n")
        (self.dir / "main.tf").write_text("\n".join(root))
        self.env = dict(os.environ)
        self.env.update(
            AWS_ACCESS_KEY_ID=access_key,
            AWS_SECRET_ACCESS_KEY=secret_key,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            TF_CLI_CONFIG_FILE=str(cli_config(base)),
        )
        # The provider's own retries would turn a wrong answer into minutes of waiting.
        self.env["AWS_MAX_ATTEMPTS"] = "2"
        # The provider spends most of each start building its schema; collecting garbage less
        # often cuts that CPU time by about a third, for some 150 MB more per process.
        self.env.setdefault("GOGC", "400")
        if via_env:
            self.env["AWS_ENDPOINT_URL"] = url or endpoint()
        else:
            self.env["TF_VAR_endpoint"] = url or endpoint()

    def run(self, *args, ok=True):
        command = ["terraform", *args]
        started = time.monotonic()
        proc = subprocess.run(
            [os.environ.get("TERRAFORM", "terraform"), *args, "-no-color"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        output = proc.stdout + proc.stderr
        elapsed = time.monotonic() - started
        with self.transcript.open("a") as log:
            log.write(f"$ {' '.join(command)}   # exit {proc.returncode}, {elapsed:.1f}s\n{output}\n")
        result = Result(" ".join(command), proc.returncode, output)
        if ok and proc.returncode != 0:
            raise CommandFailed(result)
        return result

    def interrupted(self, marker, *args):
        """Runs a command with the provider's debug log on, and interrupts it (as Ctrl-C does)
        once `marker` shows in that log; returns the Result and the log's text.

        For a provider that retries an error for minutes before giving up with it: the
        interrupted provider gives up at once with the same error.
        """
        log_path = self.dir / f"provider-debug-{time.monotonic_ns()}.log"
        env = dict(self.env, TF_LOG_PROVIDER="debug", TF_LOG_PATH=str(log_path))
        command = ["terraform", *args]
        started = time.monotonic()
        with subprocess.Popen(
            [os.environ.get("TERRAFORM", "terraform"), *args, "-no-color"],
            cwd=self.dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            reader = threading.Thread(target=lambda: setattr(proc, "all_output", proc.stdout.read()), daemon=True)
            reader.start()
            log = ""
            while proc.poll() is None and time.monotonic() - started < COMMAND_TIMEOUT:
                log = log_path.read_text(errors="replace") if log_path.exists() else ""
                if marker in log:
                    proc.send_signal(signal.SIGINT)
                    break
                time.sleep(0.2)
            try:
                proc.wait(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join()
        output = getattr(proc, "all_output", "")
        log = log_path.read_text(errors="replace") if log_path.exists() else log
        elapsed = time.monotonic() - started
        with self.transcript.open("a") as transcript:
            transcript.write(f"$ {' '.join(command)}   # interrupted, exit {proc.returncode}, {elapsed:.1f}s\n{output}\n")
        return Result(" ".join(command), proc.returncode, output), log

    @staticmethod
    def _vars(modified):
        return ["-var", f"modified={'true' if modified else 'false'}"]

    def init(self):
        # The plugin cache is not safe for concurrent installs: one init at a time.
        with _init_lock:
            return self.run("init", "-input=false")

    def apply(self, modified=False, ok=True):
        return self.run("apply", "-auto-approve", "-input=false", *self._vars(modified), ok=ok)

    def destroy(self, modified=False, ok=True):
        return self.run("destroy", "-auto-approve", "-input=false", *self._vars(modified), ok=ok)

    def import_(self, address, resource_id, modified=False):
        return self.run("import", "-input=false", *self._vars(modified), address, resource_id)

    def plan_changes(self, modified=False):
        """Plans against the configuration just applied; returns {scenario: PlanDiff}.

        Empty when the plan has no changes. A change that no scenario's module owns is under
        None, and so is a plan that failed.
        """
        result = self.run("plan", "-input=false", "-detailed-exitcode", "-out=tfplan", *self._vars(modified), ok=False)
        if result.code == 0:
            return {}
        if result.code != 2:
            return {None: PlanDiff(result.output, [])}
        shown = json.loads(self.run("show", "-json", "tfplan").output)
        changes = {}
        for change in shown.get("resource_changes", []):
            actions = change["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
            attributes = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            changes.setdefault(module_of(change["address"]), []).append((change["address"], actions, attributes))
        for name, change in shown.get("output_changes", {}).items():
            if change["actions"] != ["no-op"]:
                owner = name if name in self.modules else None
                changes.setdefault(owner, []).append((f"output.{name}", change["actions"], []))
        return {owner: PlanDiff(diff_for(result.output, owner), found) for owner, found in changes.items()}

    def outputs(self):
        raw = json.loads(self.run("output", "-json").output or "{}")
        return {name: entry["value"] for name, entry in raw.items()}


class PlanDiff:
    """A scenario's part of a plan: the plan's text and (address, actions, attributes) triples."""

    def __init__(self, text, changes):
        self.text = text
        self.changes = changes

    def __str__(self):
        return self.text


def module_of(address):
    match = re.match(r"module\.([A-Za-z0-9_-]+)\.", address)
    return match.group(1) if match else None


def diff_for(plan_output, owner):
    """The part of a plan's text about one scenario (its resource blocks and output lines)."""
    if owner is None:
        return plan_output
    blocks = re.split(r"\n(?=  # )", plan_output)
    mine = [b for b in blocks if b.startswith(f"  # module.{owner}.")]
    outputs = re.findall(rf"^  [~+-] {re.escape(owner)} .*$", plan_output, re.M)
    return "\n".join(mine + outputs) or plan_output


_RUN = os.environ.get("COMPAT_TERRAFORM_RUN") or os.urandom(4).hex()


def prefix(scenario):
    """Where a scenario's secret names start: unique to the run, so runs never collide."""
    return f"compat/tf/{_RUN}/{scenario}"


_cli_lock = threading.Lock()
_init_lock = threading.Lock()


def cli_config(base):
    """The CLI configuration of the run: providers from the local mirror only, one plugin cache."""
    path = Path(base) / "terraformrc"
    with _cli_lock:
        if not path.exists():
            mirror = os.environ["TF_PROVIDER_MIRROR"]
            cache = Path(base) / "plugin-cache"
            cache.mkdir(exist_ok=True)
            path.write_text(
                "provider_installation {\n"
                f"  filesystem_mirror {{\n    path    = {json.dumps(mirror)}\n"
                '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
                "}\n"
                f"plugin_cache_dir = {json.dumps(str(cache))}\n"
                "disable_checkpoint = true\n"
            )
    return path
