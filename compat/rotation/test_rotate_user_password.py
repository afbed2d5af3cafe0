"""Unit tests of the example rotation function, against an in-memory stand-in for Secrets Manager.

Run with ``python3 -m unittest discover -s compat/rotation``. The end-to-end tests against smemu
live with the engine's rotation tests.
"""

import io
import json
import os
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.request
from contextlib import redirect_stderr
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rotate_user_password as rotator  # noqa: E402

ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf"
TOKEN = "9a4c6f10-2b8e-4d5a-8c3e-1f7b9d2e6a40"


class NotFound(Exception):
    response = {"Error": {"Code": "ResourceNotFoundException"}}


class FakeSecretsManager:
    """One secret with labelled versions, as RotateSecret leaves it before createSecret."""

    def __init__(self, value, enabled=True):
        self.enabled = enabled
        self.values = {"v1": json.dumps(value), TOKEN: None}
        self.stages = {"v1": ["AWSCURRENT"], TOKEN: ["AWSPENDING"]}

    def describe_secret(self, SecretId):
        return {"ARN": SecretId, "RotationEnabled": self.enabled,
                "VersionIdsToStages": {v: list(s) for v, s in self.stages.items() if s}}

    def get_secret_value(self, SecretId, VersionId=None, VersionStage=None):
        for version, stages in self.stages.items():
            if VersionId not in (None, version) or (VersionStage and VersionStage not in stages):
                continue
            if self.values.get(version) is None:
                break
            return {"VersionId": version, "SecretString": self.values[version]}
        raise NotFound()

    def get_random_password(self, ExcludeCharacters):
        return {"RandomPassword": "N3w-Passw0rd"}

    def put_secret_value(self, SecretId, ClientRequestToken, SecretString, VersionStages):
        assert VersionStages == ["AWSPENDING"]
        self.values[ClientRequestToken] = SecretString
        self.stages.setdefault(ClientRequestToken, ["AWSPENDING"])

    def update_secret_version_stage(self, SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId=None):
        assert VersionStage == "AWSCURRENT"
        holder = next(v for v, s in self.stages.items() if "AWSCURRENT" in s)
        assert RemoveFromVersionId == holder, "RemoveFromVersionId must name the current version"
        for stages in self.stages.values():
            if "AWSPREVIOUS" in stages:
                stages.remove("AWSPREVIOUS")
        self.stages[holder] = [s for s in self.stages[holder] if s != "AWSCURRENT"] + ["AWSPREVIOUS"]
        self.stages[MoveToVersionId].append("AWSCURRENT")


def event(step, token=TOKEN):
    return {"Step": step, "SecretId": ARN, "ClientRequestToken": token, "RotationToken": "rt"}


class RotateUserPasswordTest(unittest.TestCase):
    def setUp(self):
        self.sm = FakeSecretsManager({"username": "app", "password": "old", "host": "db"})
        self.stderr = io.StringIO()
        self.enterContext(redirect_stderr(self.stderr))

    def run_steps(self, *steps):
        for step in steps:
            rotator.rotate(event(step), client=self.sm)

    def test_the_four_steps_rotate_the_password(self):
        self.run_steps(*rotator.STEPS)
        new = json.loads(self.sm.values[TOKEN])
        self.assertEqual(new, {"username": "app", "password": "N3w-Passw0rd", "host": "db"})
        self.assertEqual(sorted(self.sm.stages[TOKEN]), ["AWSCURRENT", "AWSPENDING"])
        self.assertEqual(self.sm.stages["v1"], ["AWSPREVIOUS"])
        # A retried finishSecret (AWSCURRENT already on the token) does nothing.
        self.run_steps("finishSecret")

    def test_create_secret_keeps_a_stored_pending_value(self):
        self.run_steps("createSecret")
        self.sm.values[TOKEN] = json.dumps({"username": "app", "password": "first"})
        self.run_steps("createSecret")
        self.assertEqual(json.loads(self.sm.values[TOKEN])["password"], "first")
        self.assertIn("already has its AWSPENDING value", self.stderr.getvalue())

    def test_steps_refuse_what_the_templates_refuse(self):
        with self.assertRaisesRegex(ValueError, "unknown step"):
            rotator.rotate(event("create_secret"), client=self.sm)
        with self.assertRaisesRegex(ValueError, "has no stage for rotation"):
            rotator.rotate(event("createSecret", token="other"), client=self.sm)
        self.sm.stages[TOKEN] = ["CUSTOM"]
        with self.assertRaisesRegex(ValueError, "is not set as AWSPENDING"):
            self.run_steps("createSecret")
        self.sm.enabled = False
        with self.assertRaisesRegex(ValueError, "not enabled for rotation"):
            self.run_steps("createSecret")

    def test_test_secret_needs_the_pending_value(self):
        with self.assertRaises(NotFound):
            self.run_steps("testSecret")
        self.sm.values[TOKEN] = json.dumps({"username": "app"})
        with self.assertRaisesRegex(ValueError, "no password"):
            self.run_steps("testSecret")

    def test_a_step_can_be_made_to_fail(self):
        with mock.patch.dict(os.environ, {"ROTATION_FAIL_STEP": "setSecret"}):
            self.run_steps("createSecret")
            with self.assertRaisesRegex(RuntimeError, "failing on purpose"):
                self.run_steps("setSecret")

    def test_http_mode_answers_200_or_500(self):
        server = rotator.http.server.ThreadingHTTPServer(("127.0.0.1", 0), rotator.Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        real_rotate = rotator.rotate

        def post(body):
            request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()

        with mock.patch.object(rotator, "rotate", lambda e: real_rotate(e, client=self.sm)):
            self.assertEqual(post(event("createSecret")), (200, "createSecret done\n"))
            status, body = post(event("bogus"))
        self.assertEqual(status, 500)
        self.assertIn("ValueError: unknown step 'bogus'", body)

    def test_command_mode_exits_1_with_the_traceback(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rotate_user_password.py")
        result = subprocess.run([sys.executable, script], input="not json", capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("Traceback", result.stderr)
        self.assertIn("JSONDecodeError", result.stderr)


if __name__ == "__main__":
    unittest.main()
