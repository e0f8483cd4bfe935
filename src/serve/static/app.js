// The viewer's request list: live feed (SSE), filters, sort, a virtualized table, routing, banners.
// Record data is only ever put into the page as text (textContent / text nodes), never as HTML.
'use strict';

(function () {
  const TOKEN = new URLSearchParams(location.search).get('token');
  const UUID_RE = /^[0-9a-f]{32}$/;
  const ROW_H = 26;
  const OVERSCAN = 10;
  const MAX_KEPT = 50000; // summaries kept in the page; the oldest go first
  const PAGE = 1000; // summaries per API page

  // URL of an API path, with the token when the page was opened with one.
  function api(path) {
    if (!TOKEN) return path;
    return path + (path.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(TOKEN);
  }

  // Builds an element: props.cls, props.text, props.title, props.href, props.attrs, props.on.
  function el(tag, props, children) {
    const e = document.createElement(tag);
    props = props || {};
    if (props.cls) e.className = props.cls;
    if (props.text !== undefined && props.text !== null) e.textContent = String(props.text);
    if (props.title !== undefined) e.title = String(props.title);
    if (props.href !== undefined) e.setAttribute('href', props.href);
    if (props.attrs) for (const k in props.attrs) e.setAttribute(k, props.attrs[k]);
    if (props.on) for (const k in props.on) e.addEventListener(k, props.on[k]);
    for (const c of children || []) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function fmtMs(v) {
    if (typeof v !== 'number' || !isFinite(v)) return '';
    if (v >= 10000) return (v / 1000).toFixed(1) + ' s';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (v >= 100) return v.toFixed(0) + ' ms';
    if (v >= 10) return v.toFixed(1) + ' ms';
    return v.toFixed(2) + ' ms';
  }

  function pad(n, w) {
    return String(n).padStart(w, '0');
  }

  function fmtTime(ms) {
    if (typeof ms !== 'number') return '';
    const d = new Date(ms);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) +
      '.' + pad(d.getMilliseconds(), 3);
  }

  function statusClass(status) {
    return typeof status === 'number' ? 'st-' + Math.floor(status / 100) : 'st-none';
  }

  // Copies text to the clipboard; the button says whether it worked.
  function copyText(text, button) {
    const done = (ok) => {
      const old = button.dataset.label || button.textContent;
      button.dataset.label = old;
      button.textContent = ok ? 'copied' : 'copy failed';
      setTimeout(() => { button.textContent = old; }, 1200);
    };
    const fallback = () => {
      const ta = el('textarea', { attrs: { readonly: '' } });
      ta.value = text;
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      ta.remove();
      done(ok);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => done(true), fallback);
    } else {
      fallback();
    }
  }

  // ------------------------------------------------------------------ banners and health

  const health = { redis: null, viewer: true, live: false, timer: null, listeners: [] };

  function renderBanner() {
    const b = document.getElementById('banner');
    let msg = '';
    if (!health.viewer) msg = 'The viewer does not answer: retrying…';
    else if (health.redis) msg = 'Redis is unreachable (' + health.redis + '): retrying…';
    b.textContent = msg;
    b.hidden = !msg;
    const ls = document.getElementById('live-state');
    ls.textContent = health.live ? 'live' : 'offline';
    ls.className = 'live-state ' + (health.live ? 'on' : 'off');
  }

  // Records a failure (redis: its reason; viewer: null) and polls until things answer again.
  function setTrouble(kind, reason) {
    if (kind === 'redis') health.redis = reason || 'unavailable';
    else health.viewer = false;
    renderBanner();
    if (!health.timer) health.timer = setTimeout(checkHealth, 2000);
  }

  function recovered() {
    const was = health.redis || !health.viewer;
    health.redis = null;
    health.viewer = true;
    renderBanner();
    if (was) for (const f of health.listeners) f();
  }

  async function checkHealth() {
    health.timer = null;
    try {
      const r = await fetch(api('/api/status'), { cache: 'no-store' });
      health.viewer = true;
      if (r.ok) {
        recovered();
        return;
      }
      const body = await r.json().catch(() => ({}));
      setTrouble(r.status === 503 ? 'redis' : 'viewer', body.error);
    } catch (e) {
      setTrouble('viewer');
    }
  }

  // Fetches JSON from the API. Resolves {status, body}; 503 and network errors raise the banner.
  async function getJSON(path) {
    let r;
    try {
      r = await fetch(api(path), { cache: 'no-store' });
    } catch (e) {
      setTrouble('viewer');
      throw e;
    }
    const body = await r.json().catch(() => null);
    if (r.status === 503) setTrouble('redis', body && body.error);
    else if (r.ok && (health.redis || !health.viewer)) checkHealth();
    return { status: r.status, body: body };
  }

  // ------------------------------------------------------------------ the list

  const list = {
    all: [], // summaries, newest first by start_unix_ms
    seen: new Map(), // uuid -> summary
    view: [], // filtered and sorted
    index: new Map(), // uuid -> position in view
    nextBefore: undefined, // paging cursor for "load older"; null when exhausted
    dirty: true,
    frame: 0,
    pool: [],
    filters: { path: '', status: '', min: 0, n1: false, sort: 'time' },
  };

  function byStartDesc(a, b) {
    return b.start_unix_ms - a.start_unix_ms;
  }

  // Adds summaries not seen yet; returns how many were new.
  function addSummaries(items, fresh) {
    let added = 0;
    const now = Date.now();
    for (const s of items) {
      if (!s || typeof s.uuid !== 'string' || !UUID_RE.test(s.uuid) || list.seen.has(s.uuid)) continue;
      if (fresh) s._arrived = now;
      list.seen.set(s.uuid, s);
      if (items.length < 32) {
        let lo = 0, hi = list.all.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (list.all[mid].start_unix_ms > s.start_unix_ms) lo = mid + 1; else hi = mid;
        }
        list.all.splice(lo, 0, s);
      } else {
        list.all.push(s);
      }
      added++;
    }
    if (added && items.length >= 32) list.all.sort(byStartDesc);
    while (list.all.length > MAX_KEPT) list.seen.delete(list.all.pop().uuid);
    if (added) invalidate();
    return added;
  }

  function matches(s, f) {
    if (f.path && (typeof s.path !== 'string' || s.path.toLowerCase().indexOf(f.path) < 0)) return false;
    if (f.min > 0 && !(s.duration_ms >= f.min)) return false;
    if (f.n1 && !(s.n_plus_one > 0)) return false;
    if (f.status) {
      const cls = typeof s.status === 'number' ? String(Math.floor(s.status / 100)) : 'none';
      if (cls !== f.status) return false;
    }
    return true;
  }

  function readFilters() {
    const f = list.filters;
    f.path = document.getElementById('f-path').value.trim().toLowerCase();
    f.status = document.getElementById('f-status').value;
    f.min = parseFloat(document.getElementById('f-min').value) || 0;
    f.n1 = document.getElementById('f-n1').checked;
    f.sort = document.getElementById('f-sort').value;
    invalidate();
  }

  function invalidate() {
    list.dirty = true;
    scheduleRender();
  }

  function scheduleRender() {
    if (!list.frame) list.frame = requestAnimationFrame(render);
  }

  // Recomputes the filtered, sorted view, keeping the row at the top of the window in place.
  function recompute(vp) {
    const first = Math.floor(vp.scrollTop / ROW_H);
    const anchor = vp.scrollTop > 0 ? list.view[first] : null;
    const offset = vp.scrollTop - first * ROW_H;
    const f = list.filters;
    list.view = list.all.filter((s) => matches(s, f));
    if (f.sort === 'duration') {
      list.view.sort((a, b) => (b.duration_ms - a.duration_ms) || byStartDesc(a, b));
    }
    list.index = new Map();
    list.view.forEach((s, i) => list.index.set(s.uuid, i));
    document.getElementById('spacer').style.height = list.view.length * ROW_H + 'px';
    if (anchor && list.index.has(anchor.uuid)) vp.scrollTop = list.index.get(anchor.uuid) * ROW_H + offset;
    list.dirty = false;
  }

  function makeRow() {
    const cells = ['c-time', 'c-method', 'c-path', 'c-status', 'c-dur', 'c-q', 'c-db', 'c-n1',
      'c-rq', 'c-rt', 'c-mq', 'c-mt', 'c-log'].map(
      (c) => el('span', { cls: c }));
    const row = el('a', { cls: 'row' }, cells);
    row.cells = cells;
    return row;
  }

  // A store's count (with its errors) and time cells; empty when the request did not use it
  // (or its summary comes from a viewer that did not count it).
  function fillStore(countCell, timeCell, count, errors, time, what) {
    const n = typeof count === 'number' ? count : 0;
    countCell.textContent = n ? String(n) + (errors ? ' (' + errors + ' err)' : '') : '';
    countCell.title = n ? n + ' ' + what + (errors ? ', ' + errors + ' failed' : '') : '';
    timeCell.textContent = n ? fmtMs(time || 0) : '';
  }

  function fillRow(row, s) {
    const c = row.cells;
    row.setAttribute('href', '#/r/' + s.uuid);
    row.dataset.uuid = s.uuid;
    row.className = 'row' + (s._arrived && Date.now() - s._arrived < 1500 ? ' fresh' : '');
    c[0].textContent = fmtTime(s.start_unix_ms);
    c[1].textContent = s.method || '';
    const path = s.path === null || s.path === undefined ? '(' + (s.method || 'no path') + ')' : String(s.path);
    c[2].textContent = path;
    c[2].title = path;
    c[3].textContent = typeof s.status === 'number' ? String(s.status) : '—';
    c[3].className = 'c-status ' + statusClass(s.status);
    c[4].textContent = fmtMs(s.duration_ms) + (s.incomplete ? ' …' : '');
    c[4].title = s.incomplete ? 'incomplete: the response was not seen whole' : '';
    c[5].textContent = String(s.query_count || 0) + (s.errors ? ' (' + s.errors + ' err)' : '');
    c[6].textContent = fmtMs(s.db_time_ms || 0);
    c[7].textContent = '';
    if (s.n_plus_one > 0) {
      c[7].appendChild(el('span', { cls: 'badge n1', text: s.n_plus_one > 1 ? 'N+1 ×' + s.n_plus_one : 'N+1',
        title: s.n_plus_one + ' group(s) of the same statement repeated' }));
    }
    fillStore(c[8], c[9], s.redis_count, s.redis_errors, s.redis_time_ms, 'Redis command(s)');
    fillStore(c[10], c[11], s.memcache_count, s.memcache_errors, s.memcache_time_ms, 'memcached call(s)');
    c[12].textContent = s.log_count ? String(s.log_count) : '';
    c[12].title = s.log_count ? s.log_count + ' write(s) to stdout/stderr' : '';
  }

  // Draws the rows in the scroll window only: thousands of requests cost a few dozen elements.
  function render() {
    list.frame = 0;
    const vp = document.getElementById('viewport');
    if (list.dirty) recompute(vp);
    const rows = document.getElementById('rows');
    const first = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - OVERSCAN);
    const count = Math.min(list.view.length - first, Math.ceil(vp.clientHeight / ROW_H) + 2 * OVERSCAN);
    while (list.pool.length < count) list.pool.push(makeRow());
    rows.style.transform = 'translateY(' + first * ROW_H + 'px)';
    for (let i = 0; i < Math.max(count, 0); i++) {
      const row = list.pool[i];
      fillRow(row, list.view[first + i]);
      if (row.parentNode !== rows) rows.appendChild(row);
    }
    for (let i = Math.max(count, 0); i < list.pool.length; i++) {
      if (list.pool[i].parentNode) list.pool[i].remove();
    }
    document.getElementById('shown').textContent =
      'showing ' + list.view.length + ' of ' + list.all.length + ' requests';
    document.getElementById('empty').hidden = list.all.length > 0;
    document.getElementById('older').hidden = list.nextBefore === null;
  }

  async function loadLatest() {
    try {
      const r = await getJSON('/api/requests?limit=' + PAGE);
      if (r.status !== 200 || !r.body) return;
      addSummaries(r.body.items || [], false);
      if (list.nextBefore === undefined) list.nextBefore = r.body.next_before;
      invalidate();
    } catch (e) { /* the banner says it */ }
  }

  // After frames were lost to a slow connection: pages back until a page brings nothing new.
  async function catchUp() {
    let before = null;
    for (let i = 0; i < 20; i++) {
      let r;
      try {
        r = await getJSON('/api/requests?limit=' + PAGE + (before === null ? '' : '&before=' + encodeURIComponent(before)));
      } catch (e) {
        return;
      }
      if (r.status !== 200 || !r.body) return;
      if (!addSummaries(r.body.items || [], false) || r.body.next_before === null) return;
      before = r.body.next_before;
    }
  }

  async function loadOlder() {
    if (list.nextBefore === null || list.nextBefore === undefined) return;
    const btn = document.getElementById('older');
    btn.disabled = true;
    try {
      const r = await getJSON('/api/requests?limit=' + PAGE + '&before=' + encodeURIComponent(list.nextBefore));
      if (r.status === 200 && r.body) {
        addSummaries(r.body.items || [], false);
        list.nextBefore = r.body.next_before;
        invalidate();
      }
    } catch (e) { /* the banner says it */ } finally {
      btn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ the live feed

  const live = { es: null, everOpen: false, retry: null };

  function connectLive() {
    if (live.es) live.es.close();
    const es = new EventSource(api('/api/live'));
    live.es = es;
    es.onopen = () => {
      health.live = true;
      renderBanner();
      // what was stored before the stream started (or while it was away) is read from the API
      if (live.everOpen) catchUp(); else loadLatest();
      live.everOpen = true;
    };
    es.onmessage = (ev) => {
      let s;
      try { s = JSON.parse(ev.data); } catch (e) { return; }
      addSummaries([s], true);
    };
    es.addEventListener('redis', (ev) => {
      let st = {};
      try { st = JSON.parse(ev.data); } catch (e) { /* ignore */ }
      if (st.ok) recovered(); else setTrouble('redis', st.error);
    });
    es.addEventListener('gap', () => catchUp());
    es.onerror = () => {
      health.live = false;
      renderBanner();
      if (es.readyState === EventSource.CLOSED && !live.retry) {
        // refused (401, 503): EventSource gives up on its own, so retry here
        checkHealth();
        live.retry = setTimeout(() => { live.retry = null; connectLive(); }, 3000);
      }
    };
  }

  // ------------------------------------------------------------------ routing

  function route() {
    const m = /^#\/r\/([0-9a-f]{32})$/.exec(location.hash);
    const listView = document.getElementById('list-view');
    const reqView = document.getElementById('request-view');
    if (m && window.ScoobyRequest) {
      listView.hidden = true;
      reqView.hidden = false;
      window.ScoobyRequest.show(reqView, m[1]);
    } else {
      reqView.hidden = true;
      reqView.textContent = '';
      listView.hidden = false;
      scheduleRender();
    }
  }

  function start() {
    for (const id of ['f-path', 'f-min']) document.getElementById(id).addEventListener('input', readFilters);
    for (const id of ['f-status', 'f-n1', 'f-sort']) document.getElementById(id).addEventListener('change', readFilters);
    document.getElementById('filters').addEventListener('submit', (e) => e.preventDefault());
    document.getElementById('older').addEventListener('click', loadOlder);
    document.getElementById('viewport').addEventListener('scroll', scheduleRender, { passive: true });
    window.addEventListener('resize', scheduleRender);
    window.addEventListener('hashchange', route);
    health.listeners.push(loadLatest);
    renderBanner();
    getJSON('/api/config').then((r) => {
      if (r.status === 200 && r.body) Scooby.config = r.body;
    }).catch(() => {}).finally(() => {
      route();
      connectLive();
      loadLatest(); // at once, even when the stream cannot open
    });
    setInterval(scheduleRender, 1000); // ends the "fresh" highlight of rows that stay in view
  }

  const Scooby = {
    api: api,
    el: el,
    fmtMs: fmtMs,
    fmtTime: fmtTime,
    statusClass: statusClass,
    copyText: copyText,
    getJSON: getJSON,
    health: health,
    config: { slow_ms: 100 },
    UUID_RE: UUID_RE,
    summaries: () => list.all.length,
  };
  window.Scooby = Scooby;
  document.addEventListener('DOMContentLoaded', start);
})();
