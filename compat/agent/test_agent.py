"""The AWS Secrets Manager Agent serving secrets it reads from smemu."""

import base64
import json
import os
import time
import urllib.parse
import urllib.request

NOT_FOUND = "Secrets Manager can't find the specified secret."


def query(**params):
    return "/secretsmanager/get?" + urllib.parse.urlencode(params)


def test_ping(agent):
    assert agent.get("/ping", token=False) == (200, "healthy")


def test_serves_a_secret(agent, sm, name):
    created = sm.create_secret(Name=name, SecretString='{"user":"app"}')
    status, body = agent.get(query(secretId=name))
    assert status == 200, body
    value = json.loads(body)
    assert value["ARN"] == created["ARN"]
    assert value["Name"] == name
    assert value["VersionId"] == created["VersionId"]
    assert value["SecretString"] == '{"user":"app"}'
    assert value["VersionStages"] == ["AWSCURRENT"]
    assert "CreatedDate" in value


def test_path_style_request(agent, sm, name):
    sm.create_secret(Name=name, SecretString="path")
    status, body = agent.get("/v1/" + name)
    assert status == 200, body
    assert json.loads(body)["SecretString"] == "path"


def test_by_arn_and_stage(agent, sm, name):
    arn = sm.create_secret(Name=name, SecretString="one")["ARN"]
    sm.put_secret_value(SecretId=name, SecretString="two")
    status, body = agent.get(query(secretId=arn, versionStage="AWSPREVIOUS"))
    assert status == 200, body
    assert json.loads(body)["SecretString"] == "one"


def test_binary_secret(agent, sm, name):
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01agent")
    status, body = agent.get(query(secretId=name))
    assert status == 200, body
    assert base64.b64decode(json.loads(body)["SecretBinary"]) == b"\x00\x01agent"


def test_cached_until_refreshed(agent, sm, name):
    sm.create_secret(Name=name, SecretString="v1")
    assert json.loads(agent.get(query(secretId=name))[1])["SecretString"] == "v1"
    sm.put_secret_value(SecretId=name, SecretString="v2")
    assert json.loads(agent.get(query(secretId=name))[1])["SecretString"] == "v1", "served from the cache"
    status, body = agent.get(query(secretId=name, refreshNow="true"))
    assert status == 200, body
    assert json.loads(body)["SecretString"] == "v2"


def test_unknown_secret_passes_smemus_error_through(agent, name):
    # The agent answers with the status and the code/message smemu gave it.
    status, body = agent.get(query(secretId=name))
    assert status == 400, body
    assert json.loads(body) == {"__type": "ResourceNotFoundException", "message": NOT_FOUND}


def test_secret_marked_for_deletion(agent, sm, name):
    sm.create_secret(Name=name, SecretString="x")
    sm.delete_secret(SecretId=name)
    status, body = agent.get(query(secretId=name))
    assert status == 400, body
    assert json.loads(body) == {
        "__type": "InvalidRequestException",
        "message": "You can't perform this operation on the secret because it was marked for deletion.",
    }


def test_requests_need_the_ssrf_token(agent, sm, name):
    sm.create_secret(Name=name, SecretString="x")
    assert agent.get(query(secretId=name), token=False) == (403, "Bad Token")
    assert agent.get(query(secretId=name), token=False, headers={"X-Aws-Parameters-Secrets-Token": "wrong"}) == (
        403,
        "Bad Token",
    )
    assert agent.get(query(secretId=name), headers={"X-Forwarded-For": "10.0.0.1"}) == (400, "Forwarded")


def test_serves_a_rotated_secret_after_refresh(agent, sm, name):
    # smemu has no Lambda: its control API binds the rotation function to a built-in rotation.
    fn = f"arn:aws:lambda:us-east-1:000000000000:function:compat-agent-{name.split('/')[2]}"
    headers = {"Content-Type": "application/json"}
    if os.environ.get("SMEMU_CONTROL_TOKEN"):
        headers["X-Smemu-Control-Token"] = os.environ["SMEMU_CONTROL_TOKEN"]
    request = urllib.request.Request(
        os.environ["SMEMU_ENDPOINT"] + "/_smemu/hooks",
        data=json.dumps({"functionArn": fn, "kind": "builtin"}).encode(),
        headers=headers,
    )
    urllib.request.urlopen(request, timeout=10).close()
    sm.create_secret(Name=name, SecretString="before")
    assert json.loads(agent.get(query(secretId=name))[1])["SecretString"] == "before"
    new = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    deadline = time.monotonic() + 20
    while sm.describe_secret(SecretId=name)["VersionIdsToStages"].get(new) != ["AWSCURRENT"]:
        assert time.monotonic() < deadline, "the rotation did not finish"
        time.sleep(0.05)
    status, body = agent.get(query(secretId=name, refreshNow="true"))
    assert status == 200, body
    value = json.loads(body)
    assert value["VersionId"] == new
    assert value["SecretString"] == sm.get_secret_value(SecretId=name)["SecretString"] != "before"
