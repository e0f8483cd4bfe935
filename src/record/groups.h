/* Similar-query groups of a record (plugins_data.SQL.groups) and the N+1 patterns among them. */
#ifndef SCOOBY_GROUPS_H
#define SCOOBY_GROUPS_H

#include <cjson/cJSON.h>

#include "record.h"

/* One call site issuing one fingerprint this many times in a request is an N+1. */
#define GROUPS_N_PLUS_ONE_MIN 3

/*
 * Returns a new cJSON array of groups for r's queries (the caller owns it),
 * or NULL on ENOMEM. Queries group by (db, fingerprint): every db of the
 * record in one array, groups in the order of their first query. Each group:
 *   "fingerprint": sql_fingerprint of the text (valid UTF-8),
 *   "db":          db__name() of the store ("sqlite", "mysql", "redis"...),
 *   "count":       its queries,
 *   "total_time":  their summed time_taken, ms rounded to the microsecond,
 *   "call_sites":  distinct "filename:lineno" of each query's call site
 *                  (stack__call_site) in order of first appearance; queries
 *                  without one add nothing, so it may be [],
 *   "duplicates":  queries whose exact text equals an earlier query's in the
 *                  group (text alone: no params are captured yet),
 *   "n_plus_one":  true when one call site issued the group's queries at
 *                  least GROUPS_N_PLUS_ONE_MIN times,
 *   "queries":     their indexes into SQL.queries.
 */
cJSON *groups__build(const struct record *r);
/* The same over any list of queries: Redis and memcached commands group by
 * "COMMAND key-with-digits-as-? ?..." ("GET user:?"), SQL by sql_fingerprint. */
cJSON *groups__build_list(const struct query *qs, size_t n);
/* Writes the groups array of qs (as groups__build_list) into w. Returns how many groups
 * are N+1s, or -ENOMEM (w->oom set). */
struct jsonw;
int groups__write(struct jsonw *w, const struct query *qs, size_t n);
/* Builds the groups of each store family of r into g (see record.h). Returns 0, or
 * -ENOMEM with g emptied. */
int groups__build_all(const struct record *r, struct record_groups *g);

/* Returns how many groups have n_plus_one set (for the terminal line); 0 for NULL. */
int groups__n_plus_one(const cJSON *groups);

/*
 * Returns the call site of a stack (ruling 7): its innermost application
 * frame, the first frame from the innermost for which frame__is_app holds (a
 * resolved Python frame outside the standard library, site-packages and
 * dist-packages). Returns NULL when there is none (no stack, native frames
 * only, library frames only).
 */
const struct frame *stack__call_site(const struct stack *s);

#endif /* SCOOBY_GROUPS_H */
