/* Naming a request's view from what BPF saw: the objects a response's first write reached. */
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

#endif /* SCOOBY_PYVIEW_H */
