"""Rotation functions deployed with the Lambda API rotate real PostgreSQL credentials."""

import json
import time
import uuid

from conftest import ROLE, package


def deploy(smemu, name, function_file):
    lam = smemu.client("lambda")
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Handler="lambda_function.lambda_handler",
                                  Role=ROLE, Timeout=30, Code={"ZipFile": package(function_file)})
    lam.add_permission(FunctionName=name, StatementId="SecretsManagerAccess", Action="lambda:InvokeFunction",
                       Principal="secretsmanager.amazonaws.com")
    return created["FunctionArn"]


def credentials(sm, secret_id):
    return json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])


def test_single_user_rotation_changes_the_password_and_the_old_one_stops_working(smemu, postgres):
    user = "app_" + uuid.uuid4().hex[:8]
    postgres.run(f"CREATE ROLE {user} WITH LOGIN PASSWORD 'first-password'")
    sm = smemu.client("secretsmanager")
    name = f"app/db-{user}"
    sm.create_secret(Name=name, SecretString=json.dumps(
        {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "username": user,
         "password": "first-password", "dbname": "postgres"}))
    arn = deploy(smemu, "rotate-" + user.replace("_", "-"), "single_user.py")

    started = time.monotonic()
    sm.rotate_secret(SecretId=name, RotationLambdaARN=arn, RotationRules={"AutomaticallyAfterDays": 30})
    cold = time.monotonic() - started

    new = credentials(sm, name)
    assert new["password"] != "first-password"
    assert postgres.can_login(user, new["password"])
    assert not postgres.can_login(user, "first-password")
    steps = [(e["step"], e["status"]) for e in smemu.rotations(name)]
    assert steps == [("createSecret", "succeeded"), ("setSecret", "succeeded"), ("testSecret", "succeeded"),
                     ("finishSecret", "succeeded")], steps

    # The schedule fires the same function when smemu's clock passes the window.
    started = time.monotonic()
    smemu.advance("31d")
    warm = time.monotonic() - started
    print(f"\nrotation through the deployed Python function: {cold * 1000:.0f} ms with the worker's start "
          f"(python, boto3 and pg8000 imports), {warm * 1000:.0f} ms on the running worker")
    # Under a second on an idle machine (about 0.25 s on two cores); the bound leaves room for a
    # loaded CI box, and a worker started per step (python and boto3 imports each time) exceeds it.
    assert warm < 3.0, f"a rotation on the running worker took {warm:.2f} s"
    newer = credentials(sm, name)
    assert newer["password"] != new["password"]
    assert postgres.can_login(user, newer["password"])
    assert not postgres.can_login(user, new["password"])


def test_alternating_users_rotation_switches_between_the_user_and_its_clone(smemu, postgres):
    user = "alt_" + uuid.uuid4().hex[:8]
    postgres.run(f"CREATE ROLE {user} WITH LOGIN PASSWORD 'alt-first'")
    sm = smemu.client("secretsmanager")
    master = sm.create_secret(Name=f"master-{user}", SecretString=json.dumps(postgres.master()))["ARN"]
    name = f"app/alt-{user}"
    sm.create_secret(Name=name, SecretString=json.dumps(
        {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "username": user,
         "password": "alt-first", "dbname": "postgres", "masterarn": master}))
    arn = deploy(smemu, "alternate-" + user.replace("_", "-"), "alternating_users.py")

    sm.rotate_secret(SecretId=name, RotationLambdaARN=arn, RotationRules={"AutomaticallyAfterDays": 7})
    first = credentials(sm, name)
    assert first["username"] == user + "_clone"
    assert postgres.can_login(first["username"], first["password"])
    # The previous user keeps working until its own next turn: that is the point of alternating.
    assert postgres.can_login(user, "alt-first")

    smemu.advance("8d")
    second = credentials(sm, name)
    assert second["username"] == user
    assert second["password"] != "alt-first"
    assert postgres.can_login(user, second["password"])
    assert not postgres.can_login(user, "alt-first")
    assert postgres.can_login(first["username"], first["password"])
