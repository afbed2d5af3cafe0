"""RotateSecret and CancelRotateSecret.

smemu has no Lambda: a rotation function ARN is bound to a hook through smemu's control API
(POST /_smemu/hooks). The boto3 calls are the ones an application makes. One test runs the
example rotation function compat/rotation/rotate_user_password.py as a command hook, so boto3
works on both sides of the rotation protocol.
"""

import json
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

from conftest import MARKED, NOT_FOUND, TOKEN_REQUIRED, control_headers, endpoint, expect_error, make_client, token

ROTATOR = Path(__file__).resolve().parent.parent / "rotation" / "rotate_user_password.py"
NO_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy "
    "grants access to the principal secretsmanager.amazonaws.com."
)


def control(method, path, body=None):
    request = urllib.request.Request(
        endpoint() + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=control_headers(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def function():
    """Binds a new rotation function ARN to a hook; call it with the hook's fields."""
    arns = []

    def bind(**hook):
        arn = f"arn:aws:lambda:us-east-1:000000000000:function:compat-{uuid.uuid4().hex[:12]}"
        control("POST", "/_smemu/hooks", {"functionArn": arn, **hook})
        arns.append(arn)
        return arn

    yield bind
    for arn in arns:
        control("DELETE", "/_smemu/hooks?functionArn=" + urllib.request.quote(arn, safe=""))


def stages_of(sm, secret_id):
    described = sm.describe_secret(SecretId=secret_id)
    return {vid: sorted(labels) for vid, labels in described.get("VersionIdsToStages", {}).items()}


def wait_until(check, timeout=20.0):
    """Rotation finishes after RotateSecret answers on AWS; wait for it either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def rotated(sm, secret_id, new_version):
    return stages_of(sm, secret_id).get(new_version) == ["AWSCURRENT"]


def test_rotation_with_a_builtin_function(sm, name, function):
    n, t1, t2 = name(), token(), token()
    arn = sm.create_secret(Name=n, SecretString="before", ClientRequestToken=t1)["ARN"]
    fn = function(kind="builtin", passwordLength=24, excludePunctuation=True)
    out = sm.rotate_secret(
        SecretId=n, ClientRequestToken=t2, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 1}
    )
    out.pop("ResponseMetadata")
    assert out == {"ARN": arn, "Name": n, "VersionId": t2}
    assert wait_until(lambda: rotated(sm, n, t2)), stages_of(sm, n)
    assert stages_of(sm, n) == {t1: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}
    value = sm.get_secret_value(SecretId=n)["SecretString"]
    assert len(value) == 24 and value.isalnum()
    described = sm.describe_secret(SecretId=n)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == fn
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 1}
    assert described["LastRotatedDate"] <= datetime.now(timezone.utc)
    assert described["NextRotationDate"] > described["LastRotatedDate"]


def test_rotation_of_a_json_secret_keeps_other_keys(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString=json.dumps({"username": "app", "password": "old"}))
    fn = function(kind="builtin", jsonKey="password")
    new = sm.rotate_secret(SecretId=n, RotationLambdaARN=fn)["VersionId"]
    assert wait_until(lambda: rotated(sm, n, new))
    value = json.loads(sm.get_secret_value(SecretId=n)["SecretString"])
    assert value["username"] == "app"
    assert value["password"] != "old"


def test_rotation_by_a_boto3_rotation_function(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString=json.dumps({"username": "app", "password": "old"}))
    fn = function(kind="command", program=sys.executable, args=[str(ROTATOR)], timeoutMs=60000)
    new = sm.rotate_secret(SecretId=n, RotationLambdaARN=fn)["VersionId"]
    assert wait_until(lambda: rotated(sm, n, new), timeout=60), stages_of(sm, n)
    value = json.loads(sm.get_secret_value(SecretId=n)["SecretString"])
    assert value["username"] == "app"
    assert value["password"] != "old"
    assert json.loads(sm.get_secret_value(SecretId=n, VersionStage="AWSPREVIOUS")["SecretString"])["password"] == "old"


def test_the_caching_client_sees_a_rotation(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString="before")
    cache = SecretCache(config=SecretCacheConfig(), client=make_client())
    assert cache.get_secret_string(n) == "before"
    new = sm.rotate_secret(SecretId=n, RotationLambdaARN=function(kind="builtin"))["VersionId"]
    assert wait_until(lambda: rotated(sm, n, new))
    assert cache.get_secret_string(n) == "before", "served from the cache until refreshed"
    assert cache.refresh_secret_now(n)
    assert cache.get_secret_string(n) == sm.get_secret_value(SecretId=n)["SecretString"] != "before"


def test_the_stored_function_is_reused(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    fn = function(kind="builtin")
    first = sm.rotate_secret(SecretId=n, RotationLambdaARN=fn)["VersionId"]
    assert wait_until(lambda: rotated(sm, n, first))
    second = sm.rotate_secret(SecretId=n)["VersionId"]
    assert wait_until(lambda: rotated(sm, n, second))
    assert stages_of(sm, n)[first] == ["AWSPREVIOUS"]


def test_no_function_associated(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "InvalidRequestException",
        "No Lambda rotation function ARN is associated with this secret.",
        sm.rotate_secret,
        SecretId=n,
    )


def test_a_function_that_cannot_be_invoked_saves_nothing(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    expect_error(
        "AccessDeniedException",
        NO_INVOKE,
        sm.rotate_secret,
        SecretId=n,
        RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:compat-no-such-function",
        RotationRules={"AutomaticallyAfterDays": 7},
    )
    described = sm.describe_secret(SecretId=n)
    for key in ("RotationEnabled", "RotationLambdaARN", "RotationRules"):
        assert key not in described, key


def test_a_previous_rotation_is_not_complete(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString="one")
    sm.put_secret_value(SecretId=n, SecretString="two", VersionStages=["AWSPENDING"])
    expect_error(
        "InvalidRequestException",
        "A previous rotation isn't complete. That rotation will be reattempted.",
        sm.rotate_secret,
        SecretId=n,
        RotationLambdaARN=function(kind="builtin"),
    )


def test_rotate_errors(sm, name, function):
    fn = function(kind="builtin")
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.rotate_secret, SecretId=name(), RotationLambdaARN=fn)
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    sm.delete_secret(SecretId=n)
    expect_error("InvalidRequestException", MARKED, sm.rotate_secret, SecretId=n, RotationLambdaARN=fn)


def test_rotation_rules_out_of_range(sm, name, function):
    n = name()
    sm.create_secret(Name=n, SecretString="x")
    # botocore checks only the minimum client-side.
    expect_error(
        "ValidationException",
        "1 validation error detected: Value '1001' at 'rotationRules.automaticallyAfterDays' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000",
        sm.rotate_secret,
        SecretId=n,
        RotationLambdaARN=function(kind="builtin"),
        RotationRules={"AutomaticallyAfterDays": 1001},
    )


def test_raw_rotate_without_a_token(raw, name):
    # Unlike the other operations, RotateSecret answers InvalidParameterException, before the lookup.
    response = raw.call("RotateSecret", {"SecretId": name()})
    assert response.status == 400
    assert response.json() == {"__type": "InvalidParameterException", "Message": TOKEN_REQUIRED}


def test_rotate_immediately_false_only_saves_the_schedule(sm, name, function):
    n, t1 = name(), token()
    sm.create_secret(Name=n, SecretString="kept", ClientRequestToken=t1)
    fn = function(kind="builtin")
    sm.rotate_secret(
        SecretId=n, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False
    )
    # The temporary AWSPENDING copy that testSecret ran against is gone afterwards.
    assert wait_until(lambda: stages_of(sm, n) == {t1: ["AWSCURRENT"]}), stages_of(sm, n)
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "kept"
    described = sm.describe_secret(SecretId=n)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}


def test_cancel_rotation(sm, name, function):
    n = name()
    arn = sm.create_secret(Name=n, SecretString="x")["ARN"]
    fn = function(kind="builtin")
    new = sm.rotate_secret(SecretId=n, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 5})["VersionId"]
    assert wait_until(lambda: rotated(sm, n, new))
    out = sm.cancel_rotate_secret(SecretId=n)
    assert (out["ARN"], out["Name"]) == (arn, n)
    described = sm.describe_secret(SecretId=n)
    # Disabled, but the function and the rules stay; there is no next rotation.
    assert described["RotationEnabled"] is False
    assert described["RotationLambdaARN"] == fn
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 5}
    assert "NextRotationDate" not in described
    expect_error("ResourceNotFoundException", NOT_FOUND, sm.cancel_rotate_secret, SecretId=name())
