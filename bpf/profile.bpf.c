// SPDX-License-Identifier: GPL-2.0
/* --profile: CPU samples of traced threads (perf events), and the time they spend off-CPU. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

#define PF_EXITING 0x00000004

/* when a traced thread left the CPU, by tid. A plain hash: task storage may refuse a
 * lookup in the scheduler hook when the CPU is already inside another program using it,
 * and an LRU hash may evict a fresh entry early; every interval must be counted. A
 * thread leaves its entry only while it runs, and an exiting one never adds one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} prof_off SEC(".maps");

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
		nat_capture(ctx, pid_tgid, 0, SC_EV_NATSAMPLE, false);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(profile_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct sc_offcpu_event e = {};
	__u32 tid;
	__u64 now, *t_off;

	/* a thread leaving the CPU starts off-CPU time, blocked or preempted alike: what
	 * the request waited on, a socket or a CPU, so that on + off adds up to its time */
	now = bpf_ktime_get_ns();
	if (prev->pid && !(prev->flags & PF_EXITING) && sc_traced(prev->tgid)) {
		tid = prev->pid;
		bpf_map_update_elem(&prof_off, &tid, &now, BPF_ANY);
	}
	tid = next->pid;
	if (!tid)
		return 0;
	t_off = bpf_map_lookup_elem(&prof_off, &tid);
	if (!t_off)
		return 0;
	sc_hdr_fill(&e.hdr, SC_EV_OFFCPU, sizeof(e), (__u64)next->tgid << 32 | next->pid, now);
	e.t_off = *t_off;
	bpf_map_delete_elem(&prof_off, &tid);
	sc_emit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
