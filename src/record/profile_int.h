/* The profile's tables, shared by profile.c (filling them) and profile_json.c (writing them out). */
#ifndef SCOOBY_PROFILE_INT_H
#define SCOOBY_PROFILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "profile.h"

#define UNRESOLVED "[unresolved]"
#define NONE UINT32_MAX

/* A function: Python file and function, or native module and symbol; NULL when unknown. */
struct pfunc {
	const char *file;
	const char *name;
	bool native;
	uint64_t hash;
	/* the name's first 8 bytes, big-endian, zero-padded: ordered as strcmp orders those
	 * bytes, so that most ties of the top lists part without a strcmp */
	uint64_t name_key;
};

/* A function at one line (0 for native frames). */
struct pframe {
	uint32_t func;
	int line;
	uint64_t hash;
};

struct pstack {
	uint32_t *ids; /* frame ids, innermost first */
	size_t depth;
	uint64_t samples;
	uint64_t hash;
};

/* An open-addressing index over one of the arrays: slots hold index + 1 (0: empty). */
struct itab {
	uint32_t *slots;
	size_t mask;
	size_t n;
};

struct profile {
	unsigned hz;
	uint64_t samples; /* all on-CPU samples */
	uint64_t other; /* samples of stacks past PROFILE_MAX_STACKS */
	uint64_t offcpu_ns;
	struct pfunc *funcs;
	size_t nfuncs, capfuncs;
	struct itab func_tab;
	struct pframe *frames;
	size_t nframes, capframes;
	struct itab frame_tab;
	struct pstack *stacks;
	size_t nstacks, capstacks;
	struct itab stack_tab;
	uint32_t *scratch; /* the frame ids of the sample being added */
	size_t capscratch;
};

#endif /* SCOOBY_PROFILE_INT_H */
