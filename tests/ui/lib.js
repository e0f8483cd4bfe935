// Helpers of the viewer's browser tests: child processes, Redis over RESP, HTTP, waiting.
// Every process started here runs in its own process group and is killed on teardown and at exit.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const DJAPP = path.join(REPO, 'tests', 'apps', 'djapp');
const OUT = path.join(REPO, 'tests', 'out');
const SCOOBY_BPF = process.env.SCOOBY_BPF || path.join(REPO, 'build', 'scooby-bpf');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PYTHON = '/usr/bin/python3';
const GUNICORN = '/usr/bin/gunicorn';
const REDIS_SERVER = '/usr/bin/redis-server';

const live = new Set();

function log(msg) {
  process.stderr.write('[ui] ' + msg + '\n');
}

// What keeps the browser tests from running here; empty when nothing does.
function missingPrerequisites() {
  const problems = [];
  if (process.geteuid && process.geteuid() !== 0) problems.push('not root (scooby-bpf attaches with BPF)');
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) problems.push('kernel without BTF');
  for (const [what, file] of [['chromium', CHROMIUM], ['redis-server', REDIS_SERVER],
    ['gunicorn', GUNICORN], ['python3', PYTHON], ['scooby-bpf (make)', SCOOBY_BPF]]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch (e) {
      problems.push(what + ' missing: ' + file);
    }
  }
  if (!problems.length) {
    const r = spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' });
    if (r.status !== 0) problems.push('python3-django missing');
  }
  try {
    require.resolve('playwright-core');
  } catch (e) {
    problems.push('playwright-core not installed (run `make ui`, which runs npm ci)');
  }
  return problems;
}

class Proc {
  constructor(name, argv, dir, opts) {
    opts = opts || {};
    this.name = name;
    this.argv = argv;
    this.outPath = path.join(dir, name + '.out');
    this.errPath = path.join(dir, name + '.err');
    const out = fs.openSync(this.outPath, 'a');
    const err = fs.openSync(this.errPath, 'a');
    this.child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd, env: Object.assign({}, process.env, { PYTHONDONTWRITEBYTECODE: '1' }, opts.env || {}),
      stdio: ['ignore', out, err], detached: true,
    });
    fs.closeSync(out);
    fs.closeSync(err);
    this.pid = this.child.pid;
    this.exitCode = null;
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => {
      this.exitCode = code === null ? 'signal ' + sig : code;
      live.delete(this);
      resolve(this.exitCode);
    }));
    live.add(this);
  }

  alive() {
    return this.exitCode === null;
  }

  stdout() {
    return readText(this.outPath);
  }

  stderr() {
    return readText(this.errPath);
  }

  // Signals the group, waits up to timeoutMs, then SIGKILLs it; resolves the exit code.
  async stop(sig, timeoutMs) {
    if (this.alive()) {
      try { process.kill(-this.pid, sig || 'SIGTERM'); } catch (e) { /* gone */ }
      const t = setTimeout(() => this.kill(), timeoutMs || 10000);
      await this.exited;
      clearTimeout(t);
    }
    this.kill();
    return this.exitCode;
  }

  kill() {
    try { process.kill(-this.pid, 'SIGKILL'); } catch (e) { /* gone */ }
  }
}

process.on('exit', () => {
  for (const p of live) p.kill();
});

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return '';
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Polls fn (sync or async) until it returns something truthy, which is returned.
async function waitFor(fn, timeoutMs, what, intervalMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what + (last ? ': ' + last.message : ''));
    }
    await sleep(intervalMs || 100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

// One HTTP request; path is sent exactly as given. Resolves {status, body, headers}.
function httpGet(port, reqPath, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: port, path: reqPath, headers: headers || {}, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

// Sends raw bytes as an HTTP request (for request targets no client library would send).
function rawRequest(port, requestLine) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port: port });
    const chunks = [];
    s.on('connect', () => s.write(requestLine + '\r\nHost: 127.0.0.1:' + port + '\r\nConnection: close\r\n\r\n'));
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.setTimeout(30000, () => s.destroy(new Error('timeout')));
  });
}

// ---------------------------------------------------------------- Redis over RESP

function respEncode(args) {
  let out = '*' + args.length + '\r\n';
  for (const a of args) {
    const b = Buffer.from(String(a), 'utf8');
    out += '$' + b.length + '\r\n' + b.toString('utf8') + '\r\n';
  }
  return out;
}

// Parses one RESP reply at buf[pos]; returns [value, next] or null when incomplete.
function respParse(buf, pos) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  if (type === '+') return [line, eol + 2];
  if (type === '-') return [new Error(line), eol + 2];
  if (type === ':') return [Number(line), eol + 2];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, eol + 2];
    if (buf.length < eol + 2 + n + 2) return null;
    return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2];
  }
  if (type === '*') {
    const n = Number(line);
    const arr = [];
    let p = eol + 2;
    for (let i = 0; i < n; i++) {
      const r = respParse(buf, p);
      if (!r) return null;
      arr.push(r[0]);
      p = r[1];
    }
    return [n < 0 ? null : arr, p];
  }
  throw new Error('bad RESP reply type ' + type);
}

// Runs commands (arrays of arguments) pipelined on a new connection; resolves their replies.
function redis(sock, commands) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(sock);
    let buf = Buffer.alloc(0);
    let pos = 0;
    const replies = [];
    s.on('connect', () => s.write(commands.map(respEncode).join('')));
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const r = respParse(buf, pos);
        if (!r) break;
        replies.push(r[0]);
        pos = r[1];
      }
      if (replies.length === commands.length) {
        s.end();
        resolve(replies);
      }
    });
    s.on('error', reject);
    s.setTimeout(30000, () => s.destroy(new Error('redis timeout')));
  });
}

// Stores a record as scooby-bpf does (SET with TTL, ZADD, PUBLISH), n records per round trip.
async function publishRecords(sock, records) {
  const cmds = [];
  for (const rec of records) {
    cmds.push(['SET', 'scooby:req:' + rec.uuid, JSON.stringify(rec), 'EX', '600']);
    cmds.push(['ZADD', 'scooby:requests', String(Math.floor(rec.request.start_unix_ms)), rec.uuid]);
    cmds.push(['PUBLISH', 'scooby:live', rec.uuid]);
  }
  const replies = await redis(sock, cmds);
  const bad = replies.find((r) => r instanceof Error);
  if (bad) throw bad;
}

function uuid() {
  return require('node:crypto').randomBytes(16).toString('hex');
}

function nonce() {
  return uuid().slice(0, 12);
}

function mkTmp(tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'scooby-ui-' + tag + '-'));
  fs.chmodSync(d, 0o755);
  return d;
}

function iso(ms) {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

// A record in docs/FORMAT.md's shape; queries: [{query, offset, time, error, stack, ...}].
function makeRecord(opts) {
  const start = opts.start || Date.now();
  const dur = opts.duration_ms || 5;
  const qs = (opts.queries || []).map((q) => Object.assign({
    db: 'sqlite', query: q.query, start: iso(start + q.offset), end: iso(start + q.offset + q.time),
    start_offset_ms: q.offset, time_taken: q.time, error: q.error || null, truncated: false, tid: 42,
    stack: q.stack || [],
  }, q.extra || {}));
  const sql = { count: qs.length, omitted: 0, total_time: qs.reduce((a, q) => a + q.time_taken, 0), queries: qs };
  if (opts.groups) sql.groups = opts.groups;
  const plugins = {
    ProcessTime: { start: iso(start), end: iso(start + dur), process_time: dur },
    SQL: sql,
  };
  Object.assign(plugins, opts.plugins || {});
  return {
    uuid: opts.uuid || uuid(), version: 1,
    request: { method: opts.method || 'GET', path: opts.path === undefined ? '/synthetic/' : opts.path,
      status: opts.status === undefined ? 200 : opts.status, start_unix_ms: start, duration_ms: dur, pid: 4242, tid: 42,
      comm: 'synthetic', host: '127.0.0.1', request_id: null, incomplete: false },
    plugins_data: plugins, lost_events: 0,
  };
}

// The members every Redis/Memcache entry ends with (docs/FORMAT.md, as src/record.c writes them).
function entryCommon(start, e) {
  return {
    start: iso(start + e.offset), end: iso(start + e.offset + e.time), start_offset_ms: e.offset, time_taken: e.time,
    error: e.error || null, truncated: false, tid: 42, via: e.via || 'wire', stack: e.stack || [],
    stack_truncated: false, stack_partial: false,
  };
}

// plugins_data.Redis.queries[i]: e = {command, key, args, offset, time, error, via, stack}.
function redisEntry(start, e) {
  const words = [e.command].concat(e.key === null ? [] : [e.key], e.args || []);
  return Object.assign({ command: e.command, key: e.key, args: e.args || [], args_truncated: false,
    query: words.join(' ') }, entryCommon(start, e));
}

// plugins_data.Memcache.queries[i]: e = {func_name, arg, offset, time, error, via, stack}.
function memcacheEntry(start, e) {
  return Object.assign({ func_name: e.func_name, arg: e.arg, query: e.func_name + ' ' + e.arg }, entryCommon(start, e));
}

// plugins_data.CustomLog.logs[i]: e = {s, stream, offset, stack}.
function logEntry(start, e) {
  return { s: e.s, stream: e.stream, time: iso(start + e.offset), start_offset_ms: e.offset, truncated: false, tid: 42,
    stack: e.stack || [], stack_truncated: false, stack_partial: false };
}

// A key-value store's plugin (Redis, Memcache) over its entries, as a record has it.
function kvPlugin(entries, omitted) {
  const total = entries.reduce((a, q) => a + q.time_taken, 0);
  return { count: entries.length + (omitted || 0), omitted: omitted || 0,
    total_time: Math.round(total * 1000) / 1000, queries: entries };
}

module.exports = {
  REPO, DJAPP, OUT, SCOOBY_BPF, CHROMIUM, PYTHON, GUNICORN, REDIS_SERVER,
  log, missingPrerequisites, Proc, readText, sleep, waitFor, freePort, httpGet, rawRequest,
  redis, publishRecords, uuid, nonce, mkTmp, makeRecord, redisEntry, memcacheEntry, logEntry, kvPlugin,
};
