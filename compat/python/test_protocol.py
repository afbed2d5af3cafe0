"""The JSON 1.1 wire as clients see it: statuses, headers, error bodies, timestamps, and how
the endpoint, region and account are picked up."""

import json
import re

import boto3
import pytest

from conftest import (
    ACCOUNT,
    NOT_FOUND,
    SECRET_KEY,
    TOKEN_REQUIRED,
    UUID4,
    Raw,
    endpoint,
    expect_error,
    make_client,
    token,
)

JSON_11 = "application/x-amz-json-1.1"


def test_resource_not_found_is_http_400(raw, name):
    response = raw.call("GetSecretValue", {"SecretId": name()})
    assert response.status == 400
    assert response.json() == {"__type": "ResourceNotFoundException", "Message": NOT_FOUND}
    assert response.headers.get("Content-Type") == JSON_11
    assert UUID4.match(response.request_id or "")


def test_successes_carry_a_request_id(raw, name):
    n = name()
    created = raw.call("CreateSecret", {"Name": n, "SecretString": "x", "ClientRequestToken": token()})
    described = raw.call("DescribeSecret", {"SecretId": n})
    for response in (created, described):
        assert response.status == 200
        assert response.headers.get("Content-Type") == JSON_11
        assert UUID4.match(response.request_id or "")
        assert response.headers.get("Content-Length") == str(len(response.body))
        assert response.headers.get("Date")
    assert created.request_id != described.request_id


def test_timestamps_are_epoch_seconds_numbers(raw, name):
    n = name()
    raw.call("CreateSecret", {"Name": n, "SecretString": "x", "ClientRequestToken": token()})
    text = raw.call("DescribeSecret", {"SecretId": n}).body.decode()
    for key in ("CreatedDate", "LastChangedDate"):
        assert re.search(rf'"{key}":\s*\d{{10}}(\.\d{{1,3}})?[,}}]', text), text


def test_responses_never_contain_null(raw, name):
    n = name()
    raw.call("CreateSecret", {"Name": n, "ClientRequestToken": token()})
    for op, body in (
        ("DescribeSecret", {"SecretId": n}),
        ("ListSecrets", {"Filters": [{"Key": "name", "Values": [n]}]}),
        ("ListSecretVersionIds", {"SecretId": n}),
    ):
        body = raw.call(op, body).json()
        assert not list(nulls(body)), (op, body)


def nulls(value, path="$"):
    """Paths of every JSON null inside `value`."""
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nulls(item, f"{path}[{i}]")


def test_missing_client_request_token(raw, name):
    n = name()
    for op, body in (
        ("CreateSecret", {"Name": n, "SecretString": "x"}),
        # Checked before the secret is looked up: this secret does not exist.
        ("PutSecretValue", {"SecretId": n, "SecretString": "x"}),
        ("UpdateSecret", {"SecretId": n, "SecretString": "x"}),
    ):
        response = raw.call(op, body)
        assert response.status == 400, op
        assert response.json() == {"__type": "InvalidRequestException", "Message": TOKEN_REQUIRED}, op


def test_missing_required_member(raw):
    response = raw.call("GetSecretValue", {})
    assert response.status == 400
    assert response.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: "
        "Member must not be null",
    }


def test_unknown_members_are_ignored(raw, name):
    n = name()
    raw.call("CreateSecret", {"Name": n, "SecretString": "x", "ClientRequestToken": token()})
    response = raw.call("GetSecretValue", {"SecretId": n, "NotAMember": 1})
    assert response.status == 200
    assert response.json()["SecretString"] == "x"


def test_oversized_secret_string(sm, name):
    n = name()
    sm.create_secret(Name=n, SecretString="x" * 65536)
    assert len(sm.get_secret_value(SecretId=n)["SecretString"]) == 65536
    # Sensitive members are named without their value.
    expect_error(
        "ValidationException",
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536",
        sm.put_secret_value,
        SecretId=n,
        SecretString="x" * 65537,
    )


def test_unicode_secret_string(sm, name):
    n = name()
    value = "päss wörd ✓ 秘密 \U0001f511"
    sm.create_secret(Name=n, SecretString=value)
    assert sm.get_secret_value(SecretId=n)["SecretString"] == value


def test_region_comes_from_the_credential_scope(name):
    n = name()
    eu = make_client(region="eu-west-1")
    us = make_client()
    arn = eu.create_secret(Name=n, SecretString="x")["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{n}-")
    expect_error("ResourceNotFoundException", NOT_FOUND, us.describe_secret, SecretId=n)
    assert Raw(region="eu-west-1").call("DescribeSecret", {"SecretId": n}).json()["ARN"] == arn


def test_a_twelve_digit_access_key_selects_the_account(name):
    n = name()
    other = make_client(access_key="111122223333")
    arn = other.create_secret(Name=n, SecretString="x")["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:us-east-1:111122223333:secret:{n}-")
    expect_error("ResourceNotFoundException", NOT_FOUND, make_client().describe_secret, SecretId=n)


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"])
def test_endpoint_from_the_environment(monkeypatch, name, variable):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(variable, endpoint())
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    session = boto3.session.Session(
        aws_access_key_id="AKIDENV", aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    client = session.client("secretsmanager")
    assert client.meta.endpoint_url == endpoint()
    n = name()
    client.create_secret(Name=n, SecretString="from env")
    assert client.get_secret_value(SecretId=n)["SecretString"] == "from env"


def test_error_bodies_for_boto3(sm, name):
    # boto3 surfaces the code, the message and the status from the same response.
    response = expect_error("ResourceNotFoundException", NOT_FOUND, sm.describe_secret, SecretId=name())
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == JSON_11
    assert json.dumps(response["Error"])


def test_model_constraints_botocore_does_not_check(sm, name):
    # botocore validates minimums client-side only; maximums reach the server.
    expect_error(
        "ValidationException",
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100",
        sm.list_secrets,
        MaxResults=101,
    )
    long_key = "k" * 129
    expect_error(
        "ValidationException",
        f"1 validation error detected: Value '{long_key}' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
        sm.tag_resource,
        SecretId=name(),
        Tags=[{"Key": long_key, "Value": "v"}],
    )


def test_model_constraints_on_raw_requests(raw):
    response = raw.call("GetSecretValue", {"SecretId": "x", "VersionId": "short"})
    assert response.status == 400
    assert response.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value 'short' at 'versionId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 32",
    }
