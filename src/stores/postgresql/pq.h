/* libpq events -> queries: synchronous calls, the PQsend* + PQgetResult path, prepared names. */
#ifndef SCOOBY_PQ_H
#define SCOOBY_PQ_H

#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"

struct pq_tracker;

/* Returns a tracker feeding c, taking stacks from ps (may be NULL), or NULL on ENOMEM. */
struct pq_tracker *pq_tracker__new(struct correlator *c, struct pystack *ps);
void pq_tracker__free(struct pq_tracker *t);
void pq_tracker__call(struct pq_tracker *t, const struct sc_pq_call_event *e);
void pq_tracker__ret(struct pq_tracker *t, const struct sc_pq_ret_event *e);
/* Forgets every connection and call of pid. */
void pq_tracker__proc_gone(struct pq_tracker *t, uint32_t pid);
/* "PGRES_FATAL_ERROR" for an ExecStatusType. */
const char *pq_status_name(int status);

/* What the record calls the store (db.c): its queries' db. */
extern const struct db_kind postgresql_db;
#define DB_POSTGRESQL (&postgresql_db)

#endif /* SCOOBY_PQ_H */
