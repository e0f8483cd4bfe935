/* The interface every data store implements: the libraries it probes, its events' handlers, its state per process. */
#ifndef SCOOBY_STORE_H
#define SCOOBY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "record/record.h"

struct correlator;
struct pystack;

struct probe_spec {
	const char *sym; /* exported function */
	const char *prog; /* BPF program name */
	bool ret; /* uretprobe */
	uint32_t func; /* cookie's high half (libpq entry point), 0 otherwise */
	bool optional; /* absent in some versions */
	bool unless_state; /* not needed when the library's statement state is readable */
	/* set: probe sym's direct calls inside this function instead of sym's entry (which
	 * is the fallback when none are found) */
	const char *inside;
	/* set: probe the function that every one of these wrappers (NULL-terminated, sym the
	 * first) calls first, in place of the wrappers, when its entry is a push the kernel
	 * emulates and theirs is not (see probe_sites__callee) */
	const char *const *callee_of;
	bool unless_callee; /* not needed when the library's callee_of probes are placed */
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
	/* the functions a client calls for its first query (NULL-terminated): armed ahead on
	 * a file no traced process maps yet, the others once one maps it (each probe's detach
	 * costs the kernel ~40 ms of grace periods, on libraries most of which never load) */
	const char *const *early;
	/* True when the offsets configure found let the probes read a statement's state:
	 * the unless_state probes are then not placed; NULL: never */
	bool (*state_readable)(const struct sc_lib_cfg *cfg);
};

/* An outermost-call entry probe and the family's return probe on the same symbol. */
#define CALL_PROBES(sym, enter, ret, func) \
	{ sym, enter, false, func },       \
	{                                  \
		sym, ret, true, func       \
	}

/* A library row of a store: its probes table's size counted. */
#define STORE_LIB(name, prefix, probes, configure, early)                                         \
	{                                                                                         \
		name, prefix, probes, sizeof(probes) / sizeof(probes[0]), configure, false, early \
	}

/* A record kind a store owns, and how the event loop checks one before handing it over. */
struct store_kind {
	uint32_t kind; /* enum sc_event_kind */
	size_t min_size; /* the record's fixed part (its variable part may be empty) */
	/* True when the variable part the record claims fits in the size bytes that arrived;
	 * NULL for a fixed-size record. */
	bool (*fits)(const struct sc_hdr *h, size_t size);
};

/* What a store's tracker is made with. */
struct store_env {
	struct correlator *corr; /* where its queries go */
	struct pystack *ps; /* where its stacks come from; NULL: stacks off */
	size_t max_text; /* --max-query, 0: the default */
};

/*
 * One data store (src/stores/NAME/store.c), listed in src/stores/registry.h. Its tracker is
 * opaque to the rest: the event loop hands it the records it owns and the processes that
 * exit, and frees it at the end. Its wire protocol parser, when it has one, is registered
 * apart (struct wire_parser), since wire capture needs no library of it.
 */
struct store {
	const char *name; /* its folder's name, as its db's: "postgresql" */
	const struct db_kind
		*db; /* what the record calls it and the section its entries fill (its db.c) */
	/* the client library files it probes (first prefix match wins) and the BPF programs
	 * each symbol gets (bpf/NAME.bpf.c) */
	const struct target_lib *libs;
	size_t nlibs;
	/* the record kind that ends one of its queries: one lost is a query lost */
	uint32_t end_kind;
	/* Returns the store's tracker, or NULL on ENOMEM. */
	void *(*new)(const struct store_env *env);
	/* Hands what is still open to the correlator, then frees; NULL ok. */
	void (*free)(void *t);
	/* pid exited: hands its open entries to the correlator (before the correlator
	 * publishes pid's records) or forgets them. */
	void (*proc_gone)(void *t, uint32_t pid);
	/* SC_EV_CALL / SC_EV_CALL_TEXT and SC_EV_CALL_RET records of client (enum sc_client):
	 * the outermost-call family of events (bpf/libcall.bpf.h); NULL when it has none */
	uint32_t client;
	void (*call)(void *t, const struct sc_call_event *e);
	void (*ret)(void *t, const struct sc_call_ret_event *e);
	/* records of kinds of its own (nkinds of kinds[]), handed over once their size checks */
	const struct store_kind *kinds;
	size_t nkinds;
	void (*event)(void *t, const struct sc_hdr *h);
};

/* Every registered store, NULL-terminated, in the registry's order (src/stores/registry.c). */
extern const struct store *const stores[];

/* Fills *off with the field offset a one-line accessor (`return p->field;`) of the library
 * at path loads; returns 0, or -ENOENT (or the ELF reader's -errno) when it cannot. */
int store__accessor_offset(const char *path, const char *func, __u32 *off);
/* Likewise for an accessor returning the address of an embedded array (an lea). */
int store__accessor_lea_offset(const char *path, const char *func, __u32 *off);

#endif /* SCOOBY_STORE_H */
