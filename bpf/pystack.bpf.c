// SPDX-License-Identifier: GPL-2.0
/* The stack capture every uprobe ends in (py_capture_last): one copy, verified once. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

/* Tail-called with the probe's own context; its arguments wait in py_capture_args. Never
 * attached: the loader puts it in py_capture_progs. */
SEC("uprobe")
int py_capture_prog(struct pt_regs *ctx)
{
	__u64 pid_tgid, key_ts, entry_ip, ra_at;
	struct py_capture_args *a;
	__u32 zero = 0;

	a = bpf_map_lookup_elem(&py_capture_args, &zero);
	if (!a)
		return 0;
	pid_tgid = a->pid_tgid;
	key_ts = a->key_ts;
	entry_ip = a->entry_ip;
	ra_at = a->ra_at;
	py_capture_from(ctx, pid_tgid, key_ts, entry_ip, ra_at);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
