/* The client libraries scooby-bpf probes, the symbols each probe needs, and their struct offsets. */
#ifndef SCOOBY_TARGETS_H
#define SCOOBY_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"

struct probe_spec {
	const char *sym; /* exported function */
	const char *prog; /* BPF program name */
	bool ret; /* uretprobe */
	uint32_t func; /* cookie's high half (libpq entry point), 0 otherwise */
	bool optional; /* absent in some versions */
	bool unless_state; /* not needed when the library's statement state is readable */
	/* entry probe put past the function's NULL test of its first argument, when its code
	 * starts with one: the library calls it with NULL itself (sqlite3_finalize(0) from
	 * its own close and exec paths), and every trap costs the target microseconds */
	bool past_null;
	/* set: probe sym's direct calls inside this function instead of sym's entry (which
	 * is the fallback when none are found) */
	const char *inside;
};

struct target_lib {
	const char *name; /* shown to the user */
	const char *prefix; /* file name prefix: "libsqlite3.so" */
	const struct probe_spec *probes;
	size_t nprobes;
	/* Fills the library's struct offsets; returns 0, or -errno when one cannot be found
	 * (the probes still run, reading less). */
	int (*configure)(const char *path, struct sc_lib_cfg *cfg);
	bool interpreter; /* CPython itself (the view probe), not a client library */
};

/* Returns the target a mapped file belongs to (by its file name), or NULL. */
const struct target_lib *targets__match(const char *path);

#endif /* SCOOBY_TARGETS_H */
