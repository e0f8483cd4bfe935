// SPDX-License-Identifier: GPL-2.0
/* The view a request is dispatched to: PyObject_Call's callable, seen from the calling frame. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"

/*
 * Django's BaseHandler._get_response calls the view as wrapped_callback(request,
 * *callback_args, **callback_kwargs) and Flask's dispatch_request as view(**view_args):
 * a call with starred arguments (CALL_FUNCTION_EX). CPython up to 3.11 always makes it
 * through PyObject_Call; 3.12 and 3.13 push the callee's frame in the eval loop, through
 * _PyEvalFramePushAndInit. A uprobe at the entry of either therefore runs inside every
 * request that reaches its view, before the view's first instruction, with the
 * dispatcher as the thread's current Python frame. The loader tells which calling code
 * objects are dispatchers; once one called the view, the request's calls go unreported.
 */

/* code objects the loader found to be dispatchers, and (tgid, 0) once one is known (calls
 * from other code are then not reported): (tgid, code) -> 0 when any call from
 * it is the view's (PyObject_Call), else the opcodes the view's call executes (low byte
 * CALL_FUNCTION_EX, next INSTRUMENTED_CALL_FUNCTION_EX): 3.12+ frame pushes also come
 * from the dispatcher's plain calls */
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

/* True when the dispatcher's call at instr is the view's, as *ops (see py_dispatchers). */
static __always_inline bool py_is_view_call(const __u32 *ops, __u64 instr)
{
	__u8 op = 0;

	if (!*ops)
		return true;
	bpf_probe_read_user(&op, 1, (void *)instr);
	return op == (__u8)*ops || op == (__u8)(*ops >> 8);
}

/* Reports a call of callable made on a request's thread before its view was seen. */
static __always_inline int py_view_call(__u64 callable)
{
	struct sc_thread *t = sc_thread_get(false);
	__u64 pid_tgid = bpf_get_current_pid_tgid(), ts, frame;
	struct sc_pycall_event e = {};
	struct sc_code_key key = {};
	struct sc_py_cfg *cfg;
	__u32 *ops;

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
	ops = e.code ? bpf_map_lookup_elem(&py_dispatchers, &key) : NULL;
	if (!ops) {
		/* (tgid, 0): the process's dispatcher is known, and this call is not from it */
		key.code = 0;
		if (bpf_map_lookup_elem(&py_dispatchers, &key))
			return 0;
	} else if (py_is_view_call(ops, e.instr)) {
		t->view_seen = 1; /* the view is called: no more reports */
	}
	e.callable = callable;
	sc_hdr_fill(&e.hdr, SC_EV_PYCALL, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	sc_emit(e);
	return 0;
}

/* PyObject_Call(callable, args, kwargs): up to 3.11 */
SEC("uprobe")
int BPF_KPROBE(py_call, void *callable)
{
	return py_view_call((__u64)callable);
}

/* _PyEvalFramePushAndInit(tstate, func, locals, args, argcount, kwnames): 3.12, 3.13 */
SEC("uprobe")
int BPF_KPROBE(py_push, void *tstate, void *func)
{
	return py_view_call((__u64)func);
}

char LICENSE[] SEC("license") = "GPL";
