/* Per-thread correlation: request boundaries and queries in, one record per request out. */
#ifndef SCOOBY_CORRELATE_H
#define SCOOBY_CORRELATE_H

#include <stdbool.h>
#include <stdint.h>
#include "http_parse.h"
#include "record/record.h"

struct correlator;

/* The request key of connection (pid, fd) on an event loop's thread: never a tid. */
static inline uint64_t http_conn_key(uint32_t pid, uint32_t fd)
{
	return 1ULL << 63 | (uint64_t)pid << 32 | fd;
}

/* Receives each finished record and owns it from then on. */
typedef void (*record_fn)(struct record *r, void *ctx);

struct correlator_opts {
	uint64_t request_timeout_ns; /* a request open longer is published as incomplete */
	uint64_t background_period_ns; /* how often queries outside requests are published */
	bool redact; /* --redact: literals in SQL become ? (credentials are masked always) */
	unsigned profile_hz; /* --profile: the sampling rate, for the records' profiles */
};

/* Returns a correlator handing records to fn, or NULL on ENOMEM. */
struct correlator *correlator__new(const struct correlator_opts *o, record_fn fn, void *ctx);
/* Publishes what is still open (incomplete requests, background queries), then frees. */
void correlator__free(struct correlator *c);

/* A request line arrived on tid at ts; the request is known by key from then on: the tid
 * for a thread that serves one request at a time (its queries find it by their tid), a
 * connection's key (http_conn_key) on an event loop's thread. A request still open under
 * key must have been ended by the caller first. Returns 0 or -ENOMEM. */
int correlator__request_start(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t key,
			      uint64_t ts, const struct http_req_info *req);
/* The response head of key's request was seen with status: kept even if the request never
 * completes (a timeout, a crash, a streaming response cut off). */
void correlator__response_status(struct correlator *c, uint64_t key, int status);
/* Ends key's request at ts with status (0: none seen); no-op when none is open. */
void correlator__request_end(struct correlator *c, uint64_t key, uint64_t ts, int status,
			     bool incomplete);
/* Files the request open under old_key under new_key (a thread found to be an event loop:
 * its request is its connection's from then on). Returns 0, or -ENOMEM (published). */
int correlator__rekey(struct correlator *c, uint64_t old_key, uint64_t new_key);
/* Gives a finished query to the request open under key, attributed by (static, e.g.
 * "executor"), taking q's strings. Returns false (q untouched) when none is open. */
bool correlator__query_to(struct correlator *c, uint32_t pid, uint64_t key, struct query *q,
			  const char *by);
/* Gives a finished query to the request open on its thread, or to the process's background
 * record; takes q's strings. Its attributed_by says which ("thread", or NULL). */
void correlator__query(struct correlator *c, uint32_t pid, struct query *q);
/* The response of request key (an event loop's connection) is written by pid's asyncio
 * task of coroutine coro: its executor queries, held and to come, are the request's. */
void correlator__bind_task(struct correlator *c, uint32_t pid, uint64_t coro, uint64_t key);
/* True when a query of pid's thread tid would be kept with its details (its record is not
 * full), so that resolving its stack is worth the work. */
bool correlator__keeps(struct correlator *c, uint32_t pid, uint32_t tid, const struct db_kind *db);
/* A write of the thread l->tid to its stdout/stderr: kept when a request is open on the
 * thread (takes l's string and stack either way). */
void correlator__log(struct correlator *c, uint32_t pid, struct log_entry *l);
/* Appends ": msg" to the error of the latest failed db query of tid (the driver asked the
 * library why it failed), when that query is still held. */
void correlator__explain_error(struct correlator *c, uint32_t pid, uint32_t tid,
			       const struct db_kind *db, const char *msg);
/* count CPU samples of stack s on pid's thread tid, the first taken at ts: to the request
 * open on it, else to the background. */
void correlator__samples(struct correlator *c, uint32_t pid, uint32_t tid, const struct stack *s,
			 uint64_t count, uint64_t ts);
/* Thread tid was off-CPU for ns during its open request (measured by the HTTP tracker). */
void correlator__offcpu(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t ns);
struct view_names;
/* Names the view of tid's request from its dispatcher's call or its response's objects
 * (taking n's strings), or records reason when n is empty. Only the first counts; it
 * overrides a name taken from a stack. */
void correlator__view(struct correlator *c, uint32_t pid, uint32_t tid, struct view_names *n,
		      const char *reason);
/* Says why tid's request has no view (reason: static), unless a stack or a dispatcher's
 * call already decided it. */
void correlator__view_reason(struct correlator *c, uint32_t pid, uint32_t tid, const char *reason);
/* Periodic work: background records, request timeouts. */
void correlator__tick(struct correlator *c, uint64_t now);
/* Publishes everything that belongs to pid (it exited). */
void correlator__proc_gone(struct correlator *c, uint32_t pid, uint64_t now);
/* The total of kernel-side lost events, stamped on records published from now on. */
void correlator__set_lost(struct correlator *c, uint64_t lost);

#endif /* SCOOBY_CORRELATE_H */
