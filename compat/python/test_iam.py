"""IAM as boto3 fixtures use it: a smemu of its own in `--auth strict --authorize enforce`, where
`iam.create_role` + `put_role_policy` define a role, STS assumes it, and the session reads the
secret its policy names and is refused the other; `iam.create_user` + `create_access_key` give a
key that works at once; the simulator answers what the calls do.

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

ACCOUNT = "111111111111"
ROOT = ("AKIACOMPATIAMROOT001", "secret-of-the-root")
REGION = "us-east-1"


@pytest.fixture
def smemu():
    binary = os.environ.get("SMEMU_BIN")
    if not binary:
        pytest.skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"credentials": [{"access_key_id": ROOT[0], "secret_access_key": ROOT[1], "account_id": ACCOUNT}]}, handle)
    handle.close()
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn",
         "--auth", "strict", "--authorize", "enforce", "--credentials", handle.name],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("smemu ready on "), line
    yield line.strip().removeprefix("smemu ready on ")
    process.terminate()
    process.wait(timeout=10)
    os.unlink(handle.name)


def client(endpoint, service, key, secret, token=None):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def allow(action, resource):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


def refused(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_role_from_create_role_is_assumed_and_reads_only_its_secret(smemu):
    iam = client(smemu, "iam", *ROOT)
    sm = client(smemu, "secretsmanager", *ROOT)
    db = sm.create_secret(Name="db", SecretString="pw")["ARN"]
    other = sm.create_secret(Name="other", SecretString="no")["ARN"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app"
    assert role["RoleId"].startswith("AROA")
    # botocore decodes IAM's URL-encoded documents back into objects.
    assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == trust
    iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=allow("secretsmanager:GetSecretValue", db))
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["read"]

    session = client(smemu, "sts", *ROOT).assume_role(RoleArn=role["Arn"], RoleSessionName="fixture")["Credentials"]
    reader = client(smemu, "secretsmanager", session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    assert reader.get_secret_value(SecretId=db)["SecretString"] == "pw"
    code, message = refused(reader.get_secret_value, SecretId=other)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app/fixture is not authorized to perform: "
        f"secretsmanager:GetSecretValue on resource: {other} because no identity-based policy allows "
        "the secretsmanager:GetSecretValue action"
    )

    code, _ = refused(iam.delete_role, RoleName="app")
    assert code == "DeleteConflict"
    iam.delete_role_policy(RoleName="app", PolicyName="read")
    iam.delete_role(RoleName="app")
    code, message = refused(iam.get_role, RoleName="app")
    assert (code, message) == ("NoSuchEntity", "The role with name app cannot be found.")


def test_a_created_users_key_works_at_once_and_the_simulator_matches_the_calls(smemu):
    iam = client(smemu, "iam", *ROOT)
    sm = client(smemu, "secretsmanager", *ROOT)
    mine = sm.create_secret(Name="mine", SecretString="yes")["ARN"]
    theirs = sm.create_secret(Name="theirs", SecretString="no")["ARN"]
    user = iam.create_user(UserName="ci")["User"]
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    iam.put_user_policy(UserName="ci", PolicyName="read", PolicyDocument=allow("secretsmanager:GetSecretValue", mine))

    as_user = client(smemu, "secretsmanager", key["AccessKeyId"], key["SecretAccessKey"])
    assert as_user.get_secret_value(SecretId=mine)["SecretString"] == "yes"
    code, _ = refused(as_user.get_secret_value, SecretId=theirs)
    assert code == "AccessDeniedException"

    results = iam.simulate_principal_policy(
        PolicySourceArn=user["Arn"], ActionNames=["secretsmanager:GetSecretValue"], ResourceArns=[mine, theirs],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]

    code, _ = refused(iam.create_user, UserName="ci")
    assert code == "EntityAlreadyExists"
    code, _ = refused(iam.put_user_policy, UserName="ci", PolicyName="bad", PolicyDocument="{")
    assert code == "MalformedPolicyDocument"


def test_an_unknown_iam_action_is_answered_in_iams_xml(smemu):
    iam = client(smemu, "iam", *ROOT)
    code, message = refused(iam.create_group, GroupName="admins")
    assert code == "InvalidAction"
    assert message == "Could not find operation CreateGroup for version 2010-05-08"
