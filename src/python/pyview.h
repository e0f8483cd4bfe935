/* Naming a request's view from what BPF saw: a dispatcher's call, a response's first write. */
#ifndef SCOOBY_PYVIEW_H
#define SCOOBY_PYVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include "scooby/events.h"
#include "pycode.h"

/* Reads an SC_EV_PYVIEW of process p: true when it decides the request's view, with n
 * filled, or n empty and *reason (static) saying why there is none; false when it
 * decides nothing, *reason then saying why no name could be read. */
bool pyresp__names(struct pyproc *p, const struct sc_pyview_event *e, uint64_t now_ns,
		   struct view_names *n, const char **reason);
/* Deletes the entries of tgid from BPF hash map fd, whose keys are struct sc_code_key
 * (a negative fd: nothing). */
void code_keys__forget(int fd, uint32_t tgid);

/* The opcodes of the dispatcher's call of the view, CALL_FUNCTION_EX then its
 * INSTRUMENTED_ form, where frame pushes (3.12+) also come from its other calls; 0 where
 * every call a dispatcher makes through PyObject_Call is the view's. */
__u32 view_call_ops(int minor);
/* Marks code as a dispatcher of pid's in BPF map fd (py_dispatchers): the request's later
 * calls go unreported. A negative fd: nothing. */
void dispatcher_add(int fd, uint32_t pid, uint64_t code, __u32 ops);
/* True when the call at instr of pid is the view's: the opcode there is one of ops
 * (3.12+; always true for ops 0). False when it cannot be read. */
bool is_view_call(uint32_t pid, uint64_t instr, __u32 ops);

#endif /* SCOOBY_PYVIEW_H */
