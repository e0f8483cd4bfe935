/* libsqlite3 events -> queries: statement texts, pending prepares, executions. */
#ifndef SCOOBY_SQLITE_H
#define SCOOBY_SQLITE_H

#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"

struct sqlite_tracker;

/* Returns a tracker feeding c, taking stacks from ps (may be NULL), or NULL on ENOMEM. */
struct sqlite_tracker *sqlite_tracker__new(struct correlator *c, struct pystack *ps);
void sqlite_tracker__free(struct sqlite_tracker *t);
void sqlite_tracker__text(struct sqlite_tracker *t, const struct sc_sql_text_event *e);
/* The message of the thread's latest failed query: completes its error text. */
void sqlite_tracker__errmsg(struct sqlite_tracker *t, const struct sc_sql_text_event *e);
void sqlite_tracker__exec(struct sqlite_tracker *t, const struct sc_sql_exec_event *e);
/* Forgets every statement of pid. */
void sqlite_tracker__proc_gone(struct sqlite_tracker *t, uint32_t pid);
/* The name of a SQLite result code ("SQLITE_CONSTRAINT"), or "SQLITE_ERROR <n>" style. */
const char *sqlite_rc_name(int rc, char *buf, size_t len);

/* What the record calls the store (db.c): its queries' db. */
extern const struct db_kind sqlite_db;
#define DB_SQLITE (&sqlite_db)

#endif /* SCOOBY_SQLITE_H */
