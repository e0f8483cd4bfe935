// SPDX-License-Identifier: GPL-2.0
/* Process tree: children forked by a traced process are traced too; exits are reported. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"
#include "profile.bpf.h"

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

	prof_thread_exit(task);
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

/* Bumped when a traced process maps a file executable (a library being loaded): userspace
 * reads /proc/PID/maps on its rescan only after a change, not on every tick. */
__u64 exec_maps = 0;

/* threads inside an mmap() of a file with PROT_EXEC, between its entry and its return */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} mmap_exec SEC(".maps");

/*
 * A traced process maps a file executable: the dynamic linker loading a library (dlopen, or
 * the libraries of a program just exec'ed). The entry only notes the thread (other mmaps,
 * anonymous memory above all, are many); the return reports the address, when the mapping
 * exists and /proc/PID/maps names the file, and wakes the reader at once: userspace probes
 * a client library then, instead of at its next rescan. (fexit on vm_mmap_pgoff would say
 * it in one program, but tracing programs may be refused where syscall tracepoints are not.)
 */
SEC("tp/syscalls/sys_enter_mmap")
int proc_mmap(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u8 one = 1;

	if ((int)ctx->args[4] < 0 || !(ctx->args[2] & SC_PROT_EXEC) || !sc_traced(pid_tgid >> 32))
		return 0;
	__sync_fetch_and_add(&exec_maps, 1);
	bpf_map_update_elem(&mmap_exec, &pid_tgid, &one, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_mmap")
int proc_mmap_ret(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sc_small_event e = {};

	if (!bpf_map_lookup_elem(&mmap_exec, &pid_tgid))
		return 0;
	bpf_map_delete_elem(&mmap_exec, &pid_tgid);
	if (ctx->ret < 0 && ctx->ret > -4096)
		return 0;
	sc_hdr_fill(&e.hdr, SC_EV_PROC_MMAP, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	e.arg = ctx->ret;
	if (bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_FORCE_WAKEUP))
		sc_count_lost(SC_EV_PROC_MMAP);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
