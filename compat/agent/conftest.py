"""Fixtures of the Secrets Manager Agent suite: an agent process configured against smemu.

compat/agent/run builds (once) or finds the agent binary and passes it in AGENT_BIN; the
smemu URL is in SMEMU_ENDPOINT. The agent reaches smemu through
AWS_ENDPOINT_URL_SECRETS_MANAGER, the variable the AWS SDK for Rust reads.
"""

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


def free_port():
    # The agent refuses port 0 (it accepts 1024-65535), so pick a free one here.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, url, token):
        self.url = url
        self.token = token

    def get(self, path, headers=None, token=True):
        """GET `path`; returns (status, body text). Sends the SSRF token unless told not to."""
        all_headers = {TOKEN_HEADER: self.token} if token else {}
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url + path, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


@pytest.fixture(scope="session")
def agent():
    binary = os.environ["AGENT_BIN"]
    endpoint = os.environ["SMEMU_ENDPOINT"]
    port = free_port()
    token = secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix="smemu-agent-"))
    config = workdir / "agent.toml"
    config.write_text(
        "\n".join(
            [
                'log_level = "info"',
                "log_to_file = false",
                f'http_port = "{port}"',
                'region = "us-east-1"',
                # The agent checks its credentials with STS GetCallerIdentity at start-up: smemu
                # answers that too (AWS_ENDPOINT_URL_STS below).
                "validate_credentials = true",
                "",
            ]
        )
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "AWS_ENDPOINT_URL_STS": endpoint,
        "AWS_ACCESS_KEY_ID": "AKIDSMEMUAGENT",
        "AWS_SECRET_ACCESS_KEY": "compat-secret-key",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        # The agent reads its SSRF token from the first of these variables that is set.
        "AWS_TOKEN": token,
    }
    log = open(workdir / "agent.log", "w")
    process = subprocess.Popen([binary, "--config", str(config)], cwd=workdir, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"the agent exited with {process.returncode}: {(workdir / 'agent.log').read_text()}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the agent did not answer /ping: {(workdir / 'agent.log').read_text()}")
        time.sleep(0.1)
    yield Agent(url, token)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def sm():
    return boto3.client(
        "secretsmanager",
        endpoint_url=os.environ["SMEMU_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="AKIDSMEMUCOMPAT",
        aws_secret_access_key="compat-secret-key",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def name(request):
    return f"compat/agent/{secrets.token_hex(4)}/{request.node.name}"

