/* The viewer's read-only JSON API over the records in Redis. */
#ifndef SCOOBY_SERVE_API_H
#define SCOOBY_SERVE_API_H

#include "serve/store.h"
#include "serve/summary.h"

/* A response to send: status and a malloc'd JSON body (free it). */
struct api_reply {
	unsigned status;
	char *body;
};

/* GET /api/requests arguments, validated by the caller. */
struct api_list_args {
	long limit; /* 1..API_LIST_MAX */
	bool has_before;
	double before; /* only records scored below this (start unix ms) */
	struct summary_filter filter;
};

#define API_LIST_DEFAULT 100
#define API_LIST_MAX 1000

/*
 * GET /api/requests: summaries newest first from the sorted set, filtered,
 * at most args->limit (more only to finish records sharing the last
 * timestamp), as {"items": [...], "next_before": N|null, "scanned": N}.
 * next_before pages on; null when the set is exhausted. Sets 200, or 503
 * when Redis is unreachable.
 */
void api__list(struct store *s, const struct api_list_args *args, struct api_reply *out);

/* GET /api/requests/<uuid> (a valid uuid): the record as stored; 404 or 503 otherwise. */
void api__get(struct store *s, const char *uuid, struct api_reply *out);

/*
 * GET /scooby/get-data/<uuid>/ (a valid uuid): the record in Scooby's layout,
 * left in Redis; 404, 502 (a stored value that is not a record) or 503.
 */
void api__scooby(struct store *s, const char *uuid, struct api_reply *out);

/* GET /api/status: {"redis": "ok"} with 200, or 503 with the reason. */
void api__status(struct store *s, struct api_reply *out);

/* Fills out with {"error": message} and status; the body is NULL on ENOMEM. */
void api__error(struct api_reply *out, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SCOOBY_SERVE_API_H */
