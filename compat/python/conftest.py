"""Shared fixtures of the boto3 compat suite.

The suite talks to a running smemu whose URL is in SMEMU_ENDPOINT (compat/run and
compat/python/run set it). Every secret a test creates has a name unique to the run, so
tests never depend on each other's leftovers.
"""

import json
import os
import re
import uuid

import boto3
import botocore
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "AKIDSMEMUCOMPAT"
SECRET_KEY = "compat-secret-key"

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Texts of the behaviour spec's §16 catalogue that several test files need.
NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED = "You can't perform this operation on the secret because it was marked for deletion."
INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, "
    "or any of the following: -/_+=.@!"
)
TOKEN_REQUIRED = "You must provide a ClientRequestToken value. We recommend a UUID-type value."


def endpoint():
    url = os.environ.get("SMEMU_ENDPOINT")
    if not url:
        pytest.exit("SMEMU_ENDPOINT is not set: run the suite through compat/run or compat/python/run", 2)
    return url


def control_headers():
    """Headers for smemu's control API: JSON, and the control token when the environment has one."""
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("SMEMU_CONTROL_TOKEN")
    if token:
        headers["X-Smemu-Control-Token"] = token
    return headers


def make_client(region=REGION, access_key=ACCESS_KEY, **kwargs):
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint(),
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=SECRET_KEY,
        # One attempt: a retried request would hide what the server answered first.
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **kwargs,
    )


class RequestIdWatch:
    """Records every response a client receives, to check each carries x-amzn-RequestId."""

    def __init__(self):
        self.missing = []
        self.seen = 0

    def __call__(self, http_response, model, **_):
        self.seen += 1
        rid = http_response.headers.get("x-amzn-RequestId")
        if rid is None or not UUID4.match(rid):
            self.missing.append((model.name, http_response.status_code, rid))


@pytest.fixture
def sm():
    """A boto3 client; at teardown, asserts that every response had a request id."""
    client = make_client()
    watch = RequestIdWatch()
    client.meta.events.register("after-call.secrets-manager.*", watch)
    yield client
    assert watch.missing == [], f"responses without a valid x-amzn-RequestId: {watch.missing}"


@pytest.fixture
def name(request):
    """A secret name unique to this test and run; call it for more than one."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    run = uuid.uuid4().hex[:8]
    count = iter(range(1000))

    def make(label=""):
        n = next(count)
        return f"compat/py/{base}/{run}{label}{n}"

    return make


def token():
    return str(uuid.uuid4())


def expect_error(code, message, call, *args, status=400, **kwargs):
    """Calls `call` and asserts the service error's code, exact message and HTTP status.

    `message` may be a compiled regex for texts that embed generated values.
    Returns the error response for further checks.
    """
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    error = response["Error"]
    assert error["Code"] == code, response
    if isinstance(message, re.Pattern):
        assert message.fullmatch(error["Message"]), error["Message"]
    else:
        assert error["Message"] == message
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response["ResponseMetadata"]
    assert UUID4.match(response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid", ""))
    return response


class Raw:
    """Signed requests sent without boto3's parsing, to see status, headers and bytes."""

    def __init__(self, region=REGION):
        self.region = region
        self.http = urllib3.PoolManager()
        self.credentials = Credentials(ACCESS_KEY, SECRET_KEY)

    def call(self, operation, body, *, raw_body=None, headers=None, sign=True):
        data = raw_body if raw_body is not None else json.dumps(body).encode()
        all_headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"secretsmanager.{operation}",
        }
        all_headers.update(headers or {})
        request = AWSRequest(method="POST", url=endpoint() + "/", data=data, headers=all_headers)
        if sign:
            SigV4Auth(self.credentials, "secretsmanager", self.region).add_auth(request)
        prepared = request.prepare()
        response = self.http.request(
            "POST", prepared.url, body=prepared.body, headers=dict(prepared.headers), retries=False
        )
        return RawResponse(response)


class RawResponse:
    def __init__(self, response):
        self.status = response.status
        self.headers = response.headers
        self.body = response.data

    def json(self):
        return json.loads(self.body)

    @property
    def request_id(self):
        return self.headers.get("x-amzn-RequestId")


@pytest.fixture
def raw():
    return Raw()


def pytest_report_header(config):
    return f"smemu endpoint: {os.environ.get('SMEMU_ENDPOINT', '(unset)')}; botocore {botocore.__version__}"



class PrivateSmemu:
    """A smemu of one test's own (from SMEMU_BIN), so it may move the clock."""

    def __init__(self):
        import subprocess

        binary = os.environ.get("SMEMU_BIN")
        if not binary:
            pytest.skip("SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own")
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line.startswith("smemu ready on "), line
        self.endpoint = line.strip().removeprefix("smemu ready on ")

    def advance(self, duration):
        http = urllib3.PoolManager()
        response = http.request(
            "POST",
            self.endpoint + "/_smemu/clock",
            body=json.dumps({"advance": duration}).encode(),
            # It inherits SMEMU_CONTROL_TOKEN from this environment, as the shared smemu was given it.
            headers=control_headers(),
        )
        assert response.status == 200, response.data

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_smemu():
    smemu = PrivateSmemu()
    yield smemu
    smemu.stop()


def make_kms(endpoint_url=None, region=REGION):
    return boto3.client(
        "kms",
        endpoint_url=endpoint_url or endpoint(),
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
