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

  it('shows the Redis, Memcache and CustomLog sections of a record next to its MySQL queries', { timeout: T }, async () => {
    const start = Date.now();
    const app = { filename: '/srv/shop/cart.py', lineno: 17, function: 'add_item' };
    const view = { filename: '/srv/shop/views.py', lineno: 88, function: 'cart_view' };
    const redisLib = { filename: '/usr/lib/python3/dist-packages/redis/client.py', lineno: 585, function: 'Redis.execute_command' };
    const mcLib = { filename: '/usr/lib/python3/dist-packages/pymemcache/client/base.py', lineno: 1212, function: 'Client._store_cmd' };
    const logLib = { filename: '/usr/lib/python3.11/logging/__init__.py', lineno: 1113, function: 'StreamHandler.emit' };
    const frame = (f) => 'File "' + f.filename + '", line ' + f.lineno + ', in ' + f.function;
    const rStack = [redisLib, app, view];
    const redisErr = 'ERR value is not an integer or out of range';
    const mcErr = 'SERVER_ERROR out of memory storing object';
    const hostileLog = 'WARNING cart 7: <script>alert(3)</script><img src=x onerror=alert(4)> & "done"';
    // a 5-command pipeline, read from the wire: one send, so one start and one end for all five
    const pipeline = [['SET', 'cart:7:a', ['1', 'EX', '60']], ['SET', 'greeting', ['hello world']], ['EXPIRE', 'cart:7', ['60']],
      ['HSET', 'cart:h', ['f', 'v']], ['GET', 'cart:7', []]];
    const redis = [
      L.redisEntry(start, { command: 'GET', key: 'cart:7', offset: 1.5, time: 0.3, stack: rStack }),
      L.redisEntry(start, { command: 'INCR', key: 'cart:count', offset: 2, time: 0.2, error: redisErr, stack: rStack }),
    ].concat(pipeline.map((c) => L.redisEntry(start, { command: c[0], key: c[1], args: c[2], offset: 3, time: 0.4, stack: rStack })));
    const memcache = [
      L.memcacheEntry(start, { func_name: 'get', arg: 'user:7', offset: 6, time: 0.15, via: 'library', stack: [app] }),
      L.memcacheEntry(start, { func_name: 'set', arg: 'user:7', offset: 6.5, time: 0.25, stack: [mcLib, app] }),
      L.memcacheEntry(start, { func_name: 'get_multi', arg: 'a b c', offset: 7, time: 0.1, via: 'library', error: mcErr }),
    ];
    const logs = [
      L.logEntry(start, { s: hostileLog, stream: 'stderr', offset: 4, stack: [logLib, app] }),
      L.logEntry(start, { s: 'plain line', stream: 'stdout', offset: 8 }),
      L.logEntry(start, { s: 'Traceback (most recent call last):\n  File "x.py", line 1', stream: 'stderr', offset: 10 }),
    ];
    const sqlStack = [{ filename: '/usr/lib/python3/dist-packages/pymysql/cursors.py', lineno: 153, function: 'Cursor.execute' }, view];
    const rec = L.makeRecord({
      start: start, path: '/cart/?t=' + L.nonce(), duration_ms: 20,
      queries: [
        { query: 'SELECT id, qty FROM cart WHERE user_id = 7', offset: 0.5, time: 0.8, stack: sqlStack,
          extra: { db: 'mysql', via: 'wire', stack_truncated: false, stack_partial: false } },
        { query: 'UPDATE cart SET qty = 2 WHERE id = 3', offset: 9, time: 1.2, stack: sqlStack,
          extra: { db: 'mysql', via: 'wire', stack_truncated: false, stack_partial: false } },
      ],
      groups: [
        { fingerprint: 'select id, qty from cart where user_id = ?', db: 'mysql', count: 1, total_time: 0.8,
          call_sites: ['/srv/shop/views.py:88'], duplicates: 0, n_plus_one: false, queries: [0] },
        { fingerprint: 'update cart set qty = ? where id = ?', db: 'mysql', count: 1, total_time: 1.2,
          call_sites: ['/srv/shop/views.py:88'], duplicates: 0, n_plus_one: false, queries: [1] },
      ],
      plugins: {
        ViewName: { view_name: 'shop.views.cart_view' },
        Redis: L.kvPlugin(redis), Memcache: L.kvPlugin(memcache),
        CustomLog: { count: logs.length, omitted: 0, logs: logs },
      },
    });
    assert.equal(rec.plugins_data.Redis.total_time, 2.5);
    assert.equal(rec.plugins_data.Memcache.total_time, 0.5);
    await L.publishRecords(env.sock, [rec]);

    // the list: Redis and Memcache counts (errors too) and times, and the log count, next to SQL's
    const row = page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: rec.request.path }) });
    await row.waitFor({ timeout: 15000 });
    const cells = await row.evaluate((r) => Array.from(r.children).map((c) => c.textContent));
    assert.deepEqual(cells.slice(3), ['200', '20.0 ms', '2', '2.00 ms', '', '7 (1 err)', '2.50 ms', '3 (1 err)', '0.50 ms', '3']);
    assert.deepEqual(await page.$$eval('.row.head span', (e) => e.map((x) => x.textContent)),
      ['time', 'method', 'path', 'status', 'duration', 'queries', 'DB time', 'N+1', 'Redis', 'Redis time', 'Memcache', 'MC time', 'logs']);
    await row.click();
    await page.waitForSelector('#waterfall');
    const meta = await page.$$eval('.req-meta > span', (e) => e.map((x) => x.textContent));
    for (const m of ['queries 2', 'Redis 7 · 2.50 ms', 'Memcache 3 · 0.50 ms', 'logs 3']) assert.ok(meta.includes(m), JSON.stringify(meta));

    // the timeline: every entry in its store's colour, in the order they started
    assert.equal(await page.locator('#waterfall .wf-bar').count(), 12);
    assert.equal(await page.locator('#waterfall .wf-bar.db-mysql').count(), 2);
    assert.equal(await page.locator('#waterfall .wf-bar.db-redis').count(), 7);
    assert.equal(await page.locator('#waterfall .wf-bar.db-memcache').count(), 3);
    assert.equal(await page.locator('#waterfall .wf-bar.err').count(), 2);
    assert.deepEqual(await page.locator('#waterfall .wf-legend .wf-key').allTextContents(), ['mysql 2', 'redis 7', 'memcache 3']);
    const colours = await page.$$eval('#waterfall .wf-bar', (bars) => bars.map((b) => getComputedStyle(b).backgroundColor));
    assert.equal(colours[1], 'rgb(210, 69, 59)', 'a Redis bar in --redis');
    assert.equal(colours[9], 'rgb(138, 92, 214)', 'a memcached bar in --memcache');
    assert.deepEqual(await page.locator('#waterfall .wf-label').allTextContents(), [
      'mysql #1 SELECT id, qty FROM cart WHERE user_id = 7', 'redis #1 GET cart:7', 'redis #2 INCR cart:count',
      'redis #3 SET cart:7:a 1 EX 60', 'redis #4 SET greeting hello world', 'redis #5 EXPIRE cart:7 60',
      'redis #6 HSET cart:h f v', 'redis #7 GET cart:7', 'memcache #1 get user:7', 'memcache #2 set user:7',
      'memcache #3 get_multi a b c', 'mysql #2 UPDATE cart SET qty = 2 WHERE id = 3']);

    // the tabs: one per store with something in it
    assert.deepEqual(await page.locator('.tabs .tab').allTextContents(), ['SQL (2)', 'Similar', 'Redis (7)', 'Memcache (3)', 'Log (3)']);
    const cards = page.locator('.cards .q');
    assert.equal(await cards.count(), 2);
    assert.deepEqual(await cards.locator('.badge.db').allTextContents(), ['mysql', 'mysql']);
    assert.deepEqual(await cards.locator('.badge.via').allTextContents(), ['via wire', 'via wire']);
    await page.click('button[data-tab="groups"]');
    assert.deepEqual(await page.locator('#groups tbody .badge.db').allTextContents(), ['mysql', 'mysql']);

    // Redis: the commands with key and args, timing, the error in the SQL error style, the pipeline
    await page.click('button[data-tab="redis"]');
    assert.equal(await cards.count(), 7);
    assert.deepEqual(await cards.locator('.q-text').allTextContents(), ['GET cart:7', 'INCR cart:count', 'SET cart:7:a 1 EX 60',
      'SET greeting hello world', 'EXPIRE cart:7 60', 'HSET cart:h f v', 'GET cart:7']);
    assert.deepEqual(await cards.locator('.r-cmd').allTextContents(), ['GET', 'INCR', 'SET', 'SET', 'EXPIRE', 'HSET', 'GET']);
    assert.deepEqual(await cards.nth(3).locator('.r-arg').allTextContents(), ['hello world']);
    assert.deepEqual(await cards.nth(2).locator('.r-arg').allTextContents(), ['1', 'EX', '60']);
    assert.deepEqual(await cards.locator('.q-time').allTextContents(), ['0.30 ms', '0.20 ms'].concat(Array(5).fill('0.40 ms')));
    assert.deepEqual(await cards.locator('.q-off').allTextContents(), ['at +1.50 ms', 'at +2.00 ms'].concat(Array(5).fill('at +3.00 ms')));
    assert.deepEqual(await cards.locator('.badge.via').allTextContents(), Array(7).fill('via wire'));
    assert.equal(await page.locator('.cards .q.err').count(), 1);
    const redisError = page.locator('.cards .q.err .q-error');
    assert.equal(await redisError.textContent(), redisErr);
    assert.equal(await page.locator('.cards .q.err .badge.err').textContent(), 'error');
    const errStyle = await redisError.evaluate((e) => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]);
    assert.deepEqual(errStyle, ['rgb(198, 47, 59)', 'rgb(253, 232, 234)']);
    // its stack: the application frames, then every frame with its file and line
    const first = cards.nth(0);
    assert.deepEqual(await first.locator('.stack li').allTextContents(), [frame(app), frame(view)]);
    await first.locator('button.all-frames').click();
    assert.deepEqual(await first.locator('.stack li').allTextContents(), rStack.map(frame));
    assert.deepEqual(await first.locator('.stack li.lib').allTextContents(), [frame(redisLib)]);
    await first.locator('button.copy-query').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'GET cart:7');
    await shot('redis');

    // Memcache: func_name, arg, time, via, the error
    await page.click('button[data-tab="memcache"]');
    assert.equal(await cards.count(), 3);
    assert.deepEqual(await cards.locator('.m-func').allTextContents(), ['get', 'set', 'get_multi']);
    assert.deepEqual(await cards.locator('.m-arg').allTextContents(), ['user:7', 'user:7', 'a b c']);
    assert.deepEqual(await cards.locator('.q-time').allTextContents(), ['0.15 ms', '0.25 ms', '0.10 ms']);
    assert.deepEqual(await cards.locator('.badge.via').allTextContents(), ['via library', 'via wire', 'via library']);
    assert.equal(await page.locator('.cards .q.err .q-error').textContent(), mcErr);
    assert.deepEqual(await cards.nth(1).locator('.stack li').allTextContents(), [frame(app)]);
    await shot('memcache');

    // CustomLog: stream, offset, the text as text (the <script> is not run nor parsed), the stack
    await page.click('button[data-tab="log"]');
    const logCards = page.locator('.cards.logs .q');
    assert.equal(await logCards.count(), 3);
    assert.deepEqual(await logCards.locator('.log-text').allTextContents(), logs.map((l) => l.s));
    assert.deepEqual(await logCards.locator('.badge.stream').allTextContents(), ['stderr', 'stdout', 'stderr']);
    assert.deepEqual(await logCards.locator('.q-off').allTextContents(), ['at +4.00 ms', 'at +8.00 ms', 'at +10.0 ms']);
    assert.equal(await logCards.nth(0).locator('.log-text').evaluate((e) => e.tagName + ' ' + e.children.length), 'PRE 0');
    assert.equal(await page.locator('#request-view script, #request-view img').count(), 0);
    assert.equal(await page.evaluate(() => document.scripts.length), 2);
    assert.deepEqual(await logCards.nth(0).locator('.stack li').allTextContents(), [frame(app)]);
    await logCards.nth(0).locator('button.all-frames').click();
    assert.deepEqual(await logCards.nth(0).locator('.stack li').allTextContents(), [frame(logLib), frame(app)]);
    await shot('log');

    // a Redis bar of the timeline opens its card in the Redis tab
    await page.locator('#waterfall .wf-row', { has: page.locator('.wf-label', { hasText: 'redis #2 INCR' }) }).click();
    assert.equal(await page.locator('.tabs .tab.active').textContent(), 'Redis (7)');
    assert.equal(await page.locator('.cards .q.flash .q-text').textContent(), 'INCR cart:count');
    assert.deepEqual(await page.evaluate(() => window.__alerts), []);
    assert.deepEqual(pageErrors, []);
    await page.click('text=← all requests');
  });

  it('shows records of older versions (no Redis, Memcache, CustomLog) and hides empty sections', { timeout: T }, async () => {
    await page.waitForSelector('#list-view:not([hidden])');
    const start = Date.now();
    const old = L.makeRecord({ start: start, path: '/old/?t=' + L.nonce(),
      queries: [{ query: 'SELECT 1', offset: 0.2, time: 0.3 }] });
    const empty = L.makeRecord({ start: start + 1, path: '/empty/?t=' + L.nonce(),
      queries: [{ query: 'SELECT 2', offset: 0.2, time: 0.3, extra: { via: 'library' } }],
      plugins: { Redis: L.kvPlugin([]), Memcache: L.kvPlugin([]), CustomLog: { count: 0, omitted: 0, logs: [] } } });
    // a record from before logs had a stream, an offset or a count (Scooby's {s, stack} only)
    const bare = L.makeRecord({ start: start + 2, path: '/bare/?t=' + L.nonce(),
      plugins: { CustomLog: { logs: [{ s: 'old <b>line</b>', stack: [] }, 'a plain string'] } } });
    await L.publishRecords(env.sock, [old, empty, bare]);
    for (const rec of [old, empty, bare]) {
      const row = page.locator('#rows a.row', { has: page.locator('.c-path', { hasText: rec.request.path }) });
      await row.waitFor({ timeout: 15000 });
      const cells = await row.evaluate((r) => Array.from(r.children).map((c) => c.textContent));
      assert.deepEqual(cells.slice(5), rec === bare ? ['0', '0.00 ms', '', '', '', '', '', '2'] :
        ['1', '0.30 ms', '', '', '', '', '', ''], rec.request.path);
    }
    const tabsOf = async (rec) => {
      await page.evaluate((u) => { location.hash = '#/r/' + u; }, rec.uuid);
      await page.waitForFunction((p) => {
        const t = document.querySelector('#req-title .req-path');
        return t && t.textContent === p && document.getElementById('waterfall');
      }, rec.request.path, { timeout: 15000 });
      return page.locator('.tabs .tab').allTextContents();
    };
    assert.deepEqual(await tabsOf(old), ['SQL (1)', 'Similar']);
    assert.equal(await page.locator('.cards .q .badge.via').count(), 0);
    assert.equal(await page.locator('#waterfall .wf-bar').count(), 1);
    assert.deepEqual(await tabsOf(empty), ['SQL (1)', 'Similar']);
    assert.deepEqual(await page.locator('.cards .q .badge.via').allTextContents(), ['via library']);
    assert.deepEqual(await tabsOf(bare), ['SQL (0)', 'Similar', 'Log (2)']);
    await page.click('button[data-tab="log"]');
    assert.deepEqual(await page.locator('.cards.logs .log-text').allTextContents(), ['old <b>line</b>', 'a plain string']);
    assert.equal(await page.locator('.cards.logs b').count(), 0);
    assert.deepEqual(pageErrors, []);
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
