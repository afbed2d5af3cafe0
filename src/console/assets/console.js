// smemu's web console. It reads and writes only through the control API (/_smemu/...) and the
// services' own APIs, which it signs with SigV4 like any SDK: in the page, with WebCrypto (or a
// small SHA-256 below where the page is not a secure context and WebCrypto is absent).
// Plain script, no build step: it is embedded in the binary as written.
'use strict';

(function () {
  const enc = new TextEncoder();
  const store = window.sessionStorage;

  // ---------- settings (per tab: sessionStorage, never localStorage) ----------
  const settings = {
    get token() { return store.getItem('smemu.token') || ''; },
    set token(v) { v ? store.setItem('smemu.token', v) : store.removeItem('smemu.token'); },
    get accessKeyId() { return store.getItem('smemu.akid') || ''; },
    get secretAccessKey() { return store.getItem('smemu.secret') || ''; },
    get sessionToken() { return store.getItem('smemu.session') || ''; },
    setCredentials(akid, secret, session) {
      for (const [k, v] of [['smemu.akid', akid], ['smemu.secret', secret], ['smemu.session', session]]) {
        v ? store.setItem(k, v) : store.removeItem(k);
      }
    },
    get account() { return store.getItem('smemu.account') || ''; },
    set account(v) { store.setItem('smemu.account', v); },
    get region() { return store.getItem('smemu.region') || 'us-east-1'; },
    set region(v) { store.setItem('smemu.region', v); },
  };

  // In open mode smemu takes a 12-digit access key id as the account, and any other key as the
  // default account; signatures are not checked. So without entered credentials the console
  // signs with the account it shows and a fixed dummy secret.
  const OPEN_MODE_KEY = 'smemu-console';
  function credentials() {
    if (settings.accessKeyId) {
      return { id: settings.accessKeyId, secret: settings.secretAccessKey, session: settings.sessionToken };
    }
    const acct = /^\d{12}$/.test(settings.account) ? settings.account : OPEN_MODE_KEY;
    return { id: acct, secret: OPEN_MODE_KEY, session: '' };
  }

  // ---------- SHA-256 / HMAC ----------
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  const bytes = (v) => (typeof v === 'string' ? enc.encode(v) : new Uint8Array(v));
  const subtle = window.crypto && window.crypto.subtle;

  // FIPS 180-4, for pages served over plain http to a name that is not local (no WebCrypto there).
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2]);
  function sha256js(data) {
    const msg = bytes(data);
    const len = msg.length;
    const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
    padded.set(msg);
    padded[len] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
    view.setUint32(padded.length - 4, (len << 3) >>> 0);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
      0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i]);
    return out.buffer;
  }
  function hmacjs(key, data) {
    let k = bytes(key);
    if (k.length > 64) k = new Uint8Array(sha256js(k));
    const block = new Uint8Array(64);
    block.set(k);
    const inner = new Uint8Array(64 + bytes(data).length);
    const outer = new Uint8Array(64 + 32);
    for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
    inner.set(bytes(data), 64);
    outer.set(new Uint8Array(sha256js(inner)), 64);
    return sha256js(outer);
  }
  async function sha256(data) { return subtle ? subtle.digest('SHA-256', bytes(data)) : sha256js(data); }
  async function hmac(key, data) {
    if (!subtle) return hmacjs(key, data);
    const k = await subtle.importKey('raw', bytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return subtle.sign('HMAC', k, bytes(data));
  }

  // ---------- SigV4 ----------
  // Signs a POST to the page's own origin. The browser sends `Host` as location.host, so that is
  // what is signed; headers the browser adds itself are left out of the signature.
  async function signedHeaders(service, region, headers, body) {
    const cred = credentials();
    const now = new Date();
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const all = { ...headers, host: location.host, 'x-amz-date': amzDate };
    if (cred.session) all['x-amz-security-token'] = cred.session;
    const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
    const lower = {};
    for (const [k, v] of Object.entries(all)) lower[k.toLowerCase()] = String(v).trim();
    const canonical = ['POST', '/', '', names.map((n) => `${n}:${lower[n]}\n`).join(''), names.join(';'),
      hex(await sha256(body))].join('\n');
    const scope = `${day}/${region}/${service}/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(await sha256(canonical))].join('\n');
    let key = await hmac('AWS4' + cred.secret, day);
    for (const part of [region, service, 'aws4_request']) key = await hmac(key, part);
    const signature = hex(await hmac(key, toSign));
    const out = { ...headers, 'x-amz-date': amzDate };
    if (cred.session) out['x-amz-security-token'] = cred.session;
    out.authorization = `AWS4-HMAC-SHA256 Credential=${cred.id}/${scope}, SignedHeaders=${names.join(';')}, ` +
      `Signature=${signature}`;
    return out;
  }

  class ApiError extends Error {
    constructor(status, code, message) { super(message || code); this.status = status; this.code = code; }
  }

  // A JSON 1.1 call: Secrets Manager, KMS, CloudTrail.
  async function awsJson(service, target, payload, region) {
    const body = JSON.stringify(payload || {});
    const headers = await signedHeaders(service, region || settings.region,
      { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, body);
    const res = await fetch('/', { method: 'POST', headers, body, cache: 'no-store', credentials: 'omit' });
    const text = await res.text();
    let json = {};
    try { json = text ? JSON.parse(text) : {}; } catch (e) { json = {}; }
    if (!res.ok) {
      const type = String(json.__type || json.code || res.status).split('#').pop();
      throw new ApiError(res.status, type, json.message || json.Message || text.slice(0, 300));
    }
    return json;
  }
  const sm = (op, payload) => awsJson('secretsmanager', 'secretsmanager.' + op, payload);
  // What the SDKs fill in by themselves: writes of values are idempotent by this token.
  function requestToken() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const x = hex(b.buffer);
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }
  const kms = (op, payload) => awsJson('kms', 'TrentService.' + op, payload);
  const cloudtrail = (op, payload) =>
    awsJson('cloudtrail', 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.' + op, payload);

  // A query-protocol call (STS, IAM): a form body, an XML answer.
  async function awsQuery(service, region, params) {
    const body = new URLSearchParams(params).toString();
    const headers = await signedHeaders(service, region,
      { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body);
    const res = await fetch('/', { method: 'POST', headers, body, cache: 'no-store', credentials: 'omit' });
    const text = await res.text();
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    if (!res.ok || doc.querySelector('parsererror')) {
      const code = doc.querySelector('Code');
      throw new ApiError(res.status, code ? code.textContent : String(res.status), text.slice(0, 300));
    }
    return doc;
  }

  // The control API: plain JSON, the token when one is known.
  async function control(method, path, payload) {
    const headers = {};
    if (settings.token) headers['x-smemu-control-token'] = settings.token;
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(path, init);
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (res.status === 403 && json && /token|locked/i.test(json.error || '')) {
      askForToken(json.error);
      throw new ApiError(403, 'ControlTokenNeeded', json.error);
    }
    if (!res.ok) throw new ApiError(res.status, 'ControlError', (json && json.error) || String(res.status));
    return json;
  }

  // ---------- DOM helpers (text nodes only: nothing from the server is parsed as HTML) ----------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const $ = (id) => document.getElementById(id);
  function when(v) {
    if (v === undefined || v === null || v === '') return '';
    const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
    return isNaN(d) ? String(v) : d.toISOString().replace('.000Z', 'Z');
  }
  function status(text, isError) {
    const el = $('status');
    el.textContent = text || '';
    el.className = 'status' + (isError ? ' error' : '');
  }
  const errText = (e) => (e instanceof ApiError ? `${e.code}: ${e.message}` : String(e && e.message || e));
  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }
  function table(headers, rows, attrs) {
    return h('div', { class: 'scroll' }, h('table', attrs || {},
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows)));
  }
  function chips(labels) {
    return (labels || []).map((l) => h('span', { class: 'chip' + (l === 'AWSCURRENT' ? ' current' : '') }, l));
  }

  // ---------- token prompt ----------
  function askForToken(why) {
    $('token-why').textContent = why || '';
    $('token-panel').hidden = false;
  }

  // ---------- views ----------
  // A view mounts its controls once, then `refresh` fetches and redraws its content; the
  // refresh loop calls it again and redraws only when the answers changed, so inputs keep focus.
  const views = {};
  let current = null;

  function contentBox(main) {
    const box = h('div', { 'data-content': '' });
    main.append(box);
    let last = null;
    return {
      box,
      draw(key, build) {
        const sig = JSON.stringify(key);
        if (sig === last) return;
        last = sig;
        box.replaceChildren(...[].concat(build()));
      },
      reset() { last = null; },
    };
  }

  // Secrets: ListSecrets with its filters and sort, one server page at a time.
  const list = { filters: [], sortBy: 'created-date', sortOrder: 'desc', deleted: false, size: 50, tokens: [null],
    page: 0 };
  views.secrets = function (main) {
    main.append(h('h1', {}, 'Secrets'));
    const filterKey = h('select', { id: 'filter-key' }, ['all', 'name', 'description', 'tag-key', 'tag-value',
      'primary-region', 'owning-service'].map((k) => h('option', { value: k }, k)));
    const filterValue = h('input', { id: 'filter-value', size: 20, placeholder: 'value, !value to negate' });
    const sortBy = h('select', { id: 'sort-by' }, ['created-date', 'last-changed-date', 'last-accessed-date',
      'name'].map((k) => h('option', { value: k, selected: list.sortBy === k }, k)));
    const sortOrder = h('select', { id: 'sort-order' }, ['desc', 'asc'].map((k) =>
      h('option', { value: k, selected: list.sortOrder === k }, k)));
    const deleted = h('input', { type: 'checkbox', id: 'include-deleted', checked: list.deleted });
    const size = h('select', { id: 'page-size' }, [25, 50, 100].map((n) =>
      h('option', { value: n, selected: list.size === n }, n)));
    const active = h('p', { id: 'active-filters', class: 'muted' });
    const restart = () => { list.tokens = [null]; list.page = 0; content.reset(); refresh(); };
    const showFilters = () => {
      active.replaceChildren(list.filters.length ? 'Filters: ' : 'No filters.',
        ...list.filters.map((f, i) => h('span', { class: 'chip' }, `${f.Key}=${f.Values.join(',')} `,
          h('button', { type: 'button', 'aria-label': `remove filter ${f.Key}`,
            onclick: () => { list.filters.splice(i, 1); showFilters(); restart(); } }, '×'))));
    };
    const form = h('form', { class: 'controls', 'aria-label': 'Filter and sort',
      onsubmit: (ev) => {
        ev.preventDefault();
        if (filterValue.value.trim()) {
          const existing = list.filters.find((f) => f.Key === filterKey.value);
          if (existing) existing.Values.push(filterValue.value.trim());
          else list.filters.push({ Key: filterKey.value, Values: [filterValue.value.trim()] });
          filterValue.value = '';
        }
        list.sortBy = sortBy.value; list.sortOrder = sortOrder.value; list.deleted = deleted.checked;
        list.size = Number(size.value);
        showFilters();
        restart();
      } },
    h('label', {}, 'Filter', filterKey), h('label', {}, 'Value', filterValue),
    h('label', {}, 'Sort by', sortBy), h('label', {}, 'Order', sortOrder),
    h('label', {}, 'Page size', size),
    h('label', {}, h('span', {}, 'Deleted too'), deleted),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));
    main.append(form, active);
    showFilters();
    const pager = h('div', { class: 'pager' });
    main.append(pager);
    const content = contentBox(main);
    main.append(createForm());

    async function refresh() {
      const req = { MaxResults: list.size, SortOrder: list.sortOrder, SortBy: list.sortBy,
        IncludePlannedDeletion: list.deleted };
      if (list.filters.length) req.Filters = list.filters;
      const token = list.tokens[list.page];
      if (token) req.NextToken = token;
      const res = await sm('ListSecrets', req);
      list.tokens[list.page + 1] = res.NextToken || null;
      pager.replaceChildren(
        h('button', { type: 'button', id: 'prev-page', disabled: list.page === 0,
          onclick: () => { list.page--; content.reset(); refresh(); } }, '← Previous'),
        h('span', { id: 'page-info' }, `Page ${list.page + 1}`),
        h('button', { type: 'button', id: 'next-page', disabled: !res.NextToken,
          onclick: () => { list.page++; content.reset(); refresh(); } }, 'Next →'));
      content.draw(res.SecretList, () => {
        const items = res.SecretList || [];
        if (!items.length) return h('p', { id: 'no-secrets' }, 'No secrets match.');
        return table(['Name', 'Description', 'Changed', 'Rotation', 'Tags'], items.map((s) =>
          h('tr', { 'data-secret': s.Name },
            h('td', {}, h('a', { href: '#/secret/' + encodeURIComponent(s.ARN) }, s.Name),
              s.DeletedDate ? h('span', { class: 'chip' }, 'deleted ' + when(s.DeletedDate)) : null),
            h('td', { class: 'hide-narrow' }, s.Description || ''),
            h('td', {}, when(s.LastChangedDate || s.CreatedDate)),
            h('td', {}, s.RotationEnabled ? 'on, next ' + when(s.NextRotationDate) : 'off'),
            h('td', { class: 'hide-narrow' }, (s.Tags || []).map((t) => `${t.Key}=${t.Value}`).join(', ')))),
        { id: 'secret-table' });
      });
    }
    return refresh;
  };

  function createForm() {
    const name = h('input', { id: 'new-name', required: true, size: 30 });
    const value = h('textarea', { id: 'new-value', rows: 2, cols: 40 });
    const desc = h('input', { id: 'new-description', size: 30 });
    return h('details', {}, h('summary', {}, 'Create a secret'),
      h('form', { class: 'controls', onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const req = { Name: name.value.trim(), SecretString: value.value, ClientRequestToken: requestToken() };
          if (desc.value) req.Description = desc.value;
          const res = await sm('CreateSecret', req);
          status(`Created ${res.Name}.`);
          location.hash = '#/secret/' + encodeURIComponent(res.ARN);
        } catch (e) { status(errText(e), true); }
      } }, h('label', {}, 'Name', name), h('label', {}, 'Value', value), h('label', {}, 'Description', desc),
      h('button', { type: 'submit', class: 'primary', id: 'create-secret' }, 'Create')));
  }

  // One secret: metadata, versions and labels, values on request, tags, policy, key, replicas,
  // rotation and its log.
  views.secret = function (main, arn) {
    const revealed = new Map();
    const heading = h('h1', {}, arn.split(':secret:').pop());
    main.append(h('p', {}, h('a', { href: '#/secrets' }, '← All secrets')), heading);
    const actions = h('div', { class: 'controls' });
    main.append(actions);
    const content = contentBox(main);
    let auditOn = features.audit;

    async function act(fn, done) {
      try { await fn(); status(done); content.reset(); await refresh(); } catch (e) { status(errText(e), true); }
    }
    const newValue = h('input', { id: 'put-value', size: 30, 'aria-label': 'New value' });
    actions.append(
      h('form', { class: 'controls', onsubmit: (ev) => {
        ev.preventDefault();
        act(() => sm('PutSecretValue', { SecretId: arn, SecretString: newValue.value,
          ClientRequestToken: requestToken() }), 'New version stored.')
          .then(() => { newValue.value = ''; });
      } }, h('label', {}, 'New value', newValue), h('button', { type: 'submit', id: 'put-secret-value' }, 'Put value')),
      h('button', { type: 'button', id: 'rotate', onclick: () =>
        act(() => sm('RotateSecret', { SecretId: arn, ClientRequestToken: requestToken() }), 'Rotation started.') }, 'Rotate now'),
      confirmButton('delete-secret', 'Delete…', 'Delete this secret (7-day recovery window)?', () =>
        act(() => sm('DeleteSecret', { SecretId: arn, RecoveryWindowInDays: 7 }), 'Scheduled for deletion.')),
      h('button', { type: 'button', id: 'restore', onclick: () =>
        act(() => sm('RestoreSecret', { SecretId: arn }), 'Restored.') }, 'Restore'));

    function versionItem(v) {
      const isCurrent = (v.VersionStages || []).includes('AWSCURRENT');
      const shown = revealed.get(v.VersionId);
      const reveal = h('button', { type: 'button', class: 'reveal', 'aria-expanded': shown !== undefined,
        onclick: async () => {
          if (revealed.has(v.VersionId)) { revealed.delete(v.VersionId); content.reset(); refresh(); return; }
          try {
            const value = await sm('GetSecretValue', { SecretId: arn, VersionId: v.VersionId });
            revealed.set(v.VersionId, value.SecretString !== undefined ? value.SecretString
              : '(binary, base64) ' + value.SecretBinary);
            content.reset();
            refresh();
          } catch (e) { status(errText(e), true); }
        } }, shown !== undefined ? 'Hide value' : 'Reveal value');
      return h('li', { class: isCurrent ? 'current' : '', 'data-version': v.VersionId },
        h('div', {}, chips(v.VersionStages), (v.VersionStages || []).length ? '' : h('span', { class: 'muted' },
          'no labels (deprecated)')),
        h('div', {}, h('code', {}, v.VersionId)),
        h('div', { class: 'muted' }, 'created ' + when(v.CreatedDate),
          v.LastAccessedDate ? ', last read ' + when(v.LastAccessedDate) : ''),
        reveal, shown !== undefined ? h('pre', { class: 'value' }, shown) : null);
    }

    async function refresh() {
      const d = await sm('DescribeSecret', { SecretId: arn });
      const [versions, policy, key, runs, trail] = await Promise.all([
        sm('ListSecretVersionIds', { SecretId: arn, IncludeDeprecated: true, MaxResults: 100 })
          .catch((e) => ({ error: errText(e) })),
        sm('GetResourcePolicy', { SecretId: arn }).catch((e) => ({ error: errText(e) })),
        kms('DescribeKey', { KeyId: d.KmsKeyId || 'alias/aws/secretsmanager' })
          .catch((e) => ({ error: errText(e) })),
        control('GET', '/_smemu/rotations?secretId=' + encodeURIComponent(d.ARN)).catch((e) => ({ error: errText(e) })),
        auditOn ? cloudtrail('LookupEvents', { LookupAttributes: [{ AttributeKey: 'ResourceName',
          AttributeValue: d.ARN }], MaxResults: 50 }).catch((e) => ({ error: errText(e) })) : null,
      ]);
      const sortedVersions = (versions.Versions || []).slice()
        .sort((a, b) => (a.CreatedDate || 0) - (b.CreatedDate || 0));
      content.draw([d, versions, policy, key, runs, trail, [...revealed]], () => {
        const out = [];
        heading.textContent = d.Name;
        out.push(h('div', { class: 'grid2' },
          h('section', { 'aria-labelledby': 'meta-h' }, h('h2', { id: 'meta-h' }, 'Metadata'),
            h('dl', { class: 'meta' },
              [['ARN', d.ARN], ['Description', d.Description], ['Created', when(d.CreatedDate)],
              ['Last changed', when(d.LastChangedDate)], ['Last accessed', when(d.LastAccessedDate)],
              ['Deleted', when(d.DeletedDate)], ['Primary region', d.PrimaryRegion],
              ['Owning service', d.OwningService]].filter(([, v]) => v).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
          h('section', { 'aria-labelledby': 'key-h' }, h('h2', { id: 'key-h' }, 'KMS key'),
            key.error ? h('p', { class: 'error' }, key.error) : h('dl', { class: 'meta', id: 'secret-key' },
              h('dt', {}, 'Key'), h('dd', {}, d.KmsKeyId || 'aws/secretsmanager (default)'),
              h('dt', {}, 'Key id'), h('dd', {}, key.KeyMetadata.KeyId),
              h('dt', {}, 'State'), h('dd', { id: 'key-state' }, key.KeyMetadata.KeyState),
              h('dt', {}, 'Manager'), h('dd', {}, key.KeyMetadata.KeyManager)))));
        out.push(h('section', { 'aria-labelledby': 'versions-h' }, h('h2', { id: 'versions-h' }, 'Versions'),
          versions.error ? h('p', { class: 'error' }, versions.error)
            : h('ol', { class: 'timeline', id: 'versions' }, sortedVersions.map(versionItem))));
        if (trail && !trail.error) {
          const moves = (trail.Events || []).filter((e) => /SecretValue|VersionStage|RotateSecret|CreateSecret/
            .test(e.EventName));
          out.push(h('section', {}, h('h2', {}, 'How the labels moved (audit trail)'),
            moves.length ? table(['When', 'Event', 'By'], moves.map((e) => h('tr', {},
              h('td', {}, when(e.EventTime)), h('td', {}, e.EventName), h('td', {}, e.Username || ''))))
              : h('p', { class: 'muted' }, 'No recorded label changes.')));
        }
        out.push(h('section', { 'aria-labelledby': 'rot-h' }, h('h2', { id: 'rot-h' }, 'Rotation'),
          h('dl', { class: 'meta' },
            h('dt', {}, 'Enabled'), h('dd', { id: 'rotation-enabled' }, d.RotationEnabled ? 'yes' : 'no'),
            d.RotationLambdaARN ? [h('dt', {}, 'Function'), h('dd', {}, d.RotationLambdaARN)] : null,
            d.RotationRules ? [h('dt', {}, 'Rules'), h('dd', {}, JSON.stringify(d.RotationRules))] : null,
            h('dt', {}, 'Last rotated'), h('dd', {}, when(d.LastRotatedDate) || 'never'),
            h('dt', {}, 'Next rotation'), h('dd', {}, when(d.NextRotationDate) || '—')),
          runs.error ? h('p', { class: 'error' }, runs.error) : rotationTable(runs)));
        if (d.ReplicationStatus && d.ReplicationStatus.length) {
          out.push(h('section', {}, h('h2', {}, 'Replicas'), table(['Region', 'Status', 'Message', 'KMS key'],
            d.ReplicationStatus.map((r) => h('tr', {}, h('td', {}, r.Region), h('td', {}, r.Status),
              h('td', {}, r.StatusMessage || ''), h('td', {}, r.KmsKeyId || ''))), { id: 'replicas' })));
        }
        out.push(h('section', { 'aria-labelledby': 'tags-h' }, h('h2', { id: 'tags-h' }, 'Tags'),
          (d.Tags || []).length ? table(['Key', 'Value'], d.Tags.map((t) => h('tr', {}, h('td', {}, t.Key),
            h('td', {}, t.Value)))) : h('p', { class: 'muted' }, 'No tags.')));
        out.push(h('section', { 'aria-labelledby': 'pol-h' }, h('h2', { id: 'pol-h' }, 'Resource policy'),
          policy.error ? h('p', { class: 'error' }, policy.error)
            : policy.ResourcePolicy ? h('pre', { id: 'policy' }, pretty(policy.ResourcePolicy))
              : h('p', { class: 'muted' }, 'No resource policy.')));
        return out;
      });
    }
    return refresh;
  };

  function rotationTable(runs) {
    if (!runs.length) return h('p', { class: 'muted', id: 'rotation-log' }, 'No rotation has run.');
    return table(['Started', 'Version', 'Step', 'Status', 'Took', 'Trigger', 'Output'], runs.slice().reverse()
      .map((r) => h('tr', {}, h('td', {}, when(r.startedAt)), h('td', {}, h('code', {}, r.versionId)),
        h('td', {}, r.step), h('td', { class: r.status === 'failed' ? 'error' : '' }, r.status),
        h('td', {}, r.durationMs + ' ms'), h('td', {}, r.trigger + (r.mode === 'testOnly' ? ' (test only)' : '')),
        h('td', {}, r.output ? h('pre', {}, r.output) : ''))), { id: 'rotation-log' });
  }

  views.rotations = function (main) {
    main.append(h('h1', {}, 'Rotation log'), h('p', { class: 'muted' }, 'Every rotation step, newest first.'));
    const content = contentBox(main);
    return async () => {
      const runs = await control('GET', '/_smemu/rotations');
      content.draw(runs, () => rotationTable(runs));
    };
  };

  // A button that asks again before it acts: a second, explicit "Yes" button.
  function confirmButton(id, label, question, action) {
    const box = h('span', {});
    const ask = h('button', { type: 'button', id, class: 'danger', onclick: () => {
      box.replaceChildren(h('span', { role: 'alert' }, question + ' '),
        h('button', { type: 'button', id: id + '-confirm', class: 'danger',
          onclick: () => { box.replaceChildren(ask); action(); } }, 'Yes'),
        h('button', { type: 'button', onclick: () => { box.replaceChildren(ask); ask.focus(); } }, 'Cancel'));
      box.querySelector('button').focus();
    } }, label);
    box.append(ask);
    return box;
  }

  views.kms = function (main) {
    main.append(h('h1', {}, 'KMS keys and aliases'));
    const content = contentBox(main);
    return async () => {
      const keys = [];
      let marker;
      do {
        const res = await kms('ListKeys', marker ? { Limit: 100, Marker: marker } : { Limit: 100 });
        keys.push(...(res.Keys || []));
        marker = res.Truncated ? res.NextMarker : undefined;
      } while (marker && keys.length < 1000);
      const aliases = await kms('ListAliases', { Limit: 100 });
      const metas = await Promise.all(keys.map((k) => kms('DescribeKey', { KeyId: k.KeyId })
        .then((r) => r.KeyMetadata).catch((e) => ({ KeyId: k.KeyId, KeyState: errText(e) }))));
      content.draw([metas, aliases], () => {
        const byKey = {};
        for (const a of aliases.Aliases || []) if (a.TargetKeyId) (byKey[a.TargetKeyId] ||= []).push(a.AliasName);
        return [
          metas.length ? table(['Key id', 'Aliases', 'State', 'Manager', 'Usage', 'Description', 'Deletion'],
            metas.map((m) => h('tr', { 'data-key': m.KeyId }, h('td', {}, h('code', {}, m.KeyId)),
              h('td', {}, (byKey[m.KeyId] || []).join(', ')), h('td', {}, m.KeyState), h('td', {}, m.KeyManager || ''),
              h('td', { class: 'hide-narrow' }, m.KeyUsage || ''), h('td', { class: 'hide-narrow' }, m.Description || ''),
              h('td', {}, when(m.DeletionDate)))), { id: 'kms-keys' }) : h('p', {}, 'No keys in this world yet.'),
          h('h2', {}, 'Aliases'),
          table(['Alias', 'Target key'], (aliases.Aliases || []).map((a) => h('tr', {}, h('td', {}, a.AliasName),
            h('td', {}, a.TargetKeyId || '(created on first use)')))),
        ];
      });
    };
  };

  // Accounts × regions: the worlds that hold secrets, from the state export (read once per
  // visit of this view, not by the refresh loop: it carries every value).
  views.worlds = function (main) {
    main.append(h('h1', {}, 'Accounts and regions'),
      h('p', { class: 'muted' }, 'Worlds that hold secrets. Switch to one here or type any account and region above.'));
    const content = contentBox(main);
    let worlds = null;
    return async () => {
      if (!worlds) worlds = await knownWorlds();
      content.draw([worlds, settings.account, settings.region], () => worlds.length
        ? table(['Account', 'Region', 'Secrets', ''], worlds.map((w) => h('tr', {}, h('td', {}, w.account),
          h('td', {}, w.region), h('td', {}, w.secrets), h('td', {}, w.account === settings.account &&
            w.region === settings.region ? 'current' : h('button', { type: 'button',
            onclick: () => switchWorld(w.account, w.region) }, 'Switch')))), { id: 'worlds' })
        : h('p', {}, 'No secrets anywhere yet.'));
    };
  };
  async function knownWorlds() {
    const state = await control('GET', '/_smemu/state');
    const worlds = (state.stores || []).map((s) => ({ account: s.account, region: s.region,
      secrets: (s.secrets || []).length }));
    const regions = $('known-regions');
    regions.replaceChildren(...[...new Set(worlds.map((w) => w.region))].map((r) => h('option', { value: r })));
    return worlds;
  }

  views.clock = function (main) {
    main.append(h('h1', {}, 'Clock'));
    const content = contentBox(main);
    const custom = h('input', { id: 'advance-by', size: 8, placeholder: '1d12h' });
    const move = async (body) => {
      try {
        const res = await control('POST', '/_smemu/clock', body);
        status(`Clock now ${res.now}.`);
        content.reset();
        await refresh();
      } catch (e) { status(errText(e), true); }
    };
    main.append(h('div', { class: 'controls', role: 'group', 'aria-label': 'Advance the clock' },
      ['1h', '1d', '7d', '30d'].map((d) => h('button', { type: 'button', 'data-advance': d,
        onclick: () => move({ advance: d }) }, '+' + d)),
      h('form', { class: 'controls', onsubmit: (ev) => { ev.preventDefault(); move({ advance: custom.value.trim() }); } },
        h('label', {}, 'Advance by', custom), h('button', { type: 'submit' }, 'Advance'))));
    main.append(h('h2', {}, 'Reset'), h('p', { class: 'muted' },
      'Forgets secrets, schedules and the rotation log; hooks and the clock stay.'),
    h('div', { class: 'controls' },
      // The world is read when the reset is confirmed, not when the view was drawn.
      confirmButton('reset-world', 'Reset this world…', 'Forget the state of this account and region?', () =>
        control('POST', '/_smemu/reset', { account: settings.account, region: settings.region })
          .then(() => status(`Reset ${settings.account} ${settings.region}.`), (e) => status(errText(e), true))),
      confirmButton('reset-all', 'Reset everything…', 'Forget the state of every account and region?', () =>
        control('POST', '/_smemu/reset', {}).then(() => status('Everything was reset.'),
          (e) => status(errText(e), true)))));
    async function refresh() {
      const c = await control('GET', '/_smemu/clock');
      content.draw(c, () => h('dl', { class: 'meta', id: 'clock' },
        h('dt', {}, 'Now'), h('dd', { id: 'clock-value' }, c.now),
        h('dt', {}, 'Manual'), h('dd', {}, c.manual ? 'yes (moves only when told)' : 'no (follows real time)'),
        h('dt', {}, 'Next work due'), h('dd', { id: 'next-due' }, c.nextDue
          ? `${c.nextDue} (in ${span(Date.parse(c.nextDue) - Date.parse(c.now))})` : 'nothing scheduled')));
    }
    return refresh;
  };
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const d = Math.floor(s / 86400); const hh = Math.floor((s % 86400) / 3600); const m = Math.floor((s % 3600) / 60);
    return (d ? d + 'd ' : '') + (hh ? hh + 'h ' : '') + (m || (!d && !hh) ? m + 'm' : '').trim();
  }

  // The audit trail: shown only once CloudTrail LookupEvents answers.
  views.audit = function (main) {
    main.append(h('h1', {}, 'Audit trail'));
    const attr = h('select', { id: 'audit-attr' }, [['Username', 'principal'], ['EventName', 'event'],
      ['ResourceName', 'secret']].map(([v, t]) => h('option', { value: v }, t)));
    const value = h('input', { id: 'audit-value', size: 30 });
    const errorsOnly = h('input', { type: 'checkbox', id: 'audit-errors' });
    const content = contentBox(main);
    let query = {};
    main.insertBefore(h('form', { class: 'controls', onsubmit: (ev) => {
      ev.preventDefault();
      query = value.value.trim() ? { LookupAttributes: [{ AttributeKey: attr.value, AttributeValue: value.value.trim() }] } : {};
      content.reset();
      refresh();
    } }, h('label', {}, 'Filter by', attr), h('label', {}, 'Value', value),
    h('label', {}, h('span', {}, 'Errors only'), errorsOnly), h('button', { type: 'submit', class: 'primary' }, 'Apply')),
    content.box);
    errorsOnly.addEventListener('change', () => { content.reset(); refresh(); });
    async function refresh() {
      const res = await cloudtrail('LookupEvents', { ...query, MaxResults: 50 });
      const events = (res.Events || []).map((e) => {
        let detail = {};
        try { detail = JSON.parse(e.CloudTrailEvent || '{}'); } catch (x) { detail = {}; }
        return { ...e, detail };
      }).filter((e) => !errorsOnly.checked || e.detail.errorCode);
      content.draw([events, errorsOnly.checked], () => events.length
        ? table(['When', 'Event', 'Principal', 'Resource', 'Error'], events.map((e) => h('tr', {},
          h('td', {}, when(e.EventTime)), h('td', {}, e.EventName), h('td', {}, e.Username || ''),
          h('td', {}, (e.Resources || []).map((r) => r.ResourceName).join(', ')),
          h('td', { class: e.detail.errorCode ? 'error' : '' }, e.detail.errorCode
            ? `${e.detail.errorCode}: ${e.detail.errorMessage || ''}` : ''))), { id: 'audit-events' })
        : h('p', {}, 'No events match.'));
    }
    return refresh;
  };

  // IAM users and roles: shown only once the IAM API answers.
  views.iam = function (main) {
    main.append(h('h1', {}, 'IAM users and roles'));
    const content = contentBox(main);
    const iam = (params) => awsQuery('iam', 'us-east-1', { Version: '2010-05-08', ...params });
    const members = (doc, sel) => [...doc.querySelectorAll(sel)];
    const text = (el, name) => { const x = el.querySelector(name); return x ? x.textContent : ''; };
    async function policiesOf(kind, name) {
      const [inline, attached] = await Promise.all([
        iam({ Action: `List${kind}Policies`, [`${kind}Name`]: name }),
        iam({ Action: `ListAttached${kind}Policies`, [`${kind}Name`]: name })]);
      return members(inline, 'PolicyNames > member').map((m) => m.textContent + ' (inline)')
        .concat(members(attached, 'AttachedPolicies > member').map((m) => text(m, 'PolicyName')));
    }
    return async () => {
      const [users, roles] = await Promise.all([iam({ Action: 'ListUsers' }), iam({ Action: 'ListRoles' })]);
      const u = await Promise.all(members(users, 'Users > member').map(async (m) => ({
        name: text(m, 'UserName'), arn: text(m, 'Arn'), policies: await policiesOf('User', text(m, 'UserName')) })));
      const r = await Promise.all(members(roles, 'Roles > member').map(async (m) => ({
        name: text(m, 'RoleName'), arn: text(m, 'Arn'), trust: decodeURIComponent(text(m, 'AssumeRolePolicyDocument')),
        policies: await policiesOf('Role', text(m, 'RoleName')) })));
      content.draw([u, r], () => [
        h('h2', {}, 'Users'), table(['Name', 'ARN', 'Policies'], u.map((x) => h('tr', {}, h('td', {}, x.name),
          h('td', {}, x.arn), h('td', {}, x.policies.join(', ')))), { id: 'iam-users' }),
        h('h2', {}, 'Roles'), table(['Name', 'ARN', 'Policies', 'Trust policy'], r.map((x) => h('tr', {},
          h('td', {}, x.name), h('td', {}, x.arn), h('td', {}, x.policies.join(', ')),
          h('td', {}, h('pre', {}, pretty(x.trust))))), { id: 'iam-roles' }),
      ]);
    };
  };

  views.settings = function (main) {
    main.append(h('h1', {}, 'Settings'));
    const akid = h('input', { id: 'akid', size: 24, value: settings.accessKeyId, autocomplete: 'off' });
    const secret = h('input', { id: 'secret-key', type: 'password', size: 30, value: settings.secretAccessKey,
      autocomplete: 'off' });
    const session = h('input', { id: 'session-token', type: 'password', size: 30, value: settings.sessionToken,
      autocomplete: 'off' });
    const token = h('input', { id: 'control-token', type: 'password', size: 30, value: settings.token,
      autocomplete: 'off' });
    main.append(h('form', { onsubmit: (ev) => {
      ev.preventDefault();
      settings.setCredentials(akid.value.trim(), secret.value, session.value.trim());
      settings.token = token.value.trim();
      status('Settings saved for this tab.');
      whoAmI();
      probe();
    } },
    h('p', { class: 'muted' }, 'Kept in this tab only (sessionStorage). With no access key, the console signs as ' +
      'smemu\'s open mode expects: the account shown above as the access key id. Under --auth strict, enter a ' +
      'key pair smemu knows.'),
    h('div', { class: 'controls' }, h('label', {}, 'Access key id', akid), h('label', {}, 'Secret access key', secret),
      h('label', {}, 'Session token', session)),
    h('div', { class: 'controls' }, h('label', {}, 'Control token', token)),
    h('button', { type: 'submit', class: 'primary', id: 'save-settings' }, 'Save')));
    const content = contentBox(main);
    return async () => {
      const health = await control('GET', '/_smemu/health').catch((e) => ({ error: errText(e) }));
      content.draw(health, () => [h('h2', {}, 'Health'), h('pre', {}, JSON.stringify(health, null, 2))]);
    };
  };

  // ---------- features that appear when their APIs exist ----------
  const features = { audit: false, iam: false };
  function showNav(view, on) {
    const link = document.querySelector(`#nav a[data-view="${view}"]`);
    if (link) link.parentElement.hidden = !on;
  }
  const absent = (e) => e instanceof ApiError && (e.code === 'UnknownOperationException' || e.status === 404);
  async function probe() {
    try {
      await cloudtrail('LookupEvents', { MaxResults: 1 });
      features.audit = true;
    } catch (e) { features.audit = !absent(e) && e instanceof ApiError && e.status === 403; }
    try {
      const doc = await awsQuery('iam', 'us-east-1', { Action: 'ListUsers', Version: '2010-05-08' });
      features.iam = !!doc.querySelector('ListUsersResponse');
    } catch (e) { features.iam = false; }
    showNav('audit', features.audit);
    showNav('iam', features.iam);
  }

  // ---------- world, identity, clock line ----------
  function switchWorld(account, region) {
    if (account) settings.account = account;
    if (region) settings.region = region;
    $('world-account').value = settings.account;
    $('world-region').value = settings.region;
    list.tokens = [null]; list.page = 0;
    status(`Showing account ${settings.account || '(default)'} in ${settings.region}.`);
    whoAmI();
    route();
  }
  async function whoAmI() {
    try {
      const doc = await awsQuery('sts', settings.region, { Action: 'GetCallerIdentity', Version: '2011-06-15' });
      const acct = doc.querySelector('Account');
      const arn = doc.querySelector('Arn');
      if (acct && (settings.accessKeyId || !settings.account)) {
        settings.account = acct.textContent;
        $('world-account').value = settings.account;
      }
      $('version').textContent = (arn ? 'as ' + arn.textContent : '') + ($('version').dataset.v || '');
    } catch (e) { status('Cannot tell who the console calls as: ' + errText(e), true); }
  }

  async function tick() {
    try {
      const c = await control('GET', '/_smemu/clock');
      $('clock-now').textContent = 'smemu time ' + c.now + (c.manual ? ' (manual)' : '');
    } catch (e) { $('clock-now').textContent = ''; }
    const view = current;
    if (view && !view.busy && $('live').checked && !document.hidden) {
      view.busy = true;
      try { await view.refresh(); } catch (e) { status(errText(e), true); } finally { view.busy = false; }
    }
  }

  // ---------- routing ----------
  async function route() {
    const hash = location.hash || '#/secrets';
    const [, name, ...rest] = hash.split('/');
    const view = views[name] ? name : 'secrets';
    for (const a of document.querySelectorAll('#nav a')) {
      a.toggleAttribute('aria-current', false);
      if (a.dataset.view === view || (view === 'secret' && a.dataset.view === 'secrets')) {
        a.setAttribute('aria-current', 'page');
      }
    }
    const main = $('main');
    main.replaceChildren();
    const refresh = views[view](main, decodeURIComponent(rest.join('/')));
    const mine = { refresh };
    current = mine;
    const h1 = main.querySelector('h1');
    if (h1 && document.activeElement && document.activeElement.closest('nav')) main.focus();
    try {
      await refresh();
      if (current === mine) status('');
    } catch (e) { status(errText(e), true); }
  }

  async function start() {
    $('world-account').value = settings.account;
    $('world-region').value = settings.region;
    $('world').addEventListener('submit', (ev) => {
      ev.preventDefault();
      switchWorld($('world-account').value.trim(), $('world-region').value.trim());
    });
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      settings.token = $('token-input').value.trim();
      $('token-input').value = '';
      $('token-panel').hidden = true;
      route();
    });
    window.addEventListener('hashchange', route);
    let secrets = 0;
    try {
      const health = await control('GET', '/_smemu/health');
      $('version').dataset.v = ' · v' + health.version;
      $('version').textContent = ' · v' + health.version;
      secrets = health.secrets || 0;
    } catch (e) { /* shown by the first failing call */ }
    await whoAmI();
    await probe();
    // The export carries every secret; the region suggestions are not worth a large one.
    if (secrets <= 2000) knownWorlds().catch(() => {});
    await route();
    setInterval(tick, 3000);
    tick();
  }
  document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', start) : start();
})();
