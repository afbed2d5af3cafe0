"""SigV4 as boto3 signs it, verified by a smemu in `--auth strict` mode.

compat/run starts that second smemu and names it in COMPAT_STRICT_ENDPOINT, with the one key
pair it knows in COMPAT_STRICT_ACCESS_KEY_ID / COMPAT_STRICT_SECRET_ACCESS_KEY.
"""

import os
import re
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import Raw, expect_error

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


@pytest.fixture(scope="module")
def strict():
    endpoint = os.environ.get("COMPAT_STRICT_ENDPOINT")
    if not endpoint:
        pytest.skip("COMPAT_STRICT_ENDPOINT is not set: compat/run starts the strict smemu these tests need")
    return {
        "endpoint": endpoint,
        "key": os.environ["COMPAT_STRICT_ACCESS_KEY_ID"],
        "secret": os.environ["COMPAT_STRICT_SECRET_ACCESS_KEY"],
    }


def client(strict, service="secretsmanager", key=None, secret=None):
    return boto3.client(
        service,
        endpoint_url=strict["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=key or strict["key"],
        aws_secret_access_key=secret or strict["secret"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def test_boto3_signatures_are_accepted(strict):
    sm = client(strict)
    n = f"compat/py-strict/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=n, SecretString="päss ✓", Tags=[{"Key": "k", "Value": "v w"}])
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "päss ✓"
    sm.put_secret_value(SecretId=n, SecretBinary=bytes(range(256)))
    assert sm.get_secret_value(SecretId=n)["SecretBinary"] == bytes(range(256))
    assert [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [n]}])["SecretList"]] == [n]
    sm.tag_resource(SecretId=n, Tags=[{"Key": "x", "Value": "y"}])
    assert len(sm.get_random_password(PasswordLength=64)["RandomPassword"]) == 64


def test_wrong_secret_key(strict):
    response = expect_error(
        "InvalidSignatureException",
        re.compile(re.escape(SIGNATURE_MISMATCH) + r"\n\nThe Canonical String .*", re.S),
        client(strict, secret="not-the-secret").get_secret_value,
        SecretId="anything",
    )
    message = response["Error"]["Message"]
    # AWS shows what it signed: the canonical request names the target header.
    assert "x-amz-target:secretsmanager.GetSecretValue" in message


def test_unknown_access_key(strict):
    expect_error(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        client(strict, key="AKIDUNKNOWNKEY000000").get_secret_value,
        SecretId="anything",
    )


def test_unsigned_request(strict, monkeypatch):
    monkeypatch.setenv("SMEMU_ENDPOINT", strict["endpoint"])
    response = Raw().call("GetSecretValue", {"SecretId": "anything"}, sign=False)
    assert response.status == 400
    assert response.json() == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token",
    }


def test_sts_get_caller_identity(strict):
    identity = client(strict, service="sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
