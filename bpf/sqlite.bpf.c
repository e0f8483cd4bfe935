// SPDX-License-Identifier: GPL-2.0
/* libsqlite3 probes: statement text at prepare, one record per statement execution. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"
#include "sqlite.bpf.h"

struct sq_key {
	__u64 stmt;
	__u32 tgid;
	__u32 pad;
};

/* statements whose text the loader already has */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sq_key);
	__type(value, __u8);
} sq_seen SEC(".maps");

/* Enters a probed call; returns the thread's state when this is the outermost
 * libsqlite3 call of the thread, NULL for nested calls and untraced processes. */
static __always_inline struct sq_thread *sq_enter(__u64 pid_tgid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct sq_thread *t;

	/* storage exists only for threads of traced processes: finding it is the
	 * cheapest "is this process traced" test on this hot path */
	t = bpf_task_storage_get(&sq_threads, task, 0, 0);
	if (!t) {
		if (!sc_traced(pid_tgid >> 32))
			return NULL;
		t = bpf_task_storage_get(&sq_threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t)
			return NULL;
	}
	t->depth++;
	return t->depth == 1 ? t : NULL;
}

/* Leaves a probed call; returns the state when the outermost call returns. */
static __always_inline struct sq_thread *sq_leave(void)
{
	struct sq_thread *t = bpf_task_storage_get(&sq_threads, bpf_get_current_task_btf(), 0, 0);

	if (!t || t->depth == 0)
		return NULL;
	t->depth--;
	return t->depth == 0 ? t : NULL;
}

/* Copies up to max_query bytes of statement text at src into a record and sends it. */
static __always_inline void sq_send_text(__u32 kind, __u64 pid_tgid, __u64 stmt, const char *src,
					 __u64 len, bool bounded, __u64 t_enter, __u64 t_exit,
					 __s32 rc, __u32 flags)
{
	struct sc_sql_text_event *e = sc_scratch();
	__u64 cap = max_query;
	bool cut = false;

	if (!e)
		return;
	if (cap > SC_SQL_CAP - 2)
		cap = SC_SQL_CAP - 2;
	e->stmt = stmt;
	e->t_enter = t_enter;
	e->t_exit = t_exit;
	e->rc = rc;
	e->flags = flags;
	e->len = 0;
	if (src && bounded) {
		e->full_len = len;
		if (len > cap)
			len = cap;
		len &= SC_SQL_CAP - 1;
		if (bpf_probe_read_user(e->text, len, src) == 0)
			e->len = len;
		else
			sc_count(SC_CNT_TRUNC_READ);
	} else if (src) {
		e->len = sc_read_text(e->text, src, cap, &cut);
		e->full_len = e->len + cut;
	}
	if (!src)
		e->flags |= SC_SQL_F_NO_TEXT;
	sc_hdr_fill(&e->hdr, kind, 0, pid_tgid, t_exit);
	e->hdr.size = offsetof(struct sc_sql_text_event, text) + (e->len & (SC_SQL_CAP - 1));
	sc_output(e, e->hdr.size);
}

/* A prepare's entry: entry_ip and ra_at frame its native stack (see nat_capture_from). */
static __always_inline int sq_prepare_enter(struct pt_regs *ctx, const char *zsql, int nbyte,
					    void *ppstmt, void *pztail, __u64 entry_ip, __u64 ra_at)
{
	struct sq_thread *t = sq_enter(bpf_get_current_pid_tgid());

	if (!t)
		return 0;
	t->t_enter = bpf_ktime_get_ns();
	t->zsql = (__u64)zsql;
	t->nbyte = nbyte;
	t->ppstmt = (__u64)ppstmt;
	t->pztail = (__u64)pztail;
	/* the stack of a prepare: a failed one is a query; a good one starts the next */
	py_capture_last(ctx, bpf_get_current_pid_tgid(), t->t_enter, entry_ip, ra_at);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(sqlite_prepare_v2, void *db, const char *zsql, int nbyte, void *ppstmt, void *pztail)
{
	return sq_prepare_enter(ctx, zsql, nbyte, ppstmt, pztail, 0, ctx->sp);
}

SEC("uprobe")
int BPF_KPROBE(sqlite_prepare_v3, void *db, const char *zsql, int nbyte, unsigned int flags,
	       void *ppstmt)
{
	/* BPF_KPROBE names five arguments at most; pzTail is the sixth (r9) */
	return sq_prepare_enter(ctx, zsql, nbyte, ppstmt, (void *)ctx->r9, 0, ctx->sp);
}

/* sqlite3LockAndPrepare(db, zSql, nBytes, prepFlags, pOld, ppStmt, pzTail), the worker
 * of every sqlite3_prepare*() (see stores/sqlite/store.c): ppStmt in r9, pzTail the seventh
 * argument, on the stack above the return address. The return address tells which wrapper
 * called: the native stack is framed as that wrapper's, entered from its caller. */
SEC("uprobe")
int BPF_KPROBE(sqlite_lock_and_prepare, void *db, const char *zsql, int nbyte)
{
	__u64 pztail = 0, ra = 0, entry_ip = 0, ra_at = ctx->sp;
	struct sc_lib_cfg *cfg = sc_lib(ctx);
	int i;

	bpf_probe_read_user(&pztail, sizeof(pztail), (void *)(ctx->sp + 8));
	bpf_probe_read_user(&ra, sizeof(ra), (void *)ctx->sp);
	if (cfg) {
#pragma unroll
		for (i = 0; i < SC_SQLITE_WRAPPERS; i++) {
			const struct sc_wrapper *w = &cfg->sqlite_wrappers[i];

			if (w->back && (__s64)(ra - ctx->ip) == w->ra_delta) {
				entry_ip = ra - w->back;
				ra_at = ctx->sp + 8 + w->frame;
				break;
			}
		}
	}
	return sq_prepare_enter(ctx, zsql, nbyte, (void *)ctx->r9, (void *)pztail, entry_ip, ra_at);
}

SEC("uretprobe")
int BPF_KRETPROBE(sqlite_prepare_ret, int rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct sq_thread *t = sq_leave();
	__u64 stmt = 0, tail = 0, len = 0;
	bool bounded = true;
	struct sq_key key = {};
	struct sq_exec *x;
	__u8 one = 1;

	if (!t)
		return 0;
	if (t->ppstmt)
		bpf_probe_read_user(&stmt, sizeof(stmt), (void *)t->ppstmt);
	if (t->pztail)
		bpf_probe_read_user(&tail, sizeof(tail), (void *)t->pztail);
	if (rc == SQLITE_OK && tail > t->zsql && tail - t->zsql < (1 << 30))
		len = tail - t->zsql; /* the text of this one statement */
	else if (t->nbyte >= 0)
		len = t->nbyte;
	else
		bounded = false;
	if (rc != SQLITE_OK) {
		stmt = 0;
		t->err_pending = 1;
	}
	sq_send_text(SC_EV_SQL_TEXT, pid_tgid, stmt, (const char *)t->zsql, len, bounded,
		     t->t_enter, now, rc, SC_SQL_F_PREPARE);
	t->prep_stmt = stmt;
	t->prep_ts = t->t_enter;
	if (stmt) {
		/* sqlite3_finalize is not probed (a trap per statement for nothing the record
		 * shows): a new statement at a finalized one's address ends what that one left
		 * open on this thread, at its last step */
		x = sq_find(t, stmt);
		if (x)
			sq_end_exec(pid_tgid, x, x->t_last, SC_SQL_END_RESET);
		key.stmt = stmt;
		key.tgid = pid_tgid >> 32;
		bpf_map_update_elem(&sq_seen, &key, &one, BPF_ANY);
	}
	return 0;
}

/* Ends the thread's executions whose statements went idle (reset) since their last
 * step, the stepped statement's own included: a step on an idle statement starts anew. */
static __always_inline void sq_end_idle(__u64 pid_tgid, struct sq_thread *t)
{
	int i;

	if (!t->state_off)
		return;
#pragma unroll
	for (i = 0; i < SQ_OPEN_MAX; i++)
		if (t->open[i].stmt && sq_idle(t, t->open[i].stmt))
			sq_end_exec(pid_tgid, &t->open[i], t->open[i].t_last, SC_SQL_END_RESET);
}

SEC("uprobe")
int BPF_KPROBE(sqlite_step, void *stmt)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sq_thread *t = sq_enter(pid_tgid);
	struct sq_key key = { .stmt = (__u64)stmt, .tgid = pid_tgid >> 32 };
	struct sc_lib_cfg *cfg;
	struct sq_exec *x;
	__u64 zsql = 0;
	__u8 one = 1;
	bool walk;

	if (!t)
		return 0;
	t->t_enter = bpf_ktime_get_ns();
	t->stmt = (__u64)stmt;
	if (!stmt)
		return 0;
	cfg = sc_lib(ctx);
	if (cfg) {
		t->state_off = cfg->sqlite_state_off;
		t->run_state = cfg->sqlite_run_state;
	}
	/* executions the driver reset since their last step are over: this replaces a
	 * probe on sqlite3_reset, whose trap would cost every query a microsecond */
	sq_end_idle(pid_tgid, t);
	if (sq_find(t, (__u64)stmt))
		return 0;
	x = sq_open(pid_tgid, t, (__u64)stmt, t->t_enter);
	/* the first execution of what this thread just prepared runs where the prepare was
	 * called from: the stack taken there is this one's too, and a walk costs microseconds */
	walk = !(t->prep_stmt == (__u64)stmt && py_stacks);
	if (!walk)
		x->stack_ts = t->prep_ts;
	t->prep_stmt = 0;
	if (!bpf_map_lookup_elem(&sq_seen, &key)) {
		/* prepared before we attached: take the text SQLite keeps with the statement */
		if (cfg && cfg->sqlite_zsql_off)
			bpf_probe_read_user(&zsql, sizeof(zsql), stmt + cfg->sqlite_zsql_off);
		sq_send_text(SC_EV_SQL_TEXT, pid_tgid, (__u64)stmt, (const char *)zsql, 0, false, 0,
			     t->t_enter, 0, 0);
		bpf_map_update_elem(&sq_seen, &key, &one, BPF_ANY);
	}
	if (walk)
		py_capture(ctx, pid_tgid, t->t_enter);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(sqlite_step_ret, int rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct sq_thread *t = sq_leave();
	struct sq_exec *x;

	if (!t || !t->stmt)
		return 0;
	x = sq_find(t, t->stmt);
	if (!x)
		return 0;
	x->busy_ns += now - t->t_enter;
	x->t_last = now;
	x->nsteps++;
	x->rc = rc;
	if ((rc & 0xff) != SQLITE_ROW) {
		if ((rc & 0xff) != SQLITE_DONE)
			t->err_pending = 1;
		sq_end_exec(pid_tgid, x, now, SC_SQL_END_STEP);
	}
	return 0;
}

/* sqlite3_reset, probed only where a step cannot read the statement's state (SQLite
 * before 3.40): ends stmt's open execution, if the calling thread has one, unless SQLite
 * itself made the call. */
SEC("uprobe")
int BPF_KPROBE(sqlite_reset, void *stmt)
{
	struct sq_thread *t;
	struct sq_exec *x;

	if (!stmt)
		return 0;
	t = bpf_task_storage_get(&sq_threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || t->depth)
		return 0;
	x = sq_find(t, (__u64)stmt);
	if (x)
		sq_end_exec(bpf_get_current_pid_tgid(), x, bpf_ktime_get_ns(), SC_SQL_END_RESET);
	return 0;
}

/* Drivers ask sqlite3_errmsg() right after a failure to build their exception: its
 * text is the error message of the query that just failed on this thread. */
SEC("uretprobe")
int BPF_KRETPROBE(sqlite_errmsg_ret, const char *msg)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sq_thread *t;

	if (!msg || !sc_traced(pid_tgid >> 32))
		return 0;
	t = bpf_task_storage_get(&sq_threads, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->err_pending || t->depth)
		return 0;
	t->err_pending = 0;
	sq_send_text(SC_EV_SQL_ERRMSG, pid_tgid, 0, msg, 0, false, 0, bpf_ktime_get_ns(), 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
