/* MySQL/MariaDB client library events -> queries: plain queries, send + read, prepared statements. */
#ifndef SCOOBY_MYSQL_H
#define SCOOBY_MYSQL_H

#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "request/correlate.h"
#include "python/pystack.h"

struct mysql_tracker;

/* Returns a tracker feeding c, taking stacks from ps (may be NULL), or NULL on ENOMEM. */
struct mysql_tracker *mysql_tracker__new(struct correlator *c, struct pystack *ps);
void mysql_tracker__free(struct mysql_tracker *t);
/* An SC_EV_CALL of client SC_CL_MYSQL. */
void mysql_tracker__call(struct mysql_tracker *t, const struct sc_call_event *e);
void mysql_tracker__ret(struct mysql_tracker *t, const struct sc_call_ret_event *e);
/* Forgets every call, pending read and statement of pid. */
void mysql_tracker__proc_gone(struct mysql_tracker *t, uint32_t pid);
/* "ER_NO_SUCH_TABLE" for a few common error numbers, NULL for the others. */
const char *mysql_errno_name(int code);

/* What the record calls the store (db.c): its queries' db. */
extern const struct db_kind mysql_db;
#define DB_MYSQL (&mysql_db)

#endif /* SCOOBY_MYSQL_H */
