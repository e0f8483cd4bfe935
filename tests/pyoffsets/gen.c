/* Prints the CPython struct offsets scooby-bpf needs, computed by the compiler from one interpreter's own headers. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX >= 0x03080000
#include "internal/pycore_pystate.h"
#endif
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#endif
#if PY_VERSION_HEX < 0x030b0000
#include "frameobject.h"
#endif
#if PY_VERSION_HEX >= 0x030d0000
#include "internal/pycore_genobject.h"
#endif

#define P(name, val) printf(" %s=%ld", name, (long)(val))

int main(void)
{
	printf("%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
	P("runtime_interp_head", offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX >= 0x030b0000
	P("interp_tstate_head", offsetof(PyInterpreterState, threads.head));
#else
	P("interp_tstate_head", offsetof(PyInterpreterState, tstate_head));
#endif
	P("interp_next", offsetof(PyInterpreterState, next));
	P("tstate_next", offsetof(PyThreadState, next));
	P("tstate_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030b0000
	P("tstate_native_thread_id", offsetof(PyThreadState, native_thread_id));
#else
	P("tstate_native_thread_id", -1);
#endif
#if PY_VERSION_HEX >= 0x030d0000
	P("tstate_frame", offsetof(PyThreadState, current_frame));
	P("cframe_current_frame", -1);
#elif PY_VERSION_HEX >= 0x030b0000
	P("tstate_frame", offsetof(PyThreadState, cframe));
	P("cframe_current_frame", offsetof(_PyCFrame, current_frame));
#else
	P("tstate_frame", offsetof(PyThreadState, frame));
	P("cframe_current_frame", -1);
#endif
#if PY_VERSION_HEX >= 0x030b0000
	P("frame_back", offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX >= 0x030d0000
	P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
	P("frame_instr", offsetof(_PyInterpreterFrame, instr_ptr));
	P("frame_func", offsetof(_PyInterpreterFrame, f_funcobj));
#else
	P("frame_code", offsetof(_PyInterpreterFrame, f_code));
	P("frame_instr", offsetof(_PyInterpreterFrame, prev_instr));
#if PY_VERSION_HEX >= 0x030c0000
	P("frame_func", offsetof(_PyInterpreterFrame, f_funcobj));
#else
	P("frame_func", offsetof(_PyInterpreterFrame, f_func));
#endif
#endif
	P("frame_owner", offsetof(_PyInterpreterFrame, owner));
	P("frame_globals", offsetof(_PyInterpreterFrame, f_globals));
	P("code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
	P("code_qualname", offsetof(PyCodeObject, co_qualname));
	P("code_linetable", offsetof(PyCodeObject, co_linetable));
	P("func_module", offsetof(PyFunctionObject, func_module));
#else
	P("frame_back", offsetof(PyFrameObject, f_back));
	P("frame_code", offsetof(PyFrameObject, f_code));
	P("frame_instr", offsetof(PyFrameObject, f_lasti));
	P("frame_func", -1);
	P("frame_owner", -1);
	P("frame_globals", offsetof(PyFrameObject, f_globals));
	P("code_adaptive", -1);
	P("code_qualname", -1);
#if PY_VERSION_HEX >= 0x030a0000
	P("code_linetable", offsetof(PyCodeObject, co_linetable));
#else
	P("code_linetable", offsetof(PyCodeObject, co_lnotab));
#endif
	P("func_module", offsetof(PyFunctionObject, func_module));
#endif
	P("func_name", offsetof(PyFunctionObject, func_name));
	P("func_qualname", offsetof(PyFunctionObject, func_qualname));
	P("code_filename", offsetof(PyCodeObject, co_filename));
	P("code_name", offsetof(PyCodeObject, co_name));
	P("code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	P("unicode_state", offsetof(PyASCIIObject, state));
	P("unicode_length", offsetof(PyASCIIObject, length));
	P("unicode_ascii_data", sizeof(PyASCIIObject));
	P("unicode_compact_data", sizeof(PyCompactUnicodeObject));
	P("bytes_size", offsetof(PyVarObject, ob_size));
	P("bytes_data", offsetof(PyBytesObject, ob_sval));
	P("dict_keys", offsetof(PyDictObject, ma_keys));
	P("dict_values", offsetof(PyDictObject, ma_values));
#if PY_VERSION_HEX >= 0x030b0000
	P("tstate_datastack_chunk", offsetof(PyThreadState, datastack_chunk));
	P("tstate_datastack_top", offsetof(PyThreadState, datastack_top));
	P("stackchunk_data", offsetof(_PyStackChunk, data));
#else
	P("tstate_datastack_chunk", -1);
	P("tstate_datastack_top", -1);
	P("stackchunk_data", -1);
#endif
#if PY_VERSION_HEX >= 0x030b0000
	P("frame_localsplus", offsetof(_PyInterpreterFrame, localsplus));
	P("frame_gen", -1);
	P("gen_iframe", offsetof(PyGenObject, gi_iframe));
#else
	P("frame_localsplus", offsetof(PyFrameObject, f_localsplus));
	P("frame_gen", offsetof(PyFrameObject, f_gen));
	P("gen_iframe", -1);
#endif
	/* a Django response's objects, read at the response's first write (bpf/pyresp.bpf.h) */
	P("type_flags", offsetof(PyTypeObject, tp_flags));
	P("type_cached_keys", offsetof(PyHeapTypeObject, ht_cached_keys));
	P("list_size", offsetof(PyVarObject, ob_size));
	P("list_items", offsetof(PyListObject, ob_item));
	P("method_self", offsetof(PyMethodObject, im_self));
#if PY_VERSION_HEX >= 0x030b0000
	P("code_nlocalsplus", offsetof(PyCodeObject, co_nlocalsplus));
#else
	P("code_nlocalsplus", -1);
#endif
	printf("\n");
	return 0;
}
