"""The AWS CLI v1 against smemu: real `aws secretsmanager ...` commands, their JSON and
`--query` output, and their exit status and message on errors.

Run through compat/cli/run, which sets the environment (credentials, region and
AWS_ENDPOINT_URL_SECRETS_MANAGER) and uses the suite's own virtualenv.
Prints "cli: N passed, M failed" last; exits non-zero when anything failed.
"""

import base64
import json
import os
import re
import string
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
RUN = uuid.uuid4().hex[:8]
# The AWS CLI v1 exits with 255 when the service answers with an error (checked by running it:
# v1 has no separate code for service errors; v2 uses 254).
SERVICE_ERROR_EXIT = 255

TESTS = []


class Skip(Exception):
    """Raised by a test that cannot run here; reported with its reason, never as a pass."""


def test(fn):
    TESTS.append(fn)
    return fn


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def text(self):
        return self.out.rstrip("\n")


def aws(*args, env=None):
    proc = subprocess.run(
        [AWS, "secretsmanager", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    return Result(proc)


def ok(*args, **kwargs):
    result = aws(*args, **kwargs)
    assert result.code == 0, f"aws {' '.join(args)} exited {result.code}: {result.err}"
    return result


def fails(code, message, operation, *args):
    """Runs a command that must fail with a service error; checks exit status and stderr."""
    result = aws(*args)
    assert result.code == SERVICE_ERROR_EXIT, f"exit {result.code}, stderr: {result.err!r}"
    expected = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    assert result.err.strip() == expected, f"stderr: {result.err!r}\nexpected: {expected!r}"
    assert result.out == ""


def unique(label):
    return f"compat/cli/{RUN}/{label}"


NOT_FOUND = "Secrets Manager can't find the specified secret."


@test
def create_and_read():
    n = unique("create")
    created = ok("create-secret", "--name", n, "--secret-string", '{"user":"app"}', "--description", "cli").json()
    assert set(created) == {"ARN", "Name", "VersionId"}
    assert re.fullmatch(rf"arn:aws:secretsmanager:us-east-1:000000000000:secret:{re.escape(n)}-[A-Za-z0-9]{{6}}", created["ARN"])
    assert created["Name"] == n
    got = ok("get-secret-value", "--secret-id", n).json()
    assert got["SecretString"] == '{"user":"app"}'
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["VersionId"] == created["VersionId"]
    assert ok("get-secret-value", "--secret-id", created["ARN"], "--query", "SecretString", "--output", "text").text() == '{"user":"app"}'
    described = ok("describe-secret", "--secret-id", n, "--query", "{d: Description, s: VersionIdsToStages}").json()
    assert described == {"d": "cli", "s": {created["VersionId"]: ["AWSCURRENT"]}}


@test
def client_request_token_idempotency():
    n, t = unique("token"), str(uuid.uuid4())
    first = ok("create-secret", "--name", n, "--secret-string", "v", "--client-request-token", t).json()
    again = ok("create-secret", "--name", n, "--secret-string", "v", "--client-request-token", t).json()
    assert first == again
    assert first["VersionId"] == t
    fails(
        "ResourceExistsException",
        f"You can't use ClientRequestToken {t} because that value is already in use for a version of secret {first['ARN']}.",
        "CreateSecret",
        "create-secret", "--name", n, "--secret-string", "other", "--client-request-token", t,
    )


@test
def put_value_and_staging_labels():
    n = unique("put")
    v1 = ok("create-secret", "--name", n, "--secret-string", "one", "--query", "VersionId", "--output", "text").text()
    put = ok("put-secret-value", "--secret-id", n, "--secret-string", "two").json()
    assert put["VersionStages"] == ["AWSCURRENT"]
    v2 = put["VersionId"]
    assert ok("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text").text() == "two"
    previous = ok("get-secret-value", "--secret-id", n, "--version-stage", "AWSPREVIOUS", "--query", "[VersionId, SecretString]").json()
    assert previous == [v1, "one"]

    pending = ok("put-secret-value", "--secret-id", n, "--secret-string", "three", "--version-stages", "AWSPENDING").json()
    assert pending["VersionStages"] == ["AWSPENDING"]
    v3 = pending["VersionId"]
    out = ok(
        "update-secret-version-stage", "--secret-id", n, "--version-stage", "AWSCURRENT",
        "--remove-from-version-id", v2, "--move-to-version-id", v3,
    ).json()
    assert set(out) == {"ARN", "Name"}
    stages = ok("describe-secret", "--secret-id", n, "--query", "VersionIdsToStages").json()
    assert {k: sorted(v) for k, v in stages.items()} == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "AWSPENDING"]}

    versions = ok("list-secret-version-ids", "--secret-id", n, "--include-deprecated", "--query", "Versions[].VersionId").json()
    assert sorted(versions) == sorted([v1, v2, v3])
    fresh = ok("list-secret-version-ids", "--secret-id", n, "--query", "Versions[].VersionId").json()
    assert sorted(fresh) == sorted([v2, v3])


@test
def binary_secret_from_a_file():
    n = unique("binary")
    data = bytes(range(256))
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        ok("create-secret", "--name", n, "--secret-binary", f"fileb://{f.name}")
    # The CLI prints blobs base64-encoded.
    printed = ok("get-secret-value", "--secret-id", n, "--query", "SecretBinary", "--output", "text").text()
    assert base64.b64decode(printed) == data
    assert ok("get-secret-value", "--secret-id", n, "--query", "SecretString").text() == "null"


@test
def update_secret():
    n = unique("update")
    ok("create-secret", "--name", n, "--secret-string", "one")
    out = ok("update-secret", "--secret-id", n, "--description", "new").json()
    assert "VersionId" not in out
    out = ok("update-secret", "--secret-id", n, "--secret-string", "two").json()
    assert "VersionId" in out
    assert ok("describe-secret", "--secret-id", n, "--query", "Description", "--output", "text").text() == "new"
    assert ok("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text").text() == "two"


@test
def list_with_filters_and_auto_pagination():
    prefix = unique("list") + "/"
    names = [f"{prefix}{i}" for i in range(5)]
    for i, n in enumerate(names):
        ok("create-secret", "--name", n, "--secret-string", "x", "--tags", f"Key=idx,Value=v{i % 2}")
    listed = ok("list-secrets", "--filters", f"Key=name,Values={prefix}", "--query", "SecretList[].Name").json()
    assert listed == names
    # The CLI follows NextToken itself: small pages still give every secret.
    paged = ok("list-secrets", "--filters", f"Key=name,Values={prefix}", "--page-size", "2", "--query", "SecretList[].Name").json()
    assert paged == names
    first = ok("list-secrets", "--filters", f"Key=name,Values={prefix}", "--max-items", "3").json()
    assert [s["Name"] for s in first["SecretList"]] == names[:3]
    assert "NextToken" in first
    rest = ok("list-secrets", "--filters", f"Key=name,Values={prefix}", "--starting-token", first["NextToken"]).json()
    assert [s["Name"] for s in rest["SecretList"]] == names[3:]
    odd = ok(
        "list-secrets", "--filters", f"Key=name,Values={prefix}", "Key=tag-value,Values=v1",
        "--query", "SecretList[].Name",
    ).json()
    assert odd == [names[1], names[3]]
    negated = ok(
        "list-secrets", "--filters", f"Key=name,Values={prefix}", "Key=tag-value,Values=!v1",
        "--query", "length(SecretList)",
    ).text()
    assert negated == "3"
    text = ok("list-secrets", "--filters", f"Key=name,Values={names[0]}", "--query", "SecretList[].Name", "--output", "text").text()
    assert text == names[0]


@test
def tags():
    n = unique("tags")
    ok("create-secret", "--name", n, "--secret-string", "x")
    result = ok("tag-resource", "--secret-id", n, "--tags", "Key=team,Value=red", "Key=env,Value=dev")
    assert result.out == ""
    tags = ok("describe-secret", "--secret-id", n, "--query", "Tags").json()
    assert tags == [{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}]
    assert ok("untag-resource", "--secret-id", n, "--tag-keys", "team", "env").out == ""
    assert ok("describe-secret", "--secret-id", n, "--query", "Tags").json() == []
    fails(
        "InvalidParameterException",
        "You can't modify system tags. Tag key: 'aws:cloudformation:stack-name'.",
        "TagResource",
        "tag-resource", "--secret-id", n, "--tags", "Key=aws:cloudformation:stack-name,Value=x",
    )


@test
def delete_restore_and_force_delete():
    n = unique("delete")
    arn = ok("create-secret", "--name", n, "--secret-string", "x", "--query", "ARN", "--output", "text").text()
    deleted = ok("delete-secret", "--secret-id", n, "--recovery-window-in-days", "7").json()
    assert (deleted["ARN"], deleted["Name"]) == (arn, n)
    assert "DeletionDate" in deleted
    fails(
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
        "GetSecretValue",
        "get-secret-value", "--secret-id", n,
    )
    fails(
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
        "CreateSecret",
        "create-secret", "--name", n, "--secret-string", "y",
    )
    assert ok("restore-secret", "--secret-id", n).json() == {"ARN": arn, "Name": n}
    assert ok("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text").text() == "x"
    forced = ok("delete-secret", "--secret-id", arn, "--force-delete-without-recovery", "--query", "Name", "--output", "text")
    assert forced.text() == n
    fails("ResourceNotFoundException", NOT_FOUND, "DescribeSecret", "describe-secret", "--secret-id", n)
    missing = unique("never-existed")
    assert ok("delete-secret", "--secret-id", missing, "--force-delete-without-recovery", "--query", "Name", "--output", "text").text() == missing


@test
def error_exit_status_and_messages():
    fails("ResourceNotFoundException", NOT_FOUND, "GetSecretValue", "get-secret-value", "--secret-id", unique("missing"))
    fails(
        "ValidationException",
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        "CreateSecret",
        "create-secret", "--name", "Inv Name", "--secret-string", "x",
    )
    n = unique("window")
    ok("create-secret", "--name", n, "--secret-string", "x")
    fails(
        "InvalidParameterException",
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        "DeleteSecret",
        "delete-secret", "--secret-id", n, "--recovery-window-in-days", "3",
    )
    fails(
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: NOPE",
        "GetSecretValue",
        "get-secret-value", "--secret-id", n, "--version-stage", "NOPE",
    )


@test
def wire_status_and_request_id_in_debug_output():
    # The CLI hides the HTTP status and request id; its --debug log shows what came back.
    result = aws("get-secret-value", "--secret-id", unique("debug-missing"), "--debug")
    assert result.code == SERVICE_ERROR_EXIT
    assert re.search(r'"POST / HTTP/1\.1" 400 \d+$', result.err, re.M), "status 400 for ResourceNotFoundException"
    assert re.search(r"Response headers: \{.*'x-amzn-requestid': '[0-9a-f-]{36}'", result.err, re.I), "x-amzn-RequestId"


@test
def usage_errors_are_not_service_errors():
    # A missing argument never reaches smemu: the CLI's own usage error, exit status 2.
    result = aws("get-secret-value")
    assert result.code == 2, result.code
    assert "the following arguments are required: --secret-id" in result.err


@test
def batch_get_secret_value():
    a, b, missing = unique("batch-a"), unique("batch-b"), unique("batch-missing")
    ok("create-secret", "--name", a, "--secret-string", "A")
    ok("create-secret", "--name", b, "--secret-string", "B")
    out = ok("batch-get-secret-value", "--secret-id-list", a, b, missing).json()
    assert sorted(v["SecretString"] for v in out["SecretValues"]) == ["A", "B"]
    assert out["Errors"] == [{"SecretId": missing, "ErrorCode": "ResourceNotFoundException", "Message": NOT_FOUND}]


@test
def random_password():
    p = ok("get-random-password", "--password-length", "20", "--exclude-punctuation", "--query", "RandomPassword", "--output", "text").text()
    assert len(p) == 20
    assert set(p) <= set(string.ascii_letters + string.digits)
    fails(
        "InvalidParameterException",
        "Password length is too short based on the required types.",
        "GetRandomPassword",
        "get-random-password", "--password-length", "2",
    )


def bind_rotation_function(**hook):
    """smemu has no Lambda: its control API binds a function ARN to a rotation hook."""
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:compat-cli-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/json"}
    if os.environ.get("SMEMU_CONTROL_TOKEN"):
        headers["X-Smemu-Control-Token"] = os.environ["SMEMU_CONTROL_TOKEN"]
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] + "/_smemu/hooks",
        data=json.dumps({"functionArn": arn, **hook}).encode(),
        headers=headers,
    )
    urllib.request.urlopen(request, timeout=10).close()
    return arn


@test
def rotation():
    n = unique("rotate")
    first = ok("create-secret", "--name", n, "--secret-string", "before", "--query", "VersionId", "--output", "text").text()
    fails(
        "InvalidRequestException",
        "No Lambda rotation function ARN is associated with this secret.",
        "RotateSecret",
        "rotate-secret", "--secret-id", n,
    )
    fn = bind_rotation_function(kind="builtin", excludePunctuation=True)
    out = ok(
        "rotate-secret", "--secret-id", n, "--rotation-lambda-arn", fn,
        "--rotation-rules", '{"AutomaticallyAfterDays": 10}',
    ).json()
    assert set(out) == {"ARN", "Name", "VersionId"}
    new = out["VersionId"]
    deadline = time.monotonic() + 20
    while ok("describe-secret", "--secret-id", n, "--query", f'VersionIdsToStages."{new}"').json() != ["AWSCURRENT"]:
        assert time.monotonic() < deadline, "the rotation did not finish"
        time.sleep(0.1)
    described = ok(
        "describe-secret", "--secret-id", n,
        "--query", "{enabled: RotationEnabled, fn: RotationLambdaARN, rules: RotationRules, previous: VersionIdsToStages.\"" + first + "\"}",
    ).json()
    assert described == {"enabled": True, "fn": fn, "rules": {"AutomaticallyAfterDays": 10}, "previous": ["AWSPREVIOUS"]}
    value = ok("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text").text()
    assert value != "before" and value.isalnum()
    cancelled = ok("cancel-rotate-secret", "--secret-id", n, "--query", "Name", "--output", "text").text()
    assert cancelled == n
    assert ok("describe-secret", "--secret-id", n, "--query", "RotationEnabled").json() is False


@test
def strict_sigv4():
    # compat/run starts a smemu in --auth strict mode that knows one key pair: the CLI's own
    # signatures must pass its verification, and a wrong secret key must not.
    endpoint = os.environ.get("COMPAT_STRICT_ENDPOINT")
    if not endpoint:
        raise Skip("COMPAT_STRICT_ENDPOINT is not set: compat/run starts the strict smemu this test needs")
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
        AWS_ACCESS_KEY_ID=os.environ["COMPAT_STRICT_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=os.environ["COMPAT_STRICT_SECRET_ACCESS_KEY"],
    )
    n = unique("strict")
    created = aws("create-secret", "--name", n, "--secret-string", "signed", "--tags", "Key=k,Value=v w", env=env)
    assert created.code == 0, created.err
    got = aws("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text", env=env)
    assert (got.code, got.out.strip()) == (0, "signed"), got.err
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    wrong = aws("get-secret-value", "--secret-id", n, env=env)
    assert wrong.code == SERVICE_ERROR_EXIT
    assert wrong.err.strip().startswith(
        "An error occurred (InvalidSignatureException) when calling the GetSecretValue operation: "
        "The request signature we calculated does not match the signature you provided."
    ), wrong.err


@test
def rotation_with_the_example_function_as_a_command_hook():
    # The example rotation function (boto3) runs as a command hook; boto3 lives in the python
    # suite's virtualenv, which compat/run builds first.
    compat = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    python = os.path.join(compat, "python", ".venv", "bin", "python")
    if not os.path.exists(python):
        raise Skip("the python suite's virtualenv (with boto3) is missing: run compat/run, which builds it first")
    fn = bind_rotation_function(
        kind="command", program=python, args=[os.path.join(compat, "rotation", "rotate_user_password.py")], timeoutMs=60000
    )
    n = unique("example")
    first = ok(
        "create-secret", "--name", n, "--secret-string", '{"username": "app", "password": "before"}',
        "--query", "VersionId", "--output", "text",
    ).text()
    new = ok("rotate-secret", "--secret-id", n, "--rotation-lambda-arn", fn, "--query", "VersionId", "--output", "text").text()
    stages = ok("describe-secret", "--secret-id", n, "--query", "VersionIdsToStages").json()
    assert stages == {first: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}, stages
    value = json.loads(ok("get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text").text())
    assert value["username"] == "app" and value["password"] != "before"
    assert ok("describe-secret", "--secret-id", n, "--query", "LastRotatedDate").json() is not None


def sts(*args, env=None):
    proc = subprocess.run([AWS, "sts", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    return Result(proc)


@test
def sts_get_caller_identity_in_both_modes():
    env = dict(os.environ, AWS_ENDPOINT_URL_STS=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"], AWS_ACCESS_KEY_ID="123456789012")
    who = sts("get-caller-identity", env=env)
    assert who.code == 0, who.err
    assert who.json()["Account"] == "123456789012"
    assert who.json()["Arn"] == "arn:aws:iam::123456789012:root"
    endpoint = os.environ.get("COMPAT_STRICT_ENDPOINT")
    if not endpoint:
        raise Skip("COMPAT_STRICT_ENDPOINT is not set: compat/run starts the strict smemu this test needs")
    env.update(
        AWS_ENDPOINT_URL_STS=endpoint,
        AWS_ACCESS_KEY_ID=os.environ["COMPAT_STRICT_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=os.environ["COMPAT_STRICT_SECRET_ACCESS_KEY"],
    )
    who = sts("get-caller-identity", env=env)
    assert who.code == 0, who.err
    assert re.fullmatch(r"\d{12}", who.json()["Account"]), who.out
    env["AWS_ACCESS_KEY_ID"] = "AKIDUNKNOWN000000000"
    unknown = sts("get-caller-identity", env=env)
    assert unknown.code == SERVICE_ERROR_EXIT
    assert "InvalidClientTokenId" in unknown.err, unknown.err


@test
def endpoint_url_flag():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    n = unique("flag")
    result = aws("--endpoint-url", os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"], "create-secret", "--name", n, "--secret-string", "f", env=env)
    assert result.code == 0, result.err
    got = aws("--endpoint-url", os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"], "get-secret-value", "--secret-id", n, "--query", "SecretString", "--output", "text", env=env)
    assert got.out.strip() == "f"


def kms(*args, env=None):
    proc = subprocess.run([AWS, "kms", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    return Result(proc)


def kms_ok(*args, **kwargs):
    result = kms(*args, **kwargs)
    assert result.code == 0, f"aws kms {' '.join(args)} exited {result.code}: {result.err}"
    return result


def kms_fails(code, message, operation, *args, env=None):
    result = kms(*args, env=env)
    assert result.code == SERVICE_ERROR_EXIT, f"exit {result.code}, stderr: {result.err!r}"
    expected = f"An error occurred ({code}) when calling the {operation} operation: {message}"
    assert result.err.strip() == expected, f"stderr: {result.err!r}\nexpected: {expected!r}"


@test
def kms_key_alias_encrypt_decrypt_disable():
    key = kms_ok("create-key", "--description", "cli").json()["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    alias = f"alias/compat-cli-{RUN}"
    kms_ok("create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"])
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain")
        with open(plain, "wb") as f:
            f.write(b"cli data")
        blob = kms_ok(
            "encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain}", "--encryption-context", "app=cli",
            "--query", "CiphertextBlob", "--output", "text",
        ).text()
        sealed = os.path.join(tmp, "sealed")
        with open(sealed, "wb") as f:
            f.write(base64.b64decode(blob))
        opened = kms_ok("decrypt", "--ciphertext-blob", f"fileb://{sealed}", "--encryption-context", "app=cli").json()
        assert base64.b64decode(opened["Plaintext"]) == b"cli data"
        assert opened["KeyId"] == key["Arn"]
        # The CLI prints an empty message as nothing after the colon.
        wrong = kms("decrypt", "--ciphertext-blob", f"fileb://{sealed}", "--encryption-context", "app=other")
        assert wrong.code == SERVICE_ERROR_EXIT
        assert "(InvalidCiphertextException) when calling the Decrypt operation" in wrong.err, wrong.err
        kms_ok("disable-key", "--key-id", key["KeyId"])
        kms_fails("DisabledException", f"{key['Arn']} is disabled.", "Decrypt", "decrypt", "--ciphertext-blob", f"fileb://{sealed}", "--encryption-context", "app=cli")
    aliases = kms_ok("list-aliases", "--key-id", key["KeyId"], "--query", "Aliases[].AliasName").json()
    assert aliases == [alias]
    kms_fails("NotFoundException", "Invalid keyId 'fake-key-id'", "DescribeKey", "describe-key", "--key-id", "fake-key-id")


@test
def kms_deletion_window_ends_on_the_clock():
    binary = os.environ.get("SMEMU_BIN")
    if not binary:
        raise Skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = proc.stdout.readline().strip().removeprefix("smemu ready on ")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        own = lambda *args: kms("--endpoint-url", endpoint, *args, env=env)  # noqa: E731
        key = own("create-key").json()["KeyMetadata"]
        scheduled = own("schedule-key-deletion", "--key-id", key["KeyId"], "--pending-window-in-days", "7").json()
        assert scheduled["KeyState"] == "PendingDeletion"
        headers = {"Content-Type": "application/json"}
        if os.environ.get("SMEMU_CONTROL_TOKEN"):  # the smemu started here inherits it
            headers["X-Smemu-Control-Token"] = os.environ["SMEMU_CONTROL_TOKEN"]
        request = urllib.request.Request(endpoint + "/_smemu/clock", data=b'{"advance":"7d"}', headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        gone = own("describe-key", "--key-id", key["KeyId"])
        assert gone.code == SERVICE_ERROR_EXIT
        assert gone.err.strip() == f"An error occurred (NotFoundException) when calling the DescribeKey operation: Key '{key['Arn']}' does not exist"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


DECRYPT_PREFIX = "Secrets Manager can't decrypt the protected secret text using the provided KMS key. "


@test
def secret_on_a_customer_key_follows_its_state():
    """The acceptance flow: a secret under alias/app reads while the key is enabled, fails while
    it is disabled, reads again once enabled, and is gone for good when the key is deleted."""
    binary = os.environ.get("SMEMU_BIN")
    if not binary:
        raise Skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = proc.stdout.readline().strip().removeprefix("smemu ready on ")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        own_kms = lambda *args: kms("--endpoint-url", endpoint, *args, env=env)  # noqa: E731
        own_sm = lambda *args: aws("--endpoint-url", endpoint, *args, env=env)  # noqa: E731
        key = own_kms("create-key").json()["KeyMetadata"]
        assert own_kms("create-alias", "--alias-name", "alias/app", "--target-key-id", key["KeyId"]).code == 0
        created = own_sm("create-secret", "--name", "app/db", "--kms-key-id", "alias/app", "--secret-string", "s3cr3t")
        assert created.code == 0, created.err
        read = lambda: own_sm("get-secret-value", "--secret-id", "app/db", "--query", "SecretString", "--output", "text")  # noqa: E731
        assert read().text() == "s3cr3t"

        assert own_kms("disable-key", "--key-id", key["KeyId"]).code == 0
        refused = read()
        assert refused.code == SERVICE_ERROR_EXIT, refused.err
        prefix = "An error occurred (DecryptionFailure) when calling the GetSecretValue operation: " + DECRYPT_PREFIX
        detail = f"{key['Arn']} is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException; Request ID: "
        assert refused.err.strip().startswith(prefix + detail), refused.err

        assert own_kms("enable-key", "--key-id", key["KeyId"]).code == 0
        assert read().text() == "s3cr3t"

        scheduled = own_kms("schedule-key-deletion", "--key-id", key["KeyId"], "--pending-window-in-days", "7").json()
        assert scheduled["KeyState"] == "PendingDeletion"
        headers = {"Content-Type": "application/json"}
        if os.environ.get("SMEMU_CONTROL_TOKEN"):  # the smemu started here inherits it
            headers["X-Smemu-Control-Token"] = os.environ["SMEMU_CONTROL_TOKEN"]
        request = urllib.request.Request(endpoint + "/_smemu/clock", data=b'{"advance":"7d"}', headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        gone = read()
        assert gone.code == SERVICE_ERROR_EXIT, gone.err
        detail = f"Key '{key['Arn']}' does not exist (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException; Request ID: "
        assert gone.err.strip().startswith(prefix + detail), gone.err
    finally:
        proc.terminate()
        proc.wait(timeout=10)
def cloudtrail(*args, env=None):
    proc = subprocess.run([AWS, "cloudtrail", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    return Result(proc)


@test
def lookup_events_lists_a_read_and_a_refusal_by_event_name():
    # An account of its own (a 12-digit access key selects it), so other tests' events never show.
    account = str(uuid.uuid4().int)[:12]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=account)
    name = unique("audit")
    assert aws("create-secret", "--name", name, "--secret-string", "cli-audit-distinct", env=env).code == 0
    assert aws("get-secret-value", "--secret-id", name, env=env).code == 0
    refused = aws("rotate-secret", "--secret-id", name, "--rotation-lambda-arn", "arn:aws:lambda:us-east-1:000000000000:function:none", env=env)
    assert refused.code == SERVICE_ERROR_EXIT, refused.err
    looked = cloudtrail(
        "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=GetSecretValue", env=env
    )
    assert looked.code == 0, looked.err
    (event,) = looked.json()["Events"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["requestParameters"] == {"secretId": name} and record["userIdentity"]["accountId"] == account
    assert "cli-audit-distinct" not in looked.out
    denied = cloudtrail(
        "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=RotateSecret", env=env
    )
    assert json.loads(denied.json()["Events"][0]["CloudTrailEvent"])["errorCode"] == "AccessDenied"
    bad = cloudtrail("lookup-events", "--max-results", "51", env=env)
    assert bad.code == SERVICE_ERROR_EXIT and "InvalidMaxResultsException" in bad.err, bad.err


def iam(*args, env=None):
    proc = subprocess.run([AWS, "iam", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    return Result(proc)


def strict_smemu(work, account, admin_key, admin_secret, *extra):
    """A smemu of the test's own with --auth strict --authorize enforce and one admin key (its
    secret in a 0600 file under `work`): (process, endpoint)."""
    binary = os.environ.get("SMEMU_BIN")
    if not binary:
        raise Skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
    secret_file = os.path.join(work, "admin-secret")
    if not os.path.exists(secret_file):
        with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(admin_secret + "\n")
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn", "--auth", "strict",
         "--authorize", "enforce", "--account-id", account, "--access-key-id", admin_key,
         "--secret-access-key-file", secret_file, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    return proc, proc.stdout.readline().strip().removeprefix("smemu ready on ")


def as_key(key, secret, token=None):
    """The environment of a CLI call signed with this key (and session token), no endpoint of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return env


@test
def iam_user_key_and_policy_enforced_and_simulated_and_kept_across_kill_9():
    """The IAM acceptance flow: with --auth strict --authorize enforce, a user, key and inline
    policy created with `aws iam` read exactly the secret the policy allows, the simulator says
    the same, and all of it survives kill -9 with --data-dir."""
    account, admin_key, admin_secret = "111122223333", "AKIDSMEMUIAMADMIN01", "iam-admin-secret"
    work = tempfile.mkdtemp(prefix="smemu-cli-iam-")
    data_dir = os.path.join(work, "data")

    def start():
        return strict_smemu(work, account, admin_key, admin_secret, "--data-dir", data_dir)

    proc, endpoint = start()
    try:
        admin = as_key(admin_key, admin_secret)
        sm = lambda env, *args: aws("--endpoint-url", endpoint, *args, env=env)  # noqa: E731
        allowed = sm(admin, "create-secret", "--name", "app/allowed", "--secret-string", "yes").json()["ARN"]
        other = sm(admin, "create-secret", "--name", "app/other", "--secret-string", "no").json()["ARN"]
        user = iam("--endpoint-url", endpoint, "create-user", "--user-name", "reader", env=admin)
        assert user.code == 0, user.err
        user_arn = user.json()["User"]["Arn"]
        created = iam("--endpoint-url", endpoint, "create-access-key", "--user-name", "reader", env=admin)
        assert created.code == 0, created.err
        key = created.json()["AccessKey"]
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": allowed}]})
        put = iam("--endpoint-url", endpoint, "put-user-policy", "--user-name", "reader", "--policy-name", "read-one",
                  "--policy-document", document, env=admin)
        assert put.code == 0, put.err

        reader = as_key(key["AccessKeyId"], key["SecretAccessKey"])
        read = lambda secret: sm(reader, "get-secret-value", "--secret-id", secret, "--query", "SecretString", "--output", "text")  # noqa: E731
        assert read(allowed).text() == "yes"
        refused = read(other)
        assert refused.code == SERVICE_ERROR_EXIT
        assert refused.err.strip() == (
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: "
            f"User: {user_arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: {other} "
            "because no identity-based policy allows the secretsmanager:GetSecretValue action"
        ), refused.err
        simulated = iam("--endpoint-url", endpoint, "simulate-principal-policy", "--policy-source-arn", user_arn,
                        "--action-names", "secretsmanager:GetSecretValue", "--resource-arns", allowed, other, env=admin)
        assert simulated.code == 0, simulated.err
        decisions = [r["EvalDecision"] for r in simulated.json()["EvaluationResults"]]
        assert decisions == ["allowed", "implicitDeny"], decisions

        proc.kill()  # SIGKILL: only what was acknowledged may count
        proc.wait(timeout=10)
        proc, endpoint = start()
        assert read(allowed).text() == "yes"
        assert read(other).code == SERVICE_ERROR_EXIT
    finally:
        proc.kill()
        proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", work], check=False)


@test
def iam_role_with_trust_and_inline_policy_assumed_through_sts_reads_only_its_secret():
    """Scope 4 of the IAM issue through the CLI: `aws iam create-role` with a trust policy and
    `put-role-policy`, `aws sts assume-role` in strict mode, and the session's credentials read
    the one secret the role's policy allows, with enforcement on."""
    account, admin_key, admin_secret = "111122223333", "AKIDSMEMUROLEADMIN1", "role-admin-secret"
    work = tempfile.mkdtemp(prefix="smemu-cli-role-")
    proc, endpoint = strict_smemu(work, account, admin_key, admin_secret)
    try:
        admin = as_key(admin_key, admin_secret)
        sm = lambda env, *args: aws("--endpoint-url", endpoint, *args, env=env)  # noqa: E731
        allowed = sm(admin, "create-secret", "--name", "role/allowed", "--secret-string", "yes").json()["ARN"]
        other = sm(admin, "create-secret", "--name", "role/other", "--secret-string", "no").json()["ARN"]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})
        role = iam("--endpoint-url", endpoint, "create-role", "--role-name", "app-reader",
                   "--assume-role-policy-document", trust, env=admin)
        assert role.code == 0, role.err
        role_arn = role.json()["Role"]["Arn"]
        assert role_arn == f"arn:aws:iam::{account}:role/app-reader", role_arn
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": allowed}]})
        put = iam("--endpoint-url", endpoint, "put-role-policy", "--role-name", "app-reader",
                  "--policy-name", "read-one", "--policy-document", policy, env=admin)
        assert put.code == 0, put.err

        assumed = subprocess.run(
            [AWS, "sts", "--endpoint-url", endpoint, "assume-role", "--role-arn", role_arn,
             "--role-session-name", "cli"],
            capture_output=True, text=True, env=admin, timeout=60, check=False,
        )
        assert assumed.returncode == 0, assumed.stderr
        answer = json.loads(assumed.stdout)
        creds = answer["Credentials"]
        assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/app-reader/cli"
        session = as_key(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        read = lambda secret: sm(session, "get-secret-value", "--secret-id", secret, "--query", "SecretString", "--output", "text")  # noqa: E731
        assert read(allowed).text() == "yes"
        refused = read(other)
        assert refused.code == SERVICE_ERROR_EXIT
        assert refused.err.strip() == (
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: "
            f"User: arn:aws:sts::{account}:assumed-role/app-reader/cli is not authorized to perform: "
            f"secretsmanager:GetSecretValue on resource: {other} "
            "because no identity-based policy allows the secretsmanager:GetSecretValue action"
        ), refused.err
    finally:
        proc.kill()
        proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", work], check=False)


def faults(method, query="", body=None):
    """smemu's control API for replication faults."""
    headers = {"Content-Type": "application/json"}
    if os.environ.get("SMEMU_CONTROL_TOKEN"):
        headers["X-Smemu-Control-Token"] = os.environ["SMEMU_CONTROL_TOKEN"]
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] + "/_smemu/faults" + query,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    urllib.request.urlopen(request, timeout=10).close()


REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region."


@test
def replication_as_a_new_user_tries_it():
    n = unique("replicated")
    created = ok("create-secret", "--name", n, "--secret-string", "s1", "--add-replica-regions", "Region=eu-west-1").json()
    assert created["ReplicationStatus"][0]["Region"] == "eu-west-1"
    ok("put-secret-value", "--secret-id", n, "--secret-string", "s2")
    got = ok("get-secret-value", "--secret-id", n, "--region", "eu-west-1", "--query", "SecretString", "--output", "text")
    assert got.text() == "s2"
    fails("InvalidParameterException", REPLICA, "PutSecretValue",
          "put-secret-value", "--secret-id", n, "--secret-string", "x", "--region", "eu-west-1")
    fails("InvalidParameterException",
          f"You can't delete secret {created['ARN']} that still has replica regions [eu-west-1].", "DeleteSecret",
          "delete-secret", "--secret-id", n)
    status = ok("describe-secret", "--secret-id", n, "--query", "ReplicationStatus[0].Status", "--output", "text")
    assert status.text() == "InSync"
    # A fault on the Region turns it Failed with a message; clearing it brings it back.
    faults("POST", body={"region": "eu-west-1", "fail": True})
    try:
        failed = ok("describe-secret", "--secret-id", n, "--query", "ReplicationStatus[0]").json()
        assert failed["Status"] == "Failed" and failed["StatusMessage"], failed
    finally:
        faults("DELETE", "?region=eu-west-1")
    status = ok("describe-secret", "--secret-id", n, "--query", "ReplicationStatus[0].Status", "--output", "text")
    assert status.text() == "InSync"
    removed = ok("remove-regions-from-replication", "--secret-id", n, "--remove-replica-regions", "eu-west-1").json()
    assert removed["ReplicationStatus"] == []
    ok("delete-secret", "--secret-id", n, "--force-delete-without-recovery")


@test
def replication_stop_makes_a_standalone_secret():
    n = unique("promoted")
    arn = ok("create-secret", "--name", n, "--secret-string", "s1", "--add-replica-regions", "Region=eu-west-1",
             "--query", "ARN", "--output", "text").text()
    stopped = ok("stop-replication-to-replica", "--secret-id", n, "--region", "eu-west-1").json()
    assert stopped == {"ARN": arn.replace(":us-east-1:", ":eu-west-1:")}
    ok("put-secret-value", "--secret-id", n, "--secret-string", "mine", "--region", "eu-west-1")
    got = ok("get-secret-value", "--secret-id", n, "--region", "eu-west-1", "--query", "SecretString", "--output", "text")
    assert got.text() == "mine"
    ok("delete-secret", "--secret-id", n, "--force-delete-without-recovery", "--region", "eu-west-1")
    ok("delete-secret", "--secret-id", n, "--force-delete-without-recovery")


def main():
    only = set(sys.argv[1:])
    passed = failed = skipped = 0
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
        except Skip as reason:
            skipped += 1
            print(f"skip {fn.__name__}: {reason}")
        except Exception:  # noqa: BLE001 - every failure is reported, whatever its kind
            failed += 1
            print(f"FAIL {fn.__name__}")
            print("".join("    " + line for line in traceback.format_exc().splitlines(True)))
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"cli: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
