"""Rotation function, alternating-users strategy: a master secret's user keeps two users of the
same rights, and each rotation gives the one not in use a new password and switches to it.

Written for smemu's compat suite in the shape of a deployed rotation Lambda (boto3 from the
runtime, pg8000 in the zip). The secret names its master secret in "masterarn".
"""

import json
import logging

import boto3
import pg8000.native

logger = logging.getLogger()
logger.setLevel(logging.INFO)
# Made once per worker, as on Lambda, where a warm environment keeps its module state.
client = boto3.client("secretsmanager")

CLONE_SUFFIX = "_clone"


def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    stages = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if token not in stages:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in stages[token]:
        return
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}.")
    {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
     "finishSecret": finish_secret}[step](client, arn, token)


def secret(client, arn, stage, token=None):
    args = {"SecretId": arn, "VersionStage": stage}
    if token:
        args["VersionId"] = token
    return json.loads(client.get_secret_value(**args)["SecretString"])


def connect(credentials):
    try:
        return pg8000.native.Connection(
            credentials["username"], host=credentials["host"], port=int(credentials["port"]),
            database=credentials.get("dbname", "postgres"), password=credentials["password"], timeout=5)
    except (pg8000.exceptions.InterfaceError, pg8000.exceptions.DatabaseError):
        return None


def create_secret(client, arn, token):
    current = secret(client, arn, "AWSCURRENT")
    try:
        secret(client, arn, "AWSPENDING", token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    username = current["username"]
    current["username"] = username[: -len(CLONE_SUFFIX)] if username.endswith(CLONE_SUFFIX) else username + CLONE_SUFFIX
    current["password"] = client.get_random_password(ExcludeCharacters="/@\"'\\", PasswordLength=24)["RandomPassword"]
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current),
                            VersionStages=["AWSPENDING"])
    logger.info("createSecret: the next user of %s is %s", arn, current["username"])


def set_secret(client, arn, token):
    current = secret(client, arn, "AWSCURRENT")
    pending = secret(client, arn, "AWSPENDING", token)
    master = json.loads(client.get_secret_value(SecretId=current["masterarn"])["SecretString"])
    conn = connect(master)
    if not conn:
        raise ValueError("setSecret: unable to log into the database with the master secret")
    try:
        user = pg8000.native.identifier(pending["username"])
        password = pg8000.native.literal(pending["password"])
        exists = conn.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=pending["username"])
        if exists:
            conn.run(f"ALTER USER {user} WITH PASSWORD {password}")
        else:
            # The clone gets the rights of the user it stands in for.
            conn.run(f"CREATE ROLE {user} WITH LOGIN PASSWORD {password}")
            conn.run(f"GRANT {pg8000.native.identifier(current['username'])} TO {user}")
        logger.info("setSecret: %s has its new password", pending["username"])
    finally:
        conn.close()


def test_secret(client, arn, token):
    conn = connect(secret(client, arn, "AWSPENDING", token))
    if not conn:
        raise ValueError(f"testSecret: unable to log into the database with the pending secret of {arn}")
    conn.close()


def finish_secret(client, arn, token):
    current_version = next(v for v, s in client.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
                           if "AWSCURRENT" in s)
    if current_version != token:
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                           RemoveFromVersionId=current_version)
