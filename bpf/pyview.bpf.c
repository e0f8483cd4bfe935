// SPDX-License-Identifier: GPL-2.0
/* The view a request is dispatched to: PyObject_Call's callable, seen from the calling frame. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

/*
 * Django's BaseHandler._get_response calls the view as wrapped_callback(request,
 * *callback_args, **callback_kwargs) and Flask's dispatch_request as view(**view_args):
 * a call with starred arguments (CALL_FUNCTION_EX), which CPython up to 3.12 always makes
 * through PyObject_Call. The uprobe at its entry therefore runs inside every request that
 * reaches its view, before the view's first instruction, with the dispatcher as the
 * thread's current Python frame. The loader tells which calling code objects are
 * dispatchers; once one called, the request's other calls are not reported.
 */

/* code objects the loader found to be dispatchers: (tgid, code) -> 1 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sc_code_key);
	__type(value, __u32);
} py_dispatchers SEC(".maps");

/* Returns the current Python frame of the thread whose PyThreadState is ts, or 0. */
static __always_inline __u64 py_current_frame(const struct sc_py_cfg *cfg, __u64 ts)
{
	__u64 frame = py_read_ptr(ts + cfg->tstate_frame);

	if (cfg->cframe_current_frame != SC_PY_NONE && frame)
		frame = py_read_ptr(frame + cfg->cframe_current_frame);
	return frame;
}

SEC("uprobe")
int BPF_KPROBE(py_call, void *callable)
{
	struct sc_thread *t = sc_thread_get(false);
	__u64 pid_tgid = bpf_get_current_pid_tgid(), ts, frame;
	struct sc_pycall_event e = {};
	struct sc_code_key key = {};
	struct sc_py_cfg *cfg;

	/* only a request's thread, between its request line and its response */
	if (!t || !t->req_fd1 || t->resp_bytes || t->view_seen)
		return 0;
	key.tgid = pid_tgid >> 32;
	cfg = bpf_map_lookup_elem(&py_procs, &key.tgid);
	if (!cfg)
		return 0;
	ts = py_find_tstate(cfg);
	frame = ts ? py_current_frame(cfg, ts) : 0;
	if (frame) {
		e.code = py_read_ptr(frame + cfg->frame_code);
		e.instr = py_read_ptr(frame + cfg->frame_instr);
	}
	key.code = e.code;
	if (e.code && bpf_map_lookup_elem(&py_dispatchers, &key))
		t->view_seen = 1; /* the first dispatcher call is the view: no more reports */
	e.callable = (__u64)callable;
	sc_hdr_fill(&e.hdr, SC_EV_PYCALL, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	sc_emit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
