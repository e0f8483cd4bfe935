/* Preflight: the capabilities and kernel features scooby-bpf needs, named when missing. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include "attach.h"

/* Names the capabilities we need and lack into buf; returns how many are missing.
 * CAP_BPF and CAP_PERFMON load and attach the probes (CAP_SYS_ADMIN stands in for both
 * on kernels older than 5.8); CAP_SYS_PTRACE reads other users' /proc/PID/maps and root,
 * and their memory with process_vm_readv. */
static int missing_caps(char *buf, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	static const struct {
		int cap;
		const char *name;
	} need[] = { { CAP_BPF, "CAP_BPF" },
		     { CAP_PERFMON, "CAP_PERFMON" },
		     { CAP_SYS_PTRACE, "CAP_SYS_PTRACE" } };
	size_t i, used = 0;
	uint64_t eff;
	int n = 0;

	buf[0] = 0;
	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the kernel say no later */
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (eff & (1ULL << need[i].cap))
			continue;
		if (need[i].cap != CAP_SYS_PTRACE && (eff & (1ULL << CAP_SYS_ADMIN)))
			continue;
		used += snprintf(buf + used, used < len ? len - used : 0, "%s%s", n ? ", " : "",
				 need[i].name);
		n++;
	}
	return n;
}

int attacher__preflight(char *err, size_t errlen)
{
	char caps[128];
	int n = missing_caps(caps, sizeof(caps));

	if (n) {
		snprintf(err, errlen, "missing capabilit%s %s (run as root)", n > 1 ? "ies" : "y",
			 caps);
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(
			err, errlen,
			"kernel has no BTF (/sys/kernel/btf/vmlinux missing); CO-RE needs CONFIG_DEBUG_INFO_BTF=y");
		return -1;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK) != 0) {
		snprintf(err, errlen, "kernel has no uprobe support (CONFIG_UPROBE_EVENTS)");
		return -1;
	}
	return 0;
}
