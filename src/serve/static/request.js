// The viewer's request page: waterfall, SQL, Redis and memcached with stacks, similar-query groups, logs, profile.
// Record data is only ever put into the page as text (textContent / text nodes), never as HTML.
'use strict';

(function () {
  const S = window.Scooby;
  const el = S.el;
  const FIRST_RENDER = 300; // query cards drawn before "show all"
  const LIB_RE = /(^|\/)(site-packages|dist-packages)\/|\/lib\/python3[^/]*\/|^<frozen /;
  const STORES = { sqlite: 1, postgresql: 1, mysql: 1, redis: 1, memcache: 1 };

  let current = null; // { uuid, rec } of the page shown

  function isLibrary(f) {
    if (!f || typeof f !== 'object') return true;
    if (typeof f.filename !== 'string') return true; // native or unresolved frames
    return LIB_RE.test(f.filename);
  }

  function frameText(f) {
    if (!f || typeof f !== 'object') return '?';
    if (typeof f.filename === 'string' || typeof f.function === 'string') {
      return 'File "' + (f.filename || '?') + '", line ' + (f.lineno || '?') + ', in ' + (f.function || '?');
    }
    if ('module' in f || 'symbol' in f) {
      return '[native] ' + (f.module || '?') + ' ' + (f.symbol || '?') +
        (typeof f.offset === 'number' && isFinite(f.offset) ? '+0x' + f.offset.toString(16) : '');
    }
    return f.unresolved ? '(unresolved frame)' : JSON.stringify(f);
  }

  function stackText(stack) {
    return stack.map(frameText).join('\n');
  }

  function callSite(stack) {
    if (!Array.isArray(stack)) return null;
    const f = stack.find((x) => !isLibrary(x));
    return f ? f.filename + ':' + f.lineno : null;
  }

  function storeClass(db) {
    return STORES[db] ? 'db-' + db : 'db-other';
  }

  function slowMs() {
    const v = S.config && S.config.slow_ms;
    return typeof v === 'number' ? v : 100;
  }

  function arr(v) {
    return Array.isArray(v) ? v : [];
  }

  function obj(v) {
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  }

  // A plugin's count (omitted entries included), else the length of its list: older records have no count.
  function countOf(p, listName) {
    p = obj(p);
    return typeof p.count === 'number' ? p.count : arr(p[listName]).length;
  }

  // A plugin's total_time, else the sum of its listed entries' time_taken.
  function timeOf(p) {
    p = obj(p);
    if (typeof p.total_time === 'number') return p.total_time;
    return arr(p.queries).reduce((a, q) => a + (typeof obj(q).time_taken === 'number' ? q.time_taken : 0), 0);
  }

  // The command line of a Redis entry: its query, else command, key and args.
  function redisText(q) {
    if (typeof q.query === 'string' && q.query) return q.query;
    return [q.command, q.key].concat(arr(q.args)).filter((x) => x != null).map(String).join(' ');
  }

  function memcacheText(q) {
    if (typeof q.query === 'string' && q.query) return q.query;
    return [q.func_name, q.arg].filter((x) => x != null).map(String).join(' ');
  }

  // Every timed entry of the record, SQL first: {kind, db, n, text, start, time, error, stack, q}.
  function entries(rec) {
    const pd = obj(rec.plugins_data);
    const out = [];
    const add = (kind, list, fill) => arr(list).forEach((raw, i) => {
      const q = obj(raw);
      out.push(Object.assign({ kind: kind, db: kind, n: i + 1, start: q.start_offset_ms, time: q.time_taken,
        error: q.error, stack: arr(q.stack), q: q, i: i }, fill(q)));
    });
    add('sql', obj(pd.SQL).queries, (q) => ({ db: typeof q.db === 'string' && q.db ? q.db : 'sql',
      text: String(q.query == null ? '' : q.query) }));
    add('redis', obj(pd.Redis).queries, (q) => ({ text: redisText(q) }));
    add('memcache', obj(pd.Memcache).queries, (q) => ({ text: memcacheText(q) }));
    return out;
  }

  // ------------------------------------------------------------------ header

  function header(rec, uuid) {
    const req = rec.request || {};
    const pd = obj(rec.plugins_data);
    const sql = obj(pd.SQL);
    const view = pd.ViewName && pd.ViewName.view_name;
    const store = (p) => countOf(p, 'queries') ? countOf(p, 'queries') + ' · ' + S.fmtMs(timeOf(p)) : null;
    const path = req.path == null ? '(' + (req.method || 'no path') + ')' : String(req.path);
    const meta = [
      ['status', req.status == null ? 'no response' : String(req.status)],
      ['duration', S.fmtMs(req.duration_ms)],
      ['queries', String(sql.count || 0) + (sql.omitted ? ' (' + sql.omitted + ' not listed)' : '')],
      ['DB time', S.fmtMs(sql.total_time || 0)],
      ['Redis', store(pd.Redis)],
      ['Memcache', store(pd.Memcache)],
      ['logs', countOf(pd.CustomLog, 'logs') ? String(countOf(pd.CustomLog, 'logs')) : null],
      ['started', typeof req.start_unix_ms === 'number' ? new Date(req.start_unix_ms).toISOString() : ''],
      ['view', view || null],
      ['host', req.host],
      ['process', [req.comm, req.pid != null ? 'pid ' + req.pid : null, req.tid != null ? 'tid ' + req.tid : null]
        .filter(Boolean).join(' ')],
      ['request id', req.request_id],
    ];
    const head = el('div', { cls: 'req-head' }, [
      el('a', { href: '#/', text: '← all requests' }),
      el('h2', { attrs: { id: 'req-title' } }, [
        el('span', { cls: 'method', text: req.method || '' }),
        el('span', { cls: 'req-path', text: path }),
      ]),
      el('div', { cls: 'req-meta' }, meta.filter((m) => m[1]).map((m) =>
        el('span', {}, [m[0] + ' ', el('b', { text: m[1], cls: m[0] === 'status' ? S.statusClass(req.status) : '' })]))),
      el('div', { cls: 'req-links' }, [
        el('a', { href: S.api('/api/requests/' + uuid), text: 'raw JSON', attrs: { target: '_blank', rel: 'noopener', id: 'raw-json' } }),
        el('a', { href: S.api('/scooby/get-data/' + uuid + '/'), text: "Scooby's layout", attrs: { target: '_blank', rel: 'noopener' } }),
      ]),
    ]);
    if (req.incomplete) head.appendChild(el('div', { cls: 'notice', text: 'Incomplete: the response was not seen whole (client went away, timeout, or the process exited).' }));
    if (rec.lost_events) head.appendChild(el('div', { cls: 'notice', text: rec.lost_events + ' events were lost before this record: it may miss queries.' }));
    return head;
  }

  // ------------------------------------------------------------------ waterfall

  // Entries in the order they started (SQL, Redis and memcached interleaved); those without a start go last.
  function byStart(a, b) {
    const x = typeof a.start === 'number' ? a.start : Infinity;
    const y = typeof b.start === 'number' ? b.start : Infinity;
    return x === y ? 0 : x < y ? -1 : 1;
  }

  // One swatch per store in the timeline, in its colour, with its count.
  function legend(all) {
    const counts = new Map();
    for (const e of all) counts.set(e.db, (counts.get(e.db) || 0) + 1);
    return el('div', { cls: 'wf-legend' }, Array.from(counts).map((c) => el('span', { cls: 'wf-key', attrs: { 'data-db': c[0] } }, [
      el('i', { cls: 'wf-swatch ' + storeClass(c[0]) }), c[0] + ' ' + c[1],
    ])));
  }

  function waterfall(rec, entriesList, onPick) {
    const req = obj(rec.request);
    const all = entriesList.slice().sort(byStart);
    let span = typeof req.duration_ms === 'number' ? req.duration_ms : 0;
    for (const e of all) {
      if (typeof e.start === 'number' && typeof e.time === 'number') span = Math.max(span, e.start + e.time);
    }
    if (!(span > 0)) span = 1;
    const axis = el('div', { cls: 'wf-axis' }, [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const t = el('span', { cls: 'wf-tick', text: S.fmtMs(span * f) });
      t.style.left = f * 100 + '%';
      return t;
    }));
    const body = el('div', { cls: 'wf-body' });
    all.forEach((e) => {
      const bar = el('div', { cls: 'wf-bar ' + storeClass(e.db) + (e.time > slowMs() ? ' slow' : '') + (e.error ? ' err' : '') });
      const start = typeof e.start === 'number' ? e.start : 0;
      // labels number each entry as its own tab does: "redis #2" is the second card of the Redis tab
      const label = e.db + ' #' + e.n + ' ' + e.text.slice(0, 200);
      bar.style.left = Math.min(100, (start / span) * 100) + '%';
      bar.style.width = Math.max(0, ((typeof e.time === 'number' ? e.time : 0) / span) * 100) + '%';
      bar.title = e.db + ' #' + e.n + ' · ' + S.fmtMs(e.time) + ' at +' + S.fmtMs(start) +
        (e.error ? ' · error: ' + String(e.error).slice(0, 200) : '') + '\n' + e.text.slice(0, 500);
      const row = el('div', { cls: 'wf-row', attrs: { 'data-kind': e.kind }, on: { click: () => onPick(e) } }, [
        el('span', { cls: 'wf-label', text: label, title: e.text.slice(0, 500) }),
        el('div', { cls: 'wf-track' }, [bar]),
      ]);
      body.appendChild(row);
    });
    return el('div', { cls: 'waterfall', attrs: { id: 'waterfall' } }, [legend(all), axis, body]);
  }

  // ------------------------------------------------------------------ SQL, Redis and Memcache tabs

  function stackBlock(stack, q) {
    if (!stack.length) return null;
    const app = stack.filter((f) => !isLibrary(f));
    const lib = stack.length - app.length;
    const box = el('div', { cls: 'stack' });
    const listEl = el('ol', { cls: 'frames' });
    let showAll = app.length === 0;
    const toggle = el('button', { cls: 'all-frames', attrs: { type: 'button' } });
    const draw = () => {
      listEl.textContent = '';
      for (const f of showAll ? stack : app) {
        listEl.appendChild(el('li', { cls: isLibrary(f) ? 'lib mono' : 'app mono', text: frameText(f) }));
      }
      toggle.textContent = showAll ? 'application frames only' : 'all frames (' + stack.length + ')';
    };
    toggle.addEventListener('click', () => { showAll = !showAll; draw(); });
    draw();
    const flags = [q && q.stack_truncated ? 'truncated at --stack-depth' : null,
      q && q.stack_partial ? 'partial (the walk stopped early)' : null].filter(Boolean);
    box.appendChild(el('div', { cls: 'stack-note' }, [
      app.length + ' application frame(s)' + (lib ? ', ' + lib + ' library frame(s)' : '') + ' · innermost first' +
        (flags.length ? ' · ' + flags.join(', ') : '') + ' ',
      app.length && lib ? toggle : null,
    ]));
    box.appendChild(listEl);
    return box;
  }

  // "via wire" (read from the connection's bytes) or "via library" (a client library probe), when the record says.
  function viaBadge(q) {
    if (typeof q.via !== 'string' || !q.via) return null;
    return el('span', { cls: 'badge via via-' + (q.via === 'wire' ? 'wire' : 'library'), text: 'via ' + q.via,
      title: q.via === 'wire' ? "read from the connection's bytes" : 'seen by a client library probe' });
  }

  // A Redis command as command, key and args, each its own span so that an argument's spaces stay visible.
  function redisLine(e) {
    const q = e.q;
    if (q.command == null) return el('pre', { cls: 'q-text', text: e.text });
    const parts = [el('span', { cls: 'r-cmd', text: String(q.command) })];
    if (q.key != null) parts.push(' ', el('span', { cls: 'r-key', text: String(q.key) }));
    for (const a of arr(q.args)) parts.push(' ', el('span', { cls: 'r-arg', text: a == null ? '' : String(a) }));
    return el('pre', { cls: 'q-text' }, parts);
  }

  function memcacheLine(e) {
    const q = e.q;
    if (q.func_name == null) return el('pre', { cls: 'q-text', text: e.text });
    return el('pre', { cls: 'q-text' }, [el('span', { cls: 'm-func', text: String(q.func_name) }),
      q.arg != null ? ' ' : null, q.arg != null ? el('span', { cls: 'm-arg', text: String(q.arg) }) : null]);
  }

  // What an entry says beyond its text: SQL's Scooby extras, a Redis command's cut arguments.
  function extraLine(e) {
    const q = e.q;
    const extra = [];
    if (e.kind === 'sql') {
      if (q.query_template != null && q.query_template !== q.query) extra.push('template: ' + q.query_template);
      if (q.params != null) extra.push('params: ' + JSON.stringify(q.params));
      if (q.using != null) extra.push('using: ' + q.using);
    }
    if (e.kind === 'redis' && q.args_truncated) extra.push('arguments cut (at most 16, 64 bytes each)');
    return extra.length ? el('div', { cls: 'q-extra mono', text: extra.join('  ·  ') }) : null;
  }

  function queryCard(e, n) {
    const q = e.q || {};
    const slow = e.time > slowMs();
    const copyQ = el('button', { cls: 'copy-query', text: 'copy query', attrs: { type: 'button' } });
    copyQ.addEventListener('click', () => S.copyText(e.text, copyQ));
    const head = el('div', { cls: 'q-head' }, [
      el('span', { cls: 'q-n', text: '#' + n }),
      el('span', { cls: 'badge db ' + storeClass(e.db), text: e.db }),
      viaBadge(q),
      el('span', { cls: 'q-time', text: S.fmtMs(e.time) }),
      typeof e.start === 'number' ? el('span', { cls: 'q-off', text: 'at +' + S.fmtMs(e.start) }) : null,
      slow ? el('span', { cls: 'badge slow', text: 'slow > ' + slowMs() + ' ms' }) : null,
      e.error ? el('span', { cls: 'badge err', text: 'error' }) : null,
      q.truncated ? el('span', { cls: 'badge', text: 'truncated' }) : null,
      el('span', { cls: 'spring' }),
      copyQ,
    ]);
    if (e.stack.length) {
      const copyS = el('button', { cls: 'copy-stack', text: 'copy stack', attrs: { type: 'button' } });
      copyS.addEventListener('click', () => S.copyText(stackText(e.stack), copyS));
      head.appendChild(copyS);
    }
    const line = e.kind === 'redis' ? redisLine(e) : e.kind === 'memcache' ? memcacheLine(e) :
      el('pre', { cls: 'q-text', text: e.text });
    const card = el('div', { cls: 'q q-' + e.kind + (slow ? ' slow' : '') + (e.error ? ' err' : ''), attrs: { 'data-n': String(n) } }, [
      head,
      line,
      extraLine(e),
      e.error ? el('div', { cls: 'q-error', text: String(e.error) }) : null,
      stackBlock(e.stack, q),
    ]);
    e.card = card;
    return card;
  }

  // Query cards of list; only (a Set of indices into list, or null) narrows them to a group;
  // omitted: entries the record counted past its limit, not listed.
  function entriesPanel(list, emptyText, only, omitted) {
    const panel = el('div', { cls: 'panel' });
    let subset = only || null;
    const sortSel = el('select', { attrs: { 'aria-label': 'order' } }, [
      el('option', { text: 'execution order', attrs: { value: 'order' } }),
      el('option', { text: 'slowest first', attrs: { value: 'time' } }),
    ]);
    const slowOnly = el('input', { attrs: { type: 'checkbox' } });
    const cards = el('div', { cls: 'cards' });
    const draw = (limit) => {
      cards.textContent = '';
      let shown = list.map((e, i) => ({ e: e, n: i + 1 }));
      if (subset) shown = shown.filter((x) => subset.has(x.n - 1));
      if (slowOnly.checked) shown = shown.filter((x) => x.e.time > slowMs());
      if (sortSel.value === 'time') shown.sort((a, b) => (b.e.time || 0) - (a.e.time || 0));
      for (const x of shown.slice(0, limit)) cards.appendChild(queryCard(x.e, x.n));
      if (shown.length > limit) {
        const more = el('button', { cls: 'more', text: 'show all ' + shown.length, attrs: { type: 'button' } });
        more.addEventListener('click', () => draw(Infinity));
        cards.appendChild(more);
      }
      if (!list.length) cards.appendChild(el('p', { cls: 'empty', text: emptyText }));
    };
    sortSel.addEventListener('change', () => draw(FIRST_RENDER));
    slowOnly.addEventListener('change', () => draw(FIRST_RENDER));
    const reset = el('button', { cls: 'show-all-queries', attrs: { type: 'button' },
      text: subset ? 'one group: ' + subset.size + ' of ' + list.length + ' · show all' : '' });
    reset.hidden = !subset;
    reset.addEventListener('click', () => { subset = null; reset.hidden = true; draw(FIRST_RENDER); });
    panel.appendChild(el('div', { cls: 'panel-tools' }, [
      sortSel, el('label', {}, [slowOnly, ' slow only (> ' + slowMs() + ' ms)']), reset,
      omitted > 0 ? el('span', { cls: 'omitted', text: omitted + ' more not listed (past the per-record limit)' }) : null,
    ]));
    panel.appendChild(cards);
    draw(FIRST_RENDER);
    panel.showAll = () => draw(Infinity);
    return panel;
  }

  // ------------------------------------------------------------------ similar queries

  // Groups by exact text when the record has no groups of its own.
  function clientGroups(list) {
    const by = new Map();
    for (const e of list) {
      let g = by.get(e.text);
      if (!g) {
        g = { fingerprint: e.text, db: e.db, count: 0, total_time: 0, sites: new Set(), keys: new Set(), duplicates: 0, queries: [] };
        by.set(e.text, g);
      }
      g.count++;
      g.queries.push(e.i);
      g.total_time += typeof e.time === 'number' ? e.time : 0;
      const site = callSite(e.stack);
      if (site) g.sites.add(site);
      const key = e.q && e.q.params != null ? JSON.stringify(e.q.params) : '';
      if (g.keys.has(key)) g.duplicates++;
      g.keys.add(key);
    }
    return Array.from(by.values()).map((g) => ({
      fingerprint: g.fingerprint, db: g.db, count: g.count, total_time: g.total_time,
      call_sites: Array.from(g.sites), duplicates: g.duplicates, n_plus_one: g.count >= 3, queries: g.queries,
    }));
  }

  function groupsPanel(rec, list, onShow) {
    const sql = (rec.plugins_data || {}).SQL || {};
    const own = Array.isArray(sql.groups);
    const groups = (own ? sql.groups.slice() : clientGroups(list))
      .sort((a, b) => (b.count - a.count) || (b.total_time - a.total_time));
    const rows = groups.map((g) => el('tr', { cls: 'group' + (g.n_plus_one ? ' n1' : '') }, [
      el('td', { cls: 'num g-count', text: String(g.count) }),
      el('td', { cls: 'num', text: S.fmtMs(g.total_time) }),
      el('td', {}, [typeof g.db === 'string' && g.db ? el('span', { cls: 'badge db ' + storeClass(g.db), text: g.db }) : null,
        el('pre', { cls: 'g-text', text: String(g.fingerprint == null ? '' : g.fingerprint) })]),
      el('td', {}, [el('ul', {}, arr(g.call_sites).map((c) => el('li', { cls: 'mono', text: String(c) })))]),
      el('td', { cls: 'num', text: g.duplicates ? String(g.duplicates) : '' }),
      el('td', {}, [g.n_plus_one ? el('span', { cls: 'badge n1', text: 'N+1' }) : null]),
      el('td', {}, [Array.isArray(g.queries) && g.queries.length ? el('button', {
        cls: 'show-group', text: 'queries', attrs: { type: 'button' },
        on: { click: () => onShow(new Set(g.queries.filter((i) => Number.isInteger(i)))) } }) : null]),
    ]));
    return el('div', { cls: 'panel' }, [
      el('div', { cls: 'panel-tools', text: own ? groups.length + ' groups (by fingerprint, from the record)' :
        groups.length + ' groups by exact text (the record has no groups)' }),
      el('table', { cls: 'groups', attrs: { id: 'groups' } }, [
        el('thead', {}, [el('tr', {}, ['count', 'total', own ? 'fingerprint' : 'statement', 'call sites', 'duplicates', '', ''].map((h) => el('th', { text: h })))]),
        el('tbody', {}, rows),
      ]),
    ]);
  }

  // ------------------------------------------------------------------ logs and profile

  // One write to stdout/stderr: stream, offset and the text, preformatted (as text: a log line is never markup).
  // Older records have plain strings or {s, stack} only.
  function logCard(l, i) {
    const o = obj(l);
    const text = typeof l === 'string' ? l : o.s != null ? String(o.s) : JSON.stringify(l);
    const stack = arr(o.stack);
    const stream = typeof o.stream === 'string' ? o.stream : null;
    const head = el('div', { cls: 'q-head' }, [
      el('span', { cls: 'q-n', text: '#' + (i + 1) }),
      stream ? el('span', { cls: 'badge stream stream-' + (stream === 'stderr' ? 'stderr' : 'stdout'), text: stream }) : null,
      typeof o.start_offset_ms === 'number' ? el('span', { cls: 'q-off', text: 'at +' + S.fmtMs(o.start_offset_ms) }) : null,
      o.truncated ? el('span', { cls: 'badge', text: 'truncated' }) : null,
      el('span', { cls: 'spring' }),
    ]);
    if (stack.length) {
      const copyS = el('button', { cls: 'copy-stack', text: 'copy stack', attrs: { type: 'button' } });
      copyS.addEventListener('click', () => S.copyText(stackText(stack), copyS));
      head.appendChild(copyS);
    }
    return el('div', { cls: 'q log', attrs: { 'data-n': String(i + 1) } }, [
      head, el('pre', { cls: 'log-text', text: text }), stackBlock(stack, o),
    ]);
  }

  function logPanel(logs, omitted) {
    const panel = el('div', { cls: 'panel' });
    if (omitted > 0) panel.appendChild(el('div', { cls: 'panel-tools' }, [
      el('span', { cls: 'omitted', text: omitted + ' more not listed (past the per-record limit)' })]));
    panel.appendChild(el('div', { cls: 'cards logs' }, logs.map(logCard)));
    return panel;
  }

  // Folded stacks ("a;b;c N" lines, {stack: count}, or [{stack, count}]) as {frames, count}.
  function foldedOf(p) {
    const f = p.folded || p.stacks;
    const out = [];
    if (Array.isArray(f)) {
      for (const x of f) {
        if (typeof x === 'string') {
          const m = /^(.*)\s+(\d+)$/.exec(x);
          if (m) out.push({ frames: m[1].split(';'), count: +m[2] });
        } else if (x && typeof x.stack === 'string') {
          out.push({ frames: x.stack.split(";"), count: +x.count || +x.samples || 0 });
        } else if (x && Array.isArray(x.stack)) {
          out.push({ frames: x.stack.map(String), count: +x.count || +x.samples || 0 });
        }
      }
    } else if (f && typeof f === 'object') {
      for (const k in f) out.push({ frames: k.split(';'), count: +f[k] || 0 });
    }
    return out;
  }

  function flameGraph(folded) {
    const root = { name: 'all', count: 0, kids: new Map() };
    for (const s of folded) {
      let n = root;
      root.count += s.count;
      for (const fr of s.frames) {
        let k = n.kids.get(fr);
        if (!k) { k = { name: fr, count: 0, kids: new Map() }; n.kids.set(fr, k); }
        k.count += s.count;
        n = k;
      }
    }
    const box = el('div', { cls: 'flame' });
    const rows = [];
    const place = (n, depth, left) => {
      if (depth > 60 || !root.count) return;
      if (!rows[depth]) rows[depth] = el('div', { cls: 'flame-row' });
      const c = el('div', { cls: 'flame-cell', text: n.name, title: n.name + ' (' + n.count + ' samples)' });
      c.style.left = (left / root.count) * 100 + '%';
      c.style.width = (n.count / root.count) * 100 + '%';
      rows[depth].appendChild(c);
      let x = left;
      for (const k of n.kids.values()) { place(k, depth + 1, x); x += k.count; }
    };
    place(root, 0, 0);
    rows.forEach((r) => box.appendChild(r));
    return box;
  }

  function profilePanel(p) {
    const panel = el('div', { cls: 'panel' });
    const facts = Object.keys(p).filter((k) => typeof p[k] === 'number' || typeof p[k] === 'string');
    panel.appendChild(el('div', { cls: 'req-meta' }, facts.map((k) => el('span', {}, [k + ' ', el('b', { text: String(p[k]) })]))));
    for (const k of Object.keys(p)) {
      if (!Array.isArray(p[k]) || k === 'folded' || k === 'stacks') continue;
      panel.appendChild(el('h4', { text: k }));
      panel.appendChild(el('pre', { text: p[k].slice(0, 50).map((x) => typeof x === 'string' ? x : JSON.stringify(x)).join('\n') }));
    }
    const folded = foldedOf(p);
    if (folded.length) panel.appendChild(flameGraph(folded));
    return panel;
  }

  // ------------------------------------------------------------------ the page

  function tabs(defs) {
    const bar = el('div', { cls: 'tabs', attrs: { role: 'tablist' } });
    const holder = el('div', { cls: 'tab-body' });
    const buttons = [];
    const pick = (i) => {
      buttons.forEach((b, j) => b.classList.toggle('active', i === j));
      holder.textContent = '';
      holder.appendChild(defs[i].panel());
    };
    defs.forEach((d, i) => {
      const b = el('button', { cls: 'tab', text: d.label, attrs: { type: 'button', role: 'tab', 'data-tab': d.id } });
      b.addEventListener('click', () => pick(i));
      buttons.push(b);
      bar.appendChild(b);
    });
    if (defs.length) pick(0);
    return { node: el('div', {}, [bar, holder]), pick: pick };
  }

  // The tab of a key-value store, when the record counted any of its commands (older records: its list's length).
  function storeTab(defs, panels, kind, label, plugin, list, emptyText) {
    const p = obj(plugin);
    if (!(countOf(p, 'queries') > 0)) return;
    const omitted = typeof p.omitted === 'number' ? p.omitted : 0;
    defs.push({ id: kind, label: label + ' (' + list.length + ')', panel: () => {
      panels[kind] = entriesPanel(list, emptyText, null, omitted);
      return panels[kind];
    } });
  }

  function render(root, rec, uuid) {
    const pd = obj(rec.plugins_data);
    const all = entries(rec);
    const sqlList = all.filter((e) => e.kind === 'sql');
    const defs = [];
    const panels = {}; // kind -> the panel its tab drew last
    let sqlOnly = null;
    defs.push({ id: 'sql', label: 'SQL (' + sqlList.length + ')', panel: () => {
      panels.sql = entriesPanel(sqlList, 'No SQL query in this request.', sqlOnly, obj(pd.SQL).omitted);
      sqlOnly = null;
      return panels.sql;
    } });
    defs.push({ id: 'groups', label: 'Similar', panel: () => groupsPanel(rec, sqlList, (only) => {
      sqlOnly = only;
      t.pick(0);
    }) });
    storeTab(defs, panels, 'redis', 'Redis', pd.Redis, all.filter((e) => e.kind === 'redis'), 'No Redis command listed.');
    storeTab(defs, panels, 'memcache', 'Memcache', pd.Memcache, all.filter((e) => e.kind === 'memcache'), 'No memcached call listed.');
    const logs = arr(obj(pd.CustomLog).logs);
    if (countOf(pd.CustomLog, 'logs') > 0) {
      defs.push({ id: 'log', label: 'Log (' + logs.length + ')', panel: () => logPanel(logs, obj(pd.CustomLog).omitted) });
    }
    if (pd.Profile && typeof pd.Profile === 'object') defs.push({ id: 'profile', label: 'Profile', panel: () => profilePanel(pd.Profile) });
    const t = tabs(defs);
    const pickEntry = (e) => {
      const idx = defs.findIndex((d) => d.id === e.kind);
      if (idx < 0) return;
      t.pick(idx);
      // past the first cards drawn, or drawn by an earlier visit of the tab: draw them all
      if (panels[e.kind] && !(e.card && e.card.isConnected)) panels[e.kind].showAll();
      if (e.card && e.card.isConnected) {
        e.card.scrollIntoView({ block: 'center' });
        e.card.classList.add('flash');
        setTimeout(() => e.card && e.card.classList.remove('flash'), 1200);
      }
    };
    root.textContent = '';
    root.appendChild(header(rec, uuid));
    root.appendChild(el('h3', { text: 'Timeline (' + all.length + ')' }));
    root.appendChild(waterfall(rec, all, pickEntry));
    root.appendChild(t.node);
  }

  async function show(root, uuid) {
    current = { uuid: uuid };
    root.textContent = '';
    root.appendChild(el('p', { cls: 'empty', text: 'Loading ' + uuid + '…' }));
    let r;
    try {
      r = await S.getJSON('/api/requests/' + uuid);
    } catch (e) {
      r = { status: 0, body: null };
    }
    if (!current || current.uuid !== uuid) return;
    root.textContent = '';
    if (r.status === 200 && r.body && typeof r.body === 'object') {
      current.rec = r.body;
      render(root, r.body, uuid);
      return;
    }
    const why = r.status === 404 ? 'No record ' + uuid + ': it expired or was trimmed from Redis.' :
      r.status === 503 ? 'Redis is unreachable: the page reloads this request when it is back.' :
        'Could not load ' + uuid + (r.body && r.body.error ? ': ' + r.body.error : '.');
    root.appendChild(el('a', { href: '#/', text: '← all requests' }));
    root.appendChild(el('p', { cls: 'empty', attrs: { id: 'req-missing' }, text: why }));
    if (r.status === 503 || r.status === 0) {
      const again = () => {
        S.health.listeners.splice(S.health.listeners.indexOf(again), 1);
        if (current && current.uuid === uuid && !current.rec) show(root, uuid);
      };
      S.health.listeners.push(again);
    }
  }

  window.ScoobyRequest = { show: show, isLibrary: isLibrary, clientGroups: clientGroups };
})();
