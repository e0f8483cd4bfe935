/* Attaching: the BPF object's lifetime, the traced process tree, and uprobes per client library. */
#ifndef SCOOBY_ATTACH_H
#define SCOOBY_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cli/cli.h"

struct scooby_bpf;
struct attacher;

struct attach_opts {
	pid_t pid; /* 0: system-wide */
	unsigned max_query;
	unsigned stack_depth; /* 0: no stacks */
	bool native_stacks;
	unsigned profile_hz; /* --profile: CPU samples per second per CPU, 0: off */
	bool no_wire, no_logs; /* --no-wire, --no-logs */
	bool view_probe; /* --view-probe: the interpreter is a target too */
	const struct port_proto *port_protos; /* --port-proto */
	int nport_protos;
	bool verbose;
};

/* Checks the capabilities we need (naming those missing), BTF and uprobe support.
 * Returns 0, or -1 with a one-line reason in err. */
int attacher__preflight(char *err, size_t errlen);
/* Opens, configures, loads the BPF object and attaches the syscall and scheduler tracepoints.
 * Returns NULL with a one-line message in err on failure. */
struct attacher *attacher__new(const struct attach_opts *o, char *err, size_t errlen);
/* Detaches every probe and frees everything; NULL ok. */
void attacher__free(struct attacher *a);
struct scooby_bpf *attacher__skel(struct attacher *a);

/* Traces pid and every descendant it has now. Returns the number of processes added. */
int attacher__track_tree(struct attacher *a, pid_t pid);
/* Traces one more process (a fork seen by BPF is already in the map). */
void attacher__track(struct attacher *a, pid_t pid);
void attacher__untrack(struct attacher *a, pid_t pid);
size_t attacher__ntracked(struct attacher *a);
/* Returns true when pid is traced and still alive (not a zombie). */
bool attacher__alive(pid_t pid);

/* Reads the maps of traced processes (every process, system-wide) and puts uprobes on client
 * libraries not probed yet. Returns how many libraries were newly attached. */
int attacher__scan_libs(struct attacher *a);
/* A traced process mapped a file executable at addr (map_ns: CLOCK_MONOTONIC): probes it
 * now when it is a client library not probed yet. Returns 1 when it was, 0 otherwise. */
int attacher__arm_mapped(struct attacher *a, pid_t pid, unsigned long long addr, uint64_t map_ns);
/* Returns a count the BPF side bumps whenever a traced process maps memory executable: while
 * it stays the same, no library was loaded and the maps need not be read. */
unsigned long long attacher__exec_maps(struct attacher *a);
/* Describes what is attached, for the "attached" line. */
void attacher__describe(struct attacher *a, char *buf, size_t len);
/* Returns true once the tracked set is empty (every traced process is gone). */
bool attacher__all_gone(struct attacher *a);
/* Calls fn for each tracked pid that has exited; it is untracked after. */
void attacher__reap(struct attacher *a, void (*fn)(pid_t pid, void *ctx), void *ctx);
/* Calls fn for every traced pid. */
void attacher__foreach_pid(struct attacher *a, void (*fn)(pid_t pid, void *ctx), void *ctx);
/* The records the ring could not take so far (SC_CNT_LOST), read without a syscall. */
unsigned long long attacher__lost(struct attacher *a);
/* Sum of the per-CPU counter idx (enum sc_counter). */
unsigned long long attacher__counter(struct attacher *a, int idx);

#endif /* SCOOBY_ATTACH_H */
