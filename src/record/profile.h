/* One request's CPU profile: its sampled stacks, off-CPU time, and plugins_data.Profile. */
#ifndef SCOOBY_PROFILE_H
#define SCOOBY_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "record.h"

struct cJSON;

/* Distinct stacks kept per profile; samples of any further stack count as "[other]". */
#define PROFILE_MAX_STACKS 5000
/* Entries of top_self and top_total, and of folded before its "[other]" entry. */
#define PROFILE_JSON_TOP 20
#define PROFILE_JSON_FOLDED 200

struct profile;

/* Returns an empty profile sampled at hz, or NULL (hz 0, or ENOMEM). */
struct profile *profile__new(unsigned hz);
void profile__free(struct profile *p);
/*
 * Adds one on-CPU sample: frames innermost first (as struct stack holds them); n 0 counts as
 * an unresolved stack. Frame strings are interned and are kept as pointers. Past
 * PROFILE_MAX_STACKS distinct stacks a new stack only counts as "[other]".
 * Returns 0, or -ENOMEM (the sample is then not counted).
 */
int profile__add_sample(struct profile *p, const struct frame *frames, size_t n);
/* Adds count samples of one stack, as count calls of profile__add_sample would. */
int profile__add_samples(struct profile *p, const struct frame *frames, size_t n, uint64_t count);
/* Adds off-CPU time (ns) of the request's thread. */
void profile__add_offcpu(struct profile *p, uint64_t ns);

/*
 * Returns plugins_data.Profile:
 *   {"samples", "hz", "cpu_ms", "offcpu_ms", "offcpu_share" (offcpu_ms / duration_ms, at most
 *    1, null when duration_ms <= 0), "top_self", "top_total", "folded"}
 * top_*: at most 20 {"function", "filename", "lineno", "samples"} per function (Python:
 * file and function; native: module and symbol, lineno null), by self (innermost frame) or
 * inclusive samples, descending, ties by function then filename; lineno is the function's
 * line with the most of those samples. folded: {"stack", "samples"} by samples descending
 * (ties by stack), at most 200 of them, then "[other]" (the rest, and stacks past the cap),
 * then "[off-CPU]" (off-CPU time as samples). Milliseconds are rounded to the microsecond.
 * Returns NULL on ENOMEM.
 */
struct cJSON *profile__to_json(const struct profile *p, double duration_ms);
/*
 * The record's frame table, for the stored form (docs/FORMAT.md): index returns the index
 * there of the Python frame (file, name, line), adding it, or -1 when it cannot be added.
 */
struct profile_frame_refs {
	int64_t (*index)(void *ctx, const char *file, const char *name, int line);
	void *ctx;
};
/*
 * Writes the same object to w, straight (no tree). With refs (the stored form), a top
 * entry of a Python function is {"frame": its frame's index, "samples"} and a folded stack
 * of Python frames only {"fold": their indices outermost first, "samples"}. Returns 0, or
 * -ENOMEM (w is then unusable: w->oom is set, or the object is cut short).
 */
struct jsonw;
int profile__write_json(const struct profile *p, double duration_ms, struct jsonw *w,
			const struct profile_frame_refs *refs);

/* One line of a folded profile: "outer;...;inner" and its samples. */
struct profile_folded {
	char *stack;
	uint64_t samples;
};

/*
 * Folds the profile: every distinct stack as frame labels, outermost first, joined by ';'
 * (Python "function (file:line)", native "symbol (module)", otherwise "[unresolved]"; ';'
 * and line breaks in names become '_'); stacks whose labels are equal are merged. Sorted by
 * samples descending, ties by stack; then "[other]" (stacks past the cap) and "[off-CPU]"
 * (off-CPU ns * hz / 1e9, rounded), each only when non-zero. Sets *out (free with
 * profile_folded__free) and *n; returns 0 or -ENOMEM.
 */
int profile__folded(const struct profile *p, struct profile_folded **out, size_t *n);
void profile_folded__free(struct profile_folded *f, size_t n);

/*
 * Reading a profile back, for the file writers. A profile's frames are its distinct
 * (function, line) pairs, and its functions the distinct (file, name) pairs; both are
 * numbered from 0 in the order they were first sampled.
 */
unsigned profile__hz(const struct profile *p);
/* On-CPU samples, those of stacks past the cap included. */
uint64_t profile__samples(const struct profile *p);
/* Samples of stacks past the cap. */
uint64_t profile__other_samples(const struct profile *p);
uint64_t profile__offcpu_ns(const struct profile *p);
size_t profile__nstacks(const struct profile *p);
/* Returns the samples of stack i (< nstacks); *ids gets its frame ids innermost first, *depth
 * their number (at least 1). */
uint64_t profile__stack(const struct profile *p, size_t i, const uint32_t **ids, size_t *depth);
size_t profile__nframes(const struct profile *p);
/* Returns frame id's line (0: unknown, and always for native frames) and its function id in
 * *func. */
int profile__frame(const struct profile *p, uint32_t id, uint32_t *func);
size_t profile__nfuncs(const struct profile *p);
/* Returns function id's name (Python: function, native: symbol, "[unresolved]" when unknown)
 * and its file in *file (Python: filename, native: module, "[unresolved]" when unknown). */
const char *profile__func(const struct profile *p, uint32_t id, const char **file);

#endif /* SCOOBY_PROFILE_H */
