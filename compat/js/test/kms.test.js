// KMS through @aws-sdk/client-kms, the endpoint from AWS_ENDPOINT_URL_KMS alone: a key, an alias,
// encryption with a context, disabling, and a deletion window ended by moving the clock of a
// smemu of this file's own (SMEMU_BIN), so the shared smemu's clock never moves.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { UUID4, controlHeaders } from "../helpers.js";

const clients = [];
function client(config = {}) {
  const c = new KMSClient(config);
  clients.push(c);
  return c;
}
after(() => clients.forEach((c) => c.destroy()));

async function expectKmsError(promise, name, message) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${name}, but the call succeeded`);
  assert.equal(error.name, name, `error name (message: ${error.message})`);
  if (message !== undefined) assert.equal(error.message, message);
  assert.equal(error.$metadata?.httpStatusCode, 400);
  assert.match(error.$metadata?.requestId ?? "", UUID4);
  return error;
}

describe("KMS", () => {
  test("key, alias, encrypt and decrypt with a context", async () => {
    const kms = client();
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({ Description: "js" }));
    assert.equal(key.KeyState, "Enabled");
    assert.equal(key.KeySpec, "SYMMETRIC_DEFAULT");
    assert.equal(key.Arn, `arn:aws:kms:us-east-1:000000000000:key/${key.KeyId}`);
    const alias = `alias/compat-js-${randomUUID().slice(0, 8)}`;
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
    const sealed = await kms.send(
      new EncryptCommand({ KeyId: alias, Plaintext: new TextEncoder().encode("js data"), EncryptionContext: { app: "js" } }),
    );
    assert.equal(sealed.KeyId, key.Arn);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { app: "js" } }));
    assert.equal(new TextDecoder().decode(opened.Plaintext), "js data");
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { app: "other" } })),
      "InvalidCiphertextException",
    );
    const { Aliases } = await kms.send(new ListAliasesCommand({ KeyId: key.KeyId }));
    assert.deepEqual(Aliases.map((a) => a.AliasName), [alias]);

    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { app: "js" } })),
      "DisabledException",
      `${key.Arn} is disabled.`,
    );
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: "fake-key-id" })), "NotFoundException", "Invalid keyId 'fake-key-id'");
  });

  const binary = process.env.SMEMU_BIN;
  const skip = binary ? false : "SMEMU_BIN is not set: compat/run sets it for tests that need a smemu of their own";
  test("a deletion window ends when the clock moves", { skip }, async () => {
    const smemu = spawn(binary, ["--host", "127.0.0.1", "--port", "0", "--log-level", "warn"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const [line] = await new Promise((resolve) => createInterface({ input: smemu.stdout }).once("line", (l) => resolve([l])));
      const endpoint = line.replace("smemu ready on ", "").trim();
      const kms = client({ endpoint });
      const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
      const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
      assert.equal(scheduled.KeyState, "PendingDeletion");
      // The smemu started here inherits SMEMU_CONTROL_TOKEN from this environment.
      const moved = await fetch(`${endpoint}/_smemu/clock`, {
        method: "POST",
        headers: controlHeaders(),
        body: JSON.stringify({ advance: "7d" }),
      });
      assert.equal(moved.status, 200);
      await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: key.KeyId })), "NotFoundException", `Key '${key.Arn}' does not exist`);
    } finally {
      smemu.kill("SIGTERM");
    }
  });
});
