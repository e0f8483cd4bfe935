/* Naming a request's view from what BPF saw: the objects a response's first write reached. */
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
