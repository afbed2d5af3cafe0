// SigV4 as the JS SDK signs it, verified by a smemu in `--auth strict` mode. compat/run starts
// that smemu and names it in COMPAT_STRICT_ENDPOINT; this file runs in a process of its own, so
// pointing AWS_ENDPOINT_URL_SECRETS_MANAGER at it here touches no other test.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { expectError } from "../helpers.js";

const endpoint = process.env.COMPAT_STRICT_ENDPOINT;
const skip = endpoint ? false : "COMPAT_STRICT_ENDPOINT is not set: compat/run starts the strict smemu these tests need";
if (endpoint) process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = endpoint;

const clients = [];
function client(credentials) {
  const c = new SecretsManagerClient(credentials ? { credentials } : {});
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.destroy()));

const known = () => ({
  accessKeyId: process.env.COMPAT_STRICT_ACCESS_KEY_ID,
  secretAccessKey: process.env.COMPAT_STRICT_SECRET_ACCESS_KEY,
});

describe("strict SigV4", () => {
  test("the SDK's signatures are accepted", { skip }, async () => {
    const sm = client(known());
    const name = `compat/js-strict/${randomUUID().slice(0, 8)}`;
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "päss ✓", Tags: [{ Key: "k", Value: "v w" }] }));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretBinary: Uint8Array.from([0, 1, 255]) }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }));
    assert.equal(got.SecretString, "päss ✓");
  });

  test("a wrong secret key is InvalidSignatureException", { skip }, async () => {
    const sm = client({ ...known(), secretAccessKey: "not-the-secret" });
    const error = await expectError(
      sm.send(new GetSecretValueCommand({ SecretId: "anything" })),
      "InvalidSignatureException",
      /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\. Consult the service documentation for details\.\n\nThe Canonical String for this request should have been\n/,
    );
    assert.match(error.message, /x-amz-target:secretsmanager\.GetSecretValue/);
  });

  test("an unknown access key is UnrecognizedClientException", { skip }, async () => {
    const sm = client({ accessKeyId: "AKIDUNKNOWNKEY000000", secretAccessKey: "x" });
    await expectError(
      sm.send(new GetSecretValueCommand({ SecretId: "anything" })),
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  });
});
