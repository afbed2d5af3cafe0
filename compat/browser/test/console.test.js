// The web console in a real browser (headless Chromium over the DevTools protocol) against the
// smemu at $SMEMU_ENDPOINT (open mode) and $COMPAT_STRICT_ENDPOINT (--auth strict).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Browser } from '../cdp.js';

const endpoint = process.env.SMEMU_ENDPOINT.replace(/\/$/, '');
const token = process.env.SMEMU_CONTROL_TOKEN || '';
const shots = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.logs', 'screenshots');
const ui = endpoint + '/_smemu/ui';

// Secrets Manager without a signature: smemu's open mode runs it in the default world, which is
// where the console starts.
async function sm(op, payload, base = endpoint) {
  const res = await fetch(base + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.' + op },
    // The SDKs add this token to every write of a value by themselves.
    body: JSON.stringify(/^(CreateSecret|PutSecretValue)$/.test(op) ? { ClientRequestToken: randomUUID(), ...payload }
      : payload),
  });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

async function control(method, path, payload) {
  const headers = token ? { 'x-smemu-control-token': token } : {};
  if (payload) headers['content-type'] = 'application/json';
  const res = await fetch(endpoint + path, { method, headers, body: payload && JSON.stringify(payload) });
  return res.json();
}

let browser;
let page;
before(async () => {
  browser = await Browser.launch();
  page = await browser.newPage();
});
after(async () => { await browser?.close(); });

const q = (s) => JSON.stringify(s);
const text = (selector) => `document.querySelector(${q(selector)})?.textContent || ''`;

test('the page loads under its policy, asks for the control token and then shows the clock', async () => {
  const res = await fetch(ui);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  await page.goto(ui);
  if (token) {
    await page.waitFor(`!document.getElementById('token-panel').hidden`);
    await page.screenshot(shots, '01-token-prompt');
    await page.type('#token-input', token);
    await page.click('#token-form button');
  }
  await page.waitFor(`/smemu time \\d{4}-/.test(${text('#clock-now')})`);
  assert.deepEqual(page.errors, []);
});

test('a secret written with the API appears without a reload, with its versions and labels', async () => {
  await page.goto(ui + '#/secrets');
  const created = await sm('CreateSecret', { Name: 'console/db', SecretString: '{"password":"first"}',
    Tags: [{ Key: 'team', Value: 'web' }] });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  await page.waitFor(`!!document.querySelector('tr[data-secret="console/db"]')`);
  await page.screenshot(shots, '02-secrets');
  await page.click('tr[data-secret="console/db"] a');
  await page.waitFor(`document.querySelectorAll('#versions li').length === 1`);
  assert.match(await page.eval(text('#versions')), /AWSCURRENT/);
  // Values stay hidden until asked for.
  assert.doesNotMatch(await page.eval('document.body.textContent'), /first/);
  await page.click('#versions li .reveal');
  await page.waitFor(`/"password":"first"/.test(${text('#versions pre.value')})`);

  // A write from outside shows up by itself: the labels move on the timeline.
  const put = await sm('PutSecretValue', { SecretId: 'console/db', SecretString: '{"password":"second"}' });
  assert.equal(put.status, 200);
  await page.waitFor(`document.querySelectorAll('#versions li').length === 2`);
  const labels = await page.eval(`[...document.querySelectorAll('#versions li')].map((li) =>
    [...li.querySelectorAll('.chip')].map((c) => c.textContent).join(','))`);
  assert.deepEqual(labels, ['AWSPREVIOUS', 'AWSCURRENT']);
  assert.equal(await page.eval(text(`#versions li[data-version="${put.body.VersionId}"] .chip`)), 'AWSCURRENT');

  // And a write through the page.
  await page.type('#put-value', 'third');
  await page.click('#put-secret-value');
  await page.waitFor(`document.querySelectorAll('#versions li').length === 3`);
  assert.match(await page.eval(text('#versions li:last-child')), /AWSCURRENT/);
  assert.match(await page.eval(text('#key-state')), /Enabled/);
  assert.match(await page.eval('document.body.textContent'), /team/);
  await page.screenshot(shots, '03-secret');
  const current = await sm('GetSecretValue', { SecretId: 'console/db' });
  assert.equal(current.body.SecretString, 'third');
});

test('a secret created through the page', async () => {
  await page.goto(ui + '#/secrets');
  await page.eval(`document.querySelector('details').open = true`);
  await page.type('#new-name', 'console/made-in-page');
  await page.type('#new-value', 's3cr3t');
  await page.click('#create-secret');
  await page.waitFor(`location.hash.startsWith('#/secret/') && document.querySelectorAll('#versions li').length === 1`);
  const described = await sm('DescribeSecret', { SecretId: 'console/made-in-page' });
  assert.equal(described.status, 200);
  assert.deepEqual(Object.values(described.body.VersionIdsToStages), [['AWSCURRENT']]);
});

test('advancing the clock from the page purges a secret whose recovery window ends', async () => {
  const before = await control('GET', '/_smemu/clock');
  await page.goto(ui + '#/secret/' + encodeURIComponent('console/made-in-page'));
  await page.click('#delete-secret');
  await page.click('#delete-secret-confirm');
  await page.waitFor(`/deleted|Deleted/.test(document.querySelector('main').textContent)`);
  await page.goto(ui + '#/clock');
  await page.waitFor(`/\\d{4}-/.test(${text('#next-due')})`);
  await page.screenshot(shots, '04-clock');
  await page.click('button[data-advance="7d"]');
  await page.waitFor(`${text('#clock-value')} !== ${q(before.now)}`);
  const week = await page.eval(text('#clock-value'));
  await page.click('button[data-advance="1d"]');
  await page.waitFor(`${text('#clock-value')} !== ${q(week)}`);
  const after = await control('GET', '/_smemu/clock');
  assert.equal(Date.parse(after.now) - Date.parse(before.now) >= 8 * 86400000, true, `${before.now} → ${after.now}`);
  const gone = await sm('DescribeSecret', { SecretId: 'console/made-in-page' });
  assert.equal(gone.body.__type, 'ResourceNotFoundException');
  await page.goto(ui + '#/secrets');
  await page.click('#include-deleted');
  await page.click('form[aria-label="Filter and sort"] button[type=submit]');
  await page.waitFor(`!!document.querySelector('tr[data-secret="console/db"]')`);
  assert.equal(await page.eval(`!!document.querySelector('tr[data-secret="console/made-in-page"]')`), false);
});

test('the KMS view shows the key the secrets use, and the rotation log view answers', async () => {
  await page.goto(ui + '#/kms');
  await page.waitFor(`/aws\\/secretsmanager/.test(${text('#kms-keys')})`);
  await page.screenshot(shots, '05-kms');
  await page.goto(ui + '#/rotations');
  await page.waitFor(`!!document.querySelector('#rotation-log')`);
  await page.goto(ui + '#/worlds');
  await page.waitFor(`/000000000000/.test(${text('#worlds')})`);
  await page.screenshot(shots, '06-worlds');
});

test('the audit trail and IAM views appear exactly when their APIs answer', async () => {
  const trail = await fetch(endpoint + '/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents' }, body: '{}' });
  const body = await trail.json().catch(() => ({}));
  const hasTrail = trail.ok;
  await page.goto(ui + '#/secrets');
  await page.waitFor(`!!document.querySelector('#secret-table')`);
  const hidden = await page.eval(`document.querySelector('a[data-view="audit"]').parentElement.hidden`);
  assert.equal(hidden, !hasTrail, JSON.stringify(body));
  if (hasTrail) {
    await page.goto(ui + '#/audit');
    await page.waitFor(`!!document.querySelector('#audit-events')`);
    await page.screenshot(shots, '10-audit');
  }
});

test('a rotation from the page moves the labels on the timeline and logs its steps', async () => {
  const functionArn = 'arn:aws:lambda:us-east-1:000000000000:function:console-rotator';
  const hook = await control('POST', '/_smemu/hooks', { functionArn, kind: 'builtin', passwordLength: 24 });
  assert.equal(hook.functionArn, functionArn, JSON.stringify(hook));
  const created = await sm('CreateSecret', { Name: 'console/rotated', SecretString: 'before' });
  assert.equal(created.status, 200);
  const first = await sm('RotateSecret', { SecretId: 'console/rotated', RotationLambdaARN: functionArn,
    RotationRules: { AutomaticallyAfterDays: 30 }, ClientRequestToken: randomUUID() });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  await page.goto(ui + '#/secret/' + encodeURIComponent('console/rotated'));
  await page.waitFor(`document.querySelectorAll('#versions li').length === 2 &&
    ${text('#rotation-enabled')} === 'yes'`);
  await page.click('#rotate');
  await page.waitFor(`document.querySelectorAll('#versions li').length === 3`);
  await page.waitFor(`/AWSCURRENT/.test(${text('#versions li:last-child')})`);
  const labels = await page.eval(`[...document.querySelectorAll('#versions li')].map((li) =>
    [...li.querySelectorAll('.chip')].map((c) => c.textContent).join(','))`);
  assert.deepEqual(labels, ['', 'AWSPREVIOUS', 'AWSCURRENT']);
  // Two rotations of four steps each, all succeeded.
  await page.waitFor(`document.querySelectorAll('#rotation-log tbody tr').length === 8`);
  assert.doesNotMatch(await page.eval(text('#rotation-log')), /failed/);
  assert.match(await page.eval(text('#rotation-log')), /finishSecret/);
  await page.screenshot(shots, '07-rotation');
});

test('the layout holds at phone width', async () => {
  await page.setWidth(390, 844);
  await page.goto(ui + '#/secret/' + encodeURIComponent('console/db'));
  await page.waitFor(`document.querySelectorAll('#versions li').length === 3`);
  const overflow = await page.eval('document.documentElement.scrollWidth - window.innerWidth');
  await page.screenshot(shots, '08-phone');
  await page.setWidth(1280, 900);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
});

test('with 10,000 secrets the list is paged by the server and stays fast', async () => {
  const total = 10000;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const res = await sm('CreateSecret', { Name: `bulk/${String(i).padStart(5, '0')}`, SecretString: 'x' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const started = Date.now();
  await page.goto(ui + '#/secrets');
  await page.waitFor(`document.querySelectorAll('#secret-table tbody tr').length === 50`);
  const firstPage = Date.now() - started;
  assert.ok(firstPage < 10000, `first page after ${firstPage} ms`);
  const firstNames = await page.eval(`[...document.querySelectorAll('#secret-table tbody tr')].map((r) => r.dataset.secret)`);
  await page.click('#next-page');
  await page.waitFor(`${text('#page-info')} === 'Page 2'`);
  await page.waitFor(`document.querySelectorAll('#secret-table tbody tr').length === 50 &&
    document.querySelector('#secret-table tbody tr').dataset.secret !== ${q(firstNames[0])}`);
  // Filters run on the server too.
  await page.type('#filter-value', 'bulk/0999');
  await page.click('form[aria-label="Filter and sort"] button[type=submit]');
  await page.waitFor(`document.querySelectorAll('#secret-table tbody tr').length === 10`);
  await page.screenshot(shots, '09-ten-thousand');
});

test('under --auth strict the page signs with the key pair entered in its settings', { skip:
  !process.env.COMPAT_STRICT_ENDPOINT && 'no strict smemu' }, async () => {
  const strict = process.env.COMPAT_STRICT_ENDPOINT.replace(/\/$/, '');
  const strictPage = await browser.newPage();
  await strictPage.goto(strict + '/_smemu/ui#/settings');
  await strictPage.type('#akid', process.env.COMPAT_STRICT_ACCESS_KEY_ID);
  await strictPage.type('#secret-key', process.env.COMPAT_STRICT_SECRET_ACCESS_KEY);
  if (token) await strictPage.type('#control-token', token);
  await strictPage.click('#save-settings');
  await strictPage.goto(strict + '/_smemu/ui#/secrets');
  await strictPage.eval(`document.querySelector('details').open = true`);
  await strictPage.type('#new-name', 'console/strict');
  await strictPage.type('#new-value', 'signed');
  await strictPage.click('#create-secret');
  await strictPage.waitFor(`document.querySelectorAll('#versions li').length === 1`);
  await strictPage.goto(strict + '/_smemu/ui#/clock');
  await strictPage.waitFor(`/\\d{4}-/.test(${text('#clock-value')})`);
  assert.deepEqual(strictPage.errors, []);
});
