/* Outermost client library calls (SC_EV_CALL ... SC_EV_CALL_RET) matched per thread, for the trackers of the stores on that call family. */
#ifndef SCOOBY_LIBCALL_H
#define SCOOBY_LIBCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"
#include "record/record.h"

/* A call in flight: what its SC_EV_CALL (and any SC_EV_CALL_TEXT) said. */
struct libcall {
	uint32_t pid, tid;
	uint32_t func;
	uint64_t handle;
	uint64_t arg;
	uint64_t start; /* the entry's ts, also the key of the stack taken there */
	char *text; /* the text's bytes, NUL-terminated after len; NULL when none */
	size_t len;
	size_t full_len; /* the text's length in the target (> len: cut) */
};

struct libcalls;

/* Returns an empty tid -> open call map, or NULL on ENOMEM. */
struct libcalls *libcalls__new(void);
void libcalls__free(struct libcalls *m);
/* Opens the call an SC_EV_CALL starts on its thread; one still open there (its return was
 * lost) is dropped. Returns the call, or NULL on ENOMEM. */
struct libcall *libcalls__enter(struct libcalls *m, const struct sc_call_event *e);
/* Appends an SC_EV_CALL_TEXT's bytes to the open call of its thread, up to max bytes in all. */
void libcalls__text(struct libcalls *m, const struct sc_call_event *e, size_t max);
/* Removes and returns the open call of the thread a return record comes from (NULL when
 * none); the caller frees it with libcall__free. */
struct libcall *libcalls__leave(struct libcalls *m, const struct sc_call_ret_event *e);
/* Forgets every open call of pid. */
void libcalls__proc_gone(struct libcalls *m, uint32_t pid);
void libcall__free(struct libcall *c);

/* Returns the call's text as a NUL-terminated string cut on a UTF-8 boundary ("" when it
 * has none), or NULL on ENOMEM. */
char *libcall__sql(const struct libcall *c);
/* Returns a copy of the return record's error text, NULL when it carries none. */
char *libcall__ret_err(const struct sc_call_ret_event *e);
/* Fills q's common members for the call c ending with ret: start, end, busy, tid. */
void libcall__timing(struct query *q, const struct libcall *c, const struct sc_call_ret_event *ret);
/* Moves the stack taken when the call c started into *out when a query to db on its thread
 * would be kept; drops it otherwise. ps may be NULL (stacks off). */
void libcall__stack(struct pystack *ps, struct correlator *corr, const struct libcall *c,
		    const struct db_kind *db, struct stack *out);

#endif /* SCOOBY_LIBCALL_H */
