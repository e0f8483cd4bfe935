/* Finding a process's CPython and telling BPF how to walk its stacks. */
#ifndef SCOOBY_PYFIND_H
#define SCOOBY_PYFIND_H

#include <sys/types.h>

struct pyproc;

/* The versions whose lack of stacks was already said (once each). */
struct pyfind_said {
	unsigned minor[64];
};

/* Finds pid's interpreter (libpython over the executable), its version and _PyRuntime,
 * and publishes in the py_procs map (map_fd) how BPF walks its stacks. Returns the
 * process's pyproc, or NULL when pid runs no Python, or one whose stacks cannot be
 * walked: that is said on stderr once per version (said). */
struct pyproc *pyfind__examine(pid_t pid, int map_fd, struct pyfind_said *said);

#endif /* SCOOBY_PYFIND_H */
