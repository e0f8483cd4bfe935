/* Python stacks: turning the frames BPF captured into file:line, per query and per sample. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "util/hashmap.h"
#include "pycode.h"
#include "pyfind.h"
#include "pystack.h"
#include "pyview.h"
#include "pytask.h"
#include "native/symbolize.h"

/* Processes whose interpreter layout is known */
static struct hashmap_table py_procs = HASHMAP_TABLE("Python processes", 64, 16384);

/* Stacks waiting for the entry they belong to */
static struct hashmap_table py_pending = HASHMAP_TABLE("Python stacks waiting", 1024, 65536);

/* Native stacks waiting for the entry they belong to */
static struct hashmap_table native_pending = HASHMAP_TABLE("native stacks waiting", 1024, 65536);

/* Bound of the resolved-stack cache: distinct captured frame lists (code, instruction,
 * context of each frame) kept resolved. Full, it is emptied and refilled. An entry is
 * resolved again after RESOLVED_TTL_NS, so that it sees what the code cache re-checks. */
#define RESOLVED_MAX 1024
#define RESOLVED_TTL_NS 1000000000ULL

/* Stacks --profile counts in BPF, by hash: as many as BPF keeps */
static struct hashmap_table py_known = HASHMAP_TABLE("profile stacks", 256, SC_PROF_KNOWN_MAX);

/* Resolved stacks per distinct captured frame list; emptied when full */
static struct hashmap_table py_resolved = HASHMAP_TABLE("resolved stacks", 256, RESOLVED_MAX);

/* A traced process: its interpreter, or the fact that it has none we can walk. */
struct pyentry {
	struct pyproc *proc; /* NULL: not Python, or a version we cannot walk */
};

/* A capture waiting for its query. */
struct pending {
	uint32_t pid;
	uint64_t key_ts;
	uint64_t task, task_coro;
	uint32_t nframes, flags;
	struct sc_py_frame frames[];
};

/* A native capture waiting for its query. */
struct native_pending {
	uint32_t pid;
	uint64_t key_ts;
	uint32_t nframes, flags;
	uint64_t ips[];
};

struct pystack {
	int map_fd;
	int dispatchers_fd; /* py_dispatchers (bpf/pyview.bpf.c), -1 when none */
	int resp_fds[4]; /* py_resp_types, _codes, _keys, _attrs (bpf/pyresp.bpf.h), -1: none */
	struct hashmap *procs; /* pid -> struct pyentry */
	struct hashmap *pending; /* (tid, key_ts) -> struct pending */
	struct hashmap *native; /* (tid, key_ts) -> struct native_pending */
	struct hashmap *resolved; /* frame-list hash -> struct resolved; at most RESOLVED_MAX */
	struct hashmap *known; /* BPF's stack hash -> struct known */
	int known_fd;
	struct symbolizer *syms;
	struct pytasks *tasks; /* asgiref's thread_handler code objects told to BPF */
	struct pyfind_said said; /* unsupported versions already said */
};

/* A captured frame list and what it resolved to. */
struct resolved {
	uint32_t pid, nframes, flags;
	uint64_t resolved_ns;
	struct stack stack;
	struct sc_py_frame frames[];
};

static void resolved_free(void *v)
{
	struct resolved *r = v;

	if (r)
		stack__clear(&r->stack);
	free(r);
}

static int resolved_drop(uint64_t key, void *val, void *ctx)
{
	resolved_free(val);
	return 1;
}

/* A stack whose samples BPF counts (SC_PY_F_KNOWN), as resolved when last sent whole. */
struct known {
	uint32_t pid;
	struct stack stack;
};

static void known_free(void *v)
{
	struct known *k = v;

	if (k)
		stack__clear(&k->stack);
	free(k);
}

static void entry_free(void *v)
{
	struct pyentry *e = v;

	if (e)
		pyproc__free(e->proc);
	free(e);
}

struct pystack *pystack__new(int py_procs_fd, int prof_known_fd)
{
	struct pystack *ps = calloc(1, sizeof(*ps));
	int i;

	if (!ps)
		return NULL;
	ps->map_fd = py_procs_fd;
	ps->dispatchers_fd = -1;
	for (i = 0; i < 4; i++)
		ps->resp_fds[i] = -1;
	ps->procs = hashmap__new_in(&py_procs);
	ps->pending = hashmap__new_in(&py_pending);
	ps->native = hashmap__new_in(&native_pending);
	ps->resolved = hashmap__new_in(&py_resolved);
	ps->known = hashmap__new_in(&py_known);
	ps->known_fd = prof_known_fd;
	ps->syms = symbolizer__new();
	if (!ps->procs || !ps->pending || !ps->native || !ps->resolved || !ps->known || !ps->syms) {
		pystack__free(ps);
		return NULL;
	}
	return ps;
}

void pystack__free(struct pystack *ps)
{
	if (!ps)
		return;
	hashmap__free(ps->procs, entry_free);
	hashmap__free(ps->pending, free);
	hashmap__free(ps->native, free);
	hashmap__free(ps->resolved, resolved_free);
	hashmap__free(ps->known, known_free);
	symbolizer__free(ps->syms);
	pytasks__free(ps->tasks);
	free(ps);
}

int pystack__discover(struct pystack *ps, pid_t pid)
{
	struct pyentry *e = hashmap__get(ps->procs, pid);

	if (e)
		return e->proc != NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->proc = pyfind__examine(pid, ps->map_fd, &ps->said);
	if (hashmap__set(ps->procs, pid, e, NULL)) {
		entry_free(e);
		return -ENOMEM;
	}
	return e->proc != NULL;
}

void pystack__inherit(struct pystack *ps, pid_t parent, pid_t child)
{
	struct pyentry *pe = hashmap__get(ps->procs, parent), *e;

	if (!pe || !pe->proc || hashmap__get(ps->procs, child))
		return;
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	/* the same binary at the same addresses; the code cache starts empty */
	e->proc = pyproc__new(child, pyproc__layout(pe->proc));
	if (hashmap__set(ps->procs, child, e, NULL))
		entry_free(e);
}

/* Copies a Python capture out of the ring buffer; NULL on ENOMEM. */
static struct pending *pending_from(const struct sc_pystack_event *e)
{
	size_t n = e->nframes > SC_PY_MAX_FRAMES ? SC_PY_MAX_FRAMES : e->nframes;
	struct pending *p = malloc(sizeof(*p) + n * sizeof(p->frames[0]));

	if (!p)
		return NULL;
	p->pid = e->hdr.pid;
	p->key_ts = e->key_ts;
	p->task = e->task;
	p->task_coro = e->task_coro;
	p->nframes = n;
	p->flags = e->flags;
	memcpy(p->frames, e->frames, n * sizeof(p->frames[0]));
	return p;
}

/* Copies a native capture out of the ring buffer; NULL on ENOMEM. */
static struct native_pending *native_from(const struct sc_natstack_event *e)
{
	size_t n = e->nframes > SC_NAT_MAX_FRAMES ? SC_NAT_MAX_FRAMES : e->nframes;
	struct native_pending *p = malloc(sizeof(*p) + n * sizeof(p->ips[0]));

	if (!p)
		return NULL;
	p->pid = e->hdr.pid;
	p->key_ts = e->key_ts;
	p->nframes = n;
	p->flags = e->flags;
	memcpy(p->ips, e->ips, n * sizeof(p->ips[0]));
	return p;
}

/* Holds a capture in map under (tid, key_ts), replacing (and freeing) any older one. */
static void hold(struct hashmap *map, uint32_t tid, uint64_t key_ts, void *p)
{
	void *old;

	if (!p)
		return;
	if (hashmap__set(map, hashmap_key2(tid, key_ts), p, &old))
		free(p);
	else
		free(old);
}

void pystack__event(struct pystack *ps, const struct sc_pystack_event *e)
{
	hold(ps->pending, e->hdr.tid, e->key_ts, pending_from(e));
}

void pystack__native_event(struct pystack *ps, const struct sc_natstack_event *e)
{
	hold(ps->native, e->hdr.tid, e->key_ts, native_from(e));
}

/* True when a native walk reached a thread's or the process's entry: a known entry symbol,
 * or libc's (stripped, so nameless) frame that called main. */
static bool complete_native(const struct stack *s)
{
	const struct frame *last = &s->frames[s->nframes - 1];
	const char *base;

	if (symbolizer__is_stack_base(last->symbol))
		return true;
	if (s->nframes < 2 || !last->module || !s->frames[s->nframes - 2].symbol)
		return false;
	base = strrchr(last->module, '/');
	base = base ? base + 1 : last->module;
	return strncmp(base, "libc.so", 7) == 0 &&
	       strcmp(s->frames[s->nframes - 2].symbol, "main") == 0;
}

/* Appends the native frames of a capture under what s holds; false on ENOMEM. A walk
 * that did not reach a thread's or process's entry stopped at code built without frame
 * pointers: the stack is marked partial (ruling 9). */
static bool resolve_native(struct symbolizer *syms, const struct native_pending *n, struct stack *s)
{
	size_t first = s->nframes;
	struct frame *grown;
	uint32_t i;

	if (stack__own(s))
		return false;
	grown = realloc(s->frames, (s->nframes + n->nframes + 1) * sizeof(*grown));
	if (!grown)
		return false;
	s->frames = grown;
	for (i = 0; i < n->nframes; i++) {
		symbolizer__resolve(syms, n->pid, n->ips[i], i > 0, &s->frames[s->nframes]);
		/* an address no executable mapping holds is not a return address: the
		 * walk went through code without frame pointers; stop before the garbage */
		if (!s->frames[s->nframes].module) {
			s->partial = true;
			return true;
		}
		s->nframes++;
	}
	if (n->flags & SC_PY_F_TRUNCATED)
		s->truncated = true;
	else if (s->nframes == first || !complete_native(s))
		s->partial = true;
	return true;
}

/* True for the function of a framework that calls the view: Django's
 * BaseHandler._get_response, Flask's dispatch_request (ruling 6). */
static bool is_dispatcher(const char *function, const char *filename)
{
	return (strstr(function, "_get_response") &&
		strstr(filename, "django/core/handlers/base.py")) ||
	       (strstr(function, "dispatch_request") && strstr(filename, "flask/app.py"));
}

/* Finds the frame the framework dispatched the request to (ruling 6): the callee of
 * Django's BaseHandler._get_response or Flask's dispatch_request; otherwise the
 * outermost application function (a plain WSGI app's callable). A module's top level
 * (the server's launcher script, /usr/bin/gunicorn) is never a view. Returns its index,
 * or -1. */
static int view_frame(const struct stack *s)
{
	const struct frame *f;
	int i, outer_app = -1;

	for (i = 0; i < (int)s->nframes; i++) {
		f = &s->frames[i];
		if (f->unresolved || !f->function || !f->filename)
			continue;
		if (i > 0 && is_dispatcher(f->function, f->filename))
			return i - 1;
		if (frame__is_app(f) && strcmp(f->function, "<module>") != 0)
			outer_app = i;
	}
	return outer_app;
}

/* Resolves the frames of a capture into s; returns false on ENOMEM. Interpreter helper
 * frames are dropped, so a kept frame's capture is at[its index], not the same index. */
static bool resolve(struct pyproc *proc, const struct pending *p, struct stack *s, uint64_t now)
{
	struct view_names names;
	struct pycode *c;
	struct frame *f;
	uint32_t i, *at;
	int v;

	s->frames = calloc(p->nframes ? p->nframes : 1, sizeof(*s->frames));
	at = calloc(p->nframes ? p->nframes : 1, sizeof(*at));
	if (!s->frames || !at) {
		free(at);
		return false;
	}
	s->truncated = p->flags & SC_PY_F_TRUNCATED;
	s->partial = p->flags & (SC_PY_F_PARTIAL | SC_PY_F_NO_THREAD);
	for (i = 0; i < p->nframes; i++) {
		at[s->nframes] = i;
		f = &s->frames[s->nframes++];
		c = pyproc__code(proc, p->frames[i].code, now);
		if (!c) {
			f->unresolved = true; /* shown as such, never as a guessed line */
			continue;
		}
		if (c->shim) { /* an interpreter helper frame, hidden as CPython hides it */
			memset(f, 0, sizeof(*f));
			s->nframes--;
			continue;
		}
		f->filename = c->filename;
		f->function = c->function;
		if (!s->handler_code && pytasks__is_handler(c->function, c->filename))
			s->handler_code = p->frames[i].code;
		f->lineno = pyproc__line(proc, c, p->frames[i].code, p->frames[i].instr);
	}
	v = view_frame(s);
	if (v >= 0) {
		s->view_reason =
			pyproc__view_names(proc, p->frames[at[v]].ctx, p->frames[at[v]].code,
					   s->frames[v].function, now, &names);
		s->view = names.view;
		s->scooby_view = names.scooby;
	} else if (s->nframes) {
		s->view_reason = "the stack holds no dispatcher and no application frame";
	}
	free(at);
	return true;
}

static uint64_t capture_hash(const struct pending *p)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)p->pid << 32 | p->flags) ^ p->nframes;
	uint32_t i;

	for (i = 0; i < p->nframes; i++) {
		h = (h ^ p->frames[i].code) * 0x100000001b3ULL;
		h = (h ^ p->frames[i].instr) * 0x100000001b3ULL;
		h = (h ^ p->frames[i].ctx) * 0x100000001b3ULL;
	}
	return h;
}

/* Resolves a capture into s, from the cache when the same frame list was resolved less
 * than RESOLVED_TTL_NS ago; returns false on ENOMEM. */
static bool resolve_cached(struct pystack *ps, struct pyproc *proc, const struct pending *p,
			   struct stack *s)
{
	uint64_t now = mono_now_ns(), h = capture_hash(p);
	struct resolved *r = hashmap__get(ps->resolved, h);
	size_t fbytes = p->nframes * sizeof(p->frames[0]);

	if (r && r->pid == p->pid && r->nframes == p->nframes && r->flags == p->flags &&
	    now - r->resolved_ns < RESOLVED_TTL_NS && !memcmp(r->frames, p->frames, fbytes))
		return stack__copy(s, &r->stack) == 0;
	if (!resolve(proc, p, s, now))
		return false;
	/* the cache's copy and every query's of this capture share the frames (one array,
	 * not one per query); without memory for the block they are copied */
	stack__share(s);
	resolved_free(hashmap__del(ps->resolved, h));
	if (hashmap__size(ps->resolved) >= RESOLVED_MAX)
		hashmap__sweep(ps->resolved, resolved_drop, NULL);
	r = calloc(1, sizeof(*r) + fbytes);
	if (!r || stack__copy(&r->stack, s)) {
		free(r);
		return true; /* resolved, just not kept */
	}
	r->pid = p->pid;
	r->nframes = p->nframes;
	r->flags = p->flags;
	r->resolved_ns = now;
	memcpy(r->frames, p->frames, fbytes);
	if (hashmap__set(ps->resolved, h, r, NULL))
		resolved_free(r);
	return true;
}

bool pystack__take(struct pystack *ps, uint32_t pid, uint32_t tid, uint64_t key_ts,
		   struct stack *out)
{
	struct pending *p = hashmap__del(ps->pending, hashmap_key2(tid, key_ts));
	struct native_pending *n = hashmap__del(ps->native, hashmap_key2(tid, key_ts));
	struct pyentry *e = hashmap__get(ps->procs, pid);
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (!p && !n)
		return false;
	if (p && e && e->proc && p->pid == pid) {
		ok = resolve_cached(ps, e->proc, p, out);
		out->task = p->task;
		out->task_coro = p->task_coro;
		if (ok && out->handler_code)
			pytasks__note(ps->tasks, pid, out->handler_code);
	}
	if (ok && n && n->pid == pid)
		ok = resolve_native(ps->syms, n, out);
	free(p);
	free(n);
	if (!ok)
		stack__clear(out);
	return ok;
}

void pystack__drop(struct pystack *ps, uint32_t tid, uint64_t key_ts)
{
	free(hashmap__del(ps->pending, hashmap_key2(tid, key_ts)));
	free(hashmap__del(ps->native, hashmap_key2(tid, key_ts)));
}

/* Keeps stack s as the one BPF now counts as hash in pid (replacing an older copy of it);
 * without memory it is not kept, and its counts are not counted. */
static void known_keep(struct pystack *ps, uint32_t pid, uint64_t hash, const struct stack *s)
{
	struct known *k = calloc(1, sizeof(*k));
	void *old = NULL;

	if (!k || stack__copy(&k->stack, s)) {
		known_free(k);
		known_free(hashmap__del(ps->known, hash));
		return;
	}
	k->pid = pid;
	if (hashmap__set(ps->known, hash, k, &old))
		known_free(k);
	known_free(old);
}

bool pystack__sample(struct pystack *ps, const struct sc_hdr *h, struct stack *out)
{
	const struct sc_pystack_event *pe = (const void *)h;
	struct pyentry *e = hashmap__get(ps->procs, h->pid);
	struct native_pending *n = NULL;
	struct pending *p = NULL;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (h->kind == SC_EV_PYSAMPLE && e && e->proc) {
		p = pending_from(pe);
		if (p)
			p->flags &= ~SC_PY_F_KNOWN;
		ok = p && resolve(e->proc, p, out, mono_now_ns());
		if (ok && (pe->flags & SC_PY_F_KNOWN))
			known_keep(ps, h->pid, pe->key_ts, out);
	} else if (h->kind == SC_EV_NATSAMPLE) {
		n = native_from((const struct sc_natstack_event *)h);
		ok = n && resolve_native(ps->syms, n, out);
	}
	free(p);
	free(n);
	if (!ok)
		stack__clear(out);
	return ok;
}

const struct stack *pystack__known(const struct pystack *ps, uint32_t pid, uint64_t hash)
{
	const struct known *k = hashmap__get(ps->known, hash);

	return k && k->pid == pid ? &k->stack : NULL;
}

struct expire_ctx {
	uint64_t now, max_age;
};

/* Both capture kinds start with pid then key_ts. */
_Static_assert(offsetof(struct pending, key_ts) == offsetof(struct native_pending, key_ts),
	       "expire_one reads key_ts of either kind");
static int expire_one(uint64_t key, void *val, void *p)
{
	struct expire_ctx *c = p;
	struct pending *pd = val;

	if (c->now - pd->key_ts < c->max_age)
		return 0;
	free(pd);
	return 1;
}

void pystack__expire(struct pystack *ps, uint64_t now, uint64_t max_age_ns)
{
	struct expire_ctx c = { .now = now, .max_age = max_age_ns };

	hashmap__sweep(ps->pending, expire_one, &c);
	hashmap__sweep(ps->native, expire_one, &c);
}

void pystack__set_dispatchers(struct pystack *ps, int fd)
{
	ps->dispatchers_fd = fd;
}

void pystack__set_resp_maps(struct pystack *ps, const int fds[4])
{
	int i;

	for (i = 0; i < 4; i++)
		ps->resp_fds[i] = fds[i];
}

bool pystack__view(struct pystack *ps, const struct sc_pyview_event *e, struct view_names *out,
		   const char **reason)
{
	struct pyentry *pe = hashmap__get(ps->procs, e->hdr.pid);

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (!pe || !pe->proc)
		return false;
	return pyresp__names(pe->proc, e, mono_now_ns(), out, reason);
}

int pystack__set_task_codes(struct pystack *ps, int fd, struct scooby_bpf *skel)
{
	ps->tasks = pytasks__new(fd, ps->map_fd, skel);
	return ps->tasks ? 0 : -ENOMEM;
}

bool pystack__call(struct pystack *ps, const struct sc_pycall_event *e, struct view_names *out,
		   const char **reason)
{
	struct pyentry *pe = hashmap__get(ps->procs, e->hdr.pid);
	uint64_t now = mono_now_ns();
	struct pycode *c;
	__u32 ops;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (!pe || !pe->proc || !e->code)
		return false;
	c = pyproc__code(pe->proc, e->code, now);
	if (!c || !is_dispatcher(c->function, c->filename))
		return false;
	ops = view_call_ops(pyproc__layout(pe->proc)->minor);
	dispatcher_add(ps->dispatchers_fd, e->hdr.pid, e->code, ops);
	/* read after the fact: the dispatcher's bytecode stays, CALL_FUNCTION_EX has no
	 * specialized forms to be rewritten into */
	if (!is_view_call(e->hdr.pid, e->instr, ops))
		return false;
	*reason = pyproc__func_names(pe->proc, e->callable, now, out);
	return true;
}

struct known_gone_ctx {
	int fd;
	uint32_t pid;
};

/* Forgets a stack of the gone process, here and in BPF. */
static int known_gone(uint64_t key, void *val, void *p)
{
	struct known_gone_ctx *c = p;
	struct known *k = val;

	if (k->pid != c->pid)
		return 0;
	bpf_map_delete_elem(c->fd, &key);
	known_free(k);
	return 1;
}

void pystack__proc_gone(struct pystack *ps, pid_t pid)
{
	struct known_gone_ctx kc = { .fd = ps->known_fd, .pid = pid };
	__u32 key = pid;
	int i;

	/* its code, type and str addresses may be another process's next */
	code_keys__forget(ps->dispatchers_fd, pid);
	for (i = 0; i < 4; i++)
		code_keys__forget(ps->resp_fds[i], pid);
	pytasks__proc_gone(ps->tasks, pid);
	hashmap__sweep(ps->known, known_gone, &kc);
	entry_free(hashmap__del(ps->procs, pid));
	/* its code addresses may be another process's next: forget every resolved stack */
	hashmap__sweep(ps->resolved, resolved_drop, NULL);
	symbolizer__proc_gone(ps->syms, pid);
	bpf_map_delete_elem(ps->map_fd, &key);
}
