/* CPython struct layouts per minor version (3.8-3.13), as each version's own headers give them. */
#include <stdio.h>
#include "pyoffsets.h"

/*
 * Values printed by tests/pyoffsets/gen.c compiled against each interpreter's installed
 * headers (pyenv 3.8.18 ... 3.13.0, Debian's python3.11-dev); tests/unit/test_pyoffsets.c
 * recompiles gen.c against every interpreter found and fails on any difference.
 */
static const struct py_layout layouts[] = {
	{ .minor = 8, .runtime_interp_head = 32, .interp_tstate_head = 8, .interp_next = 0,
	  .tstate_next = 8, .tstate_thread_id = 176, .tstate_native_thread_id = -1,
	  .tstate_frame = 24, .cframe_current_frame = -1, .frame_back = 24, .frame_code = 32,
	  .frame_instr = 104, .frame_func = -1, .frame_owner = -1, .frame_globals = 48,
	  .code_adaptive = -1, .code_qualname = -1, .code_linetable = 120, .func_module = 88,
	  .func_name = 64, .func_qualname = 104, .code_filename = 104, .code_name = 112,
	  .code_firstlineno = 40, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 48, .unicode_compact_data = 72, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = -1 },
	{ .minor = 9, .runtime_interp_head = 32, .interp_tstate_head = 8, .interp_next = 0,
	  .tstate_next = 8, .tstate_thread_id = 176, .tstate_native_thread_id = -1,
	  .tstate_frame = 24, .cframe_current_frame = -1, .frame_back = 24, .frame_code = 32,
	  .frame_instr = 104, .frame_func = -1, .frame_owner = -1, .frame_globals = 48,
	  .code_adaptive = -1, .code_qualname = -1, .code_linetable = 120, .func_module = 88,
	  .func_name = 64, .func_qualname = 104, .code_filename = 104, .code_name = 112,
	  .code_firstlineno = 40, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 48, .unicode_compact_data = 72, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = -1 },
	{ .minor = 10, .runtime_interp_head = 32, .interp_tstate_head = 8, .interp_next = 0,
	  .tstate_next = 8, .tstate_thread_id = 176, .tstate_native_thread_id = -1,
	  .tstate_frame = 24, .cframe_current_frame = -1, .frame_back = 24, .frame_code = 32,
	  .frame_instr = 96, .frame_func = -1, .frame_owner = -1, .frame_globals = 48,
	  .code_adaptive = -1, .code_qualname = -1, .code_linetable = 120, .func_module = 104,
	  .func_name = 32, .func_qualname = 40, .code_filename = 104, .code_name = 112,
	  .code_firstlineno = 40, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 48, .unicode_compact_data = 72, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = -1 },
	{ .minor = 11, .runtime_interp_head = 40, .interp_tstate_head = 16, .interp_next = 0,
	  .tstate_next = 8, .tstate_thread_id = 152, .tstate_native_thread_id = 160,
	  .tstate_frame = 56, .cframe_current_frame = 8, .frame_back = 48, .frame_code = 32,
	  .frame_instr = 56, .frame_func = 0, .frame_owner = 69, .frame_globals = 8,
	  .code_adaptive = 184, .code_qualname = 128, .code_linetable = 136, .func_module = 104,
	  .func_name = 32, .func_qualname = 40, .code_filename = 112, .code_name = 120,
	  .code_firstlineno = 72, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 48, .unicode_compact_data = 72, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = -1 },
	{ .minor = 12, .runtime_interp_head = 40, .interp_tstate_head = 72, .interp_next = 0,
	  .tstate_next = 8, .tstate_thread_id = 136, .tstate_native_thread_id = 144,
	  .tstate_frame = 56, .cframe_current_frame = 0, .frame_back = 8, .frame_code = 0,
	  .frame_instr = 56, .frame_func = 16, .frame_owner = 70, .frame_globals = 24,
	  .code_adaptive = 192, .code_qualname = 128, .code_linetable = 136, .func_module = 104,
	  .func_name = 32, .func_qualname = 40, .code_filename = 112, .code_name = 120,
	  .code_firstlineno = 68, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 40, .unicode_compact_data = 56, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = 3 },
	{ .minor = 13, .runtime_interp_head = 632, .interp_tstate_head = 7344, .interp_next = 7264,
	  .tstate_next = 8, .tstate_thread_id = 152, .tstate_native_thread_id = 160,
	  .tstate_frame = 72, .cframe_current_frame = -1, .frame_back = 8, .frame_code = 0,
	  .frame_instr = 56, .frame_func = 16, .frame_owner = 70, .frame_globals = 24,
	  .code_adaptive = 200, .code_qualname = 128, .code_linetable = 136, .func_module = 104,
	  .func_name = 32, .func_qualname = 40, .code_filename = 112, .code_name = 120,
	  .code_firstlineno = 68, .unicode_state = 32, .unicode_length = 16,
	  .unicode_ascii_data = 40, .unicode_compact_data = 56, .bytes_size = 16, .bytes_data = 32,
	  .dict_keys = 32, .dict_values = 40, .owner_cstack = 3 },
};

const struct py_layout *py_layout__get(int minor)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

int py_layout__format(const struct py_layout *l, char *buf, size_t len)
{
	return snprintf(buf, len,
			"3.%d runtime_interp_head=%d interp_tstate_head=%d interp_next=%d "
			"tstate_next=%d tstate_thread_id=%d tstate_native_thread_id=%d "
			"tstate_frame=%d cframe_current_frame=%d frame_back=%d frame_code=%d "
			"frame_instr=%d frame_func=%d frame_owner=%d frame_globals=%d "
			"code_adaptive=%d code_qualname=%d code_linetable=%d func_module=%d "
			"func_name=%d func_qualname=%d code_filename=%d code_name=%d "
			"code_firstlineno=%d unicode_state=%d unicode_length=%d "
			"unicode_ascii_data=%d unicode_compact_data=%d bytes_size=%d bytes_data=%d "
			"dict_keys=%d dict_values=%d",
			l->minor, l->runtime_interp_head, l->interp_tstate_head, l->interp_next,
			l->tstate_next, l->tstate_thread_id, l->tstate_native_thread_id,
			l->tstate_frame, l->cframe_current_frame, l->frame_back, l->frame_code,
			l->frame_instr, l->frame_func, l->frame_owner, l->frame_globals,
			l->code_adaptive, l->code_qualname, l->code_linetable, l->func_module,
			l->func_name, l->func_qualname, l->code_filename, l->code_name,
			l->code_firstlineno, l->unicode_state, l->unicode_length,
			l->unicode_ascii_data, l->unicode_compact_data, l->bytes_size, l->bytes_data,
			l->dict_keys, l->dict_values);
}
