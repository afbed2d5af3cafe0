// Shared helpers of the JS SDK v3 suite. The endpoint comes only from the environment
// (AWS_ENDPOINT_URL_SECRETS_MANAGER), as in a real application; compat/js/run sets it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const NOT_FOUND = "Secrets Manager can't find the specified secret.";
export const MARKED = "You can't perform this operation on the secret because it was marked for deletion.";
export const INVALID_NAME =
  "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

if (!process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER) {
  throw new Error("AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run the suite through compat/js/run");
}

const run = randomUUID().slice(0, 8);
let counter = 0;

/** A secret name unique to this run. */
export function uniqueName(label) {
  counter += 1;
  return `compat/js/${run}/${label}${counter}`;
}

/** Headers for smemu's control API: JSON, and the control token when the environment has one. */
export function controlHeaders() {
  const headers = { "content-type": "application/json" };
  if (process.env.SMEMU_CONTROL_TOKEN) headers["x-smemu-control-token"] = process.env.SMEMU_CONTROL_TOKEN;
  return headers;
}

/** A client configured by the environment alone, checking every response's request id. */
export function makeClient(config = {}) {
  const client = new SecretsManagerClient(config);
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      assert.match(result.response.headers["x-amzn-requestid"] ?? "", UUID4, "x-amzn-RequestId on a success");
      return result;
    },
    { step: "deserialize", name: "checkRequestId" },
  );
  return client;
}

/** Awaits `promise`, which must reject with the given service error. Returns the error. */
export async function expectError(promise, name, message) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${name}, but the call succeeded`);
  assert.equal(error.name, name, `error name (message: ${error.message})`);
  if (message instanceof RegExp) {
    assert.match(error.message, message);
  } else {
    assert.equal(error.message, message);
  }
  assert.equal(error.$metadata?.httpStatusCode, 400, "HTTP status");
  assert.match(error.$metadata?.requestId ?? "", UUID4, "x-amzn-RequestId on an error");
  assert.equal(error.$fault, "client");
  return error;
}

export const token = () => randomUUID();
