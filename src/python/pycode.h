/* Reading CPython objects out of a traced process: strings, code objects, functions, dicts. */
#ifndef SCOOBY_PYCODE_H
#define SCOOBY_PYCODE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "pyoffsets.h"

/* What a code object says, read once and cached per process. */
struct pycode {
	const char *filename; /* interned */
	const char *function; /* interned: co_qualname where the version has it, else co_name */
	int firstlineno;
	unsigned char *linetable;
	size_t linetable_len;
	uint64_t filename_ptr, name_ptr; /* to notice the address now holds another code */
	uint64_t checked_ns; /* when the identity was last confirmed */
	bool shim; /* not user code: 3.13's __init__ cleanup frame (no file) */
	/* the last lines looked up: a query's call sites repeat, the table need not be decoded */
	long cache_lasti[4]; /* lasti + 1; 0: an empty slot */
	int cache_line[4];
	unsigned cache_next;
};

struct pyproc;

/* Returns a reader for pid's objects laid out as l says, or NULL on ENOMEM. */
struct pyproc *pyproc__new(pid_t pid, const struct py_layout *l);
void pyproc__free(struct pyproc *p);
const struct py_layout *pyproc__layout(const struct pyproc *p);

/* Returns the (cached) code object at addr, or NULL when it cannot be read as one. */
struct pycode *pyproc__code(struct pyproc *p, uint64_t addr, uint64_t now_ns);
/* Returns the line of the instruction a frame was executing; 0 when unknown. */
int pyproc__line(struct pyproc *p, struct pycode *c, uint64_t code_addr, uint64_t instr);
/* A view's names: "module.qualname" and Scooby's "module.__name__" (malloc'd, NULL when
 * not known). */
struct view_names {
	char *view;
	char *scooby;
};

void view_names__clear(struct view_names *n);
/* Fills n for a frame's context (3.11+: the function object, older: the globals dict,
 * with function the code's name) running the code object at code. Returns NULL, or why
 * n->view could not be had (a static string). Cached per (ctx, code), re-read after a
 * second. */
const char *pyproc__view_names(struct pyproc *p, uint64_t ctx, uint64_t code, const char *function,
			       uint64_t now_ns, struct view_names *n);
/* Fills n from the function object at func (any version); returns NULL or why not. */
const char *pyproc__func_names(struct pyproc *p, uint64_t func, uint64_t now_ns,
			       struct view_names *n);

/* Reads len bytes at addr of pid; returns true when all were read. */
bool target_read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif /* SCOOBY_PYCODE_H */
