/* Stacks at a probe: CPython's frames walked as code pointers, and native frame-pointer stacks. */
#ifndef SCOOBY_PYSTACK_BPF_H
#define SCOOBY_PYSTACK_BPF_H

#include "common.bpf.h"

const volatile __u32 stack_depth __weak = 64; /* --stack-depth, <= SC_PY_MAX_FRAMES */
const volatile __u32 py_stacks __weak = 1; /* 0: --stack-depth 0 */
const volatile __u32 native_stacks __weak = 0; /* --native-stacks: also for Python processes */

/* traced Python processes: tgid -> layout (the loader fills it, forks inherit it) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sc_py_cfg);
} py_procs SEC(".maps") __weak;

/* the thread's own PyThreadState, found once by walking the interpreter's list */
struct py_thread {
	__u64 tstate;
	__u64 by_pthread; /* found by pthread_self(), not by native id (see py_tstate_step) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct py_thread);
} py_threads SEC(".maps") __weak;

/* code objects whose frames hold an asyncio task in a local (asgiref's thread_handler),
 * filled by userspace as it meets them in stacks */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct sc_code_key);
	__type(value, struct sc_task_code);
} py_task_codes SEC(".maps") __weak;

/* set by userspace once any traced process has a py_task_codes entry: until then no
 * response write looks for a task (a sync server's pays nothing) */
volatile __u32 py_task_procs __weak;
/* set by BPF once any traced thread is an event loop's (bpf/http.bpf.c): until then a
 * query's stack walk does not ask whether its thread is one */
volatile __u32 py_loop_threads __weak;

#define PY_OWNED_BY_GENERATOR 1 /* _PyInterpreterFrame.owner of a generator's frame */

#define PY_MAX_THREADS 256 /* threads walked to find ours */
#define PY_BULK_MAX 16384 /* bytes of a thread's frame stack copied in one read */
/* bytes of data stack copied per frame asked for: a frame is its header and its locals and
 * value stack, 200-300 bytes in a web app's code; a larger one is read on its own */
#define PY_FRAME_BUDGET 384

/* the thread's data stack (3.11+), copied at once: frames then cost no read each */
struct py_bulk {
	__u8 data[PY_BULK_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_bulk);
} py_bulk SEC(".maps") __weak;
#define PY_FRAME_READ 128 /* bytes of a frame read at once: every field we need is inside */

static __always_inline __u64 py_read_ptr(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* The id CPython recorded for this thread, in the form the version keeps. The task is a
 * trusted pointer: its fields load directly, where a helper call costs ~60 ns each. */
static __always_inline __u64 py_my_thread_id(const struct sc_py_cfg *cfg, struct task_struct *task)
{
	unsigned int level;
	struct pid *pid;

	if (cfg->tstate_native_thread_id != SC_PY_NONE) {
		/* the tid as the process's own pid namespace numbers it */
		pid = task->thread_pid;
		level = pid->level;
		if (!level)
			return pid->numbers[0].nr;
		return BPF_CORE_READ(pid, numbers[level & 31].nr);
	}
	/* 3.8-3.10 keep pthread_self(): on x86-64 glibc the thread's TLS base */
	return task->thread.fsbase;
}

/* A thread state's fields a walk reads (its ids, frame, data stack chunk and top), copied
 * in one read where they took one each: [lo, lo + len) of the state at ts. */
#define PY_TS_SPAN 512
struct py_ts_copy {
	__u64 ts; /* the state copied; 0: none (the walk reads its fields one by one) */
	__u32 lo, len;
	__u64 data[PY_TS_SPAN / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_ts_copy);
} py_ts_copy SEC(".maps") __weak;

/* The span [lo, hi) widened to hold the 8-byte field at off (none: SC_PY_NONE). */
static __always_inline __u32 py_ts_lo(__u32 off, __u32 lo)
{
	return off != SC_PY_NONE && off < lo ? off : lo;
}

static __always_inline __u32 py_ts_hi(__u32 off, __u32 hi)
{
	return off != SC_PY_NONE && off + 8 > hi ? off + 8 : hi;
}

/* Copies the fields of thread state ts into the per-CPU copy; returns it, or NULL when
 * the version's fields lie too far apart or the read fails (c->ts is 0 then). */
static __always_inline struct py_ts_copy *py_ts_read(const struct sc_py_cfg *cfg, __u64 ts)
{
	__u32 zero = 0, lo = cfg->tstate_frame, hi = cfg->tstate_frame + 8, size;
	struct py_ts_copy *c = bpf_map_lookup_elem(&py_ts_copy, &zero);

	if (!c)
		return NULL;
	c->ts = 0;
	lo = py_ts_lo(cfg->tstate_thread_id, lo);
	lo = py_ts_lo(cfg->tstate_native_thread_id, lo);
	lo = py_ts_lo(cfg->tstate_datastack_chunk, lo);
	lo = py_ts_lo(cfg->tstate_datastack_top, lo);
	hi = py_ts_hi(cfg->tstate_thread_id, hi);
	hi = py_ts_hi(cfg->tstate_native_thread_id, hi);
	hi = py_ts_hi(cfg->tstate_datastack_chunk, hi);
	hi = py_ts_hi(cfg->tstate_datastack_top, hi);
	size = hi - lo;
	if (size >= PY_TS_SPAN)
		return NULL;
	barrier_var(size);
	/* the mask keeps what the test did, in a form the verifier bounds */
	if (bpf_probe_read_user(c->data, size & (PY_TS_SPAN - 1), (void *)(ts + lo)))
		return NULL;
	c->ts = ts;
	c->lo = lo;
	c->len = size;
	return c;
}

/* The copy of thread state ts when this walk made one, else NULL. */
static __always_inline struct py_ts_copy *py_ts_copy_of(__u64 ts)
{
	__u32 zero = 0;
	struct py_ts_copy *c = bpf_map_lookup_elem(&py_ts_copy, &zero);

	return c && c->ts == ts ? c : NULL;
}

/* Reads the pointer at tstate + off: from the copy c when it holds it (every field is
 * 8-byte aligned from lo in every version; one that were not is read on its own). No
 * out-parameter: a probe's stack, with the walk's, is near the verifier's 512 bytes. */
static __always_inline __u64 py_ts_ptr(const struct py_ts_copy *c, __u64 tstate, __u32 off)
{
	__u32 at;

	if (c && c->ts && off != SC_PY_NONE && off >= c->lo) {
		at = off - c->lo;
		if (!(at & 7) && at + 8 <= c->len)
			return c->data[(at >> 3) & (PY_TS_SPAN / 8 - 1)];
	}
	return py_read_ptr(tstate + off);
}

/* The thread's id as CPython recorded it in tstate (see py_my_thread_id). */
static __always_inline __u64 py_tstate_id(const struct sc_py_cfg *cfg, __u64 tstate,
					  const struct py_ts_copy *c)
{
	/* 3.11+'s native_thread_id is an unsigned long holding the 32-bit tid */
	if (cfg->tstate_native_thread_id != SC_PY_NONE)
		return (__u32)py_ts_ptr(c, tstate, cfg->tstate_native_thread_id);
	return py_ts_ptr(c, tstate, cfg->tstate_thread_id);
}

/* State of the thread-list walk, all scalars: bpf_loop callbacks get it by pointer. */
struct py_tstate_walk {
	__u64 ts;
	__u64 me;
	__u64 me_pthread; /* our pthread_self() (the TLS base) */
	__u64 alt; /* the first state whose pthread id is ours, 0: none */
	__u32 next_off;
	__u32 id_off;
	__u32 pthread_off;
	__u32 native; /* the id field is the 4-byte native thread id */
	__u32 found;
	__u32 pad;
};

static long py_tstate_step(__u32 i, void *p)
{
	struct py_tstate_walk *w = p;
	__u64 id = 0;

	if (!w->ts)
		return 1;
	bpf_probe_read_user(&id, w->native ? 4 : 8, (void *)(w->ts + w->id_off));
	if (id == w->me) {
		w->found = 1;
		return 1;
	}
	/* a child forked by C code that did not tell Python (uWSGI's workers, unless
	 * --py-call-osafterfork) keeps its parent's native ids; pthread_self() survives fork */
	if (w->native && !w->alt && py_read_ptr(w->ts + w->pthread_off) == w->me_pthread)
		w->alt = w->ts;
	w->ts = py_read_ptr(w->ts + w->next_off);
	return 0;
}

/* Returns this thread's PyThreadState, or 0. The GIL is usually released inside a DB
 * call, so "the current thread state" is not ours to read: match on the thread id. */
static __always_inline __u64 py_find_tstate(const struct sc_py_cfg *cfg)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct py_tstate_walk w = {};
	struct py_ts_copy *c = NULL;
	struct py_thread *pt;
	__u32 zero = 0;
	__u64 interp;

	w.me = py_my_thread_id(cfg, task);
	w.me_pthread = task->thread.fsbase;
	pt = bpf_task_storage_get(&py_threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (pt && pt->tstate) {
		/* the state found before, checked and copied in one read */
		c = py_ts_read(cfg, pt->tstate);
		if (pt->by_pthread ?
			    py_ts_ptr(c, pt->tstate, cfg->tstate_thread_id) == w.me_pthread :
			    py_tstate_id(cfg, pt->tstate, c) == w.me)
			return pt->tstate;
		if (c)
			c->ts = 0;
	} else {
		/* a copy left by another thread's walk on this CPU is not this one's, even at
		 * the same address (a thread state freed and allocated again) */
		c = bpf_map_lookup_elem(&py_ts_copy, &zero);
		if (c)
			c->ts = 0;
	}
	interp = py_read_ptr(cfg->runtime + cfg->runtime_interp_head);
	if (!interp)
		return 0;
	w.ts = py_read_ptr(interp + cfg->interp_tstate_head);
	w.next_off = cfg->tstate_next;
	w.native = cfg->tstate_native_thread_id != SC_PY_NONE;
	w.id_off = w.native ? cfg->tstate_native_thread_id : cfg->tstate_thread_id;
	w.pthread_off = cfg->tstate_thread_id;
	bpf_loop(PY_MAX_THREADS, py_tstate_step, &w, 0);
	if (!w.found) {
		if (!w.alt)
			return 0;
		w.ts = w.alt;
	}
	if (pt) {
		pt->tstate = w.ts;
		pt->by_pthread = !w.found;
	}
	return w.ts;
}

/* Reads the 8-byte field at off inside a frame copy; 0 when off lies outside it. Every
 * field read this way is 8-byte aligned in every version, which the mask tells the verifier. */
static __always_inline __u64 py_field(const __u64 *buf, __u32 off)
{
	if (off > PY_FRAME_READ - 8)
		return 0;
	return buf[(off >> 3) & (PY_FRAME_READ / 8 - 1)];
}

/* State of the frame walk, all scalars (see py_tstate_walk). */
struct py_frame_walk {
	__u64 frame;
	__u32 n;
	__u32 depth;
	__u32 flags;
	__u32 read; /* bytes read per frame */
	__u16 back, code, instr, ctx, owner, cstack;
	__u64 bulk_lo, bulk_hi; /* target range held in py_bulk, 0 when none */
	__u64 hash; /* FNV-1a of the frames kept so far (--profile tells stacks apart by it) */
	__u32 hashing; /* 0: the caller needs no hash (a query's stack) */
	__u32 tgid;
	__u32 tasks; /* the process has py_task_codes entries: look frames up */
	__u32 want_gen; /* find the outermost generator frame's object */
	__u16 localsplus, frame_gen, gen_iframe, pad;
	__u64 task; /* the local of the outermost py_task_codes frame, 0: none */
	__u64 gen; /* the outermost generator (coroutine) whose frame was walked, 0: none */
};

#define PY_FNV_PRIME 0x100000001b3ULL

/* Folds frame f into the walk's hash. */
static __always_inline void py_hash_frame(struct py_frame_walk *w, const struct sc_py_frame *f)
{
	w->hash = (w->hash ^ f->code) * PY_FNV_PRIME;
	w->hash = (w->hash ^ f->instr) * PY_FNV_PRIME;
	w->hash = (w->hash ^ f->ctx) * PY_FNV_PRIME;
}

/* Reads the 8 bytes at off in the bulk copy; false when off is outside it. */
static __always_inline bool py_bulk_u64(const struct py_bulk *b, __u64 off, __u64 *v)
{
	if (off > PY_BULK_MAX - 8)
		return false;
	*v = *(const __u64 *)(b->data + (off & (PY_BULK_MAX - 8)));
	return true;
}

/* Takes one frame's fields from the bulk copy; false when the frame lies outside it
 * (a generator's frame, a frame object, an older chunk), for a read of its own. */
static __always_inline bool py_frame_from_bulk(struct py_frame_walk *w, struct sc_py_frame *f,
					       bool *skip)
{
	__u32 zero = 0;
	struct py_bulk *b;
	__u64 off, owner = 0;

	if (!w->bulk_lo || w->frame < w->bulk_lo || w->frame + w->read > w->bulk_hi)
		return false;
	b = bpf_map_lookup_elem(&py_bulk, &zero);
	if (!b)
		return false;
	off = w->frame - w->bulk_lo;
	if (w->owner != SC_PY_NONE) {
		if (!py_bulk_u64(b, off + (w->owner & ~7), &owner))
			return false;
		*skip = (__u8)(owner >> ((w->owner & 7) * 8)) == (__u8)w->cstack;
	}
	if (!py_bulk_u64(b, off + w->code, &f->code) ||
	    !py_bulk_u64(b, off + w->instr, &f->instr) || !py_bulk_u64(b, off + w->ctx, &f->ctx) ||
	    !py_bulk_u64(b, off + w->back, &w->frame))
		return false;
	return true;
}

/* When frame's code is one of py_task_codes, keeps the task local it names: the walk
 * goes outwards, so the outermost such frame's is kept. */
static __always_inline void py_task_check(struct py_frame_walk *w, __u64 frame, __u64 code)
{
	struct sc_code_key key = { .tgid = w->tgid, .code = code };
	struct sc_task_code *tc;
	__u64 task;

	tc = bpf_map_lookup_elem(&py_task_codes, &key);
	if (!tc || tc->local > 64)
		return;
	task = py_read_ptr(frame + w->localsplus + tc->local * 8);
	if (task)
		w->task = task;
}

/* a frame read on its own (not from the bulk copy): off the stack, which a probe that
 * walks shares with its own locals within the verifier's 512 bytes */
struct py_frame_buf {
	__u64 w[PY_FRAME_READ / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_frame_buf);
} py_frame_buf SEC(".maps") __weak;

static long py_frame_step(__u32 i, void *p)
{
	struct py_frame_walk *w = p;
	struct sc_pystack_event *e;
	struct py_frame_buf *fb;
	struct sc_py_frame *f;
	bool skip = false;
	__u32 size, zero = 0;
	__u64 frame, *buf;

	if (!w->frame)
		return 1;
	if (w->n >= w->depth) {
		w->flags |= SC_PY_F_TRUNCATED;
		return 1;
	}
	e = sc_scratch();
	if (!e)
		return 1;
	f = &e->frames[w->n & (SC_PY_MAX_FRAMES - 1)];
	frame = w->frame;
	if (py_frame_from_bulk(w, f, &skip)) {
		/* a generator's frame lives in its object, never in the data stack */
		if (!skip && w->tasks)
			py_task_check(w, frame, f->code);
		if (!skip) {
			if (w->hashing)
				py_hash_frame(w, f);
			w->n++;
		}
		return 0;
	}
	fb = bpf_map_lookup_elem(&py_frame_buf, &zero);
	if (!fb)
		return 1;
	buf = fb->w;
	/* 1..128 bytes, in a form the verifier can bound */
	size = w->read & (PY_FRAME_READ - 1);
	if (!size)
		size = PY_FRAME_READ;
	if (size < PY_FRAME_READ) /* what the read leaves is read as 0, as before */
		__builtin_memset(buf, 0, PY_FRAME_READ);
	if (bpf_probe_read_user(buf, size, (void *)w->frame)) {
		w->flags |= SC_PY_F_PARTIAL;
		return 1;
	}
	w->frame = py_field(buf, w->back);
	/* shim frames the interpreter pushes for C calls hold no Python code */
	if (w->owner != SC_PY_NONE &&
	    ((__u8 *)buf)[w->owner & (PY_FRAME_READ - 1)] == (__u8)w->cstack)
		return 0;
	f->code = py_field(buf, w->code);
	f->instr = py_field(buf, w->instr);
	f->ctx = py_field(buf, w->ctx);
	if (w->want_gen) {
		if (w->gen_iframe != SC_PY_NONE && w->owner != SC_PY_NONE &&
		    ((__u8 *)buf)[w->owner & (PY_FRAME_READ - 1)] == PY_OWNED_BY_GENERATOR)
			w->gen = frame - w->gen_iframe;
		else if (w->frame_gen != SC_PY_NONE && py_field(buf, w->frame_gen))
			w->gen = py_field(buf, w->frame_gen);
	}
	if (w->tasks)
		py_task_check(w, frame, f->code);
	if (w->hashing)
		py_hash_frame(w, f);
	w->n++;
	return 0;
}

/* Sends the calling thread's native user stack (frame pointers), keyed by key_ts, as a
 * record of kind (SC_EV_NATSTACK at a probed function's entry, or SC_EV_NATSAMPLE).
 * ra_at: at a function's entry, where its return address is (0: ctx is not at an entry);
 * entry_ip: the function to name as the innermost frame (0: the probed one). */
static __always_inline void nat_capture_from(void *ctx, __u64 pid_tgid, __u64 key_ts, __u32 kind,
					     __u64 entry_ip, __u64 ra_at)
{
	struct sc_natstack_event *e = sc_scratch();
	long n;

	if (!e)
		return;
	if (!ra_at) {
		n = bpf_get_stack(ctx, e->ips, sizeof(e->ips), BPF_F_USER_STACK);
		goto out;
	}
	/* at a function's entry the frame-pointer chain skips its caller: the return
	 * address is still on the stack. The walk goes one slot up, and the caller
	 * takes slot 1 between the probed function and the chain. */
	n = bpf_get_stack(ctx, &e->ips[1], sizeof(e->ips) - sizeof(__u64), BPF_F_USER_STACK);
	if (n > 0) {
		e->ips[0] = entry_ip ? entry_ip : e->ips[1];
		if (bpf_probe_read_user(&e->ips[1], sizeof(__u64), (void *)ra_at))
			e->ips[1] = 0;
		n += sizeof(__u64);
	}
out:
	e->nframes = n > 0 ? n / sizeof(__u64) : 0;
	e->flags = n == sizeof(e->ips) ? SC_PY_F_TRUNCATED : 0;
	e->key_ts = key_ts;
	sc_hdr_fill(&e->hdr, kind, 0, pid_tgid, bpf_ktime_get_ns());
	e->hdr.size = offsetof(struct sc_natstack_event, ips) +
		      (e->nframes & (SC_NAT_MAX_FRAMES * 2 - 1)) * sizeof(__u64);
	sc_output(e, e->hdr.size);
}

/* nat_capture_from at the probed function's own entry (at_entry: ctx is a uprobe's
 * pt_regs at its first instruction), or anywhere else. */
static __always_inline void nat_capture(void *ctx, __u64 pid_tgid, __u64 key_ts, __u32 kind,
					bool at_entry)
{
	nat_capture_from(ctx, pid_tgid, key_ts, kind, 0,
			 at_entry ? ((struct pt_regs *)ctx)->sp : 0);
}

/* Copies the thread's current data-stack chunk (3.11+), where its Python-to-Python
 * frames sit one after another: one read instead of one per frame. */
static __always_inline void py_bulk_copy(const struct sc_py_cfg *cfg, __u64 ts,
					 struct py_frame_walk *w)
{
	const struct py_ts_copy *c = py_ts_copy_of(ts);
	__u64 chunk, top, lo, size;
	struct py_bulk *b;
	__u32 zero = 0;

	if (cfg->tstate_datastack_chunk == SC_PY_NONE)
		return;
	chunk = py_ts_ptr(c, ts, cfg->tstate_datastack_chunk);
	top = py_ts_ptr(c, ts, cfg->tstate_datastack_top);
	lo = chunk + cfg->stackchunk_data;
	if (!chunk || top <= lo || top - lo > PY_BULK_MAX)
		return;
	/* the walk starts at the top and goes down; a copy sized for the depth asked for is
	 * the part it can use: the frames below it are never read */
	if (top - lo > (__u64)w->depth * PY_FRAME_BUDGET)
		lo = top - (__u64)w->depth * PY_FRAME_BUDGET;
	b = bpf_map_lookup_elem(&py_bulk, &zero);
	if (!b)
		return;
	size = top - lo;
	if (size > PY_BULK_MAX)
		return;
	if (bpf_probe_read_user(b->data, size & (PY_BULK_MAX * 2 - 1), (void *)lo) == 0) {
		w->bulk_lo = lo;
		w->bulk_hi = top;
	}
}

/* Walks the Python stack of the calling thread into the scratch record, and returns it
 * (its frames, nframes, flags, task and task_coro set; NULL when the scratch cannot be
 * had). *hash, unless hash is NULL (a query's stack needs none), tells the frame list
 * apart: the tgid, every frame's code, instruction and context, the flags. *gen, unless
 * gen is NULL, is the outermost generator walked (an event loop's task coroutine). */
static __always_inline struct sc_pystack_event *py_walk_frames(const struct sc_py_cfg *cfg,
							       __u32 tgid, __u64 *hash, __u64 *gen)
{
	struct py_frame_walk w = { .hash = 0xcbf29ce484222325ULL ^ tgid, .hashing = !!hash };
	struct sc_pystack_event *e;
	__u64 ts;

	ts = py_find_tstate(cfg);
	if (!ts) {
		w.flags |= SC_PY_F_NO_THREAD;
	} else {
		w.frame = py_ts_ptr(py_ts_copy_of(ts), ts, cfg->tstate_frame);
		if (cfg->cframe_current_frame != SC_PY_NONE && w.frame)
			w.frame = py_read_ptr(w.frame + cfg->cframe_current_frame);
		w.depth = stack_depth < SC_PY_MAX_FRAMES ? stack_depth : SC_PY_MAX_FRAMES;
		w.back = cfg->frame_back;
		w.code = cfg->frame_code;
		w.instr = cfg->frame_instr;
		w.ctx = cfg->frame_ctx;
		w.owner = cfg->frame_owner;
		w.cstack = cfg->owner_cstack;
		w.read = cfg->frame_read > PY_FRAME_READ ? PY_FRAME_READ : cfg->frame_read;
		w.tgid = tgid;
		/* a sync server's process has none: its walk does no lookup */
		w.tasks = cfg->ntask_codes != 0 && cfg->frame_localsplus != SC_PY_NONE;
		w.localsplus = cfg->frame_localsplus;
		w.want_gen = gen != NULL;
		w.frame_gen = cfg->frame_gen;
		w.gen_iframe = cfg->gen_iframe;
		py_bulk_copy(cfg, ts, &w);
		bpf_loop(SC_PY_MAX_FRAMES + 1, py_frame_step, &w, 0);
	}
	e = sc_scratch();
	if (!e)
		return NULL;
	e->flags = w.flags;
	e->nframes = w.n;
	e->task = w.task;
	e->task_coro = 0;
	if (w.task && cfg->task_coro != SC_PY_NONE)
		e->task_coro = py_read_ptr(w.task + cfg->task_coro);
	if (hash)
		*hash = (w.hash ^ ((__u64)w.flags << 32 | w.n)) * PY_FNV_PRIME;
	if (gen)
		*gen = w.gen;
	return e;
}

/* Returns the coroutine of the outermost generator frame on the calling thread's Python
 * stack: on an event loop's thread, inside a task, that task's coroutine; 0 when none, or
 * when the process has run no asgiref executor work (whose queries it would name) and the
 * thread is not an event loop's (loop). */
static __always_inline __u64 py_outer_coro(__u32 tgid, bool loop)
{
	struct sc_py_cfg *cfg;
	__u64 gen = 0;

	if (!py_task_procs && !loop)
		return 0;
	cfg = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!cfg || !py_stacks || (!cfg->ntask_codes && !loop))
		return 0;
	py_walk_frames(cfg, tgid, NULL, &gen);
	return gen;
}

/* The size of stack record e, as sent. */
static __always_inline __u32 py_event_size(const struct sc_pystack_event *e)
{
	return offsetof(struct sc_pystack_event, frames) +
	       (e->nframes & (SC_PY_MAX_FRAMES * 2 - 1)) * sizeof(struct sc_py_frame);
}

/* Walks the Python stack of the calling thread and sends it keyed by key_ts; loop: the
 * thread is an event loop's (the outermost coroutine is sent as task_coro). */
static __always_inline void py_walk(const struct sc_py_cfg *cfg, __u64 pid_tgid, __u64 key_ts,
				    __u32 kind, bool loop)
{
	struct sc_pystack_event *e;
	__u64 gen = 0;

	e = py_walk_frames(cfg, pid_tgid >> 32, NULL, loop ? &gen : NULL);
	if (!e)
		return;
	/* on an event loop's thread the task is the one running: its coroutine, no Task */
	if (loop && !e->task && gen)
		e->task_coro = gen;
	e->key_ts = key_ts;
	sc_hdr_fill(&e->hdr, kind, 0, pid_tgid, bpf_ktime_get_ns());
	e->hdr.size = py_event_size(e);
	sc_output(e, e->hdr.size);
}

/* Takes the stacks of a query starting now: Python's where the process runs a CPython we
 * know, native ones otherwise (and also, with --native-stacks). ra_at, entry_ip: see
 * nat_capture_from (ra_at 0: ctx is a tracepoint's, inside a syscall). */
static __always_inline void py_capture_from(void *ctx, __u64 pid_tgid, __u64 key_ts, __u64 entry_ip,
					    __u64 ra_at)
{
	__u32 tgid = pid_tgid >> 32;
	struct sc_py_cfg *cfg;
	struct sc_thread *t;
	bool loop = false;

	if (!py_stacks)
		return;
	cfg = bpf_map_lookup_elem(&py_procs, &tgid);
	if (cfg && py_loop_threads) {
		t = sc_thread_get(false);
		loop = t && t->loop;
	}
	if (cfg)
		py_walk(cfg, pid_tgid, key_ts, SC_EV_PYSTACK, loop);
	if (!cfg || native_stacks)
		nat_capture_from(ctx, pid_tgid, key_ts, SC_EV_NATSTACK, entry_ip, ra_at);
}

/* py_capture_from at the probed function's own entry (at_entry), or anywhere else. */
static __always_inline void py_capture_at(void *ctx, __u64 pid_tgid, __u64 key_ts, bool at_entry)
{
	py_capture_from(ctx, pid_tgid, key_ts, 0, at_entry ? ((struct pt_regs *)ctx)->sp : 0);
}

/* What a uprobe asks of bpf/pystack.bpf.c's py_capture_prog: py_capture_from's arguments. */
struct py_capture_args {
	__u64 pid_tgid, key_ts, entry_ip, ra_at;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_capture_args);
} py_capture_args SEC(".maps") __weak;

/* [0]: py_capture_prog, set by the loader once loaded */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} py_capture_progs SEC(".maps") __weak;

/* py_capture_from for a uprobe, as its last act: a tail call into the one program that
 * walks, so that the walk is verified once (it was ~0.1 s of the verifier's time in each
 * of ten probes at attach) rather than inlined in every probe. Never returns when the call
 * is made; a probe whose call fails (the slot not set yet) takes no stack. */
static __always_inline void py_capture_last(void *ctx, __u64 pid_tgid, __u64 key_ts, __u64 entry_ip,
					    __u64 ra_at)
{
	struct py_capture_args *a;
	__u32 zero = 0;

	if (!py_stacks) /* as py_capture_from */
		return;
	a = bpf_map_lookup_elem(&py_capture_args, &zero);
	if (!a)
		return;
	a->pid_tgid = pid_tgid;
	a->key_ts = key_ts;
	a->entry_ip = entry_ip;
	a->ra_at = ra_at;
	bpf_tail_call(ctx, &py_capture_progs, 0);
}

/* py_capture_last from a uprobe at a client library function's entry. */
static __always_inline void py_capture(struct pt_regs *ctx, __u64 pid_tgid, __u64 key_ts)
{
	py_capture_last(ctx, pid_tgid, key_ts, 0, ctx->sp);
}

#endif /* SCOOBY_PYSTACK_BPF_H */
