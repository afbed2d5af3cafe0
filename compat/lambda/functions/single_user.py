"""Rotation function, single-user strategy: the secret's user changes its own password.

Written for smemu's compat suite in the shape of a deployed rotation Lambda: boto3 from the
runtime, pg8000 packaged in the zip, the four steps of the Secrets Manager rotation protocol.
"""

import json
import logging

import boto3
import pg8000.native

logger = logging.getLogger()
logger.setLevel(logging.INFO)
# Made once per worker, as on Lambda, where a warm environment keeps its module state.
client = boto3.client("secretsmanager")


def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    stages = metadata["VersionIdsToStages"]
    if token not in stages:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in stages[token]:
        logger.info("Secret version %s already set as AWSCURRENT for secret %s.", token, arn)
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
    except pg8000.exceptions.InterfaceError:
        return None
    except pg8000.exceptions.DatabaseError:
        return None


def create_secret(client, arn, token):
    current = secret(client, arn, "AWSCURRENT")
    try:
        secret(client, arn, "AWSPENDING", token)
        logger.info("createSecret: AWSPENDING already holds a value for %s", arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    password = client.get_random_password(ExcludeCharacters="/@\"'\\", PasswordLength=24)["RandomPassword"]
    current["password"] = password
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current),
                            VersionStages=["AWSPENDING"])
    logger.info("createSecret: stored a new password for %s", arn)


def set_secret(client, arn, token):
    pending = secret(client, arn, "AWSPENDING", token)
    conn = connect(pending)
    if conn:
        conn.close()
        logger.info("setSecret: AWSPENDING already works for %s", arn)
        return
    current = secret(client, arn, "AWSCURRENT")
    conn = connect(current)
    if not conn:
        try:
            previous = secret(client, arn, "AWSPREVIOUS")
        except client.exceptions.ResourceNotFoundException:
            previous = None
        conn = connect(previous) if previous else None
    if not conn:
        raise ValueError(f"setSecret: unable to log into the database with the current or previous secret of {arn}")
    try:
        conn.run(f"ALTER USER {pg8000.native.identifier(pending['username'])} WITH PASSWORD "
                 f"{pg8000.native.literal(pending['password'])}")
        logger.info("setSecret: set the new password of %s", pending["username"])
    finally:
        conn.close()


def test_secret(client, arn, token):
    conn = connect(secret(client, arn, "AWSPENDING", token))
    if not conn:
        raise ValueError(f"testSecret: unable to log into the database with the pending secret of {arn}")
    try:
        conn.run("SELECT NOW()")
    finally:
        conn.close()


def finish_secret(client, arn, token):
    current_version = next(v for v, s in client.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
                           if "AWSCURRENT" in s)
    if current_version == token:
        return
    client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current_version)
    logger.info("finishSecret: version %s is now AWSCURRENT for %s", token, arn)
