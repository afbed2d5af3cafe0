"""smemu's control API as test code calls it: moto's reset and LocalStack's health, with the
control token taken from the environment (SMEMU_CONTROL_TOKEN).

They run against the `--auth strict` smemu compat/run starts, whose control API is locked to
anyone without that token.
"""

import json
import os
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def strict():
    endpoint = os.environ.get("COMPAT_STRICT_ENDPOINT")
    if not endpoint or not os.environ.get("SMEMU_CONTROL_TOKEN"):
        pytest.skip("compat/run starts the strict smemu and sets the control token these tests need")
    return endpoint


def call(endpoint, method, path, token=True):
    """A bare request, as moto's and LocalStack's helpers send it: no body, no content type."""
    headers = {"X-Smemu-Control-Token": os.environ["SMEMU_CONTROL_TOKEN"]} if token else {}
    request = urllib.request.Request(endpoint + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def signed_client(endpoint):
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ["COMPAT_STRICT_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["COMPAT_STRICT_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def test_moto_reset_with_the_token_forgets_everything(strict):
    sm = signed_client(strict)
    name = f"compat/py-control/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="x")
    assert call(strict, "POST", "/moto-api/reset") == (200, {"status": "ok"})
    with pytest.raises(ClientError) as caught:
        sm.get_secret_value(SecretId=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_without_the_token_the_control_api_is_refused(strict):
    sm = signed_client(strict)
    name = f"compat/py-control/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="kept")
    for method, path in [("GET", "/_smemu/state"), ("POST", "/moto-api/reset"), ("POST", "/_smemu/reset")]:
        status, body = call(strict, method, path, token=False)
        assert status == 403, (method, path, body)
        assert "X-Smemu-Control-Token" in body["error"]
        assert "kept" not in json.dumps(body)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "kept"


def test_health_needs_no_token_and_shows_no_state(strict):
    status, body = call(strict, "GET", "/_localstack/health", token=False)
    assert status == 200
    assert body["services"]["secretsmanager"] == "available"
    status, body = call(strict, "GET", "/_smemu/health", token=False)
    assert (status, sorted(body)) == (200, ["status", "version"])
