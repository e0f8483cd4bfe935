// SPDX-License-Identifier: GPL-2.0
/* libpq probes: query text when an outermost libpq call starts, result status when it returns. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

#define PGRES_BAD_RESPONSE 5
#define PGRES_FATAL_ERROR 7

/* libpq calls itself (PQexec -> PQsendQuery + PQgetResult): only the outermost
 * call of a thread is reported (sc_client_enter), so one client call is one entry.
 * This is that call's entry point and connection. */
struct pq_thread {
	__u32 func;
	__u32 pad;
	__u64 conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pq_thread);
} pq_threads SEC(".maps");

/* The cookie is (func << 16 | library slot). */
static __always_inline __u32 pq_func(void *ctx)
{
	return (__u32)(bpf_get_attach_cookie(ctx) >> 16);
}

static __always_inline void pq_send_call(__u64 pid_tgid, __u64 ts, __u32 func, __u64 conn,
					 const char *text, const char *name)
{
	struct sc_pq_call_event *e = sc_scratch();
	bool cut = false;

	if (!e)
		return;
	e->conn = conn;
	e->func = func;
	e->name[0] = 0;
	if (name)
		bpf_probe_read_user_str(e->name, sizeof(e->name), name);
	e->len = 0;
	e->full_len = 0;
	if (text) {
		e->len = sc_read_text(e->text, text, max_query, &cut);
		e->full_len = e->len + cut;
	}
	sc_hdr_fill(&e->hdr, SC_EV_PQ_CALL, 0, pid_tgid, ts);
	e->hdr.size = offsetof(struct sc_pq_call_event, text) + (e->len & (SC_SQL_CAP - 1));
	sc_output(e, e->hdr.size);
}

SEC("uprobe")
int BPF_KPROBE(pq_enter, void *conn, const char *arg2, const char *arg3)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 func = pq_func(ctx);
	struct pq_thread *t;
	__u64 ts;

	if (!sc_traced(pid_tgid >> 32))
		return 0;
	if (sc_client_enter(SC_CL_PG) != 1)
		return 0;
	t = bpf_task_storage_get(&pq_threads, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return 0;
	t->func = func;
	t->conn = (__u64)conn;
	if (func == SC_PQ_GET_RESULT)
		return 0;
	ts = bpf_ktime_get_ns();
	switch (func) {
	case SC_PQ_PREPARE:
	case SC_PQ_SEND_PREPARE:
		pq_send_call(pid_tgid, ts, func, (__u64)conn, arg3, arg2);
		break;
	case SC_PQ_EXEC_PREPARED:
	case SC_PQ_SEND_QUERY_PREPARED:
		pq_send_call(pid_tgid, ts, func, (__u64)conn, NULL, arg2);
		break;
	default:
		pq_send_call(pid_tgid, ts, func, (__u64)conn, arg2, NULL);
	}
	py_capture(ctx, pid_tgid, ts);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(pq_ret, long rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pq_thread *t;
	struct sc_pq_ret_event *e;
	struct sc_lib_cfg *cfg;
	__u64 errmsg = 0;
	__s32 status = -1;

	if (sc_client_exit(SC_CL_PG) != 0)
		return 0;
	t = bpf_task_storage_get(&pq_threads, bpf_get_current_task_btf(), 0, 0);
	if (!t)
		return 0;
	e = sc_scratch();
	if (!e)
		return 0;
	e->conn = t->conn;
	e->func = t->func;
	e->err_len = 0;
	if (t->func >= SC_PQ_SEND_QUERY && t->func != SC_PQ_GET_RESULT) {
		status = (__s32)rc; /* PQsend* return 1 on success */
	} else if (rc) {
		cfg = sc_lib(ctx);
		if (cfg && cfg->pq_status_off)
			bpf_probe_read_user(&status, sizeof(status),
					    (void *)rc + cfg->pq_status_off);
		if (status >= PGRES_BAD_RESPONSE && status <= PGRES_FATAL_ERROR && cfg &&
		    cfg->pq_errmsg_off) {
			bpf_probe_read_user(&errmsg, sizeof(errmsg),
					    (void *)rc + cfg->pq_errmsg_off);
			if (errmsg) {
				long n = bpf_probe_read_user_str(e->err, sizeof(e->err),
								 (void *)errmsg);
				e->err_len = n > 0 ? n - 1 : 0;
			}
		}
	}
	e->status = status;
	sc_hdr_fill(&e->hdr, SC_EV_PQ_RET, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
	sc_output(e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
