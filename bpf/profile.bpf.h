/* --profile state per thread: samples counted in BPF, sent in one record; its off-CPU clock. */
#ifndef SCOOBY_PROFILE_BPF_H
#define SCOOBY_PROFILE_BPF_H

#include "common.bpf.h"

const volatile __u32 profiling __weak = 0; /* --profile given */

/*
 * Per sampled thread, by tid. A plain hash: task storage may refuse a lookup in a sample
 * when the CPU is already inside another program using it, and every sample must be
 * counted. Every access is by the thread itself (its samples, its syscalls, its exit), so
 * its fields need no lock.
 */
struct prof_thread {
	__u32 nslots;
	__u32 pad;
	struct sc_prof_slot slots[SC_PROF_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct prof_thread);
} prof_threads SEC(".maps") __weak;

static const struct prof_thread prof_zero = {};

/* Sends what the thread pt counted (SC_EV_PROFCOUNT) and empties it; nothing when it
 * counted nothing. A full ring counts the record lost. */
static __always_inline void prof_flush(__u64 pid_tgid, struct prof_thread *pt)
{
	struct sc_profcount_event *e;

	if (!pt->nslots)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		sc_hdr_fill(&e->hdr, SC_EV_PROFCOUNT, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
		e->nslots = pt->nslots;
		e->pad = 0;
		__builtin_memcpy(e->slots, pt->slots, sizeof(e->slots));
		bpf_ringbuf_submit(e, sc_wakeup_flags());
	} else {
		sc_count_lost(SC_EV_PROFCOUNT);
	}
	pt->nslots = 0;
}

/* Before the calling thread's next HTTP record: sends what it counted, so that userspace
 * adds it to the request that was open then, as it did per sample. */
static __always_inline void prof_flush_self(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = pid_tgid;
	struct prof_thread *pt;

	if (!profiling)
		return;
	pt = bpf_map_lookup_elem(&prof_threads, &tid);
	if (pt)
		prof_flush(pid_tgid, pt);
}

/*
 * The calling thread's off-CPU clock (--profile; 0 without it): how long it has not been
 * running, in ns since some origin, so that its increase between two of the thread's own
 * events is its off-CPU time between them, blocked or waiting for a CPU, with no event at
 * each switch. From the scheduler's own accounting: exec_start - sum_exec_runtime moves
 * only while the thread is off the CPU (each update adds the same delta to both), by what
 * its CPU's clock_task moved. clock_task leaves out the CPU's stolen (and IRQ) time, and
 * each CPU's lags its clock by its own total, so that total is added back: read on
 * different CPUs, the clocks still agree, and time stolen while the thread ran counts as
 * off, as it did not run. Both values are the thread's own as of its CPU's last update.
 * The CPU's run queue is reached through the thread's cfs_rq (the runqueues variable
 * needs kallsyms of data, which kernels often lack); a kernel without group scheduling
 * has no such link, and its clocks go uncorrected.
 */
static __always_inline __u64 prof_idle_ns(void)
{
	struct task_struct *task;
	__u64 idle;

	if (!profiling)
		return 0;
	task = bpf_get_current_task_btf();
	idle = task->se.exec_start - task->se.sum_exec_runtime;
	if (bpf_core_field_exists(task->se.cfs_rq)) {
		struct rq *rq = task->se.cfs_rq->rq;

		if (rq)
			idle += rq->clock - rq->clock_task;
	}
	return idle;
}

/* The exiting thread task (the caller) sends its last counts and leaves its entry, as its
 * tid may be a new thread's next. Only threads with BPF task storage can have one: one
 * pointer test lets every other exit go. */
static __always_inline void prof_thread_exit(struct task_struct *task)
{
	struct prof_thread *pt;
	__u32 tid;

	if (!profiling || !task->bpf_storage)
		return;
	tid = task->pid;
	pt = bpf_map_lookup_elem(&prof_threads, &tid);
	if (!pt)
		return;
	prof_flush((__u64)task->tgid << 32 | tid, pt);
	bpf_map_delete_elem(&prof_threads, &tid);
}

#endif /* SCOOBY_PROFILE_BPF_H */
