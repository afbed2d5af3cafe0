"""Fixtures of the Lambda + PostgreSQL suite: a throwaway PostgreSQL 15 cluster, a smemu of the
suite's own that may run functions and move its clock, and the rotation functions' zips."""

import io
import json
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
import pg8000.native
import pytest
import urllib3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rotation"
HERE = pathlib.Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    for candidate in ["/usr/lib/postgresql/15/bin", os.environ.get("PG_BINDIR", "")]:
        if candidate and os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return candidate
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


class Postgres:
    """A PostgreSQL cluster in a temporary directory, on a free port, password logins over TCP.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
    that Debian's package creates."""

    def __init__(self):
        bindir = pg_bindir()
        if not bindir:
            pytest.fail("PostgreSQL 15 is not installed (compat/lambda/run installs Debian's postgresql-15)")
        self.dir = tempfile.mkdtemp(prefix="smemu-pg-")
        self.port = free_port()
        self.password = "master-" + os.urandom(8).hex()
        self.as_user = []
        owner = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if owner:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_user + [f"{bindir}/initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile,
                                       "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL)
        self.ctl = self.as_user + [f"{bindir}/pg_ctl", "-D", data, "-w", "-t", "30"]
        subprocess.run(self.ctl + ["-l", os.path.join(self.dir, "log"), "-o",
                                   f"-p {self.port} -k {self.dir} -h 127.0.0.1", "start"],
                       check=True, stdout=subprocess.DEVNULL)

    def master(self):
        return {"engine": "postgres", "host": "127.0.0.1", "port": self.port, "username": "postgres",
                "password": self.password, "dbname": "postgres"}

    def run(self, sql):
        conn = self.login("postgres", self.password)
        try:
            return conn.run(sql)
        finally:
            conn.close()

    def login(self, user, password):
        return pg8000.native.Connection(user, host="127.0.0.1", port=self.port, database="postgres",
                                        password=password, timeout=5)

    def can_login(self, user, password):
        try:
            conn = self.login(user, password)
        except pg8000.exceptions.DatabaseError:
            return False
        try:
            return conn.run("SELECT current_user")[0][0] == user
        finally:
            conn.close()

    def stop(self):
        subprocess.run(self.ctl + ["-m", "immediate", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    cluster = Postgres()
    yield cluster
    cluster.stop()


def control_headers():
    # The suite's smemu has no control token (see Smemu), so its control API is open on loopback.
    return {"Content-Type": "application/json"}


class Smemu:
    """A smemu of the suite's own: functions may be deployed (--allow-command-hooks), their
    Python is this suite's (boto3 inside, as in Lambda's runtime), and the clock is the suite's."""

    def __init__(self):
        binary = os.environ.get("SMEMU_BIN")
        if not binary:
            pytest.fail("SMEMU_BIN is not set: run the suite through compat/run")
        # Without a control token (compat/run sets one for the smemu processes it starts): an
        # unsigned CreateFunction deploys code only where the control API admits the caller without
        # one, and boto3 cannot send the token.
        env = {k: v for k, v in os.environ.items() if k != "SMEMU_CONTROL_TOKEN"}
        self.process = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--log-level", "warn", "--region", REGION,
             "--account-id", ACCOUNT, "--allow-command-hooks", "--lambda-python", sys.executable],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.process.stdout.readline()
        assert line.startswith("smemu ready on "), line
        self.endpoint = line.strip().removeprefix("smemu ready on ")
        self.http = urllib3.PoolManager()

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCOUNT,
                            aws_secret_access_key="compat", config=Config(retries={"total_max_attempts": 1}))

    def control(self, method, path, body=None):
        response = self.http.request(method, self.endpoint + path, headers=control_headers(),
                                     body=None if body is None else json.dumps(body).encode())
        assert response.status == 200, response.data
        return json.loads(response.data)

    def advance(self, duration):
        return self.control("POST", "/_smemu/clock", {"advance": duration})

    def rotations(self, secret):
        return self.control("GET", f"/_smemu/rotations?secretId={secret}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def smemu():
    server = Smemu()
    yield server
    server.stop()


def package(function_file):
    """A deployment package: the function as lambda_function.py, and its driver (pg8000 and what
    it needs) beside it, as `pip install --target` would lay them out."""
    import asn1crypto
    import dateutil
    import pg8000
    import scramp
    import six

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(HERE / "functions" / function_file, "lambda_function.py")
        for module in (pg8000, scramp, asn1crypto, dateutil):
            root = pathlib.Path(module.__file__).parent
            for path in root.rglob("*.py"):
                z.write(path, str(path.relative_to(root.parent)))
        z.write(six.__file__, "six.py")
    return out.getvalue()
