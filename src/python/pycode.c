/* Reading CPython objects out of a traced process: strings, code objects, functions, dicts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "util/hashmap.h"
#include "util/intern.h"
#include "pycode.h"
#include "pyline.h"

/* Code objects resolved, per process */
static struct hashmap_table py_codes = HASHMAP_TABLE("Python code objects", 2048, 262144);

/* Type objects checked by name */
static struct hashmap_table py_types = HASHMAP_TABLE("Python types", 64, 4096);

/* Globals dicts to their __name__ */
static struct hashmap_table py_modules = HASHMAP_TABLE("Python module names", 256, 65536);

#define STR_MAX_CHARS 4096 /* longer names are not names: refuse them */
#define LINETABLE_MAX (1 << 20)
#define DICT_MAX_ENTRIES 8192
#define RECHECK_NS 1000000000ULL /* a cached code object's identity is re-read after 1 s */
/* code objects whose identity one process_vm_readv re-reads (see recheck_batch) */
#define RECHECK_BATCH 256
#define RECHECK_SPAN 64 /* bytes read per code object: its filename and name fields */
#define TP_NAME_OFF 24 /* PyTypeObject.tp_name, after ob_refcnt, ob_type, ob_size: all versions */
/* Bound of the view-name cache: distinct (function, code) pairs a stack's view frame ran in.
 * Past it the cache is emptied and refilled (a view is re-read at most once a RECHECK_NS). */
#define VIEWS_MAX 4096

/* View names per (function, code), per process: each process empties its own at VIEWS_MAX */
static struct hashmap_table py_views = HASHMAP_TABLE("view names", 256, 16 * VIEWS_MAX);

struct pyproc {
	pid_t pid;
	struct py_layout l;
	struct hashmap *codes; /* code address -> struct pycode */
	struct hashmap *types; /* type address -> (char *) tp_name */
	struct hashmap *modules; /* globals dict address -> (char *) __name__ (3.8-3.10) */
	struct hashmap *views; /* (ctx, code) -> struct view_cached; at most VIEWS_MAX */
};

/* A view's names read once (or why there are none), re-read after RECHECK_NS. */
struct view_cached {
	uint64_t ctx, code, checked_ns;
	struct view_names names;
	const char *reason;
};

static void view_cached_free(void *v)
{
	struct view_cached *vc = v;

	if (vc)
		view_names__clear(&vc->names);
	free(vc);
}

bool target_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };

	if (!addr)
		return false;
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool read_u64(pid_t pid, uint64_t addr, uint64_t *v)
{
	return target_read(pid, addr, v, sizeof(*v));
}

static void pycode_free(void *v)
{
	struct pycode *c = v;

	if (!c)
		return;
	free(c->linetable);
	free(c);
}

struct pyproc *pyproc__new(pid_t pid, const struct py_layout *l)
{
	struct pyproc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pid = pid;
	p->l = *l;
	p->codes = hashmap__new_in(&py_codes);
	p->types = hashmap__new_in(&py_types);
	p->modules = hashmap__new_in(&py_modules);
	p->views = hashmap__new_in(&py_views);
	if (!p->codes || !p->types || !p->modules || !p->views) {
		pyproc__free(p);
		return NULL;
	}
	return p;
}

void pyproc__free(struct pyproc *p)
{
	if (!p)
		return;
	hashmap__free(p->codes, pycode_free);
	hashmap__free(p->types, free);
	hashmap__free(p->modules, free);
	hashmap__free(p->views, view_cached_free);
	free(p);
}

const struct py_layout *pyproc__layout(const struct pyproc *p)
{
	return &p->l;
}

/* Returns true when the object at addr has the type named name ("str", "code", ...).
 * Reading the type's name is what keeps a stale or garbage pointer from being believed. */
static bool has_type(struct pyproc *p, uint64_t addr, const char *name)
{
	uint64_t type, tp_name;
	char buf[32], *cached;

	if (!read_u64(p->pid, addr + 8, &type) || !type)
		return false;
	cached = hashmap__get(p->types, type);
	if (!cached) {
		memset(buf, 0, sizeof(buf));
		if (!read_u64(p->pid, type + TP_NAME_OFF, &tp_name) ||
		    !target_read(p->pid, tp_name, buf, sizeof(buf) - 1))
			return false;
		cached = strndup(buf, sizeof(buf) - 1);
		if (!cached || hashmap__set(p->types, type, cached, NULL)) {
			free(cached);
			return strcmp(buf, name) == 0;
		}
	}
	return strcmp(cached, name) == 0;
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd; /* lone surrogates are not UTF-8 */
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	if (cp > 0x10ffff)
		cp = 0xfffd;
	if (cp == 0xfffd)
		return put_utf8(out, cp);
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Returns a str object's text as malloc'd UTF-8, or NULL when addr is not a readable
 * compact str (all identifiers and file names are compact). */
static char *read_str(struct pyproc *p, uint64_t addr)
{
	uint32_t state, kind, cp;
	int64_t length;
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t i, n = 0;

	if (!addr || !has_type(p, addr, "str") ||
	    !target_read(p->pid, addr + p->l.unicode_state, &state, sizeof(state)) ||
	    !target_read(p->pid, addr + p->l.unicode_length, &length, sizeof(length)))
		return NULL;
	kind = (state >> 2) & 7;
	if (!((state >> 5) & 1) || length < 0 || length > STR_MAX_CHARS ||
	    (kind != 1 && kind != 2 && kind != 4))
		return NULL;
	raw = malloc(length * kind + 1);
	out = malloc(length * 4 + 1);
	if (!raw || !out)
		goto fail;
	/* compact ASCII data follows the smaller header, other compact kinds the larger */
	if (!target_read(
		    p->pid,
		    addr + ((state >> 6) & 1 ? p->l.unicode_ascii_data : p->l.unicode_compact_data),
		    raw, length * kind))
		goto fail;
	for (i = 0; i < (size_t)length; i++) {
		if (kind == 1)
			cp = raw[i];
		else if (kind == 2)
			cp = raw[2 * i] | raw[2 * i + 1] << 8;
		else
			cp = raw[4 * i] | raw[4 * i + 1] << 8 | raw[4 * i + 2] << 16 |
			     (uint32_t)raw[4 * i + 3] << 24;
		n += put_utf8(out + n, cp);
	}
	out[n] = 0;
	free(raw);
	return out;
fail:
	free(raw);
	free(out);
	return NULL;
}

/* Interns s and frees it. */
static const char *intern_owned(char *s)
{
	const char *i = intern(s);

	free(s);
	return i;
}

/* Reads a bytes object's contents; returns false when addr is not one. */
static bool read_bytes(struct pyproc *p, uint64_t addr, unsigned char **data, size_t *len)
{
	int64_t size;

	if (!addr || !has_type(p, addr, "bytes") ||
	    !target_read(p->pid, addr + p->l.bytes_size, &size, sizeof(size)) || size < 0 ||
	    size > LINETABLE_MAX)
		return false;
	*data = malloc(size ? size : 1);
	if (!*data)
		return false;
	if (size && !target_read(p->pid, addr + p->l.bytes_data, *data, size)) {
		free(*data);
		*data = NULL;
		return false;
	}
	*len = size;
	return true;
}

static bool read_ptr_field(struct pyproc *p, uint64_t obj, int off, uint64_t *v)
{
	return off >= 0 && read_u64(p->pid, obj + off, v);
}

/* Reads a code object afresh; NULL when addr is not one. */
static struct pycode *load_code(struct pyproc *p, uint64_t addr)
{
	struct pycode *c;
	uint64_t table = 0, name = 0;
	int32_t first;

	if (!has_type(p, addr, "code"))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!read_ptr_field(p, addr, p->l.code_filename, &c->filename_ptr) ||
	    !read_ptr_field(p, addr, p->l.code_name, &c->name_ptr) ||
	    !target_read(p->pid, addr + p->l.code_firstlineno, &first, sizeof(first)) ||
	    !read_ptr_field(p, addr, p->l.code_linetable, &table))
		goto fail;
	c->firstlineno = first;
	if (p->l.code_qualname >= 0)
		read_ptr_field(p, addr, p->l.code_qualname, &name);
	c->filename = intern_owned(read_str(p, c->filename_ptr));
	c->function = intern_owned(read_str(p, name ? name : c->name_ptr));
	if (!c->filename || !c->function || !read_bytes(p, table, &c->linetable, &c->linetable_len))
		goto fail;
	/* 3.13 enters a class's __init__ through a frame of a code object named "__init__"
	 * in a "file" named "__init__" (not a path); CPython's tracebacks skip it */
	c->shim = strcmp(c->filename, "__init__") == 0 && strcmp(c->function, "__init__") == 0;
	return c;
fail:
	pycode_free(c);
	return NULL;
}

/* Returns true when the code object at addr still names the same file and function, by
 * one read of each field (where recheck_batch cannot read both at once). */
static bool same_code(struct pyproc *p, uint64_t addr, const struct pycode *c)
{
	uint64_t f, n;

	return read_ptr_field(p, addr, p->l.code_filename, &f) &&
	       read_ptr_field(p, addr, p->l.code_name, &n) && f == c->filename_ptr &&
	       n == c->name_ptr;
}

/* Sets *lo and *len to the bytes of a code object holding both its filename and its name
 * fields; false when a field is unknown or they lie further apart than RECHECK_SPAN (in
 * 3.8-3.13 they are adjacent). */
static bool name_fields_span(const struct pyproc *p, int *lo, size_t *len)
{
	int fo = p->l.code_filename, no = p->l.code_name;

	*lo = fo < no ? fo : no;
	*len = (fo > no ? fo : no) + 8 - *lo;
	return fo >= 0 && no >= 0 && *len <= RECHECK_SPAN;
}

/* The code objects a batch re-reads: the one asked for first, then others half-way due. */
struct recheck {
	uint64_t addr[RECHECK_BATCH];
	struct pycode *code[RECHECK_BATCH];
	size_t n;
	uint64_t due; /* others checked before this are taken */
};

static int recheck_pick(uint64_t key, void *val, void *ctx)
{
	struct recheck *r = ctx;
	struct pycode *c = val;

	if (r->n < RECHECK_BATCH && c != r->code[0] && c->checked_ns < r->due) {
		r->addr[r->n] = key;
		r->code[r->n++] = c;
	}
	return 0;
}

/*
 * Re-reads the identity of c (at addr), due for its check, in one process_vm_readv with
 * those of up to RECHECK_BATCH - 1 more of p's code objects checked over half a RECHECK_NS
 * ago: a stack's frames come due in the same second, and on this VM a syscall costs more
 * than the copy (one per code object was 8 % of --profile's CPU). Those found the same are
 * marked checked, the others dropped (c's fate is the return: true when it is the same).
 * The read stops at the first object it cannot read, which then counts as changed; the
 * rest keep their time. lo and len: the span name_fields_span found.
 */
static bool recheck_batch(struct pyproc *p, uint64_t addr, struct pycode *c, uint64_t now_ns,
			  int lo, size_t len)
{
	int fo = p->l.code_filename, no = p->l.code_name;
	struct iovec local[RECHECK_BATCH], remote[RECHECK_BATCH];
	char spans[RECHECK_BATCH][RECHECK_SPAN];
	struct recheck r;
	size_t i, done;
	uint64_t f, n;
	ssize_t got;
	bool same_c = false;

	r.addr[0] = addr;
	r.code[0] = c;
	r.n = 1;
	r.due = now_ns - RECHECK_NS / 2;
	hashmap__sweep(p->codes, recheck_pick, &r);
	for (i = 0; i < r.n; i++) {
		local[i] = (struct iovec){ .iov_base = spans[i], .iov_len = len };
		remote[i] = (struct iovec){ .iov_base = (void *)(uintptr_t)(r.addr[i] + lo),
					    .iov_len = len };
	}
	got = process_vm_readv(p->pid, local, r.n, remote, r.n, 0);
	/* whole elements only: a read never splits one */
	done = got > 0 ? (size_t)got / len : 0;
	for (i = 0; i < r.n && i <= done; i++) {
		if (i < done) {
			memcpy(&f, spans[i] + fo - lo, sizeof(f));
			memcpy(&n, spans[i] + no - lo, sizeof(n));
		}
		if (i < done && f == r.code[i]->filename_ptr && n == r.code[i]->name_ptr) {
			r.code[i]->checked_ns = now_ns;
			same_c |= i == 0;
		} else if (i) { /* unreadable or another object now: read anew when next named */
			pycode_free(hashmap__del(p->codes, r.addr[i]));
		}
	}
	return same_c;
}

/* Returns true when the code object c cached at addr is still that one (see same_code). */
static bool still_same(struct pyproc *p, uint64_t addr, struct pycode *c, uint64_t now_ns)
{
	size_t len;
	int lo;

	if (name_fields_span(p, &lo, &len))
		return recheck_batch(p, addr, c, now_ns, lo, len);
	if (!same_code(p, addr, c))
		return false;
	c->checked_ns = now_ns;
	return true;
}

struct pycode *pyproc__code(struct pyproc *p, uint64_t addr, uint64_t now_ns)
{
	struct pycode *c = hashmap__get(p->codes, addr), *fresh;

	if (c && now_ns - c->checked_ns < RECHECK_NS)
		return c;
	if (c && still_same(p, addr, c, now_ns))
		return c;
	/* new, or the address was freed and reused for another code object */
	pycode_free(hashmap__del(p->codes, addr));
	fresh = load_code(p, addr);
	if (!fresh)
		return NULL;
	fresh->checked_ns = now_ns;
	if (hashmap__set(p->codes, addr, fresh, NULL)) {
		pycode_free(fresh);
		return NULL;
	}
	return fresh;
}

int pyproc__line(struct pyproc *p, struct pycode *c, uint64_t code_addr, uint64_t instr)
{
	long lasti;
	unsigned i;
	int line;

	if (p->l.minor >= 11) {
		/* an instruction pointer into co_code_adaptive */
		if (instr < code_addr + p->l.code_adaptive)
			return 0;
		lasti = instr - (code_addr + p->l.code_adaptive);
	} else {
		lasti = (int32_t)instr; /* f_lasti: an int, in code units from 3.10 */
		if (lasti < 0)
			return c->firstlineno;
		if (p->l.minor == 10)
			lasti *= 2;
	}
	for (i = 0; i < 4; i++)
		if (c->cache_lasti[i] == lasti + 1)
			return c->cache_line[i];
	line = pyline_addr2line(p->l.minor, c->linetable, c->linetable_len, c->firstlineno, lasti);
	line = line > 0 ? line : 0;
	i = c->cache_next++ & 3;
	c->cache_lasti[i] = lasti + 1; /* 0 means an empty slot */
	c->cache_line[i] = line;
	return line;
}

/* Looks "__name__" up in a module's globals dict (3.8-3.10 layout); NULL if absent. */
static char *globals_name(struct pyproc *p, uint64_t dict)
{
	uint64_t keys, hdr[5], size, nentries, width, i;
	uint64_t *entries = NULL;
	char *name = NULL, *key;

	if (!has_type(p, dict, "dict") || !read_ptr_field(p, dict, p->l.dict_keys, &keys) ||
	    !target_read(p->pid, keys, hdr, sizeof(hdr)))
		return NULL;
	/* dk_refcnt, dk_size, dk_lookup, dk_usable, dk_nentries, then the index array */
	size = hdr[1];
	nentries = hdr[4];
	if (size == 0 || size > (1ULL << 24) || (size & (size - 1)) || nentries > size ||
	    nentries > DICT_MAX_ENTRIES)
		return NULL;
	width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;
	entries = malloc(nentries * 24 + 1);
	if (!entries ||
	    !target_read(p->pid, keys + sizeof(hdr) + size * width, entries, nentries * 24))
		goto cleanup;
	for (i = 0; i < nentries && !name; i++) {
		key = entries[3 * i + 1] ? read_str(p, entries[3 * i + 1]) : NULL;
		if (key && strcmp(key, "__name__") == 0)
			name = read_str(p, entries[3 * i + 2]);
		free(key);
	}
cleanup:
	free(entries);
	return name;
}

/* Joins module and name as "module.name" (malloc'd); NULL when either is NULL. */
static char *dotted(const char *module, const char *name)
{
	char *out = NULL;

	if (module && name && asprintf(&out, "%s.%s", module, name) < 0)
		out = NULL;
	return out;
}

/* Reads a function object's names: n->view "__module__.__qualname__" and n->scooby
 * "__module__.__name__" (Scooby's form), both from the object itself, so a functools.wraps
 * wrapper reads as the function it wraps and an as_view() function as its class. Returns
 * NULL, or why no name can be given (n is then left empty). */
static const char *read_func_names(struct pyproc *p, uint64_t func, struct view_names *n)
{
	uint64_t mod_ptr, qn_ptr, name_ptr;
	char *module, *qualname, *name;

	if (!has_type(p, func, "function"))
		return "the view is not a Python function object";
	if (!read_ptr_field(p, func, p->l.func_module, &mod_ptr) ||
	    !read_ptr_field(p, func, p->l.func_qualname, &qn_ptr) ||
	    !read_ptr_field(p, func, p->l.func_name, &name_ptr))
		return "the view function could not be read";
	module = read_str(p, mod_ptr);
	qualname = read_str(p, qn_ptr);
	name = read_str(p, name_ptr);
	n->view = dotted(module, qualname);
	n->scooby = dotted(module, name);
	free(module);
	free(qualname);
	free(name);
	if (n->view && n->scooby)
		return NULL;
	view_names__clear(n);
	return "the view function's __module__, __qualname__ or __name__ is not a string";
}

void view_names__clear(struct view_names *n)
{
	free(n->view);
	free(n->scooby);
	n->view = n->scooby = NULL;
}

/* Reads a frame context's names afresh into n; returns NULL or why there are none. 3.11+:
 * the context is the function object. Before, it is the globals dict: the module is its
 * __name__ and the function the code's name; __name__ is not in the frame, so n->scooby
 * stays NULL rather than be guessed from the code's name. */
static const char *read_view_names(struct pyproc *p, uint64_t ctx, const char *function,
				   struct view_names *n)
{
	char *module, *cached;

	if (!ctx)
		return "the view frame's function is unknown";
	if (p->l.minor >= 11)
		return read_func_names(p, ctx, n);
	cached = hashmap__get(p->modules, ctx);
	if (cached) {
		module = strdup(cached);
	} else {
		module = globals_name(p, ctx);
		cached = module ? strdup(module) : NULL;
		if (cached && hashmap__set(p->modules, ctx, cached, NULL))
			free(cached);
	}
	n->view = dotted(module, function);
	free(module);
	return n->view ? NULL : "the view's module has no readable __name__";
}

/* Drops every entry: the simplest eviction for a table that only grows past its bound
 * under churn of function objects. */
static int drop_all(uint64_t key, void *val, void *ctx)
{
	view_cached_free(val);
	return 1;
}

/* Copies a cached entry into n; returns its reason. */
static const char *view_cached_get(const struct view_cached *vc, struct view_names *n)
{
	n->view = vc->names.view ? strdup(vc->names.view) : NULL;
	n->scooby = vc->names.scooby ? strdup(vc->names.scooby) : NULL;
	if ((vc->names.view && !n->view) || (vc->names.scooby && !n->scooby)) {
		view_names__clear(n);
		return "out of memory";
	}
	return vc->reason;
}

/* The names of (ctx, code) from the cache, or read afresh with func_only (ctx is a
 * function object whatever the version) and cached. */
static const char *names_cached(struct pyproc *p, uint64_t ctx, uint64_t code, const char *function,
				bool func_only, uint64_t now_ns, struct view_names *n)
{
	uint64_t key = hashmap_key2((uint32_t)(code >> 4), ctx);
	struct view_cached *vc = hashmap__get(p->views, key);

	memset(n, 0, sizeof(*n));
	if (!ctx)
		return "the view frame's function is unknown";
	/* the same (function, code) pair names the same view; a freed and reused
	 * function object is caught by the periodic re-read, as code objects are */
	if (vc && vc->ctx == ctx && vc->code == code && now_ns - vc->checked_ns < RECHECK_NS)
		return view_cached_get(vc, n);
	view_cached_free(hashmap__del(p->views, key));
	vc = calloc(1, sizeof(*vc));
	if (!vc)
		return func_only ? read_func_names(p, ctx, n) :
				   read_view_names(p, ctx, function, n);
	vc->ctx = ctx;
	vc->code = code;
	vc->checked_ns = now_ns;
	vc->reason = func_only ? read_func_names(p, ctx, &vc->names) :
				 read_view_names(p, ctx, function, &vc->names);
	if (hashmap__size(p->views) >= VIEWS_MAX)
		hashmap__sweep(p->views, drop_all, NULL);
	if (hashmap__set(p->views, key, vc, NULL)) {
		const char *reason = vc->reason;

		*n = vc->names;
		free(vc);
		return reason;
	}
	return view_cached_get(vc, n);
}

const char *pyproc__view_names(struct pyproc *p, uint64_t ctx, uint64_t code, const char *function,
			       uint64_t now_ns, struct view_names *n)
{
	return names_cached(p, ctx, code, function, false, now_ns, n);
}

const char *pyproc__func_names(struct pyproc *p, uint64_t func, uint64_t now_ns,
			       struct view_names *n)
{
	/* code 1: no code object is at address 1, so a function's entry is its own */
	return names_cached(p, func, 1, NULL, true, now_ns, n);
}
