// SPDX-License-Identifier: GPL-2.0
/* --profile: CPU samples of traced threads (perf events), and the time they spend off-CPU. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

/* when a traced thread went to sleep */
struct prof_thread {
	__u64 t_off;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct prof_thread);
} prof_threads SEC(".maps");

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct sc_py_cfg *cfg;

	if (!tgid || !sc_traced(tgid))
		return 0;
	/* Python processes get their Python stack, others their native one */
	cfg = bpf_map_lookup_elem(&py_procs, &tgid);
	if (cfg)
		py_walk(cfg, pid_tgid, 0, SC_EV_PYSAMPLE);
	else
		nat_capture(ctx, pid_tgid, 0, SC_EV_NATSAMPLE);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(profile_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct sc_offcpu_event e = {};
	struct prof_thread *t;
	__u64 now;

	/* a thread leaving the CPU starts off-CPU time, blocked or preempted alike: what
	 * the request waited on, a socket or a CPU, so that on + off adds up to its time */
	if (prev->pid && sc_traced(prev->tgid)) {
		t = bpf_task_storage_get(&prof_threads, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (t)
			t->t_off = bpf_ktime_get_ns();
	}
	if (!next->pid)
		return 0;
	t = bpf_task_storage_get(&prof_threads, next, 0, 0);
	if (!t || !t->t_off)
		return 0;
	now = bpf_ktime_get_ns();
	sc_hdr_fill(&e.hdr, SC_EV_OFFCPU, sizeof(e), (__u64)next->tgid << 32 | next->pid, now);
	e.t_off = t->t_off;
	t->t_off = 0;
	sc_emit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
