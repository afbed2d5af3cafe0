// Everyday flows of @aws-sdk/client-secrets-manager against smemu.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  paginateListSecrets,
} from "@aws-sdk/client-secrets-manager";
import { INVALID_NAME, MARKED, NOT_FOUND, UUID4, expectError, makeClient, token, uniqueName } from "../helpers.js";

const sm = makeClient();
const send = (command) => sm.send(command);
// Close the client's sockets, so that a failed request cannot keep the test process alive.
after(() => sm.destroy());

const sortedStages = (map) =>
  Object.fromEntries(Object.entries(map ?? {}).map(([id, labels]) => [id, [...labels].sort()]));

describe("create and read", () => {
  test("CreateSecret and GetSecretValue", async () => {
    const name = uniqueName("create");
    const t = token();
    const created = await send(new CreateSecretCommand({ Name: name, SecretString: "s3cr3t", ClientRequestToken: t }));
    assert.match(created.ARN, new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[A-Za-z0-9]{6}$`));
    assert.equal(created.Name, name);
    assert.equal(created.VersionId, t);
    assert.equal(created.$metadata.httpStatusCode, 200);
    assert.match(created.$metadata.requestId, UUID4);

    const got = await send(new GetSecretValueCommand({ SecretId: name }));
    assert.equal(got.SecretString, "s3cr3t");
    assert.equal(got.ARN, created.ARN);
    assert.deepEqual(got.VersionStages, ["AWSCURRENT"]);
    assert.ok(got.CreatedDate instanceof Date);
    assert.equal(got.SecretBinary, undefined);
  });

  test("name, full ARN and partial ARN find the same secret", async () => {
    const name = uniqueName("ids");
    const { ARN } = await send(new CreateSecretCommand({ Name: name, SecretString: "v" }));
    for (const id of [name, ARN, ARN.slice(0, -7)]) {
      const got = await send(new GetSecretValueCommand({ SecretId: id }));
      assert.equal(got.ARN, ARN, id);
      assert.equal(got.Name, name, id);
    }
  });

  test("binary secrets come back as bytes", async () => {
    const name = uniqueName("binary");
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const got = await send(new GetSecretValueCommand({ SecretId: name }));
    assert.deepEqual(Uint8Array.from(got.SecretBinary), bytes);
    assert.equal(got.SecretString, undefined);
  });

  test("DescribeSecret", async () => {
    const name = uniqueName("describe");
    const t = token();
    await send(new CreateSecretCommand({ Name: name, SecretString: "x", ClientRequestToken: t, Description: "d" }));
    const out = await send(new DescribeSecretCommand({ SecretId: name }));
    assert.equal(out.Description, "d");
    assert.deepEqual(out.VersionIdsToStages, { [t]: ["AWSCURRENT"] });
    assert.ok(out.CreatedDate instanceof Date);
    assert.ok(out.LastChangedDate instanceof Date);
    assert.equal(out.Tags, undefined);
    assert.equal(out.DeletedDate, undefined);
  });
});

describe("errors", () => {
  test("an unknown secret is ResourceNotFoundException with status 400", async () => {
    const error = await expectError(
      send(new GetSecretValueCommand({ SecretId: uniqueName("missing") })),
      "ResourceNotFoundException",
      NOT_FOUND,
    );
    assert.ok(error instanceof ResourceNotFoundException);
  });

  test("an invalid name is ValidationException", async () => {
    await expectError(send(new CreateSecretCommand({ Name: "Inv Name", SecretString: "x" })), "ValidationException", INVALID_NAME);
    await expectError(send(new DescribeSecretCommand({ SecretId: " Inv*Name? " })), "ValidationException", INVALID_NAME);
  });

  test("the SDK sends what the model forbids; smemu validates it", async () => {
    // The JS SDK does not check lengths: a 5-character token reaches the server.
    await expectError(
      send(new CreateSecretCommand({ Name: uniqueName("short"), SecretString: "x", ClientRequestToken: "short" })),
      "ValidationException",
      "1 validation error detected: Value 'short' at 'clientRequestToken' failed to satisfy constraint: " +
        "Member must have length greater than or equal to 32",
    );
  });

  test("an existing name is ResourceExistsException", async () => {
    const name = uniqueName("exists");
    await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    const error = await expectError(
      send(new CreateSecretCommand({ Name: name, SecretString: "y" })),
      "ResourceExistsException",
      `The operation failed because the secret ${name} already exists.`,
    );
    assert.ok(error instanceof ResourceExistsException);
  });

  test("unknown version and stage", async () => {
    const name = uniqueName("versions");
    const t = token();
    await send(new CreateSecretCommand({ Name: name, SecretString: "x", ClientRequestToken: t }));
    const missing = token();
    await expectError(
      send(new GetSecretValueCommand({ SecretId: name, VersionId: missing })),
      "ResourceNotFoundException",
      `Secrets Manager can't find the specified secret value for VersionId: ${missing}`,
    );
    await expectError(
      send(new GetSecretValueCommand({ SecretId: name, VersionStage: "NOPE" })),
      "ResourceNotFoundException",
      "Secrets Manager can't find the specified secret value for staging label: NOPE",
    );
    await expectError(
      send(new GetSecretValueCommand({ SecretId: name, VersionId: t, VersionStage: "AWSPREVIOUS" })),
      "InvalidRequestException",
      "You provided a VersionStage that is not associated to the provided VersionId.",
    );
  });
});

describe("versions and staging labels", () => {
  test("ClientRequestToken makes PutSecretValue idempotent", async () => {
    const name = uniqueName("token");
    const { ARN } = await send(new CreateSecretCommand({ Name: name, SecretString: "one" }));
    const t = token();
    const first = await send(new PutSecretValueCommand({ SecretId: name, SecretString: "two", ClientRequestToken: t }));
    const again = await send(new PutSecretValueCommand({ SecretId: name, SecretString: "two", ClientRequestToken: t }));
    assert.equal(again.VersionId, first.VersionId);
    assert.deepEqual(again.VersionStages, ["AWSCURRENT"]);
    const listed = await send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    assert.equal(listed.Versions.length, 2);
    await expectError(
      send(new PutSecretValueCommand({ SecretId: name, SecretString: "three", ClientRequestToken: t })),
      "ResourceExistsException",
      `You can't use ClientRequestToken ${t} because that value is already in use for a version of secret ${ARN}.`,
    );
  });

  test("PutSecretValue with and without VersionStages, then UpdateSecretVersionStage", async () => {
    const name = uniqueName("stages");
    const [t1, t2, t3] = [token(), token(), token()];
    await send(new CreateSecretCommand({ Name: name, SecretString: "one", ClientRequestToken: t1 }));
    await send(new PutSecretValueCommand({ SecretId: name, SecretString: "two", ClientRequestToken: t2 }));
    let described = await send(new DescribeSecretCommand({ SecretId: name }));
    assert.deepEqual(sortedStages(described.VersionIdsToStages), { [t1]: ["AWSPREVIOUS"], [t2]: ["AWSCURRENT"] });

    const pending = await send(
      new PutSecretValueCommand({ SecretId: name, SecretString: "three", ClientRequestToken: t3, VersionStages: ["AWSPENDING"] }),
    );
    assert.deepEqual(pending.VersionStages, ["AWSPENDING"]);
    assert.equal((await send(new GetSecretValueCommand({ SecretId: name }))).SecretString, "two");

    await expectError(
      send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: "AWSCURRENT", MoveToVersionId: t3 })),
      "InvalidParameterException",
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${t2}, ` +
        "so you must explicitly reference that version in RemoveFromVersionId.",
    );
    const moved = await send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: "AWSCURRENT",
        RemoveFromVersionId: t2,
        MoveToVersionId: t3,
      }),
    );
    assert.equal(moved.Name, name);
    described = await send(new DescribeSecretCommand({ SecretId: name }));
    assert.deepEqual(sortedStages(described.VersionIdsToStages), {
      [t2]: ["AWSPREVIOUS"],
      [t3]: ["AWSCURRENT", "AWSPENDING"],
    });
    assert.equal((await send(new GetSecretValueCommand({ SecretId: name }))).SecretString, "three");

    const all = await send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    const deprecated = all.Versions.find((v) => v.VersionId === t1);
    assert.equal(deprecated.VersionStages, undefined);
    assert.deepEqual(deprecated.KmsKeyIds, ["DefaultEncryptionKey"]);
    const live = await send(new ListSecretVersionIdsCommand({ SecretId: name }));
    assert.deepEqual(live.Versions.map((v) => v.VersionId).sort(), [t2, t3].sort());
  });

  test("UpdateSecret changes the description without a version, the value with one", async () => {
    const name = uniqueName("update");
    await send(new CreateSecretCommand({ Name: name, SecretString: "one" }));
    const described = await send(new UpdateSecretCommand({ SecretId: name, Description: "new" }));
    assert.equal(described.VersionId, undefined);
    const valued = await send(new UpdateSecretCommand({ SecretId: name, SecretString: "two" }));
    assert.ok(valued.VersionId);
    assert.equal((await send(new GetSecretValueCommand({ SecretId: name }))).SecretString, "two");
  });
});

describe("listing", () => {
  test("paginateListSecrets walks more than a hundred secrets", async () => {
    const prefix = `${uniqueName("page")}/`;
    const names = Array.from({ length: 105 }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);
    for (const name of names) {
      await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    }
    const Filters = [{ Key: "name", Values: [prefix] }];
    const seen = [];
    const sizes = [];
    for await (const page of paginateListSecrets({ client: sm, pageSize: 40 }, { Filters })) {
      sizes.push(page.SecretList.length);
      seen.push(...page.SecretList.map((s) => s.Name));
    }
    assert.deepEqual(sizes, [40, 40, 25]);
    assert.deepEqual(seen, names);

    const first = await send(new ListSecretsCommand({ Filters }));
    assert.equal(first.SecretList.length, 100);
    assert.ok(first.NextToken);
    const second = await send(new ListSecretsCommand({ Filters, NextToken: first.NextToken }));
    assert.equal(second.SecretList.length, 5);
    assert.equal(second.NextToken, undefined);
  });

  test("filters: tag-key, tag-value, description, all and negation", async () => {
    const prefix = `${uniqueName("filter")}/`;
    await send(new CreateSecretCommand({ Name: `${prefix}a`, SecretString: "x", Description: "a secret", Tags: [{ Key: "team", Value: "red" }] }));
    await send(new CreateSecretCommand({ Name: `${prefix}b`, SecretString: "x", Description: "other", Tags: [{ Key: "owner", Value: "blue" }] }));
    const names = async (...filters) => {
      const out = await send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [prefix] }, ...filters] }));
      return out.SecretList.map((s) => s.Name.slice(prefix.length));
    };
    assert.deepEqual(await names(), ["a", "b"]);
    assert.deepEqual(await names({ Key: "tag-key", Values: ["team"] }), ["a"]);
    assert.deepEqual(await names({ Key: "tag-value", Values: ["bl"] }), ["b"]);
    assert.deepEqual(await names({ Key: "description", Values: ["secret"] }), ["a"]);
    assert.deepEqual(await names({ Key: "all", Values: ["red"] }), ["a"]);
    assert.deepEqual(await names({ Key: "tag-key", Values: ["!team"] }), ["b"]);
    const entry = (await send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [`${prefix}a`] }] }))).SecretList[0];
    assert.deepEqual(Object.values(entry.SecretVersionsToStages), [["AWSCURRENT"]]);
  });

  test("BatchGetSecretValue reports missing secrets in Errors", async () => {
    const a = uniqueName("batch");
    const missing = uniqueName("batch-missing");
    await send(new CreateSecretCommand({ Name: a, SecretString: "A" }));
    const out = await send(new BatchGetSecretValueCommand({ SecretIdList: [a, missing] }));
    assert.deepEqual(out.SecretValues.map((v) => v.SecretString), ["A"]);
    assert.deepEqual(out.Errors, [{ SecretId: missing, ErrorCode: "ResourceNotFoundException", Message: NOT_FOUND }]);
  });
});

describe("tags", () => {
  test("TagResource, UntagResource and the empty tag list", async () => {
    const name = uniqueName("tags");
    await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    const tagged = await send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: "k1", Value: "v1" }, { Key: "k2", Value: "v2" }] }));
    assert.equal(tagged.$metadata.httpStatusCode, 200);
    assert.deepEqual((await send(new DescribeSecretCommand({ SecretId: name }))).Tags, [
      { Key: "k1", Value: "v1" },
      { Key: "k2", Value: "v2" },
    ]);
    await send(new UntagResourceCommand({ SecretId: name, TagKeys: ["k1", "k2"] }));
    assert.deepEqual((await send(new DescribeSecretCommand({ SecretId: name }))).Tags, []);
    await expectError(
      send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: "aws:cloudformation:stack-name", Value: "x" }] })),
      "InvalidParameterException",
      "You can't modify system tags. Tag key: 'aws:cloudformation:stack-name'.",
    );
  });
});

describe("deletion", () => {
  test("schedule, refuse reads, restore", async () => {
    const name = uniqueName("delete");
    const { ARN } = await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    const deleted = await send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    assert.equal(deleted.ARN, ARN);
    const days = (deleted.DeletionDate - Date.now()) / 86400000;
    assert.ok(Math.abs(days - 7) < 0.01, `DeletionDate ${deleted.DeletionDate.toISOString()}`);
    assert.ok((await send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate instanceof Date);
    await expectError(send(new GetSecretValueCommand({ SecretId: name })), "InvalidRequestException", MARKED);
    await expectError(
      send(new CreateSecretCommand({ Name: name, SecretString: "y" })),
      "InvalidRequestException",
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
    const restored = await send(new RestoreSecretCommand({ SecretId: name }));
    assert.deepEqual([restored.ARN, restored.Name], [ARN, name]);
    assert.equal((await send(new GetSecretValueCommand({ SecretId: name }))).SecretString, "x");
  });

  test("recovery window range and forced deletion", async () => {
    const name = uniqueName("force");
    await send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    await expectError(
      send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 31 })),
      "InvalidParameterException",
      "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
    );
    await send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    await expectError(send(new DescribeSecretCommand({ SecretId: name })), "ResourceNotFoundException", NOT_FOUND);
    const missing = uniqueName("never-existed");
    const phantom = await send(new DeleteSecretCommand({ SecretId: missing, ForceDeleteWithoutRecovery: true }));
    assert.equal(phantom.Name, missing);
    assert.ok(phantom.ARN);
    assert.ok(phantom.DeletionDate instanceof Date);
  });
});

test("GetRandomPassword", async () => {
  const { RandomPassword } = await send(new GetRandomPasswordCommand({ PasswordLength: 50, ExcludePunctuation: true }));
  assert.match(RandomPassword, /^[A-Za-z0-9]{50}$/);
  await expectError(
    send(new GetRandomPasswordCommand({ PasswordLength: 5000 })),
    "ValidationException",
    "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: " +
      "Member must have value less than or equal to 4096",
  );
});
