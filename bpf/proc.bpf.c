// SPDX-License-Identifier: GPL-2.0
/* Process tree: children forked by a traced process are traced too; exits are reported. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid, one = 1;
	struct sc_small_event e = {};
	struct sc_py_cfg *py;

	/* threads share their tgid; only a new process needs tracking */
	if (trace_all || ptgid == ctgid || !bpf_map_lookup_elem(&tracked, &ptgid))
		return 0;
	bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY);
	/* a forked child has its parent's memory layout: its stacks are readable at once */
	py = bpf_map_lookup_elem(&py_procs, &ptgid);
	if (py)
		bpf_map_update_elem(&py_procs, &ctgid, py, BPF_ANY);
	sc_hdr_fill(&e.hdr, SC_EV_PROC_FORK, sizeof(e), (__u64)ptgid << 32 | ptgid,
		    bpf_ktime_get_ns());
	e.arg = ctgid;
	sc_emit(e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	struct sc_small_event e = {};

	/* the group leader leaving is the process leaving, as far as we care */
	if (task->pid != tgid || !sc_traced(tgid))
		return 0;
	sc_hdr_fill(&e.hdr, SC_EV_PROC_EXIT, sizeof(e), (__u64)tgid << 32 | tgid,
		    bpf_ktime_get_ns());
	e.arg = tgid;
	sc_emit(e);
	return 0;
}

#define SC_PROT_EXEC 0x4

/* Bumped when a traced process maps memory executable (a library being loaded): userspace
 * reads /proc/PID/maps for new client libraries after a change, not on a timer. */
__u64 exec_maps = 0;

static __always_inline int note_exec_map(__u64 prot)
{
	if ((prot & SC_PROT_EXEC) && sc_traced(bpf_get_current_pid_tgid() >> 32))
		__sync_fetch_and_add(&exec_maps, 1);
	return 0;
}

SEC("tp/syscalls/sys_enter_mmap")
int proc_mmap(struct trace_event_raw_sys_enter *ctx)
{
	return note_exec_map(ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_mprotect")
int proc_mprotect(struct trace_event_raw_sys_enter *ctx)
{
	return note_exec_map(ctx->args[2]);
}

char LICENSE[] SEC("license") = "GPL";
