/* hiredis events -> Redis commands: one per outermost redisCommand*, and appended commands matched to redisGetReply. */
#ifndef SCOOBY_HIREDIS_H
#define SCOOBY_HIREDIS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"

struct hiredis_tracker;

/* Returns a tracker feeding c, taking stacks from ps (may be NULL), keeping at most
 * max_text bytes of a command's text (--max-query); NULL on ENOMEM. */
struct hiredis_tracker *hiredis_tracker__new(struct correlator *c, struct pystack *ps,
					     size_t max_text);
void hiredis_tracker__free(struct hiredis_tracker *t);
/* An SC_EV_CALL or SC_EV_CALL_TEXT of client SC_CL_REDIS. */
void hiredis_tracker__call(struct hiredis_tracker *t, const struct sc_call_event *e);
void hiredis_tracker__ret(struct hiredis_tracker *t, const struct sc_call_ret_event *e);
/* Forgets every call and queued command of pid. */
void hiredis_tracker__proc_gone(struct hiredis_tracker *t, uint32_t pid);

/* What the record calls the store (db.c): its queries' db. */
extern const struct db_kind redis_db;
#define DB_REDIS (&redis_db)

#endif /* SCOOBY_HIREDIS_H */
