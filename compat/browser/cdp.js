// A headless Chromium driven over the DevTools protocol: just what the console's tests need
// (navigate, evaluate, wait for a condition, click, type, screenshot), with no dependency.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function chromiumPath() {
  return process.env.CHROMIUM || '/usr/bin/chromium';
}

export class Browser {
  static async launch() {
    const profile = mkdtempSync(join(tmpdir(), 'smemu-console-'));
    const proc = spawn(chromiumPath(), [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--metrics-recording-only', '--mute-audio',
      `--user-data-dir=${profile}`, '--remote-debugging-port=0', '--window-size=1280,900', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const url = await new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error('chromium did not start: ' + err)), 30000);
      proc.stderr.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited ${code}: ${err}`)); });
    });
    const browser = new Browser(proc, profile, new WebSocket(url));
    await new Promise((resolve, reject) => {
      browser.ws.addEventListener('open', resolve, { once: true });
      browser.ws.addEventListener('error', reject, { once: true });
    });
    return browser;
  }

  constructor(proc, profile, ws) {
    this.proc = proc;
    this.profile = profile;
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.id && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify(msg));
    });
  }

  async newPage() {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.send('Page.enable');
    await page.send('Runtime.enable');
    this.listeners.push((msg) => {
      if (msg.sessionId !== sessionId) return;
      if (msg.method === 'Runtime.exceptionThrown') page.errors.push(msg.params.exceptionDetails);
      if (msg.method === 'Runtime.consoleAPICalled' && msg.params.type === 'error') {
        page.errors.push(msg.params.args.map((a) => a.value || a.description).join(' '));
      }
    });
    return page;
  }

  async close() {
    try { await this.send('Browser.close'); } catch (e) { /* already gone */ }
    await new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const timer = setTimeout(() => { this.proc.kill('SIGKILL'); resolve(); }, 5000);
      this.proc.on('exit', () => { clearTimeout(timer); resolve(); });
    });
    this.ws.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
    this.errors = [];
  }

  send(method, params) { return this.browser.send(method, params, this.sessionId); }

  async goto(url) {
    await this.send('Page.navigate', { url });
    await this.waitFor('document.readyState === "complete"');
  }

  async eval(expression) {
    const res = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (res.exceptionDetails) {
      throw new Error(`${expression}: ${res.exceptionDetails.exception?.description || res.exceptionDetails.text}`);
    }
    return res.result.value;
  }

  // Polls `expression` until it is truthy; a deadline, not a sleep, bounds every wait.
  async waitFor(expression, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await this.eval(expression);
        if (last) return last;
      } catch (e) { last = e.message; }
      if (Date.now() > deadline) {
        const status = await this.eval('document.getElementById("status")?.textContent').catch(() => '');
        throw new Error(`timed out waiting for ${expression} (last: ${last}; page status: ${status})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async click(selector) {
    await this.waitFor(`!!document.querySelector(${JSON.stringify(selector)})`);
    await this.eval(`document.querySelector(${JSON.stringify(selector)}).click()`);
  }

  async type(selector, text) {
    await this.waitFor(`!!document.querySelector(${JSON.stringify(selector)})`);
    await this.eval(`(() => { const el = document.querySelector(${JSON.stringify(selector)});
      el.focus(); el.value = ${JSON.stringify(text)}; el.dispatchEvent(new Event('input', { bubbles: true })); })()`);
  }

  async setWidth(width, height = 900) {
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: width < 700 });
  }

  async screenshot(dir, name) {
    mkdirSync(dir, { recursive: true });
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true });
    writeFileSync(join(dir, name + '.png'), Buffer.from(data, 'base64'));
  }
}
