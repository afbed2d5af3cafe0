// smemu's Node.js runtime: one long-lived process per function. It reads one invocation per
// line on stdin and answers each with one line on stdout that starts with the nonce smemu
// passed in SMEMU_LAMBDA_NONCE; whatever the function prints is captured and sent back with it.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { pathToFileURL } = require("url");
const util = require("util");

const NONCE = process.env.SMEMU_LAMBDA_NONCE || "";
const HANDLER = process.env.SMEMU_LAMBDA_HANDLER || "";
delete process.env.SMEMU_LAMBDA_NONCE;
delete process.env.SMEMU_LAMBDA_HANDLER;

let captured = [];
let requestId = "";
const capture = (chunk, encoding, callback) => {
  captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
  if (typeof encoding === "function") encoding();
  else if (typeof callback === "function") callback();
  return true;
};
process.stdout.write = capture;
process.stderr.write = capture;
for (const [name, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"]]) {
  console[name] = (...args) => capture(`${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}\n`);
}
const take = () => {
  const text = captured.join("");
  captured = [];
  return text;
};
const answer = (reply) => fs.writeSync(1, `${NONCE} ${JSON.stringify(reply)}\n`);

const errorOf = (err, type) => ({
  errorType: type || (err && err.name) || "Error",
  errorMessage: err && err.message !== undefined ? String(err.message) : String(err),
  trace: err && err.stack ? String(err.stack).split("\n") : [],
});

async function load() {
  const root = process.env.LAMBDA_TASK_ROOT || ".";
  const dot = HANDLER.lastIndexOf(".");
  if (dot <= 0) {
    return { error: { errorType: "Runtime.MalformedHandlerName", errorMessage: `Bad handler ${HANDLER}`, trace: [] } };
  }
  const modulePath = HANDLER.slice(0, dot);
  const name = HANDLER.slice(dot + 1);
  let mod;
  try {
    const base = path.resolve(root, modulePath);
    const file = [".js", ".mjs", ".cjs"].map((ext) => base + ext).find((f) => fs.existsSync(f));
    if (!file) throw new Error(`Cannot find module '${modulePath}'`);
    mod = file.endsWith(".mjs") ? await import(pathToFileURL(file).href) : require(file);
  } catch (err) {
    return { error: errorOf(err, "Runtime.ImportModuleError") };
  }
  const fn = mod[name] || (mod.default && mod.default[name]);
  if (typeof fn !== "function") {
    return { error: { errorType: "Runtime.HandlerNotFound", errorMessage: `${modulePath}.${name} is undefined or not exported`, trace: [] } };
  }
  return { fn };
}

async function main() {
  const { fn, error } = await load();
  let initLogs = take();
  // The init phase is over: from here on the function's own timeout runs.
  answer({ ready: true });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const request = JSON.parse(line);
    requestId = request.requestId;
    let reply;
    if (error) {
      reply = { ok: false, error };
    } else {
      const context = {
        awsRequestId: request.requestId,
        functionName: request.functionName,
        functionVersion: request.functionVersion,
        invokedFunctionArn: request.invokedFunctionArn,
        memoryLimitInMB: String(request.memoryLimitInMB),
        logGroupName: request.logGroupName,
        logStreamName: request.logStreamName,
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, Math.floor(request.deadlineMs - Date.now())),
      };
      try {
        const result = await new Promise((resolve, reject) => {
          const done = (err, value) => (err ? reject(err) : resolve(value));
          const out = fn(request.event, context, done);
          if (out && typeof out.then === "function") out.then(resolve, reject);
          else if (fn.length < 3) resolve(out);
        });
        reply = { ok: true, result: result === undefined ? null : result };
      } catch (err) {
        reply = { ok: false, error: errorOf(err) };
      }
    }
    reply.logs = initLogs + take();
    initLogs = "";
    try {
      answer(reply);
    } catch (err) {
      answer({ ok: false, logs: reply.logs, error: { errorType: "Runtime.MarshalError", errorMessage: String(err), trace: [] } });
    }
  }
}

main();
