/* The viewer's views of a stored record: list summaries, filters, and Scooby's layout. */
#ifndef SCOOBY_SERVE_SUMMARY_H
#define SCOOBY_SERVE_SUMMARY_H

#include <stdbool.h>
#include <cjson/cJSON.h>

/* What GET /api/requests may ask for; zeroed means no filter. */
struct summary_filter {
	const char *path; /* substring of request.path, case-insensitive; NULL or "": any */
	double min_ms; /* duration_ms at least this */
	int status_class; /* 0: any; 1..5: 1xx..5xx; -1: no status (no response seen) */
	bool n_plus_one; /* only records with an N+1 group */
};

/* True when s is a record uuid: exactly 32 lowercase hex digits. NULL is not. */
bool record_uuid__valid(const char *s);

/*
 * Counts the N+1 groups of a record's plugins_data.SQL: the entries of
 * `groups` with `n_plus_one: true` when the record has groups; without
 * groups, the distinct statement texts run 3 or more times. Returns 0 for
 * NULL or a malformed SQL object.
 */
int summary__n_plus_one(const cJSON *sql);

/*
 * Builds the list item for a record: uuid, method, path, status,
 * duration_ms, start_unix_ms, query_count, db_time_ms, errors (SQL),
 * n_plus_one, redis_count, redis_time_ms, redis_errors, memcache_count,
 * memcache_time_ms, memcache_errors, log_count (CustomLog), incomplete.
 * Counts are the plugin's `count` (omitted entries included), else its
 * list's length; times its `total_time`, else the sum of the listed
 * `time_taken`. Missing fields come out null (numbers 0): a record of an
 * older version without Redis, Memcache or CustomLog has them at 0. Returns a
 * new object (cJSON_Delete it), or NULL when rec has no string uuid or on
 * ENOMEM.
 */
cJSON *summary__new(const cJSON *rec);

/* True when the summary passes every filter set in f (NULL f: always). */
bool summary__matches(const cJSON *sum, const struct summary_filter *f);

/*
 * Parses a status class as the API takes it: "", "any" (0), "1xx".."5xx" or
 * "1".."5" (1..5), "none" (-1). Returns 0 with *out set, or -1.
 */
int summary__parse_status_class(const char *s, int *out);

/*
 * Builds Scooby's layout of a record: {"plugins_data": {...}} with
 * ViewName (null view_name when the record has none), ProcessTime, SQL whose
 * queries carry Scooby's names (query, query_template, params, using when
 * present, start, end, time_taken, stack) plus db, via and error, and every other
 * plugin copied as it is: Redis, Memcache (Scooby's func_name, arg,
 * time_taken, stack) and CustomLog (Scooby's logs[].s, stack) in the record's
 * form, ProcessTime, Profile. Returns a new object, or NULL on a record
 * without plugins_data or on ENOMEM.
 */
cJSON *scooby_layout__new(const cJSON *rec);

#endif /* SCOOBY_SERVE_SUMMARY_H */
