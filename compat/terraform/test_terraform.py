"""The Terraform suite: one test per scenario, each scenario a module under scenarios/.

Most scenarios share one flow, run once for all of them (see tfdriver): apply, a plan that
must show no change, the change (`-var modified=true`) applied, a clean plan again, destroy.
After each step every scenario checks through boto3 that smemu holds what Terraform was told
to make. Four scenarios have flows of their own: `terraform import` of a secret made through
the API, destroy-then-recreate across a recovery window on smemu's clock, a public policy that
block_public_policy must refuse, and the provider against smemu in strict SigV4 mode. The
stacks run in parallel threads; the one that moves smemu's clock waits for the common flow,
whose rotation schedules and recovery windows the clock would move, to finish first.

Each stack's working directory, with a transcript of every command it ran, is kept in
compat/.logs/terraform/ until the next run.
"""

import base64
import json
import os
import shutil
import threading
import traceback
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

import tfdriver
from tfdriver import ACCOUNT, REGION, Workspace, control, prefix, secretsmanager

KEY_A = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_B = "arn:aws:kms:us-east-1:000000000000:key/0987dcba-09fe-87dc-65ba-ab0987654321"
SCHEDULED = "You can't create this secret because a secret with this name is already scheduled for deletion."
PUBLIC = "This resource policy will grant public access to the secret."


def describe(arn):
    return secretsmanager().describe_secret(SecretId=arn)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"]
    return None


def tags_of(described):
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


def stages_of(arn):
    return {vid: set(stages) for vid, stages in describe(arn).get("VersionIdsToStages", {}).items()}


def current(arn):
    return secretsmanager().get_secret_value(SecretId=arn)


def policy_of(arn):
    return json.loads(secretsmanager().get_resource_policy(SecretId=arn)["ResourcePolicy"])


def assert_gone(arn):
    assert error_code(describe, arn) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    ), f"{arn} is still there after destroy"


def assert_scheduled(arn):
    described = describe(arn)
    assert "DeletedDate" in described, f"{arn} is not scheduled for deletion: {described}"
    listed = secretsmanager().list_secrets(Filters=[{"Key": "name", "Values": [described["Name"]]}])
    assert [s["ARN"] for s in listed["SecretList"]] == [], "ListSecrets shows a secret scheduled for deletion"
    return described


# ---- the scenarios of the common flow --------------------------------------------------------
#
# Each is a class named after its module, with checks run after `applied`, `modified` (the
# change applied) and `destroyed`. A check gets a Context: the scenario's outputs, a dict to
# keep things between steps, and the workspace.

LIFECYCLE = {}


def lifecycle(cls):
    LIFECYCLE[cls.__name__] = cls
    return cls


class Context:
    def __init__(self, name, workspace):
        self.name = name
        self.workspace = workspace
        self.out = {}
        self.kept = {}
        self.prefix = prefix(name)


@lifecycle
class secret_basic:
    def applied(c):
        d = describe(c.out["arn"])
        assert d["Name"] == f"{c.prefix}/app+v1=x.y@z_w-1"
        assert d["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{d['Name']}-")
        assert d["Description"] == "made by terraform"
        assert tags_of(d) == {"team": "core", "env": "test", "cost:center": "a b/c+d=e.f@g"}

    def modified(c):
        d = describe(c.out["arn"])
        assert d["Description"] == 'changed by terraform: ünïcødé, "quotes", a\ttab'
        assert tags_of(d) == {"team": "platform", "stage": "prod", "blank": ""}

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class secret_name_prefix:
    def applied(c):
        d = describe(c.out["arn"])
        assert d["Name"] == c.out["name"] and d["Name"].startswith(f"{c.prefix}/gen-"), d["Name"]
        assert len(d["Name"]) > len(f"{c.prefix}/gen-")
        assert d["Description"] == "to be removed"
        assert tags_of(d) == {}

    def modified(c):
        d = describe(c.out["arn"])
        assert d.get("Description", "") == "", d
        assert tags_of(d) == {"added": "yes"}

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class secret_kms_key:
    def applied(c):
        assert describe(c.out["arn"])["KmsKeyId"] == KEY_A
        assert c.out["kms_key_id"] == KEY_A
        assert current(c.out["arn"])["SecretString"] == "under a customer key"
        assert describe(c.out["by_alias_arn"])["KmsKeyId"] == "1234abcd-12ab-34cd-56ef-1234567890ab"

    def modified(c):
        assert describe(c.out["arn"])["KmsKeyId"] == KEY_B
        assert c.out["kms_key_id"] == KEY_B
        assert describe(c.out["by_alias_arn"])["KmsKeyId"] == "alias/tf-compat"

    def destroyed(c):
        assert_gone(c.out["arn"])
        assert_gone(c.out["by_alias_arn"])


@lifecycle
class secret_policy_inline:
    def applied(c):
        statements = policy_of(c.out["arn"])["Statement"]
        assert [s["Sid"] for s in statements] == ["ReadByTheAccount"]

    def modified(c):
        statements = policy_of(c.out["arn"])["Statement"]
        assert [s["Sid"] for s in statements] == ["ReadByTheAccount", "NoDelete"]

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class secret_recovery_window:
    def applied(c):
        assert describe(c.out["arn"])["Description"] == "kept a week"

    def modified(c):
        assert describe(c.out["arn"])["Description"] == "still kept a week"

    def destroyed(c):
        d = assert_scheduled(c.out["arn"])
        # Restorable within the window, as on AWS; then removed for good.
        sm = secretsmanager()
        sm.restore_secret(SecretId=c.out["arn"])
        assert "DeletedDate" not in describe(c.out["arn"])
        sm.delete_secret(SecretId=d["ARN"], ForceDeleteWithoutRecovery=True)


@lifecycle
class version_string:
    def applied(c):
        value = current(c.out["arn"])
        note = 'ünïcødé ✓, a tab\t, a newline\n, a quote " and <html> & more'
        assert json.loads(value["SecretString"]) == {"username": "app", "password": "first-password", "note": note}
        assert value["VersionId"] == c.out["version_id"]
        assert value["VersionStages"] == ["AWSCURRENT"]
        c.kept["first"] = c.out["version_id"]

    def modified(c):
        value = current(c.out["arn"])
        assert json.loads(value["SecretString"])["password"] == "second-password"
        assert value["VersionId"] == c.out["version_id"] != c.kept["first"]
        assert stages_of(c.out["arn"])[c.kept["first"]] == {"AWSPREVIOUS"}

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class version_binary:
    def applied(c):
        value = current(c.out["arn"])
        assert value["SecretBinary"] == base64.b64decode("AAEC/f7/gICBwsM=")
        assert "SecretString" not in value
        assert value["VersionId"] == c.out["version_id"]

    def modified(c):
        value = current(c.out["arn"])
        assert value["SecretBinary"] == base64.b64decode("/+7dzLuqmYh3ZlVEMyIRAA==")
        assert value["VersionId"] == c.out["version_id"]

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class version_stages:
    def applied(c):
        assert stages_of(c.out["arn"]) == {
            c.out["current_version"]: {"AWSCURRENT", "blue"},
            c.out["candidate_version"]: {"green", "canary-next"},
        }
        c.kept["versions"] = (c.out["current_version"], c.out["candidate_version"])

    def modified(c):
        # Labels move in place: the same two versions, not new ones.
        assert (c.out["current_version"], c.out["candidate_version"]) == c.kept["versions"]
        assert stages_of(c.out["arn"]) == {
            c.out["current_version"]: {"AWSCURRENT", "blue", "stable"},
            c.out["candidate_version"]: {"canary"},
        }
        sm = secretsmanager()
        assert sm.get_secret_value(SecretId=c.out["arn"], VersionStage="canary")["SecretString"] == "green value"

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class secret_policy:
    def applied(c):
        statement = policy_of(c.out["arn"])["Statement"][0]
        assert statement["Action"] == "secretsmanager:GetSecretValue"

    def modified(c):
        statement = policy_of(c.out["arn"])["Statement"][0]
        assert statement["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]

    def destroyed(c):
        assert_gone(c.out["arn"])


def iam():
    return boto3.client(
        "iam", endpoint_url=tfdriver.endpoint(), region_name=REGION,
        aws_access_key_id=tfdriver.ACCESS_KEY, aws_secret_access_key=tfdriver.SECRET_KEY,
    )


@lifecycle
class iam_role:
    def applied(c):
        role = iam().get_role(RoleName=c.out["role"])["Role"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
        document = iam().get_role_policy(RoleName=c.out["role"], PolicyName="read")["PolicyDocument"]
        assert document["Statement"][0]["Action"] == ["secretsmanager:GetSecretValue"]
        assert policy_of(c.out["arn"])["Statement"][0]["Principal"] == {"AWS": role["Arn"]}

    def modified(c):
        document = iam().get_role_policy(RoleName=c.out["role"], PolicyName="read")["PolicyDocument"]
        assert document["Statement"][0]["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]

    def destroyed(c):
        assert_gone(c.out["arn"])
        assert error_code(iam().get_role, RoleName=c.out["role"])[0] == "NoSuchEntity"


def rotation_function():
    """A Lambda ARN bound to smemu's built-in rotation hook, which sets a new `password`."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tf-rotate-{uuid.uuid4().hex[:12]}"
    control("POST", "/_smemu/hooks", {"functionArn": arn, "kind": "builtin", "jsonKey": "password"})
    return arn


def unbind(arn):
    control("DELETE", "/_smemu/hooks?functionArn=" + urllib.parse.quote(arn, safe=""))


@lifecycle
class rotation:
    args = {"function_arn": rotation_function}

    def applied(c):
        d = describe(c.out["arn"])
        assert d["RotationEnabled"] is True
        assert d["RotationLambdaARN"] == c.out["rotation_lambda_arn"]
        assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
        assert "LastRotatedDate" in d and "NextRotationDate" in d
        value = current(c.out["arn"])
        rotated = json.loads(value["SecretString"])
        assert rotated["username"] == "app" and rotated["password"] != "initial-password"
        assert value["VersionId"] != c.out["initial_version"]
        assert c.out["rotation_enabled"] is True
        assert c.out["rotation_rules"][0]["automatically_after_days"] == 30

    def modified(c):
        rules = describe(c.out["arn"])["RotationRules"]
        assert rules.get("ScheduleExpression") == "rate(10 days)", rules
        assert rules.get("Duration") == "3h", rules
        assert c.out["rotation_rules"][0]["schedule_expression"] == "rate(10 days)"

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class rotation_deferred:
    args = {"function_arn": rotation_function}

    def applied(c):
        d = describe(c.out["arn"])
        assert d["RotationEnabled"] is True
        assert d["RotationRules"]["ScheduleExpression"] == "cron(0 4 ? * MON *)"
        assert "NextRotationDate" in d
        # Not rotated yet: the value Terraform wrote is still the current one.
        value = current(c.out["arn"])
        assert value["VersionId"] == c.out["initial_version"]
        assert json.loads(value["SecretString"])["password"] == "kept-until-the-window"

    def modified(c):
        assert describe(c.out["arn"])["RotationRules"]["ScheduleExpression"] == "cron(0 6 ? * SUN *)"
        assert current(c.out["arn"])["VersionId"] == c.out["initial_version"]

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class data_sources:
    def applied(c):
        o = c.out
        described = describe(o["arn"])
        expected = {
            "arn": o["arn"],
            "name": f"{c.prefix}/read-me",
            "description": "read by data sources",
            "kms_key_id": "",
            "tags": {"reader": "terraform"},
        }
        got = {k: o["by_name"][k] for k in expected}
        got["kms_key_id"] = got["kms_key_id"] or ""
        assert got == expected
        assert json.loads(o["by_name"]["policy"]) == policy_of(o["arn"])
        assert o["by_name"]["created_date"].startswith(described["CreatedDate"].strftime("%Y-%m-%dT%H:%M:%S"))
        assert o["by_arn"] == {"arn": o["arn"], "name": expected["name"], "description": expected["description"]}
        assert o["current"] == {
            "secret_string": "second value",
            "version_id": o["second_version"],
            "version_stages": ["AWSCURRENT"],
        }
        assert o["previous"] == {
            "secret_string": "first value",
            "version_id": o["first_version"],
            "version_stages": ["AWSPREVIOUS"],
        }
        assert o["by_id"] == {"secret_string": "first value", "version_id": o["first_version"]}
        assert {v["id"]: set(v["stages"]) for v in o["versions"]} == {
            o["first_version"]: {"AWSPREVIOUS"},
            o["second_version"]: {"AWSCURRENT"},
        }
        assert o["names"] == [expected["name"]] and o["arns"] == [o["arn"]]
        assert o["tagged_names"] == [expected["name"]]
        assert expected["name"] in o["described_names"]
        assert o["password_length"] == 40 and o["password_alphanumeric"] is True
        c.kept["second"] = o["second_version"]

    def modified(c):
        o = c.out
        assert o["by_name"]["description"] == "read again"
        assert o["current"]["secret_string"] == "third value"
        assert o["previous"] == {
            "secret_string": "second value",
            "version_id": c.kept["second"],
            "version_stages": ["AWSPREVIOUS"],
        }
        # The first version lost its last label: ListSecretVersionIds leaves it out by default,
        # GetSecretValue by id still reads it.
        assert {v["id"] for v in o["versions"]} == {c.kept["second"], o["second_version"]}
        assert o["by_id"]["secret_string"] == "first value"
        assert c.prefix + "/read-me" in o["described_names"]

    def destroyed(c):
        assert_gone(c.out["arn"])


@lifecycle
class write_only:
    def applied(c):
        value = current(c.out["arn"])
        assert value["VersionId"] == c.out["version_id"]
        assert len(value["SecretString"]) == 32
        assert current(c.out["copy_arn"])["SecretString"] == value["SecretString"]
        state = (c.workspace.dir / "terraform.tfstate").read_text()
        assert value["SecretString"] not in state, "a write-only value reached the state file"
        c.kept["value"] = value["SecretString"]

    def modified(c):
        value = current(c.out["arn"])
        assert value["VersionId"] == c.out["version_id"]
        assert len(value["SecretString"]) == 32 and value["SecretString"] != c.kept["value"]
        assert current(c.out["copy_arn"])["SecretString"] == value["SecretString"]

    def destroyed(c):
        assert_gone(c.out["arn"])
        assert_gone(c.out["copy_arn"])


def run_lifecycle(base, names, failures):
    """The common flow for the scenarios `names`; appends what went wrong to failures[name]."""
    hooks = []
    args = {}
    for name in names:
        args[name] = {}
        for key, make in getattr(LIFECYCLE[name], "args", {}).items():
            args[name][key] = make()
            hooks.append(args[name][key])
    ws = Workspace(base, "lifecycle", args)
    contexts = {name: Context(name, ws) for name in names}

    def fail(name, text):
        for target in names if name is None else [name]:
            failures[target].append(text)

    def step(title, command):
        result = command()
        for owner, boxes in tfdriver.errors_by_module(result.output).items():
            fail(owner, f"{title}: terraform reported an error:\n" + "\n".join(boxes))
        if result.code != 0 and not tfdriver.errors_by_module(result.output):
            fail(None, f"{title}: `{result.command}` exited {result.code}:\n{result.output}")

    def plan_clean(title, modified):
        for owner, diff in ws.plan_changes(modified).items():
            fail(owner, f"{title}: the plan after apply is not empty (a perpetual diff):\n{diff}")

    def check(phase):
        outputs = ws.outputs() if phase != "destroyed" else None
        for name, c in contexts.items():
            if outputs is not None:
                c.out = outputs.get(name, {})
            try:
                getattr(LIFECYCLE[name], phase)(c)
            except Exception:  # noqa: BLE001 - every failure of a check is reported, by scenario
                fail(name, f"check after {phase}:\n{traceback.format_exc(limit=-3)}")

    try:
        ws.init()
        step("apply", lambda: ws.apply(ok=False))
        check("applied")
        plan_clean("re-plan", False)
        step("apply of the change", lambda: ws.apply(modified=True, ok=False))
        check("modified")
        plan_clean("re-plan after the change", True)
        step("destroy", lambda: ws.destroy(modified=True, ok=False))
        check("destroyed")
    except Exception:  # noqa: BLE001 - a broken flow fails every scenario in it
        fail(None, traceback.format_exc())
    finally:
        for arn in hooks:
            unbind(arn)


# ---- the scenarios with flows of their own ----------------------------------------------------


def run_imported(base):
    """`terraform import` of a secret, its version and its policy, made through the API."""
    sm = secretsmanager()
    name = f"{prefix('imported')}/legacy"
    made = sm.create_secret(
        Name=name,
        Description="made before terraform",
        KmsKeyId=KEY_A,
        Tags=[{"Key": "owner", "Value": "ops"}, {"Key": "imported", "Value": "yes"}],
        # What jsonencode() in the configuration makes of the same object: sorted keys, no spaces.
        SecretString=json.dumps({"username": "legacy", "password": "from-the-api"}, separators=(",", ":"), sort_keys=True),
    )
    sm.put_resource_policy(
        SecretId=made["ARN"],
        ResourcePolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    # This stack reaches smemu through AWS_ENDPOINT_URL, not an endpoints block.
    ws = Workspace(base, "imported", {"imported": {}}, via_env=True)
    ws.init()
    ws.import_("module.imported.aws_secretsmanager_secret.this", made["ARN"])
    ws.import_("module.imported.aws_secretsmanager_secret_version.this", f"{made['ARN']}|{made['VersionId']}")
    ws.import_("module.imported.aws_secretsmanager_secret_policy.this", made["ARN"])
    # The provider does not read two of its own settings on import (they are not AWS's); the plan
    # after an import sets them in the state alone, as it does against AWS. Nothing else may change.
    changes = ws.plan_changes()
    state_only = {"force_overwrite_replica_secret", "recovery_window_in_days"}
    for diff in changes.values():
        assert all(
            address.endswith("aws_secretsmanager_secret.this") and actions == ["update"] and set(attrs) <= state_only
            for address, actions, attrs in diff.changes
        ), f"the plan after import is not empty:\n{diff}"
    assert ws.outputs()["imported"]["arn"] == made["ARN"]
    ws.destroy()
    # With the window never set in the state (no apply since the import), the provider deletes
    # without recovery.
    assert_gone(made["ARN"])


def run_recreate_after_window(base, lifecycle_done):
    """Destroy with a 7-day window, recreate refused, clock moved 7 days, recreate accepted."""
    ws = Workspace(base, "recreate", {"recreate_after_window": {}})
    ws.init()
    ws.apply()
    first = ws.outputs()["recreate_after_window"]["arn"]
    ws.destroy()
    assert_scheduled(first)

    # Recreating is refused with AWS's error. The provider retries CreateSecret on this error
    # for two minutes before it gives up with it; interrupting it once the first refusal is in
    # its log makes it give up at once with the same error.
    wire = json.dumps({"__type": "InvalidRequestException", "Message": SCHEDULED}, separators=(",", ":"))
    refused, log = ws.interrupted(wire, "apply", "-auto-approve", "-input=false", "-var", "modified=false")
    assert wire in log, f"CreateSecret of a name scheduled for deletion was not answered {wire}:\n{refused.output}"
    assert refused.code != 0, "recreating a name scheduled for deletion was accepted"
    errors = "\n".join(tfdriver.errors_by_module(refused.output).get("recreate_after_window", []))
    assert "StatusCode: 400, RequestID: " in errors and f"InvalidRequestException: {SCHEDULED}" in errors, refused.output
    assert error_code(describe, first) is None, "the refused create changed the deleted secret"

    lifecycle_done.wait()
    control("POST", "/_smemu/clock", {"advance": "7d"})
    assert error_code(describe, first)[0] == "ResourceNotFoundException", "not purged after 7 days"

    ws.apply()
    second = ws.outputs()["recreate_after_window"]["arn"]
    assert second != first and describe(second)["Name"] == f"{prefix('recreate_after_window')}/reused-name"
    assert current(second)["SecretString"] == "value"
    changes = ws.plan_changes()
    assert not changes, "the plan after recreating is not empty:\n" + "\n".join(map(str, changes.values()))
    ws.destroy()
    assert_scheduled(second)
    secretsmanager().delete_secret(SecretId=second, ForceDeleteWithoutRecovery=True)


def run_public_policy_blocked(base):
    ws = Workspace(base, "public", {"public_policy_blocked": {}})
    ws.init()
    refused = ws.apply(ok=False)
    assert refused.code != 0, "a public policy was accepted with block_public_policy = true"
    boxes = "\n".join(tfdriver.errors_by_module(refused.output).get("public_policy_blocked", []))
    assert "PublicPolicyException" in boxes and PUBLIC in boxes, refused.output
    arn = describe(f"{prefix('public_policy_blocked')}/exposed")["ARN"]
    assert "ResourcePolicy" not in secretsmanager().get_resource_policy(SecretId=arn), "the refused policy was kept"
    ws.destroy()
    assert_gone(arn)


def run_strict_sigv4(base):
    """Apply, clean plan and destroy against the strict-mode smemu, then a wrong secret key."""
    url = os.environ.get("COMPAT_STRICT_ENDPOINT")
    if not url:
        pytest.skip("COMPAT_STRICT_ENDPOINT is not set (compat/run sets it)")
    keys = {
        "access_key": os.environ["COMPAT_STRICT_ACCESS_KEY_ID"],
        "secret_key": os.environ["COMPAT_STRICT_SECRET_ACCESS_KEY"],
    }
    ws = Workspace(base, "strict", {"strict_sigv4": {}}, url=url, **keys)
    ws.init()
    ws.apply()
    arn = ws.outputs()["strict_sigv4"]["arn"]
    sm = secretsmanager(url, **keys)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "signed value"
    assert tags_of(sm.describe_secret(SecretId=arn)) == {"auth": "strict"}
    changes = ws.plan_changes()
    assert not changes, "the plan in strict mode is not empty:\n" + "\n".join(map(str, changes.values()))

    # The provider's start-up credential check (STS GetCallerIdentity, no skip flags) is real:
    # with a wrong secret key it stops before touching any secret.
    wrong = Workspace(
        base, "strict-wrong-key", {"strict_sigv4": {}}, url=url, access_key=keys["access_key"], secret_key="wrong"
    )
    wrong.init()
    refused = wrong.run("plan", "-input=false", ok=False)
    assert refused.code != 0, refused.output
    assert "GetCallerIdentity" in refused.output and "SignatureDoesNotMatch" in refused.output, refused.output

    ws.destroy()
    assert error_code(sm.describe_secret, SecretId=arn)[0] == "ResourceNotFoundException"


FLOWS = {
    "imported": run_imported,
    "recreate_after_window": run_recreate_after_window,
    "public_policy_blocked": run_public_policy_blocked,
    "strict_sigv4": run_strict_sigv4,
}


class Suite:
    """Starts the stacks the selected tests need, in parallel threads, once per session."""

    def __init__(self, selected):
        self.base = tfdriver.WORK
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        names = [n for n in LIFECYCLE if n in selected]
        self.failures = {n: [] for n in names}
        self.pool = ThreadPoolExecutor(max_workers=len(FLOWS) + 1)
        # Moving the clock would fire the lifecycle's rotation schedules and purge its deleted
        # secrets under its checks; the other flows have nothing that time moves (the strict
        # one runs on a smemu of its own).
        lifecycle_done = threading.Event()
        if names:
            self.lifecycle = self.pool.submit(run_lifecycle, self.base, names, self.failures)
            self.lifecycle.add_done_callback(lambda _: lifecycle_done.set())
        else:
            lifecycle_done.set()
        self.flows = {}
        for flow, run in FLOWS.items():
            if flow in selected:
                extra = (lifecycle_done,) if flow == "recreate_after_window" else ()
                self.flows[flow] = self.pool.submit(run, self.base, *extra)


@pytest.fixture(scope="session")
def suite(request):
    selected = set()
    for item in request.session.items:
        selected.update(item.callspec.params.values())
    s = Suite(selected)
    yield s
    s.pool.shutdown(wait=True)


@pytest.mark.parametrize("scenario", list(LIFECYCLE))
def test_lifecycle(scenario, suite):
    """apply, clean re-plan, change, clean re-plan, destroy, with smemu checked after each step."""
    suite.lifecycle.result()
    failures = suite.failures[scenario]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("flow", list(FLOWS))
def test_flow(flow, suite):
    suite.flows[flow].result()
