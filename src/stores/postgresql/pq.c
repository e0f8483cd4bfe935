/* libpq events -> queries: synchronous calls, the PQsend* + PQgetResult path, prepared names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "pq.h"
#include "util/utf8.h"

/* Synchronous libpq calls not yet returned */
static struct hashmap_table pq_sync = HASHMAP_TABLE("libpq calls in flight", 256, 65536);

/* PQsendQuery calls waiting for their last PQgetResult */
static struct hashmap_table pq_async = HASHMAP_TABLE("libpq async queries", 256, 65536);

/* Prepared statement names to their SQL */
static struct hashmap_table pq_names = HASHMAP_TABLE("libpq prepared names", 1024, 65536);

/* A query in flight: per thread for synchronous calls, per connection for PQsend*. */
struct pq_call {
	uint32_t pid, tid;
	uint32_t func;
	uint64_t conn;
	uint64_t start;
	char *sql;
	bool truncated;
	char *name; /* statement name a PQprepare/PQsendPrepare defines */
	char *error; /* first error result seen (async) */
};

struct pq_tracker {
	struct correlator *corr;
	struct pystack *ps;
	struct hashmap *sync; /* tid -> struct pq_call */
	struct hashmap *async; /* (pid, conn) -> struct pq_call */
	struct hashmap *names; /* (pid, conn ^ hash(name)) -> struct pq_name */
};

/* The SQL of a statement prepared under a name on a connection. */
struct pq_name {
	uint32_t pid;
	char sql[];
};

static void call_free(void *p)
{
	struct pq_call *c = p;

	if (!c)
		return;
	free(c->sql);
	free(c->name);
	free(c->error);
	free(c);
}

struct pq_tracker *pq_tracker__new(struct correlator *c, struct pystack *ps)
{
	struct pq_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->sync = hashmap__new_in(&pq_sync);
	t->async = hashmap__new_in(&pq_async);
	t->names = hashmap__new_in(&pq_names);
	if (!t->sync || !t->async || !t->names) {
		pq_tracker__free(t);
		return NULL;
	}
	return t;
}

void pq_tracker__free(struct pq_tracker *t)
{
	if (!t)
		return;
	hashmap__free(t->sync, call_free);
	hashmap__free(t->async, call_free);
	hashmap__free(t->names, free);
	free(t);
}

const char *pq_status_name(int status)
{
	static const char *const names[] = {
		"PGRES_EMPTY_QUERY",	"PGRES_COMMAND_OK",    "PGRES_TUPLES_OK",
		"PGRES_COPY_OUT",	"PGRES_COPY_IN",       "PGRES_BAD_RESPONSE",
		"PGRES_NONFATAL_ERROR", "PGRES_FATAL_ERROR",   "PGRES_COPY_BOTH",
		"PGRES_SINGLE_TUPLE",	"PGRES_PIPELINE_SYNC", "PGRES_PIPELINE_ABORTED",
	};

	if (status >= 0 && status < (int)(sizeof(names) / sizeof(names[0])))
		return names[status];
	return "PGRES_UNKNOWN";
}

static bool status_is_error(int status)
{
	return status == 5 || status == 6 || status == 7; /* BAD_RESPONSE, NONFATAL, FATAL */
}

static uint64_t name_key(uint32_t pid, uint64_t conn, const char *name)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return hashmap_key2(pid, conn ^ h);
}

static bool is_async(uint32_t func)
{
	return func >= SC_PQ_SEND_QUERY && func <= SC_PQ_SEND_QUERY_PREPARED;
}

static bool uses_name(uint32_t func)
{
	return func == SC_PQ_EXEC_PREPARED || func == SC_PQ_SEND_QUERY_PREPARED;
}

static bool defines_name(uint32_t func)
{
	return func == SC_PQ_PREPARE || func == SC_PQ_SEND_PREPARE;
}

void pq_tracker__call(struct pq_tracker *t, const struct sc_pq_call_event *e)
{
	struct pq_call *c = calloc(1, sizeof(*c)), *old;
	char name[SC_PQ_NAME_CAP + 1];

	if (!c)
		return;
	c->pid = e->hdr.pid;
	c->tid = e->hdr.tid;
	c->func = e->func;
	c->conn = e->conn;
	c->start = e->hdr.ts;
	memcpy(name, e->name, SC_PQ_NAME_CAP);
	name[SC_PQ_NAME_CAP] = 0;
	if (uses_name(e->func)) {
		/* the SQL is the prepared statement's, when we saw it prepared */
		const struct pq_name *pn =
			hashmap__get(t->names, name_key(e->hdr.pid, e->conn, name));

		if (pn) {
			c->sql = strdup(pn->sql);
		} else if (asprintf(&c->sql, "EXECUTE %s", name[0] ? name : "(unnamed)") < 0) {
			c->sql = NULL;
		}
	} else {
		c->sql = strndup(e->text, utf8_cut(e->text, strnlen(e->text, e->len)));
		c->truncated = e->full_len > e->len;
	}
	if (defines_name(e->func))
		c->name = strdup(name);
	if (!c->sql) {
		call_free(c);
		return;
	}
	if (hashmap__set(is_async(e->func) ? t->async : t->sync,
			 is_async(e->func) ? hashmap_key2(c->pid, c->conn) : c->tid, c,
			 (void **)&old)) {
		call_free(c);
		return;
	}
	call_free(old); /* a call that never returned (attach raced it) */
}

/* Turns a finished call into a query for the correlator; frees the call. */
static void finish(struct pq_tracker *t, struct pq_call *c, uint64_t end, bool ok)
{
	struct query q = { .db = DB_POSTGRESQL, .tid = c->tid };
	size_t len = strlen(c->sql) + 1;
	struct pq_name *pn, *old;

	if (ok && c->name && !c->error && (pn = malloc(sizeof(*pn) + len))) {
		pn->pid = c->pid;
		memcpy(pn->sql, c->sql, len);
		if (hashmap__set(t->names, name_key(c->pid, c->conn, c->name), pn, (void **)&old))
			free(pn);
		else
			free(old);
	}
	q.sql = c->sql;
	q.truncated = c->truncated;
	q.start_ns = c->start;
	q.end_ns = end > c->start ? end : c->start;
	q.busy_ns = q.end_ns - q.start_ns;
	q.error = c->error;
	c->sql = c->error = NULL;
	if (t->ps && correlator__keeps(t->corr, c->pid, c->tid, DB_POSTGRESQL))
		pystack__take(t->ps, c->pid, c->tid, c->start, &q.stack);
	else if (t->ps)
		pystack__drop(t->ps, c->tid, c->start);
	correlator__query(t->corr, c->pid, &q);
	call_free(c);
}

/* The first line of a libpq error message ("ERROR:  relation ... does not exist"). */
static char *error_text(const struct sc_pq_ret_event *e)
{
	size_t n = strnlen(e->err, e->err_len < SC_PQ_ERR_CAP ? e->err_len : SC_PQ_ERR_CAP);

	if (n == 0)
		return strdup(e->status >= 0 ? pq_status_name(e->status) : "PQ call failed");
	return strndup(e->err, strcspn(e->err, "\n") < n ? strcspn(e->err, "\n") : n);
}

void pq_tracker__ret(struct pq_tracker *t, const struct sc_pq_ret_event *e)
{
	uint64_t akey = hashmap_key2(e->hdr.pid, e->conn);
	struct pq_call *c;

	if (e->func == SC_PQ_GET_RESULT) {
		c = hashmap__get(t->async, akey);
		if (!c)
			return; /* PQgetResult with nothing we saw sent */
		if (e->status == -1) {
			finish(t, hashmap__del(t->async, akey), e->hdr.ts, true);
		} else if (status_is_error(e->status) && !c->error) {
			c->error = error_text(e);
		}
		return;
	}
	if (is_async(e->func)) {
		if (e->status == 1)
			return; /* sent; PQgetResult will finish it */
		c = hashmap__del(t->async, akey);
		if (c) {
			c->error = strdup("PQsend* failed (connection busy or broken)");
			finish(t, c, e->hdr.ts, false);
		}
		return;
	}
	c = hashmap__del(t->sync, e->hdr.tid);
	if (!c)
		return;
	if (e->status == -1)
		c->error = strdup("no result (out of memory or connection lost)");
	else if (status_is_error(e->status))
		c->error = error_text(e);
	finish(t, c, e->hdr.ts, c->error == NULL);
}

static int sweep_name(uint64_t key, void *val, void *ctx)
{
	struct pq_name *pn = val;

	if (pn->pid != *(uint32_t *)ctx)
		return 0;
	free(pn);
	return 1;
}

static int sweep_pid(uint64_t key, void *val, void *ctx)
{
	struct pq_call *c = val;

	if (c->pid != *(uint32_t *)ctx)
		return 0;
	call_free(c);
	return 1;
}

void pq_tracker__proc_gone(struct pq_tracker *t, uint32_t pid)
{
	hashmap__sweep(t->sync, sweep_pid, &pid);
	hashmap__sweep(t->async, sweep_pid, &pid);
	hashmap__sweep(t->names, sweep_name, &pid);
}
