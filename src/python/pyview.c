/* Naming a request's view from what BPF saw: a dispatcher's call, a response's first write. */
#include <string.h>
#include <bpf/bpf.h>
#include "pyview.h"

bool pyresp__names(struct pyproc *p, const struct sc_pyview_event *e, uint64_t now_ns,
		   struct view_names *n, const char **reason)
{
	memset(n, 0, sizeof(*n));
	switch (e->status) {
	case SC_PYV_FUNC:
		/* request.resolver_match.func: what Django's resolve(path).func is */
		*reason = pyproc__func_names(p, e->func, now_ns, n);
		return true;
	case SC_PYV_NO_MATCH:
		*reason = "Django resolved the request to no view (request.resolver_match is None)";
		return true;
	default:
		*reason = "Django's response was found at its first write, but not its request's "
			  "resolver_match.func";
		return false;
	}
}

void code_keys__forget(int fd, uint32_t tgid)
{
	struct sc_code_key key, next, *prev = NULL;

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.tgid == tgid) {
			bpf_map_delete_elem(fd, &next);
			continue; /* restart from the same predecessor */
		}
		key = next;
		prev = &key;
	}
}

__u32 view_call_ops(int minor)
{
	if (minor == 12)
		return 142 | 244 << 8;
	if (minor == 13)
		return 54 | 246 << 8;
	return 0;
}

void dispatcher_add(int fd, uint32_t pid, uint64_t code, __u32 ops)
{
	struct sc_code_key key = { .tgid = pid, .code = code };
	__u32 known = 0;

	if (fd < 0)
		return;
	bpf_map_update_elem(fd, &key, &ops, BPF_NOEXIST);
	/* (pid, 0): from now on only calls from a known dispatcher are reported */
	key.code = 0;
	bpf_map_update_elem(fd, &key, &known, BPF_NOEXIST);
}

bool is_view_call(uint32_t pid, uint64_t instr, __u32 ops)
{
	uint8_t op;

	if (!ops)
		return true;
	return target_read(pid, instr, &op, 1) && (op == (__u8)ops || op == (__u8)(ops >> 8));
}
