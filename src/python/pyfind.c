/* Finding a process's CPython: its version, _PyRuntime and layout, told to BPF. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "scooby/events.h"
#include "native/elfsym.h"
#include "native/procmaps.h"
#include "pycode.h"
#include "pyfind.h"

#define DEBUG_OFFSETS_WORDS 44 /* _Py_DebugOffsets of 3.13, up to code_object.co_code_adaptive */

/* Returns the 3.<minor> a file name says ("python3.11", "libpython3.12.so.1.0"), or -1. */
static int minor_from_name(const char *path)
{
	const char *base = strrchr(path, '/'), *p;
	char *end;
	long minor;

	base = base ? base + 1 : path;
	p = strstr(base, "python3.");
	if (!p || (p != base && strncmp(base, "libpython3.", 11) != 0))
		return -1;
	minor = strtol(p + 8, &end, 10);
	if (end == p + 8 || (*end && *end != '.' && *end != 'd' && *end != 'm'))
		return -1;
	return minor;
}

struct find_ctx {
	char path[4200]; /* through /proc/PID/root */
	unsigned long long start; /* lowest mapping of that file */
	unsigned long long offset;
	int minor;
};

/* Picks the interpreter file among the mappings: libpython wins over the executable. */
static int find_python(const struct procmaps_entry *e, void *p)
{
	struct find_ctx *c = p;
	int minor = minor_from_name(e->path);
	bool lib = strstr(e->path, "/libpython3.") != NULL;

	if (minor < 0)
		return 0;
	if (c->minor >= 0 && !lib)
		return 0;
	c->minor = minor;
	snprintf(c->path, sizeof(c->path), "%s", e->path);
	c->start = e->start;
	c->offset = e->offset;
	return lib; /* a libpython is final */
}

/* Overrides the table's offsets with the interpreter's own _Py_DebugOffsets (3.13). */
static int apply_debug_offsets(pid_t pid, uint64_t runtime, struct py_layout *l)
{
	uint64_t w[DEBUG_OFFSETS_WORDS];

	if (!target_read(pid, runtime, w, sizeof(w)) || memcmp(w, "xdebugpy", 8) != 0)
		return -ENOENT;
	if ((w[1] >> 16) != 0x030d || w[2] /* free-threaded */)
		return -ENOTSUP;
	l->runtime_interp_head = w[5];
	l->interp_next = w[8];
	l->interp_tstate_head = w[9];
	l->tstate_next = w[21];
	l->tstate_frame = w[23];
	l->tstate_thread_id = w[24];
	l->tstate_native_thread_id = w[25];
	l->frame_back = w[29];
	l->frame_code = w[30];
	l->frame_instr = w[31];
	l->frame_owner = w[33];
	l->code_filename = w[35];
	l->code_name = w[36];
	l->code_qualname = w[37];
	l->code_linetable = w[38];
	l->code_firstlineno = w[39];
	l->code_adaptive = w[43];
	return 0;
}

static __u16 off16(int v)
{
	return v < 0 ? SC_PY_NONE : (__u16)v;
}

/* Bytes from a frame's start that cover every field the walker reads: fewer bytes
 * copied per frame on the target's time. */
static __u16 frame_read_size(const struct py_layout *l)
{
	int fields[] = { l->frame_back, l->frame_code, l->frame_instr,
			 l->minor >= 11 ? l->frame_func : l->frame_globals, l->frame_gen };
	int end = l->frame_owner >= 0 ? l->frame_owner + 1 : 0;
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] >= 0 && fields[i] + 8 > end)
			end = fields[i] + 8;
	return end > 128 ? 128 : end;
}

/* Publishes how BPF walks this process's stacks. */
static int publish_cfg(int map_fd, pid_t pid, uint64_t runtime, const struct py_layout *l)
{
	struct sc_py_cfg cfg = {
		.runtime = runtime,
		.minor = l->minor,
		.runtime_interp_head = off16(l->runtime_interp_head),
		.interp_tstate_head = off16(l->interp_tstate_head),
		.tstate_next = off16(l->tstate_next),
		.tstate_thread_id = off16(l->tstate_thread_id),
		.tstate_native_thread_id = off16(l->tstate_native_thread_id),
		.tstate_frame = off16(l->tstate_frame),
		.cframe_current_frame = off16(l->cframe_current_frame),
		.frame_back = off16(l->frame_back),
		.frame_code = off16(l->frame_code),
		.frame_instr = off16(l->frame_instr),
		.frame_owner = off16(l->frame_owner),
		.frame_ctx = off16(l->minor >= 11 ? l->frame_func : l->frame_globals),
		.owner_cstack = off16(l->owner_cstack),
		.frame_read = frame_read_size(l),
		.tstate_datastack_chunk = off16(l->tstate_datastack_chunk),
		.tstate_datastack_top = off16(l->tstate_datastack_top),
		.stackchunk_data = off16(l->stackchunk_data),
		.frame_localsplus = off16(l->frame_localsplus),
		.frame_gen = off16(l->frame_gen),
		.gen_iframe = off16(l->gen_iframe),
		.task_coro = off16(l->task_coro),
		.resp_minor = l->minor == 11 || l->minor == 12 ? l->minor : 0,
		.type_flags = off16(l->type_flags),
		.type_cached_keys = off16(l->type_cached_keys),
		.type_name = 24, /* PyTypeObject.tp_name: all versions (pycode.c's TP_NAME_OFF) */
		.list_size = off16(l->list_size),
		.list_items = off16(l->list_items),
		.method_self = off16(l->method_self),
		.code_nlocalsplus = off16(l->code_nlocalsplus),
		.unicode_length = off16(l->unicode_length),
		.unicode_state = off16(l->unicode_state),
		.unicode_ascii_data = off16(l->unicode_ascii_data),
	};
	__u32 key = pid;

	return bpf_map_update_elem(map_fd, &key, &cfg, BPF_ANY) ? -errno : 0;
}

/* Says once per version that its stacks are not available. */
static void warn_version(struct pyfind_said *said, int minor, const char *why)
{
	if (minor >= 0 && minor < 64 && said->minor[minor]++)
		return;
	fprintf(stderr,
		"scooby-bpf: warning: Python 3.%d: %s; its queries are recorded without Python stacks\n",
		minor, why);
}

struct pyproc *pyfind__examine(pid_t pid, int map_fd, struct pyfind_said *said)
{
	struct find_ctx c = { .minor = -1 };
	unsigned long long sym;
	long long delta;
	const struct py_layout *base;
	struct py_layout l;
	struct pyproc *proc;
	char path[4300];
	uint64_t runtime;

	if (procmaps_foreach_exec(pid, find_python, &c) < 0 || c.minor < 0)
		return NULL;
	base = py_layout__get(c.minor);
	if (!base) {
		warn_version(said, c.minor, "this version is not supported (3.8 to 3.13 are)");
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, c.path);
	if (elfsym_find(path, "_PyRuntime", &sym, &delta)) {
		warn_version(said, c.minor, "_PyRuntime not found in its binary");
		return NULL;
	}
	/* the load bias: where the executable segment sits minus where it was linked
	 * (0 for a fixed-address executable such as Debian's static python3.11) */
	runtime = sym + c.start - (c.offset + delta);
	l = *base;
	if (c.minor >= 13) {
		int err = apply_debug_offsets(pid, runtime, &l);

		if (err) {
			warn_version(said, c.minor,
				     err == -ENOTSUP ? "free-threaded or unknown build" :
						       "_Py_DebugOffsets not found");
			return NULL;
		}
	}
	proc = pyproc__new(pid, &l);
	if (proc && publish_cfg(map_fd, pid, runtime, &l)) {
		pyproc__free(proc);
		return NULL;
	}
	return proc;
}
