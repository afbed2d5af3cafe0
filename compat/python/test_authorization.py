"""Authorization as boto3 meets it: a smemu of its own in `--auth strict --authorize enforce`,
where account B's role reads account A's secret by ARN.

Needs SMEMU_BIN (compat/run sets it), like the other tests that start their own smemu.
"""

import json
import os
import subprocess
import tempfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

A, B = "111111111111", "222222222222"
KEYS = {
    "a": ("AKIACOMPATROOTA00001", "secret-of-a-root"),
    "b": ("AKIACOMPATROOTB00001", "secret-of-b-root"),
    "other": ("AKIACOMPATOTHERB0001", "secret-of-b-other"),
}
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{B}:role/reader"


def allow_everything():
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:*", "kms:Decrypt"], "Resource": "*"}]}


def credentials_file():
    document = {
        "credentials": [
            {"access_key_id": KEYS["a"][0], "secret_access_key": KEYS["a"][1], "account_id": A},
            {"access_key_id": KEYS["b"][0], "secret_access_key": KEYS["b"][1], "account_id": B},
        ],
        "iam": {
            "RoleDetailList": [{
                "RoleName": "reader", "Account": B,
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": B}, "Action": "sts:AssumeRole"}]},
                "RolePolicyList": [{"PolicyName": "read", "PolicyDocument": allow_everything()}],
            }],
            "UserDetailList": [{
                "UserName": "other", "Account": B,
                "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": allow_everything()}],
                "AccessKeys": [{"AccessKeyId": KEYS["other"][0], "SecretAccessKey": KEYS["other"][1]}],
            }],
        },
    }
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(document, handle)
    handle.close()
    return handle.name


@pytest.fixture
def enforcing():
    binary = os.environ.get("SMEMU_BIN")
    if not binary:
        pytest.skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
    path = credentials_file()
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn",
         "--auth", "strict", "--authorize", "enforce", "--credentials", path],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("smemu ready on "), line
    yield line.strip().removeprefix("smemu ready on ")
    process.terminate()
    process.wait(timeout=10)
    os.unlink(path)


def client(endpoint, service, key, secret, token=None):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def refusal(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


def test_another_accounts_role_reads_by_arn_and_the_default_key_refuses(enforcing):
    kms = client(enforcing, "kms", *KEYS["a"])
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"},
    ]}
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
    owner = client(enforcing, "secretsmanager", *KEYS["a"])
    shared = owner.create_secret(Name="shared", KmsKeyId=key, SecretString="s3cr3t")["ARN"]
    plain = owner.create_secret(Name="plain", SecretString="pl41n")["ARN"]
    grant = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE},
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": "*"}]}
    for arn in (shared, plain):
        owner.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(grant))

    sts = client(enforcing, "sts", *KEYS["b"])
    creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="app")["Credentials"]
    role = client(enforcing, "secretsmanager", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert role.get_secret_value(SecretId=shared)["SecretString"] == "s3cr3t"
    assert role.describe_secret(SecretId=plain)["Name"] == "plain"
    assert refusal(role.get_secret_value, SecretId=plain) == (
        "InvalidRequestException",
        "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.",
    )
    assert role.list_secrets()["SecretList"] == []

    other = client(enforcing, "secretsmanager", *KEYS["other"])
    assert refusal(other.get_secret_value, SecretId=shared) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{B}:user/other is not authorized to perform: secretsmanager:GetSecretValue on resource: "
        f"{shared} because no resource-based policy allows the secretsmanager:GetSecretValue action",
    )
