/* A Django request's view, read at its response's first write from the objects the server holds. */
#ifndef SCOOBY_PYRESP_BPF_H
#define SCOOBY_PYRESP_BPF_H

#include "common.bpf.h"
#include "pystack.bpf.h"

/*
 * When a response's first byte is written the view's frames are gone, but the server's
 * frame that called the application still holds what it returned (gunicorn's
 * handle_request: respiter), and Django's WSGIHandler.__call__ appended request.close to
 * that response's _resource_closers; the request keeps request.resolver_match, whose func
 * is the view Django resolved the path to (resolve(path).func). At the write syscall's
 * entry, on the writing thread (in the kernel: what it holds stays held), this follows:
 *   a local of one of the innermost frames whose class's instances hold _resource_closers
 *   -> a bound method in that list whose __self__ has resolver_match -> its func,
 * and sends func (a module-level function: it outlives the request). Object layouts of
 * CPython 3.11 and 3.12 (instance attributes in a managed dict: shared-key values or a
 * dict); cfg->resp_minor is 0 for the other versions, which send nothing.
 */

#define PYR_FRAMES 8 /* frames searched, innermost first */
#define PYR_LOCALS 32 /* locals looked at per frame */
#define PYR_KEYS 64 /* dict entries compared */
#define PYR_CLOSERS 8 /* items of _resource_closers looked at */
#define PYR_KEY_WORDS 256 /* u64 words of dict entries copied: PYR_KEYS of 3 words fit */
#define PYR_TPFLAGS_MANAGED_DICT (1ULL << 4)
#define PYR_TPFLAGS_HEAPTYPE (1ULL << 9)
#define PYR_DICT_KEYS 32 /* PyDictObject.ma_keys, then ma_values: 3.8 to 3.13 */
#define PYR_DK_ENTRIES 32 /* PyDictKeysObject.dk_indices (3.11, 3.12) */

enum pyr_name { PYR_N_CLOSERS, PYR_N_RESOLVER_MATCH, PYR_N_FUNC, PYR_NNAMES };

/* Sets w to the attribute name's bytes as little-endian words, NUL-padded; returns its
 * length, 0 for no name. (Words in code, not a table: no .rodata to link.) */
static __always_inline __u32 pyr_name_words(__u32 name, __u64 w[3])
{
	switch (name) {
	case PYR_N_CLOSERS: /* "_resource_closers" */
		w[0] = 0x6372756f7365725fULL;
		w[1] = 0x7265736f6c635f65ULL;
		w[2] = 0x73;
		return 17;
	case PYR_N_RESOLVER_MATCH: /* "resolver_match" */
		w[0] = 0x7265766c6f736572ULL;
		w[1] = 0x686374616d5fULL;
		w[2] = 0;
		return 14;
	case PYR_N_FUNC: /* "func" */
		w[0] = 0x636e7566ULL;
		w[1] = w[2] = 0;
		return 4;
	}
	return 0;
}

/* what a type is to the walk, kept per (tgid, type) in py_resp_types */
enum pyr_kind {
	PYR_K_OTHER = 1,
	PYR_K_RESPONSE, /* its instances' shared keys hold _resource_closers */
	PYR_K_METHOD, /* "method": a bound method */
	PYR_K_NONE, /* "NoneType" */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sc_code_key);
	__type(value, __u32);
} py_resp_types SEC(".maps");

/* What a frame of a code object held at a first write: looked at first, so a request's
 * walk reads one local where the server is known, and none of a frame known to hold no
 * response (until PYR_RESCAN_NS later: a frame that held none once may hold one later) */
struct pyr_code {
	__u32 local; /* 1 + the local that held the response, 0: none was held */
	__u32 pad;
	__u64 ts; /* when it was found to hold none */
};

#define PYR_RESCAN_NS 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sc_code_key);
	__type(value, struct pyr_code);
} py_resp_codes SEC(".maps");

/* (tgid, name) -> the str object that matched it: attribute names are interned, so a
 * key compares by address once one dict has been read by content */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sc_code_key);
	__type(value, __u64);
} py_resp_keys SEC(".maps");

/* (tgid, 1 + name, type) -> the index of attribute name in type's shared keys: an
 * instance whose values are under them is then read with one read */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sc_code_key);
	__type(value, __u32);
} py_resp_attrs SEC(".maps");

/* The walk's offsets (copied from the process's sc_py_cfg) and its buffers. */
struct pyr_buf {
	__u32 tgid, minor;
	__u16 type_flags, type_cached_keys, type_name, list_size, list_items, method_self;
	__u16 unicode_length, unicode_state, unicode_ascii_data, localsplus, nlocalsplus;
	__u16 frame_back, frame_code, frame_owner, owner_cstack, frame_read;
	__u64 keys[PYR_KEY_WORDS]; /* a dict's entries */
	__u64 locals[PYR_LOCALS]; /* the frame being searched */
	__u64 frames[PYR_FRAMES], codes[PYR_FRAMES]; /* the innermost frames, their code */
	__u64 value; /* pyr_keys_find's entry value */
	__u64 fhdr[16]; /* the frame being collected: its first frame_read bytes */
	__u32 nframes, nknown; /* frames collected, those known to hold none */
	__u64 items[PYR_CLOSERS]; /* _resource_closers' first items */
	struct sc_pyview_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pyr_buf);
} py_resp_buf SEC(".maps");

static __always_inline struct pyr_buf *pyr_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&py_resp_buf, &zero);
}

/*
 * The functions below are global (verified once each, on their own, with scalar arguments
 * only) rather than inlined at every call site: inlined, their loops nested in the
 * callers' loops were more states than the verifier explores.
 */

/* Returns 1 when the object at str is the compact ASCII str named by name, else 0. */
__noinline int pyr_str_is(__u64 str, __u32 name)
{
	struct pyr_buf *b = pyr_buf();
	__u64 buf[3] = {}, w[3] = {}, len = 0;
	__u32 state = 0, want;

	want = pyr_name_words(name, w);
	if (!b || !want)
		return 0;
	if (bpf_probe_read_user(&len, sizeof(len), (void *)(str + b->unicode_length)) ||
	    len != want ||
	    bpf_probe_read_user(&state, sizeof(state), (void *)(str + b->unicode_state)) ||
	    !((state >> 5) & 1) || !((state >> 6) & 1) ||
	    bpf_probe_read_user(buf, want & 31, (void *)(str + b->unicode_ascii_data)))
		return 0;
	return buf[0] == w[0] && buf[1] == w[1] && buf[2] == w[2];
}

/* State of a dict-entry scan (bpf_loop): all scalars. */
struct pyr_scan {
	__u64 want; /* the name's str object, 0: compare by content */
	__u64 key; /* the key found */
	__u32 n, esw, kw, name;
	__s32 found;
	__u32 pad;
};

static long pyr_key_step(__u32 i, void *p)
{
	struct pyr_scan *s = p;
	struct pyr_buf *b;
	__u64 key;

	if (i >= s->n)
		return 1;
	b = pyr_buf();
	if (!b)
		return 1;
	key = b->keys[(i * s->esw + s->kw) & (PYR_KEY_WORDS - 1)];
	if (!key || (s->want ? key != s->want : !pyr_str_is(key, s->name)))
		return 0;
	s->found = i;
	s->key = key;
	return 1;
}

/* Finds the str key name (enum pyr_name) in the dict keys object keys (3.11/3.12 layout).
 * Returns its entry's index, with its value (NULL in shared keys) in the buffer's value;
 * -1 when absent or unreadable. */
__noinline int pyr_keys_find(__u64 keys, __u32 name)
{
	struct sc_code_key ck = { .code = name };
	struct pyr_scan s = { .name = name, .found = -1 };
	__u64 hdr[4], n, size, *cached;
	__u8 log2_index, kind;
	struct pyr_buf *b;

	if (!keys || bpf_probe_read_user(hdr, sizeof(hdr), (void *)keys))
		return -1;
	/* dk_refcnt, then dk_log2_size, dk_log2_index_bytes, dk_kind, dk_version,
	 * dk_usable, dk_nentries, and dk_indices */
	log2_index = ((__u8 *)hdr)[9];
	kind = ((__u8 *)hdr)[10];
	n = hdr[3];
	if (log2_index > 30)
		return -1;
	n = n > PYR_KEYS ? PYR_KEYS : n;
	/* DICT_KEYS_GENERAL entries are {hash, key, value}; str-keyed ones {key, value} */
	s.esw = kind == 0 ? 3 : 2;
	s.kw = kind == 0 ? 1 : 0;
	s.n = n;
	size = n * s.esw * 8;
	barrier_var(size);
	b = pyr_buf();
	if (!b || !size || size > sizeof(b->keys) ||
	    bpf_probe_read_user(b->keys, size,
				(void *)(keys + PYR_DK_ENTRIES + (1ULL << log2_index))))
		return -1;
	ck.tgid = b->tgid;
	cached = bpf_map_lookup_elem(&py_resp_keys, &ck);
	if (cached && *cached) {
		s.want = *cached;
		bpf_loop(PYR_KEYS, pyr_key_step, &s, 0);
	}
	if (s.found < 0) {
		s.want = 0;
		bpf_loop(PYR_KEYS, pyr_key_step, &s, 0);
		if (s.found < 0)
			return -1;
		bpf_map_update_elem(&py_resp_keys, &ck, &s.key, BPF_ANY);
	}
	b = pyr_buf();
	if (!b)
		return -1;
	b->value = b->keys[(s.found * s.esw + s.kw + 1) & (PYR_KEY_WORDS - 1)];
	return s.found;
}

/* Returns obj.<name> (enum pyr_name) from the instance's own attributes (a managed dict), 0
 * when it has none or it cannot be read. */
__noinline __u64 pyr_attr(__u64 obj, __u32 name)
{
	struct sc_code_key key = { .pad = name + 1 };
	__u64 pre[6] = {}, dv, dict = 0, values = 0, keys;
	struct pyr_buf *b = pyr_buf();
	__u32 *known;
	int ix;

	if (!b || !obj)
		return 0;
	/* one read: the two words before the GC header (3.11: values, dict; 3.12: weakref,
	 * dict or values), the GC header, ob_refcnt, ob_type */
	if (bpf_probe_read_user(pre, sizeof(pre), (void *)(obj - 4 * 8)))
		return 0;
	key.tgid = b->tgid;
	key.code = pre[5];
	known = key.code ? bpf_map_lookup_elem(&py_resp_attrs, &key) : NULL;
	/* a type with a known index has a managed dict; others are asked */
	if (!known &&
	    (!key.code || !(py_read_ptr(key.code + b->type_flags) & PYR_TPFLAGS_MANAGED_DICT)))
		return 0;
	dv = pre[1];
	if (b->minor == 11) {
		dict = dv;
		if (!dict)
			values = pre[0];
	} else if (dv & 1) {
		values = dv + 1; /* 3.12: values tagged by their low bit, stored as values - 1 */
	} else {
		dict = dv;
	}
	if (!dict && values && known)
		return py_read_ptr(values + 8 * (__u64)*known);
	if (dict) {
		keys = py_read_ptr(dict + PYR_DICT_KEYS);
		values = py_read_ptr(dict + PYR_DICT_KEYS + 8); /* a split dict's */
	} else if (values) {
		keys = py_read_ptr(key.code + b->type_cached_keys);
	} else {
		return 0;
	}
	ix = pyr_keys_find(keys, name);
	if (ix < 0)
		return 0;
	if (!dict) {
		/* the class's shared keys only grow: the index stays the name's */
		__u32 at = ix;

		bpf_map_update_elem(&py_resp_attrs, &key, &at, BPF_ANY);
	}
	if (values)
		return py_read_ptr(values + 8 * (__u64)ix);
	b = pyr_buf();
	return b ? b->value : 0;
}

/* Returns what the object at obj is to the walk (enum pyr_kind), 0 when unreadable. */
__noinline __u32 pyr_kind(__u64 obj)
{
	struct sc_code_key key = {};
	__u64 name[2] = {};
	struct pyr_buf *b = pyr_buf();
	__u64 flags;
	__u32 kind = PYR_K_OTHER, *k;

	if (!b || !obj)
		return 0;
	key.tgid = b->tgid;
	key.code = py_read_ptr(obj + 8);
	if (!key.code)
		return 0;
	k = bpf_map_lookup_elem(&py_resp_types, &key);
	if (k)
		return *k;
	flags = py_read_ptr(key.code + b->type_flags);
	if (bpf_probe_read_user(name, 9, (void *)py_read_ptr(key.code + b->type_name)))
		return 0;
	/* tp_name, little-endian: "method" and its NUL; "NoneType" and its NUL */
	if ((name[0] & 0x00ffffffffffffffULL) == 0x00646f6874656dULL)
		kind = PYR_K_METHOD;
	else if (name[0] == 0x65707954656e6f4eULL && (name[1] & 0xff) == 0)
		kind = PYR_K_NONE;
	else if ((flags & PYR_TPFLAGS_HEAPTYPE) && (flags & PYR_TPFLAGS_MANAGED_DICT) &&
		 pyr_keys_find(py_read_ptr(key.code + b->type_cached_keys), PYR_N_CLOSERS) >= 0)
		kind = PYR_K_RESPONSE;
	bpf_map_update_elem(&py_resp_types, &key, &kind, BPF_ANY);
	return kind;
}

/* State of the frame and local searches (bpf_loop). */
struct pyr_search {
	__u64 frame; /* the next frame to collect */
	__u64 resp; /* the response found, 0: none yet */
	__u32 nframes;
	__u32 nlocals; /* of the frame whose locals are in the buffer */
};

/* Collects the innermost frames, and takes the response from one whose code held it in
 * a known local last time. */
static long pyr_frame_step(__u32 i, void *p)
{
	struct pyr_search *s = p;
	struct sc_code_key key = {};
	struct pyr_buf *b = pyr_buf();
	__u64 frame = s->frame, obj, size;
	struct pyr_code *pc;
	__u32 f;

	if (!b || !frame || s->nframes >= PYR_FRAMES)
		return 1;
	/* one read of the frame's fields (frame_read covers them) */
	size = b->frame_read;
	barrier_var(size);
	if (!size || size > sizeof(b->fhdr) || bpf_probe_read_user(b->fhdr, size, (void *)frame))
		return 1;
	s->frame = b->fhdr[(b->frame_back >> 3) & 15];
	if (b->frame_owner != SC_PY_NONE &&
	    ((__u8 *)b->fhdr)[b->frame_owner & 127] == (__u8)b->owner_cstack)
		return 0; /* a shim frame of a C call holds no locals */
	key.tgid = b->tgid;
	key.code = b->fhdr[(b->frame_code >> 3) & 15];
	/* the index in the buffer, not the stack: an exact count would tell every
	 * iteration's state apart for the verifier */
	f = b->nframes++;
	b->frames[f & (PYR_FRAMES - 1)] = frame;
	b->codes[f & (PYR_FRAMES - 1)] = key.code;
	s->nframes++;
	pc = bpf_map_lookup_elem(&py_resp_codes, &key);
	if (!pc || pc->local > PYR_LOCALS)
		return 0;
	if (!pc->local) {
		/* held none lately: the search of locals skips it */
		if (bpf_ktime_get_ns() - pc->ts < PYR_RESCAN_NS) {
			b->frames[f & (PYR_FRAMES - 1)] = 0;
			b->nknown++;
		}
		return 0;
	}
	obj = py_read_ptr(frame + b->localsplus + 8 * (__u64)(pc->local - 1));
	if (pyr_kind(obj) != PYR_K_RESPONSE)
		return 0;
	s->resp = obj;
	return 1;
}

/* Looks at local i % PYR_LOCALS of collected frame i / PYR_LOCALS (frames known to hold
 * none were zeroed); keeps in py_resp_codes where the response was found, or that the
 * frame's code held none. */
static long pyr_local_step(__u32 i, void *p)
{
	struct pyr_search *s = p;
	struct pyr_buf *b = pyr_buf();
	__u32 f = i / PYR_LOCALS, l = i % PYR_LOCALS, n = 0;
	struct sc_code_key key = {};
	struct pyr_code pc = {};
	__u64 obj, frame, size;

	if (!b || f >= s->nframes)
		return 1;
	frame = b->frames[f & (PYR_FRAMES - 1)];
	if (!frame)
		return 0; /* known to hold none */
	key.tgid = b->tgid;
	key.code = b->codes[f & (PYR_FRAMES - 1)];
	if (l == 0) {
		/* none, unless one of its locals below is the response */
		pc.ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&py_resp_codes, &key, &pc, BPF_ANY);
		/* co_nlocalsplus bounds the locals: the slots after them are the value stack */
		bpf_probe_read_user(&n, sizeof(n), (void *)(key.code + b->nlocalsplus));
		n = (__s32)n < 0 ? 0 : n > PYR_LOCALS ? PYR_LOCALS : n;
		s->nlocals = n;
		size = n * 8;
		barrier_var(size); /* keep the bound check below for the verifier */
		if (!size || size > sizeof(b->locals) ||
		    bpf_probe_read_user(b->locals, size, (void *)(frame + b->localsplus)))
			s->nlocals = 0;
	}
	if (l >= s->nlocals)
		return 0;
	obj = b->locals[l & (PYR_LOCALS - 1)];
	if (!obj || pyr_kind(obj) != PYR_K_RESPONSE)
		return 0;
	s->resp = obj;
	pc.local = l + 1;
	bpf_map_update_elem(&py_resp_codes, &key, &pc, BPF_ANY);
	return 1;
}

/* State of the closers' scan (bpf_loop). */
struct pyr_closers {
	__u64 func;
	__u32 n;
	__u32 status; /* enum sc_pyview_status, SC_PYV_UNREADABLE until found */
};

/* Looks at closer i: request.close, bound to a request that has resolver_match? */
static long pyr_closer_step(__u32 i, void *p)
{
	struct pyr_closers *c = p;
	struct pyr_buf *b = pyr_buf();
	__u64 m, rm;

	if (!b || i >= c->n)
		return 1;
	m = b->items[i & (PYR_CLOSERS - 1)];
	if (pyr_kind(m) != PYR_K_METHOD)
		return 0;
	rm = pyr_attr(py_read_ptr(m + b->method_self), PYR_N_RESOLVER_MATCH);
	if (!rm)
		return 0;
	c->func = pyr_attr(rm, PYR_N_FUNC);
	if (c->func)
		c->status = SC_PYV_FUNC;
	else if (pyr_kind(rm) == PYR_K_NONE) /* asked only when func is not there */
		c->status = SC_PYV_NO_MATCH;
	return 1;
}

/* Copies what the walk needs of cfg into the buffer; false when the version is not one
 * whose objects it reads. */
static __always_inline bool pyr_setup(struct pyr_buf *b, const struct sc_py_cfg *cfg, __u32 tgid)
{
	if (cfg->resp_minor != 11 && cfg->resp_minor != 12)
		return false;
	b->tgid = tgid;
	b->minor = cfg->resp_minor;
	b->type_flags = cfg->type_flags;
	b->type_cached_keys = cfg->type_cached_keys;
	b->type_name = cfg->type_name;
	b->list_size = cfg->list_size;
	b->list_items = cfg->list_items;
	b->method_self = cfg->method_self;
	b->unicode_length = cfg->unicode_length;
	b->unicode_state = cfg->unicode_state;
	b->unicode_ascii_data = cfg->unicode_ascii_data;
	b->localsplus = cfg->frame_localsplus;
	b->nlocalsplus = cfg->code_nlocalsplus;
	b->frame_back = cfg->frame_back;
	b->frame_code = cfg->frame_code;
	b->frame_owner = cfg->frame_owner;
	b->owner_cstack = cfg->owner_cstack;
	b->frame_read = cfg->frame_read;
	b->nframes = b->nknown = 0;
	return true;
}

/* At a request's first response write: sends SC_EV_PYVIEW when one of the thread's
 * innermost frames holds a Django response (nothing for other applications). Returns 0. */
__noinline int py_resp_view(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), ts, closers, size, items;
	struct pyr_closers c = { .status = SC_PYV_UNREADABLE };
	struct pyr_search s = {};
	__u32 tgid = pid_tgid >> 32;
	struct sc_py_cfg *cfg;
	struct pyr_buf *b;

	cfg = py_stacks ? bpf_map_lookup_elem(&py_procs, &tgid) : NULL;
	b = pyr_buf();
	if (!cfg || !b || !pyr_setup(b, cfg, tgid))
		return 0;
	ts = py_find_tstate(cfg);
	if (!ts)
		return 0;
	s.frame = py_read_ptr(ts + cfg->tstate_frame);
	if (cfg->cframe_current_frame != SC_PY_NONE && s.frame)
		s.frame = py_read_ptr(s.frame + cfg->cframe_current_frame);
	bpf_loop(PYR_FRAMES, pyr_frame_step, &s, 0);
	/* a process whose frames all held none lately (no Django) is not searched again */
	b = pyr_buf();
	if (!b)
		return 0;
	if (!s.resp && b->nknown < b->nframes)
		bpf_loop(PYR_FRAMES * PYR_LOCALS, pyr_local_step, &s, 0);
	if (!s.resp)
		return 0;
	b = pyr_buf();
	if (!b)
		return 0;
	closers = pyr_attr(s.resp, PYR_N_CLOSERS);
	/* ob_size and ob_item are among the list's first four words (list_size, list_items) */
	if (!closers || bpf_probe_read_user(b->items, 32, (void *)closers))
		b->items[0] = b->items[1] = b->items[2] = b->items[3] = 0;
	size = b->items[(b->list_size >> 3) & 3];
	items = b->items[(b->list_items >> 3) & 3];
	size = size > PYR_CLOSERS ? PYR_CLOSERS : size;
	c.n = size;
	size *= 8;
	barrier_var(size);
	if (size && size <= sizeof(b->items) && items &&
	    !bpf_probe_read_user(b->items, size, (void *)items))
		bpf_loop(PYR_CLOSERS, pyr_closer_step, &c, 0);
	b = pyr_buf();
	if (!b)
		return 0;
	b->ev.func = c.func;
	b->ev.status = c.status;
	sc_hdr_fill(&b->ev.hdr, SC_EV_PYVIEW, sizeof(b->ev), pid_tgid, bpf_ktime_get_ns());
	sc_output(&b->ev, sizeof(b->ev));
	return 0;
}

#endif /* SCOOBY_PYRESP_BPF_H */
