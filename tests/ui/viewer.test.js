// Browser tests of `scooby-bpf serve`: Debian's chromium (playwright-core) against real redis-server,
// the Django test app under gunicorn, scooby-bpf attached to it, and the viewer. Screenshots: tests/out/.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const L = require('./lib');

const SQ_GET = 'SELECT "app_item"."id", "app_item"."name" FROM "app_item" WHERE "app_item"."id" = ? LIMIT 21';
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const T = 90000; // per test

const problems = L.missingPrerequisites();
if (problems.length) {
  const msg = 'scooby-bpf viewer browser tests cannot run: ' + problems.join('; ');
  const bar = '!'.repeat(78);
  process.stderr.write('\n' + bar + '\n!! ' + msg + '\n' + bar + '\n');
  if (process.env.CI) {
    // CI must never pass without running these
    it('prerequisites', () => assert.fail(msg + ' (CI is set: this is a failure, not a skip)'));
  } else {
    it('prerequisites', { skip: msg }, () => {});
  }
} else {
  describe('scooby-bpf serve in a browser', { timeout: 15 * 60000 }, suite);
}

function suite() {
  const env = {};
  let page, ctx, pageErrors = [], dialogs = [];

  async function shot(name) {
    fs.mkdirSync(L.OUT, { recursive: true });
    await page.screenshot({ path: path.join(L.OUT, 'ui-' + name + '.png'), fullPage: false });
  }

  // Sends one request to the app; path as given (plus a unique tag unless tag is false).
  async function hit(p, tag) {
    const sent = tag === false ? p : p + (p.includes('?') ? '&' : '?') + 't=' + L.nonce();
    const r = await L.httpGet(env.appPort, sent);
    return { sent: sent, status: r.status };
  }

  // The stored summary of the request for exactly this path, once the viewer's API has it.
  async function summaryFor(p) {
    return L.waitFor(async () => {
      const r = await L.httpGet(env.viewPort, '/api/requests?limit=1000&path=' + encodeURIComponent(p));
      const items = JSON.parse(r.body).items || [];
      return items.find((s) => s.path === p);
    }, 20000, 'a record for ' + p);
  }

  async function visiblePaths() {
    return page.$$eval('#rows a.row .c-path', (els) => els.map((e) => e.textContent));
  }

  async function setFilters(f) {
    await page.fill('#f-path', f.path || '');
    await page.selectOption('#f-status', f.status || '');
    await page.fill('#f-min', f.min ? String(f.min) : '');
    await page.setChecked('#f-n1', !!f.n1);
    await page.selectOption('#f-sort', f.sort || 'time');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }

  before(async () => {
    env.tmp = L.mkTmp('viewer');
    L.log('temp dir ' + env.tmp);
    env.sock = path.join(env.tmp, 'redis.sock');
    await startRedis(env);
    const djEnv = { DJANGO_SETTINGS_MODULE: 'djapp.settings', SCOOBY_DB: 'sqlite',
      SCOOBY_SQLITE_PATH: path.join(env.tmp, 'db.sqlite3') };
    for (const args of [['migrate', '-v', '0'], ['seed', '5']]) {
      const r = require('node:child_process').spawnSync(L.PYTHON, ['manage.py'].concat(args), {
        cwd: L.DJAPP, env: Object.assign({}, process.env, djEnv, { PYTHONDONTWRITEBYTECODE: '1' }), encoding: 'utf8' });
      assert.equal(r.status, 0, 'manage.py ' + args.join(' ') + ' failed:\n' + r.stdout + r.stderr);
    }
    env.appPort = await L.freePort();
    env.app = new L.Proc('gunicorn', [L.GUNICORN, '-w', '2', '-b', '127.0.0.1:' + env.appPort, '--chdir', L.DJAPP,
      '--timeout', '60', '--graceful-timeout', '3', 'djapp.wsgi:application'], env.tmp, { env: djEnv });
    await L.waitFor(async () => {
      if (!env.app.alive()) throw new Error('gunicorn exited:\n' + env.app.stderr());
      return (await L.httpGet(env.appPort, '/noquery/')).status === 200;
    }, 30000, 'gunicorn');
    env.scooby = new L.Proc('scooby', [L.SCOOBY_BPF, '-p', String(env.app.pid), '--redis', 'unix://' + env.sock, '-q'], env.tmp);
    await L.waitFor(() => {
      if (!env.scooby.alive()) throw new Error('scooby-bpf exited:\n' + env.scooby.stderr());
      return /^scooby-bpf: attached/m.test(env.scooby.stderr());
    }, 30000, "scooby-bpf's 'attached' line");
    env.viewPort = await L.freePort();
    env.serve = new L.Proc('serve', [L.SCOOBY_BPF, 'serve', '--redis', 'unix://' + env.sock,
      '--listen', '127.0.0.1:' + env.viewPort, '--slow-ms', '100'], env.tmp);
    await L.waitFor(async () => {
      if (!env.serve.alive()) throw new Error('scooby-bpf serve exited:\n' + env.serve.stderr());
      return (await L.httpGet(env.viewPort, '/api/config')).status === 200;
    }, 15000, 'the viewer');
    assert.match(env.serve.stderr(), new RegExp('scooby-bpf: serving http://127\\.0\\.0\\.1:' + env.viewPort + '/'));

    const { chromium } = require('playwright-core');
    env.profile = path.join(env.tmp, 'chromium-profile');
    ctx = await chromium.launchPersistentContext(env.profile, {
      executablePath: L.CHROMIUM, headless: true, args: BROWSER_ARGS, viewport: { width: 1300, height: 850 },
    });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: 'http://127.0.0.1:' + env.viewPort });
    page = ctx.pages()[0] || await ctx.newPage();
    await page.addInitScript(() => {
      window.__alerts = [];
      for (const f of ['alert', 'confirm', 'prompt']) window[f] = (m) => { window.__alerts.push(f + ':' + m); };
    });
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') L.log('console error: ' + m.text()); });
  });

  after(async () => {
    if (ctx) await ctx.close().catch(() => {});
    for (const p of [env.serve, env.scooby, env.app, env.redis]) {
      if (p) await p.stop(p === env.scooby ? 'SIGINT' : 'SIGTERM', 15000);
    }
    if (env.serve) L.log('viewer stderr:\n    ' + env.serve.stderr().trim().split('\n').slice(-10).join('\n    '));
    if (env.tmp && !process.env.SCOOBY_KEEP_TMP) fs.rmSync(env.tmp, { recursive: true, force: true });
  });

  it('loads the page and shows new requests live, without a reload', { timeout: T }, async () => {
    await page.goto('http://127.0.0.1:' + env.viewPort + '/');
    await page.waitForSelector('#live-state.on', { timeout: 15000 });
    await page.evaluate(() => { window.__marker = 'no reload'; });
    const sent = [];
    for (const p of ['/items/', '/item/3/', '/nplus1/', '/fail/', '/noquery/']) sent.push((await hit(p)).sent);
    for (const p of sent) {
      await page.waitForFunction((want) => Array.from(document.querySelectorAll('#rows .c-path')).some((e) => e.textContent === want),
        p, { timeout: 20000 });
    }
    assert.equal(await page.evaluate(() => window.__marker), 'no reload');
    const rows = await visiblePaths();
    const pos = sent.map((p) => rows.indexOf(p));
    // newest first: the last request sent is above the first
    assert.ok(pos[4] < pos[0], 'newest first: ' + JSON.stringify(rows.slice(0, 10)));
    env.sent = { items: sent[0], item: sent[1], nplus1: sent[2], fail: sent[3], noquery: sent[4] };
    const n1Row = page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: env.sent.nplus1 }) });
    await n1Row.locator('.badge.n1').waitFor({ timeout: 5000 });
    const failRow = page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: env.sent.fail }) });
    assert.equal((await failRow.locator('.c-status').textContent()).trim(), '500');
    await shot('list');
  });

  it('opens an N+1 request: one waterfall bar per query, grouped counts', { timeout: T }, async () => {
    const sum = await summaryFor(env.sent.nplus1);
    const rec = JSON.parse((await L.httpGet(env.viewPort, '/api/requests/' + sum.uuid)).body);
    const queries = rec.plugins_data.SQL.queries;
    assert.ok(queries.length >= 6, 'the N+1 view runs 1 + 5 queries: ' + queries.length);
    await page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: env.sent.nplus1 }) }).click();
    await page.waitForSelector('#waterfall');
    assert.equal(await page.locator('#req-title .req-path').textContent(), env.sent.nplus1);
    assert.equal(await page.locator('#waterfall .wf-bar').count(), rec.plugins_data.SQL.count);
    assert.equal(await page.locator('#waterfall .wf-bar').count(), queries.length);
    assert.equal(await page.locator('.cards .q').count(), queries.length);
    // with stacks captured, the call site's frame is listed first
    const withStack = queries.find((q) => q.stack && q.stack.length);
    if (withStack) assert.ok(await page.locator('.stack li').count() > 0, 'stack frames shown');
    await page.click('button[data-tab="groups"]');
    const groups = await page.$$eval('#groups tbody tr', (trs) => trs.map((tr) => ({
      count: Number(tr.querySelector('.g-count').textContent), text: tr.querySelector('.g-text').textContent,
      n1: !!tr.querySelector('.badge.n1') })));
    const expected = new Map();
    for (const q of queries) expected.set(q.query, (expected.get(q.query) || 0) + 1);
    const get = rec.plugins_data.SQL.groups ? groups[0] : groups.find((g) => g.text === SQ_GET);
    assert.ok(get, 'a group for the repeated statement: ' + JSON.stringify(groups));
    if (!rec.plugins_data.SQL.groups) {
      assert.equal(groups.length, expected.size);
      for (const g of groups) assert.equal(g.count, expected.get(g.text), g.text);
    }
    assert.equal(get.count, 5);
    assert.ok(get.n1, 'the repeated statement is flagged N+1');
    await shot('nplus1-groups');
    // a group's queries, in the SQL tab
    await page.locator('#groups tbody tr', { has: page.locator('.g-count', { hasText: /^5$/ }) })
      .locator('button.show-group').click();
    await page.waitForSelector('button.show-all-queries:not([hidden])');
    assert.equal(await page.locator('.cards .q').count(), 5);
    const texts = await page.locator('.cards .q .q-text').allTextContents();
    assert.ok(texts.every((x) => x === texts[0]), JSON.stringify(texts));
    await page.click('button.show-all-queries');
    assert.equal(await page.locator('.cards .q').count(), queries.length);
    await shot('nplus1');
    // the raw JSON link opens the record
    const raw = await page.getAttribute('#raw-json', 'href');
    const r = await L.httpGet(env.viewPort, raw);
    assert.equal(JSON.parse(r.body).uuid, sum.uuid);
    await page.click('text=← all requests');
    await page.waitForSelector('#list-view:not([hidden])');
  });

  it('shows stacks (application frames first), groups, slow and failed queries of a record', { timeout: T }, async () => {
    const appFrame = { filename: '/srv/shop/orders/views.py', lineno: 42, function: 'order_list' };
    const libFrame = { filename: '/usr/lib/python3/dist-packages/django/db/models/query.py', lineno: 1322, function: '_fetch_all' };
    const lib2 = { filename: '/usr/lib/python3.11/threading.py', lineno: 975, function: 'run' };
    const hostile = "SELECT '<img src=x onerror=alert(1)>' -- </pre><script>alert(2)</script>";
    const rec = L.makeRecord({
      path: '/orders/?t=' + L.nonce(), duration_ms: 240,
      queries: [
        { query: 'SELECT * FROM orders WHERE id = ?', offset: 1, time: 0.5, stack: [libFrame, appFrame, lib2] },
        { query: 'SELECT * FROM orders WHERE id = ?', offset: 2, time: 0.4, stack: [libFrame, appFrame, lib2] },
        { query: 'SELECT * FROM orders WHERE id = ?', offset: 3, time: 0.3, stack: [libFrame, appFrame, lib2] },
        { query: 'SELECT pg_sleep(0.15)', offset: 10, time: 150.5, extra: { db: 'postgresql' } },
        { query: 'SELECT * FROM nope', offset: 170, time: 0.2, error: 'SQLITE_ERROR: no such table: nope' },
        { query: hostile, offset: 180, time: 0.1 },
      ],
      groups: [
        { fingerprint: 'select * from orders where id = ?', count: 3, total_time: 1.2, call_sites: ['/srv/shop/orders/views.py:42'], duplicates: 0, n_plus_one: true, queries: [0, 1, 2] },
        { fingerprint: 'select pg_sleep(?)', count: 1, total_time: 150.5, call_sites: [], duplicates: 0, n_plus_one: false },
      ],
      plugins: { ViewName: { view_name: 'orders.views.order_list', args: [], kwargs: {} } },
    });
    await L.publishRecords(env.sock, [rec]);
    const row = page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: rec.request.path }) });
    await row.waitFor({ timeout: 15000 });
    assert.equal(await row.locator('.badge.n1').count(), 1);
    await row.click();
    await page.waitForSelector('#waterfall');
    assert.equal(await page.locator('#waterfall .wf-bar').count(), 6);
    assert.equal(await page.locator('#waterfall .wf-bar.slow').count(), 1);
    assert.equal(await page.locator('#waterfall .wf-bar.db-postgresql').count(), 1);
    const cards = page.locator('.cards .q');
    // the first query's stack: only the application frame until "all frames"
    const first = cards.nth(0);
    assert.deepEqual(await first.locator('.stack li').allTextContents(), ['File "/srv/shop/orders/views.py", line 42, in order_list']);
    await first.locator('button.all-frames').click();
    assert.equal(await first.locator('.stack li').count(), 3);
    assert.equal(await first.locator('.stack li.lib').count(), 2);
    // copy buttons put the text on the clipboard
    await first.locator('button.copy-query').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'SELECT * FROM orders WHERE id = ?');
    await first.locator('button.copy-stack').click();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /views\.py", line 42, in order_list\n.*threading\.py/s);
    // slow (> --slow-ms) and failed queries
    assert.equal(await page.locator('.cards .q.slow').count(), 1);
    assert.match(await page.locator('.cards .q.slow .q-text').textContent(), /pg_sleep/);
    assert.equal(await page.locator('.cards .q.err .q-error').textContent(), 'SQLITE_ERROR: no such table: nope');
    // hostile SQL is text
    assert.equal(await cards.nth(5).locator('.q-text').textContent(), hostile);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.match(await page.locator('.req-meta').textContent(), /orders\.views\.order_list/);
    await shot('stacks');
    await page.click('button[data-tab="groups"]');
    const counts = await page.$$eval('#groups tbody tr .g-count', (e) => e.map((x) => x.textContent));
    assert.deepEqual(counts, ['3', '1']);
    assert.equal(await page.locator('#groups tr.n1 li').textContent(), '/srv/shop/orders/views.py:42');
    await shot('groups');
    await page.locator('#groups tr.n1 button.show-group').click();
    assert.equal(await page.locator('.cards .q').count(), 3);
    assert.deepEqual(await page.evaluate(() => window.__alerts), []);
    await page.click('text=← all requests');
  });

  it('filters by path, status class, duration and N+1, and sorts by duration', { timeout: T }, async () => {
    await page.waitForSelector('#list-view:not([hidden])');
    await setFilters({ path: 'nplus1' });
    let paths = await visiblePaths();
    assert.ok(paths.length >= 1 && paths.every((p) => p.includes('nplus1')), JSON.stringify(paths));
    assert.ok(paths.includes(env.sent.nplus1));

    await setFilters({ status: '5' });
    const statuses = await page.$$eval('#rows a.row .c-status', (e) => e.map((x) => x.textContent));
    assert.ok(statuses.length >= 1 && statuses.every((s) => /^5\d\d$/.test(s)), JSON.stringify(statuses));
    assert.ok((await visiblePaths()).includes(env.sent.fail));

    await setFilters({ n1: true });
    const badges = await page.$$eval('#rows a.row', (rows) => rows.map((r) => !!r.querySelector('.badge.n1')));
    assert.ok(badges.length >= 2 && badges.every(Boolean), JSON.stringify(badges));
    assert.ok(!(await visiblePaths()).includes(env.sent.noquery));

    await setFilters({ min: 200 });
    paths = await visiblePaths();
    assert.ok(paths.every((p) => p.startsWith('/orders/')), 'only the 240 ms record: ' + JSON.stringify(paths));
    await setFilters({ min: 1e9 });
    assert.equal((await visiblePaths()).length, 0);
    await shot('filtered-empty');

    await setFilters({ sort: 'duration' });
    const uuids = await page.$$eval('#rows a.row', (rows) => rows.map((r) => r.dataset.uuid));
    const api = JSON.parse((await L.httpGet(env.viewPort, '/api/requests?limit=1000')).body).items;
    const dur = new Map(api.map((s) => [s.uuid, s.duration_ms]));
    const durs = uuids.map((u) => dur.get(u));
    for (let i = 1; i < durs.length; i++) assert.ok(durs[i - 1] >= durs[i], 'sorted by duration: ' + JSON.stringify(durs));
    await setFilters({});
  });

  it('shows a path with <script> in it as text', { timeout: T }, async () => {
    const tag = L.nonce();
    const rawPath = '/<script>alert(1)</script>?t=' + tag;
    const encPath = '/%3Cscript%3Ealert(1)%3C/script%3E?t=' + tag;
    const resp = await L.rawRequest(env.appPort, 'GET ' + rawPath + ' HTTP/1.1');
    assert.match(resp, /^HTTP\/1\.[01] \d{3}/);
    await hit(encPath, false);
    for (const p of [rawPath, encPath]) {
      await page.waitForFunction((want) => Array.from(document.querySelectorAll('#rows .c-path')).some((e) => e.textContent === want),
        p, { timeout: 20000 });
    }
    await shot('script-path');
    assert.equal(await page.locator('#rows script').count(), 0);
    assert.equal(await page.evaluate(() => document.scripts.length), 2);
    await page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: rawPath }) }).click();
    await page.waitForSelector('#waterfall');
    assert.equal(await page.locator('#req-title .req-path').textContent(), rawPath);
    assert.equal(await page.evaluate(() => document.scripts.length), 2);
    assert.deepEqual(await page.evaluate(() => window.__alerts), []);
    assert.deepEqual(dialogs, []);
    await page.click('text=← all requests');
  });

  it('stays responsive with thousands of requests (only the visible rows are drawn)', { timeout: T }, async () => {
    await page.waitForSelector('#list-view:not([hidden])');
    const base = Date.now() - 3000; // the newest requests, as they would come
    const recs = [];
    for (let i = 0; i < 3000; i++) {
      recs.push(L.makeRecord({ start: base + i, path: '/bulk/' + i + '?q=' + (i % 7), duration_ms: (i % 97) + 0.5, status: i % 10 ? 200 : 404,
        queries: [{ query: 'SELECT ' + (i % 5), offset: 0.1, time: 0.05 }] }));
    }
    for (let i = 0; i < recs.length; i += 500) await L.publishRecords(env.sock, recs.slice(i, i + 500));
    await page.waitForFunction(() => window.Scooby.summaries() >= 3000, null, { timeout: 60000 });
    const domRows = await page.locator('#rows a.row').count();
    assert.ok(domRows > 0 && domRows < 150, domRows + ' rows in the DOM');
    const ms = await page.evaluate(async () => {
      const t0 = performance.now();
      const input = document.getElementById('f-path');
      input.value = '/bulk/1';
      input.dispatchEvent(new Event('input'));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return performance.now() - t0;
    });
    assert.ok(ms < 1000, 'filtering 3000+ rows took ' + ms + ' ms');
    assert.match(await page.locator('#shown').textContent(), /^showing \d+ of \d{4,} requests$/);
    await page.fill('#f-path', '');
    // scrolled to the bottom, the oldest request is drawn
    const oldest = (await L.redis(env.sock, [['ZRANGE', 'scooby:requests', '0', '0']]))[0][0];
    await page.waitForFunction((want) => {
      const v = document.getElementById('viewport');
      v.scrollTop = v.scrollHeight;
      const rows = document.querySelectorAll('#rows a.row');
      return rows.length && rows[rows.length - 1].dataset.uuid === want;
    }, oldest, { timeout: 5000, polling: 100 });
    assert.ok(await page.locator('#rows a.row').count() < 150);
    await shot('thousands');
    await page.evaluate(() => { document.getElementById('viewport').scrollTop = 0; });
  });

  it('works with --token when opened with ?token=, and refuses without it', { timeout: T }, async () => {
    const token = 'tok ' + L.nonce() + '&"<>';
    const port = await L.freePort();
    const v = new L.Proc('serve-token', [L.SCOOBY_BPF, 'serve', '--redis', 'unix://' + env.sock,
      '--listen', '127.0.0.1:' + port, '--token', token], env.tmp);
    try {
      await L.waitFor(() => /^scooby-bpf: serving/m.test(v.stderr()) || (!v.alive() && Promise.reject(new Error(v.stderr()))),
        15000, 'the token viewer');
      const p2 = await ctx.newPage();
      try {
        const refused = await p2.goto('http://127.0.0.1:' + port + '/');
        assert.equal(refused.status(), 401);
        const ok = await p2.goto('http://127.0.0.1:' + port + '/?token=' + encodeURIComponent(token));
        assert.equal(ok.status(), 200);
        await p2.waitForSelector('#live-state.on', { timeout: 15000 });
        await p2.waitForSelector('#rows a.row', { timeout: 15000 });
        const { sent } = await hit('/item/2/');
        await p2.waitForFunction((want) => Array.from(document.querySelectorAll('#rows .c-path')).some((e) => e.textContent === want),
          sent, { timeout: 20000 });
        await p2.locator('#rows a.row', { has: p2.locator('.c-path', { hasText: sent }) }).click();
        await p2.waitForSelector('#waterfall');
        const raw = await p2.getAttribute('#raw-json', 'href');
        assert.equal((await L.httpGet(port, raw)).status, 200);
        assert.equal((await L.httpGet(port, raw.replace(/[?&]token=[^&]*/, ''))).status, 401);
        await p2.screenshot({ path: path.join(L.OUT, 'ui-token.png') });
      } finally {
        await p2.close();
      }
    } finally {
      await v.stop('SIGTERM', 10000);
    }
  });

  it('says when Redis is down, and recovers when it is back', { timeout: 120000 }, async () => {
    await page.evaluate(() => { document.getElementById('viewport').scrollTop = 0; });
    await env.redis.stop('SIGTERM', 10000);
    await page.waitForSelector('#banner:not([hidden])', { timeout: 20000 });
    assert.match(await page.locator('#banner').textContent(), /Redis is unreachable/);
    const r = await L.httpGet(env.viewPort, '/api/requests');
    assert.equal(r.status, 503);
    assert.match(JSON.parse(r.body).error, /redis/i);
    await shot('redis-down');
    await startRedis(env);
    await page.waitForSelector('#banner', { state: 'hidden', timeout: 30000 });
    const { sent } = await hit('/items/');
    await page.waitForFunction((want) => Array.from(document.querySelectorAll('#rows .c-path')).some((e) => e.textContent === want),
      sent, { timeout: 30000 });
    await shot('recovered');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(await page.evaluate(() => window.__alerts), []);
  });
}

async function startRedis(env) {
  env.redis = new L.Proc('redis', [L.REDIS_SERVER, '--port', '0', '--unixsocket', env.sock, '--unixsocketperm', '700',
    '--save', '', '--appendonly', 'no', '--dir', env.tmp], env.tmp);
  await L.waitFor(async () => {
    if (!env.redis.alive()) throw new Error('redis-server exited:\n' + env.redis.stdout());
    return (await L.redis(env.sock, [['PING']]))[0] === 'PONG';
  }, 15000, 'redis-server');
}
