/* CPython struct layouts per minor version (3.8-3.13), as each version's own headers give them. */
#ifndef SCOOBY_PYOFFSETS_H
#define SCOOBY_PYOFFSETS_H

#include <stddef.h>

/* Offsets in bytes; -1 where the version has no such field. Names follow
 * tests/pyoffsets/gen.c, which computes them with offsetof() from the headers. */
struct py_layout {
	int minor;
	int runtime_interp_head, interp_tstate_head, interp_next;
	int tstate_next, tstate_thread_id, tstate_native_thread_id, tstate_frame;
	int cframe_current_frame;
	int frame_back, frame_code, frame_instr, frame_func, frame_owner, frame_globals;
	int code_adaptive, code_qualname, code_linetable;
	int func_module, func_name, func_qualname;
	int code_filename, code_name, code_firstlineno;
	int unicode_state, unicode_length, unicode_ascii_data, unicode_compact_data;
	int bytes_size, bytes_data;
	int dict_keys, dict_values;
	int tstate_datastack_chunk, tstate_datastack_top, stackchunk_data;
	int frame_localsplus; /* a frame's locals */
	int frame_gen; /* 3.8-3.10: PyFrameObject.f_gen */
	int gen_iframe; /* 3.11+: the frame embedded in a PyGenObject */
	int task_coro; /* _asyncio TaskObj.task_coro (not in the headers: see pyoffsets.c) */
	int owner_cstack; /* owner value of C-stack shim frames, -1 when none */
	/* a response's objects (bpf/pyresp.bpf.h): PyTypeObject.tp_flags,
	 * PyHeapTypeObject.ht_cached_keys, PyListObject's size and items,
	 * PyMethodObject.im_self, PyCodeObject.co_nlocalsplus (3.11+) */
	int type_flags, type_cached_keys, list_size, list_items, method_self, code_nlocalsplus;
};

/* Returns the built-in layout of CPython 3.<minor>, or NULL when unsupported. */
const struct py_layout *py_layout__get(int minor);
/* Writes the layout in gen.c's "3.X name=value ..." form (for the header check test). */
int py_layout__format(const struct py_layout *l, char *buf, size_t len);

#endif /* SCOOBY_PYOFFSETS_H */
