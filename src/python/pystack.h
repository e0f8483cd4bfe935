/* Python stacks: the interpreters traced, and their captured frames turned into file:line. */
#ifndef SCOOBY_PYSTACK_H
#define SCOOBY_PYSTACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "pycode.h"
#include "record/record.h"

struct pystack;

/* Returns a resolver that publishes interpreter layouts into the BPF map py_procs_fd and
 * forgets a gone process's stacks in prof_known_fd (--profile's), or NULL on ENOMEM. */
struct pystack *pystack__new(int py_procs_fd, int prof_known_fd);
void pystack__free(struct pystack *ps);

/* Finds the CPython in pid (static python3.X or libpython3.X.so), tells BPF how to walk
 * it. Returns 1 when stacks are on for pid, 0 when it runs no Python we can walk (an
 * unsupported version is said once on stderr), -errno when /proc cannot be read. A pid
 * is examined once; a fork copies its parent's result. */
int pystack__discover(struct pystack *ps, pid_t pid);
void pystack__inherit(struct pystack *ps, pid_t parent, pid_t child);
/* Holds a captured stack until the query it belongs to asks for it. */
void pystack__event(struct pystack *ps, const struct sc_pystack_event *e);
void pystack__native_event(struct pystack *ps, const struct sc_natstack_event *e);
/* Moves the stack taken on tid at key_ts into *out, resolved: the Python frames, then the
 * native ones under them when they were taken. Returns false when there is none. */
bool pystack__take(struct pystack *ps, uint32_t pid, uint32_t tid, uint64_t key_ts,
		   struct stack *out);
/* Resolves a CPU sample's stack (SC_EV_PYSAMPLE or SC_EV_NATSAMPLE record h) into *out.
 * Returns false when it cannot (the process's interpreter is unknown, ENOMEM). */
bool pystack__sample(struct pystack *ps, const struct sc_hdr *h, struct stack *out);
/* Returns the stack BPF counts as hash in pid (sent whole as SC_PY_F_KNOWN), or NULL. */
const struct stack *pystack__known(const struct pystack *ps, uint32_t pid, uint64_t hash);
/* Drops the capture taken on tid at key_ts, if still held. */
void pystack__drop(struct pystack *ps, uint32_t tid, uint64_t key_ts);
/* Drops captures nobody claimed, older than max_age_ns. */
void pystack__expire(struct pystack *ps, uint64_t now, uint64_t max_age_ns);
void pystack__proc_gone(struct pystack *ps, pid_t pid);
/* Gives the BPF map of dispatcher code objects (py_dispatchers) to fill. */
void pystack__set_dispatchers(struct pystack *ps, int fd);
/* Gives the BPF maps of the response walk (bpf/pyresp.bpf.h: py_resp_types, _codes, _keys,
 * _attrs), whose entries of a gone process are forgotten. */
void pystack__set_resp_maps(struct pystack *ps, const int fds[4]);
/* Reads an SC_EV_PYVIEW (what a request's first response write found): returns true when
 * it decides the request's view, with out filled, or out empty and *reason saying why
 * there is none (static); false when the process is unknown or the event decides nothing
 * (*reason may then still say why no name was read). */
bool pystack__view(struct pystack *ps, const struct sc_pyview_event *e, struct view_names *out,
		   const char **reason);
/* Gives the BPF map of task-holding code objects (py_task_codes) to fill as asgiref's
 * thread_handler is met in stacks, and BPF's flag (py_task_procs) set at the first one.
 * Returns 0 or -ENOMEM. */
struct scooby_bpf;
int pystack__set_task_codes(struct pystack *ps, int fd, struct scooby_bpf *skel);
/* Reads an SC_EV_PYCALL: when its calling frame is a framework's dispatcher, the callable
 * is the request's view. Returns false when it is not a dispatcher's call; true with out
 * filled, or out empty and *reason saying why the view cannot be named (static). */
bool pystack__call(struct pystack *ps, const struct sc_pycall_event *e, struct view_names *out,
		   const char **reason);

#endif /* SCOOBY_PYSTACK_H */
