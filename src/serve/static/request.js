// The viewer's request page: waterfall, SQL with stacks, similar-query groups, other stores, logs, profile.
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

  // Every timed entry of the record, SQL first: {kind, db, text, start, time, error, stack, ref}.
  function entries(rec) {
    const pd = rec.plugins_data || {};
    const out = [];
    arr(pd.SQL && pd.SQL.queries).forEach((q, i) => out.push({
      kind: 'sql', db: q.db || 'sql', text: String(q.query == null ? '' : q.query), start: q.start_offset_ms,
      time: q.time_taken, error: q.error, stack: arr(q.stack), q: q, i: i }));
    arr(pd.Redis && pd.Redis.queries).forEach((q) => out.push({
      kind: 'redis', db: 'redis', text: [q.command, q.key].filter((x) => x != null).join(' '),
      start: q.start_offset_ms, time: q.time_taken, error: q.error, stack: arr(q.stack), q: q }));
    arr(pd.Memcache && pd.Memcache.queries).forEach((q) => out.push({
      kind: 'memcache', db: 'memcache', text: [q.func_name, q.arg].filter((x) => x != null).join(' '),
      start: q.start_offset_ms, time: q.time_taken, error: q.error, stack: arr(q.stack), q: q }));
    return out;
  }

  // ------------------------------------------------------------------ header

  function header(rec, uuid) {
    const req = rec.request || {};
    const pd = rec.plugins_data || {};
    const sql = pd.SQL || {};
    const view = pd.ViewName && pd.ViewName.view_name;
    const path = req.path == null ? '(' + (req.method || 'no path') + ')' : String(req.path);
    const meta = [
      ['status', req.status == null ? 'no response' : String(req.status)],
      ['duration', S.fmtMs(req.duration_ms)],
      ['queries', String(sql.count || 0) + (sql.omitted ? ' (' + sql.omitted + ' not listed)' : '')],
      ['DB time', S.fmtMs(sql.total_time || 0)],
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

  function waterfall(rec, all, onPick) {
    const req = rec.request || {};
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
    all.forEach((e, i) => {
      const bar = el('div', { cls: 'wf-bar ' + storeClass(e.db) + (e.time > slowMs() ? ' slow' : '') + (e.error ? ' err' : '') });
      const start = typeof e.start === 'number' ? e.start : 0;
      bar.style.left = Math.min(100, (start / span) * 100) + '%';
      bar.style.width = Math.max(0, ((typeof e.time === 'number' ? e.time : 0) / span) * 100) + '%';
      bar.title = '#' + (i + 1) + ' ' + e.db + ' · ' + S.fmtMs(e.time) + ' at +' + S.fmtMs(start) + '\n' + e.text.slice(0, 500);
      const row = el('div', { cls: 'wf-row', on: { click: () => onPick(e) } }, [
        el('span', { cls: 'wf-label', text: '#' + (i + 1) + ' ' + e.text.slice(0, 200), title: e.text.slice(0, 500) }),
        el('div', { cls: 'wf-track' }, [bar]),
      ]);
      body.appendChild(row);
    });
    return el('div', { cls: 'waterfall', attrs: { id: 'waterfall' } }, [axis, body]);
  }

  // ------------------------------------------------------------------ SQL tab

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

  function queryCard(e, n) {
    const q = e.q || {};
    const slow = e.time > slowMs();
    const copyQ = el('button', { cls: 'copy-query', text: 'copy query', attrs: { type: 'button' } });
    copyQ.addEventListener('click', () => S.copyText(e.text, copyQ));
    const head = el('div', { cls: 'q-head' }, [
      el('span', { cls: 'q-n', text: '#' + n }),
      el('span', { cls: 'badge db ' + storeClass(e.db), text: e.db }),
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
    const extra = [];
    if (q.query_template != null && q.query_template !== q.query) extra.push('template: ' + q.query_template);
    if (q.params != null) extra.push('params: ' + JSON.stringify(q.params));
    if (q.using != null) extra.push('using: ' + q.using);
    const card = el('div', { cls: 'q' + (slow ? ' slow' : '') + (e.error ? ' err' : ''), attrs: { 'data-n': String(n) } }, [
      head,
      el('pre', { cls: 'q-text', text: e.text }),
      extra.length ? el('div', { cls: 'q-extra mono', text: extra.join('  ·  ') }) : null,
      e.error ? el('div', { cls: 'q-error', text: String(e.error) }) : null,
      stackBlock(e.stack, q),
    ]);
    e.card = card;
    return card;
  }

  // Query cards of list; only (a Set of indices into list, or null) narrows them to a group.
  function entriesPanel(list, emptyText, only) {
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
        g = { fingerprint: e.text, count: 0, total_time: 0, sites: new Set(), keys: new Set(), duplicates: 0, queries: [] };
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
      fingerprint: g.fingerprint, count: g.count, total_time: g.total_time,
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
      el('td', {}, [el('pre', { cls: 'g-text', text: String(g.fingerprint == null ? '' : g.fingerprint) })]),
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

  function logPanel(logs) {
    return el('div', { cls: 'panel' }, logs.map((l, i) => el('div', { cls: 'q' }, [
      el('div', { cls: 'q-head' }, [el('span', { cls: 'q-n', text: '#' + (i + 1) })]),
      el('pre', { text: typeof l === 'string' ? l : String(l && l.s != null ? l.s : JSON.stringify(l)) }),
      stackBlock(arr(l && l.stack), l),
    ])));
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

  function render(root, rec, uuid) {
    const pd = rec.plugins_data || {};
    const all = entries(rec);
    const sqlList = all.filter((e) => e.kind === 'sql');
    const defs = [];
    let sqlPanel = null, sqlOnly = null;
    defs.push({ id: 'sql', label: 'SQL (' + sqlList.length + ')', panel: () => {
      sqlPanel = entriesPanel(sqlList, 'No SQL query in this request.', sqlOnly);
      sqlOnly = null;
      return sqlPanel;
    } });
    defs.push({ id: 'groups', label: 'Similar', panel: () => groupsPanel(rec, sqlList, (only) => {
      sqlOnly = only;
      t.pick(0);
    }) });
    const redis = all.filter((e) => e.kind === 'redis');
    if (pd.Redis) defs.push({ id: 'redis', label: 'Redis (' + redis.length + ')', panel: () => entriesPanel(redis, 'No Redis command.') });
    const mc = all.filter((e) => e.kind === 'memcache');
    if (pd.Memcache) defs.push({ id: 'memcache', label: 'Memcache (' + mc.length + ')', panel: () => entriesPanel(mc, 'No memcached call.') });
    const logs = arr(pd.CustomLog && pd.CustomLog.logs);
    if (pd.CustomLog) defs.push({ id: 'log', label: 'Log (' + logs.length + ')', panel: () => logPanel(logs) });
    if (pd.Profile && typeof pd.Profile === 'object') defs.push({ id: 'profile', label: 'Profile', panel: () => profilePanel(pd.Profile) });
    const t = tabs(defs);
    const pickEntry = (e) => {
      const idx = defs.findIndex((d) => d.id === (e.kind === 'sql' ? 'sql' : e.kind));
      if (idx < 0) return;
      t.pick(idx);
      if (e.kind === 'sql' && sqlPanel && !e.card) sqlPanel.showAll();
      if (e.card) {
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
