// RotateSecret and CancelRotateSecret through the JS SDK. smemu has no Lambda: its control API
// (POST /_smemu/hooks) binds the rotation function ARN to a built-in rotation.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { controlHeaders, expectError, makeClient, uniqueName } from "../helpers.js";

const sm = makeClient();
const send = (command) => sm.send(command);
after(() => sm.destroy());

async function bindFunction(hook) {
  const functionArn = `arn:aws:lambda:us-east-1:000000000000:function:compat-js-${randomUUID().slice(0, 8)}`;
  const response = await fetch(`${process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER}/_smemu/hooks`, {
    method: "POST",
    headers: controlHeaders(),
    body: JSON.stringify({ functionArn, ...hook }),
  });
  assert.equal(response.status, 200, await response.text());
  return functionArn;
}

async function waitForCurrent(name, versionId) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const { VersionIdsToStages } = await send(new DescribeSecretCommand({ SecretId: name }));
    if (VersionIdsToStages?.[versionId]?.join() === "AWSCURRENT") return;
    assert.ok(Date.now() < deadline, `rotation did not finish: ${JSON.stringify(VersionIdsToStages)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("RotateSecret with a bound function, then CancelRotateSecret", async () => {
  const name = uniqueName("rotate");
  const { ARN, VersionId: first } = await send(new CreateSecretCommand({ Name: name, SecretString: "before" }));
  const fn = await bindFunction({ kind: "builtin", passwordLength: 40 });
  const out = await send(
    new RotateSecretCommand({ SecretId: name, RotationLambdaARN: fn, RotationRules: { AutomaticallyAfterDays: 3 } }),
  );
  assert.equal(out.ARN, ARN);
  assert.ok(out.VersionId);
  await waitForCurrent(name, out.VersionId);
  const described = await send(new DescribeSecretCommand({ SecretId: name }));
  assert.equal(described.RotationEnabled, true);
  assert.equal(described.RotationLambdaARN, fn);
  assert.deepEqual(described.RotationRules, { AutomaticallyAfterDays: 3 });
  assert.ok(described.LastRotatedDate instanceof Date);
  assert.ok(described.NextRotationDate instanceof Date);
  assert.deepEqual(described.VersionIdsToStages[first], ["AWSPREVIOUS"]);
  const { SecretString } = await send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(SecretString.length, 40);

  const cancelled = await send(new CancelRotateSecretCommand({ SecretId: name }));
  assert.equal(cancelled.Name, name);
  const disabled = await send(new DescribeSecretCommand({ SecretId: name }));
  assert.equal(disabled.RotationEnabled, false);
  assert.equal(disabled.NextRotationDate, undefined);
});

test("RotateSecret errors", async () => {
  const name = uniqueName("rotate-errors");
  await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
  await expectError(
    send(new RotateSecretCommand({ SecretId: name })),
    "InvalidRequestException",
    "No Lambda rotation function ARN is associated with this secret.",
  );
  // An unmodeled error: the SDK still exposes its name, message and status.
  await expectError(
    send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:compat-js-unbound",
      }),
    ),
    "AccessDeniedException",
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access " +
      "to the principal secretsmanager.amazonaws.com.",
  );
  const described = await send(new DescribeSecretCommand({ SecretId: name }));
  assert.equal(described.RotationEnabled, undefined);
});
