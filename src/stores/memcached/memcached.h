/* libmemcached events -> memcached entries (Scooby's func_name and arg): one per outermost call, a multi-get with its fetches. */
#ifndef SCOOBY_MEMCACHED_H
#define SCOOBY_MEMCACHED_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"

struct memcached_tracker;

/* Returns a tracker feeding c, taking stacks from ps (may be NULL), or NULL on ENOMEM. */
struct memcached_tracker *memcached_tracker__new(struct correlator *c, struct pystack *ps);
/* Hands the multi-gets still fetching to the correlator, then frees. */
void memcached_tracker__free(struct memcached_tracker *t);
/* An SC_EV_CALL of client SC_CL_MEMCACHE. */
void memcached_tracker__call(struct memcached_tracker *t, const struct sc_call_event *e);
void memcached_tracker__ret(struct memcached_tracker *t, const struct sc_call_ret_event *e);
/* Hands pid's multi-gets still fetching to the correlator; forgets its calls. Call it
 * before the correlator publishes pid's records. */
void memcached_tracker__proc_gone(struct memcached_tracker *t, uint32_t pid);
/* "MEMCACHED_CONNECTION_FAILURE" for a memcached_return_t. */
const char *memcached_status_name(int status);
/* True for the statuses that are answers rather than failures: success, a miss
 * (NOTFOUND), a refused add/replace (NOTSTORED), a cas conflict (DATA_EXISTS). */
bool memcached_status_ok(int status);

/* What the record calls the store (db.c): its queries' db. */
extern const struct db_kind memcached_db;
#define DB_MEMCACHE (&memcached_db)

#endif /* SCOOBY_MEMCACHED_H */
