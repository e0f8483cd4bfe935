/* SQLite state a thread carries (open executions), shared with the HTTP probes that flush it. */
#ifndef SCOOBY_SQLITE_BPF_H
#define SCOOBY_SQLITE_BPF_H

#include "common.bpf.h"

#define SQLITE_OK 0
#define SQLITE_ROW 100
#define SQLITE_DONE 101

#define SQ_OPEN_MAX 8 /* executions one thread may have open at once (cursors, iterators) */

/* An execution in progress: from its first step to DONE, an error or a reset. */
struct sq_exec {
	__u64 stmt; /* 0: free slot */
	__u64 t_first;
	__u64 t_last; /* return of its latest step */
	__u64 busy_ns;
	__u64 stack_ts; /* the stack of its prepare stands for its own (0: taken at its first step) */
	__u32 nsteps;
	__s32 rc;
};

/* What a thread is doing inside libsqlite3; depth > 1 means SQLite called its
 * own API (schema loading inside prepare, sqlite3_exec): those inner calls are
 * not application queries and their time stays in the outer call's. Open
 * executions live here too: a statement is stepped by the thread that runs it,
 * and a per-thread scan of a few slots is cheaper than a shared hash update. */
struct sq_thread {
	__u32 depth;
	__u32 err_pending; /* a call failed: the next sqlite3_errmsg() explains it */
	__s32 nbyte;
	__u16 state_off; /* the library's Vdbe state field (see sc_lib_cfg) */
	__u8 run_state;
	__u8 pad;
	__u64 t_enter;
	__u64 stmt; /* step: the statement being stepped */
	__u64 zsql; /* prepare: arguments kept for the return probe */
	__u64 ppstmt;
	__u64 pztail;
	__u64 prep_stmt; /* the statement this thread prepared last, none opened since */
	__u64 prep_ts; /* entry of that prepare: the key of the stack taken there */
	struct sq_exec open[SQ_OPEN_MAX];
};

/* per-thread, freed by the kernel when the thread exits */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sq_thread);
} sq_threads SEC(".maps") __weak;

/* Returns the thread's open execution of stmt, or NULL. */
static __always_inline struct sq_exec *sq_find(struct sq_thread *t, __u64 stmt)
{
	int i;

#pragma unroll
	for (i = 0; i < SQ_OPEN_MAX; i++)
		if (t->open[i].stmt == stmt)
			return &t->open[i];
	return NULL;
}

/* Sends the record of an execution and frees its slot. */
static __always_inline void sq_end_exec(__u64 pid_tgid, struct sq_exec *x, __u64 now, __u32 end)
{
	struct sc_sql_exec_event e = {};

	sc_hdr_fill(&e.hdr, SC_EV_SQL_EXEC, sizeof(e), pid_tgid, now);
	e.stmt = x->stmt;
	e.t_first = x->t_first;
	e.busy_ns = x->busy_ns;
	e.nsteps = x->nsteps;
	e.rc = x->rc;
	e.end = end;
	e.stack_ts = x->stack_ts;
	x->stmt = 0;
	sc_emit(e);
}

/* Opens an execution of stmt in a free slot, ending the oldest one when all are taken. */
static __always_inline struct sq_exec *sq_open(__u64 pid_tgid, struct sq_thread *t, __u64 stmt,
					       __u64 now)
{
	struct sq_exec *x = &t->open[0];
	int i;

#pragma unroll
	for (i = 0; i < SQ_OPEN_MAX; i++) {
		if (!t->open[i].stmt) {
			x = &t->open[i];
			break;
		}
		if (t->open[i].t_first < x->t_first)
			x = &t->open[i];
	}
	if (x->stmt)
		sq_end_exec(pid_tgid, x, x->t_last, SC_SQL_END_RESET);
	x->stmt = stmt;
	x->t_first = now;
	x->t_last = now;
	x->busy_ns = 0;
	x->nsteps = 0;
	x->rc = 0;
	x->stack_ts = 0;
	return x;
}

/* Returns true when stmt is no longer running: reset (or never started) since its last
 * step. Unknown (no state field in this SQLite) counts as running. */
static __always_inline bool sq_idle(const struct sq_thread *t, __u64 stmt)
{
	__u8 state = 0;

	if (!t->state_off)
		return false;
	if (bpf_probe_read_user(&state, 1, (void *)(stmt + t->state_off)))
		return false;
	return state != t->run_state;
}

/* Ends every execution the thread left open: at a request's response, queries that
 * ran for it must be in its record, whether or not the driver reset them. */
static __always_inline void sq_flush_thread(__u64 pid_tgid)
{
	struct sq_thread *t = bpf_task_storage_get(&sq_threads, bpf_get_current_task_btf(), 0, 0);
	int i;

	if (!t || t->depth)
		return;
#pragma unroll
	for (i = 0; i < SQ_OPEN_MAX; i++)
		if (t->open[i].stmt)
			sq_end_exec(pid_tgid, &t->open[i], t->open[i].t_last, SC_SQL_END_RESET);
}

#endif /* SCOOBY_SQLITE_BPF_H */
