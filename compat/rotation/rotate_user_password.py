#!/usr/bin/env python3
"""Example rotation function for smemu: a JSON secret {"username": ..., "password": ...}.

It implements the four steps of the Secrets Manager rotation protocol the way the AWS rotation
templates do, with boto3, and runs three ways:

* as a smemu ``command`` hook: the event arrives as JSON on stdin; exit status 0 is success::

      {"functionArn": "arn:aws:lambda:us-east-1:000000000000:function:rotate-user-password",
       "kind": "command", "program": "python3", "args": ["compat/rotation/rotate_user_password.py"]}

* as a smemu ``http`` hook: ``python3 rotate_user_password.py --serve 8099`` answers each POSTed
  event with 200 (step done) or 500 (step failed, with the traceback)::

      {"functionArn": "...:function:rotate-user-password", "kind": "http", "url": "http://127.0.0.1:8099/"}

* as a Lambda handler (``lambda_handler``), for example behind the Lambda Runtime Interface Emulator.

The Secrets Manager endpoint comes from ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` or ``AWS_ENDPOINT_URL``
(smemu sets the latter for command hooks). The region defaults to the secret's, and when no
credentials are configured the secret's account id is used as the access key, which smemu maps to
that account.

The step that would change the password in a real database, ``setSecret``, only logs here; set
``ROTATION_FAIL_STEP=setSecret`` (or another step) to make that step fail, to try failure handling.
"""

import argparse
import http.server
import json
import os
import sys
import traceback

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# Characters that often need escaping in connection strings and shells.
EXCLUDE_CHARACTERS = "/@\"'\\"


def log(message):
    print(message, file=sys.stderr, flush=True)


def arn_part(arn, index):
    parts = arn.split(":")
    return parts[index] if arn.startswith("arn:") and len(parts) > index else None


def make_client(secret_arn):
    import boto3  # imported here so that --help works without boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or arn_part(secret_arn, 3)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get("AWS_ENDPOINT_URL")
    session = boto3.session.Session(region_name=region or "us-east-1")
    kwargs = {"endpoint_url": endpoint} if endpoint else {}
    if session.get_credentials() is None:
        kwargs["aws_access_key_id"] = arn_part(secret_arn, 4) or "000000000000"
        kwargs["aws_secret_access_key"] = "smemu"
    return session.client("secretsmanager", **kwargs)


def is_not_found(error):
    return getattr(error, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException"


def rotate(event, client=None):
    """Runs one step of the protocol; raises on failure."""
    step = event["Step"]
    arn = event["SecretId"]
    token = event["ClientRequestToken"]
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    client = client or make_client(arn)

    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"secret version {token} has no stage for rotation of secret {arn}")
    if "AWSCURRENT" in versions[token]:
        log(f"{step}: secret version {token} is already AWSCURRENT for secret {arn}")
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"secret version {token} is not set as AWSPENDING for rotation of secret {arn}")

    if os.environ.get("ROTATION_FAIL_STEP") == step:
        raise RuntimeError(f"{step}: failing on purpose (ROTATION_FAIL_STEP={step})")
    {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
     "finishSecret": finish_secret}[step](client, arn, token)


def create_secret(client, arn, token):
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        log(f"createSecret: version {token} already has its AWSPENDING value")
        return
    except Exception as error:  # botocore's ClientError
        if not is_not_found(error):
            raise
    password = client.get_random_password(ExcludeCharacters=EXCLUDE_CHARACTERS)["RandomPassword"]
    current["password"] = password
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current), VersionStages=["AWSPENDING"]
    )
    log(f"createSecret: stored a new password in version {token} with AWSPENDING")


def pending_value(client, arn, token):
    value = json.loads(client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
    for key in ("username", "password"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ValueError(f"the AWSPENDING value has no {key}")
    return value


def set_secret(client, arn, token):
    value = pending_value(client, arn, token)
    # A real function would now run ALTER USER ... PASSWORD in the database.
    log(f"setSecret: would set the new password of user {value['username']}")


def test_secret(client, arn, token):
    value = pending_value(client, arn, token)
    # A real function would now log in to the database with the AWSPENDING credentials.
    log(f"testSecret: the AWSPENDING credentials of user {value['username']} look right")


def finish_secret(client, arn, token):
    versions = client.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        log(f"finishSecret: version {token} is already AWSCURRENT")
        return
    kwargs = {"RemoveFromVersionId": current} if current else {}
    client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, **kwargs)
    log(f"finishSecret: moved AWSCURRENT to version {token} (from {current})")


def lambda_handler(event, context=None):
    rotate(event)


def run_from_stdin():
    try:
        event = json.load(sys.stdin)
        rotate(event)
    except Exception:
        traceback.print_exc()
        return 1
    return 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            event = json.loads(self.rfile.read(length))
            rotate(event)
            status, body = 200, f"{event['Step']} done\n"
        except Exception:
            status, body = 500, traceback.format_exc()
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        log("rotate_user_password: " + format % args)


def serve(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    log(f"rotate_user_password: listening on http://127.0.0.1:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, metavar="PORT", help="serve as an http hook on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    return run_from_stdin()


if __name__ == "__main__":
    sys.exit(main())
