/* Outermost client library calls as generic call events (the stores on that family): state and emitters. */
#ifndef SCOOBY_LIBCALL_BPF_H
#define SCOOBY_LIBCALL_BPF_H

#include "common.bpf.h"

/*
 * A family's probes share one entry and one return program per kind of arguments; the
 * uprobe cookie is (func << 16 | library slot). Each thread remembers, per family, the
 * outermost call it is in (sc_client_enter gives the depth), so that the return probe
 * knows what returned: only that call makes events (ruling 1).
 */
struct lc_state {
	__u32 func;
	__u32 pad;
	__u64 handle; /* the call's connection or statement object */
	__u64 aux; /* per entry point: where the call writes its status or its reply */
};

struct lc_thread {
	struct lc_state cl[SC_CL_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lc_thread);
} lc_threads SEC(".maps") __weak;

static __always_inline __u32 lc_func(void *ctx)
{
	return (__u32)(bpf_get_attach_cookie(ctx) >> 16);
}

/* Enters a probed call of family cl. Returns the call's state when it is the thread's
 * outermost call of the family in a traced process, else NULL (nothing to report). */
static __always_inline struct lc_state *lc_enter(__u64 pid_tgid, __u32 cl, __u32 func, __u64 handle,
						 __u64 aux)
{
	struct lc_thread *t;
	struct lc_state *s;

	if (!sc_traced(pid_tgid >> 32) || sc_client_enter(cl) != 1)
		return NULL;
	t = bpf_task_storage_get(&lc_threads, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return NULL;
	s = &t->cl[cl & (SC_CL_MAX - 1)];
	s->func = func;
	s->handle = handle;
	s->aux = aux;
	return s;
}

/* Leaves a probed call of cl. Returns the state of the outermost call when that is the
 * one returning, else NULL (an inner call, or one entered before we attached). */
static __always_inline struct lc_state *lc_exit(__u32 cl)
{
	struct lc_thread *t;

	if (sc_client_exit(cl) != 0)
		return NULL;
	t = bpf_task_storage_get(&lc_threads, bpf_get_current_task_btf(), 0, 0);
	return t ? &t->cl[cl & (SC_CL_MAX - 1)] : NULL;
}

/* True when the thread is inside a probed call of cl (any depth). */
static __always_inline bool lc_inside(__u32 cl)
{
	struct sc_thread *t = bpf_task_storage_get(&sc_threads, bpf_get_current_task_btf(), 0, 0);

	return t && cl < SC_CL_MAX && t->depth[cl & (SC_CL_MAX - 1)] > 0;
}

/* Copies len bytes at src (no NUL needed) into the event's text, at most max_query of them;
 * len ~0 means "NUL-terminated", as mysql_real_query's (unsigned long)-1 does. */
static __always_inline void lc_text(struct sc_call_event *e, const void *src, __u64 len)
{
	__u64 n = len;
	bool cut = false;

	e->len = 0;
	e->full_len = 0;
	if (!src)
		return;
	if (len == (__u64)-1) {
		e->len = sc_read_text(e->text, src, max_query, &cut);
		e->full_len = e->len + cut;
		return;
	}
	if (n > max_query)
		n = max_query;
	n &= SC_SQL_CAP - 1;
	if (n && bpf_probe_read_user(e->text, n, src)) {
		sc_count(SC_CNT_TRUNC_READ);
		return;
	}
	e->len = n;
	e->full_len = len > 0xffffffffULL ? 0xffffffffU : len;
}

/* Starts a call record (kind SC_EV_CALL or SC_EV_CALL_TEXT) in the scratch buffer. */
static __always_inline struct sc_call_event *
lc_call_begin(__u32 kind, __u64 pid_tgid, __u64 ts, __u32 cl, __u32 func, __u64 handle, __u64 arg)
{
	struct sc_call_event *e = sc_scratch();

	if (!e)
		return NULL;
	sc_hdr_fill(&e->hdr, kind, 0, pid_tgid, ts);
	e->handle = handle;
	e->client = cl;
	e->func = func;
	e->arg = arg;
	e->len = 0;
	e->full_len = 0;
	return e;
}

/* Sends a call record with its text's bytes only. */
static __always_inline void lc_call_send(struct sc_call_event *e)
{
	e->hdr.size = offsetof(struct sc_call_event, text) + (e->len & (SC_SQL_CAP - 1));
	sc_output(e, e->hdr.size);
}

/* Emits SC_EV_CALL with len bytes at text (NULL: none). */
static __always_inline void lc_emit_call(__u64 pid_tgid, __u64 ts, __u32 cl, __u32 func,
					 __u64 handle, __u64 arg, const void *text, __u64 len)
{
	struct sc_call_event *e = lc_call_begin(SC_EV_CALL, pid_tgid, ts, cl, func, handle, arg);

	if (!e)
		return;
	lc_text(e, text, len);
	lc_call_send(e);
}

/* Starts a return record in the scratch buffer: no status, no error yet. */
static __always_inline struct sc_call_ret_event *lc_ret_begin(struct lc_state *s, __u32 cl, long rc)
{
	struct sc_call_ret_event *e = sc_scratch();

	if (!e)
		return NULL;
	e->handle = s->handle;
	e->client = cl;
	e->func = s->func;
	e->rc = rc;
	e->status = -1;
	e->err_len = 0;
	e->pad = 0;
	return e;
}

/* Reads a NUL-terminated error text at src into the return record. */
static __always_inline void lc_ret_err_str(struct sc_call_ret_event *e, const void *src)
{
	long n = bpf_probe_read_user_str(e->err, sizeof(e->err), src);

	e->err_len = n > 1 ? n - 1 : 0;
}

/* Reads len bytes of error text at src (a counted string) into the return record. */
static __always_inline void lc_ret_err_bytes(struct sc_call_ret_event *e, const void *src,
					     __u64 len)
{
	__u64 n = len < sizeof(e->err) ? len : sizeof(e->err) - 1;

	n &= SC_CALL_ERR_CAP - 1;
	if (n && bpf_probe_read_user(e->err, n, src) == 0)
		e->err_len = n;
}

/* Sends the return record, stamped now, with the error bytes it holds. */
static __always_inline void lc_ret_send(struct sc_call_ret_event *e, __u64 pid_tgid)
{
	__u32 size = offsetof(struct sc_call_ret_event, err) + (e->err_len & (SC_CALL_ERR_CAP - 1));

	sc_hdr_fill(&e->hdr, SC_EV_CALL_RET, size, pid_tgid, bpf_ktime_get_ns());
	sc_output(e, size);
}

#endif /* SCOOBY_LIBCALL_BPF_H */
