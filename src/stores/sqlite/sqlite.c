/* libsqlite3 events -> queries: statement texts, pending prepares, executions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "sqlite.h"
#include "util/utf8.h"

/* Prepared statements' SQL, by address: a statement prepared at the address of one
 * finalized replaces it (sqlite3_finalize is not probed), and the table makes room by
 * dropping the least lately used (stmts_evict) */
static struct hashmap_table sqlite_stmts = HASHMAP_TABLE("SQLite statements", 1024, 262144);

struct stmt_info {
	uint32_t pid;
	char *sql;
	bool truncated;
	uint64_t prep_enter, prep_exit; /* a prepare not yet charged to an execution */
	uint64_t used; /* its latest text or execution record's timestamp */
};

struct sqlite_tracker {
	struct correlator *corr;
	struct pystack *ps;
	struct hashmap *stmts; /* (pid, stmt) -> struct stmt_info */
};

static void stmt_free(void *p)
{
	struct stmt_info *s = p;

	if (s)
		free(s->sql);
	free(s);
}

struct sqlite_tracker *sqlite_tracker__new(struct correlator *c, struct pystack *ps)
{
	struct sqlite_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->stmts = hashmap__new_in(&sqlite_stmts);
	if (!t->stmts) {
		free(t);
		return NULL;
	}
	return t;
}

void sqlite_tracker__free(struct sqlite_tracker *t)
{
	if (!t)
		return;
	hashmap__free(t->stmts, stmt_free);
	free(t);
}

const char *sqlite_rc_name(int rc, char *buf, size_t len)
{
	static const char *const names[] = {
		[0] = "SQLITE_OK",	  [1] = "SQLITE_ERROR",	      [2] = "SQLITE_INTERNAL",
		[3] = "SQLITE_PERM",	  [4] = "SQLITE_ABORT",	      [5] = "SQLITE_BUSY",
		[6] = "SQLITE_LOCKED",	  [7] = "SQLITE_NOMEM",	      [8] = "SQLITE_READONLY",
		[9] = "SQLITE_INTERRUPT", [10] = "SQLITE_IOERR",      [11] = "SQLITE_CORRUPT",
		[12] = "SQLITE_NOTFOUND", [13] = "SQLITE_FULL",	      [14] = "SQLITE_CANTOPEN",
		[15] = "SQLITE_PROTOCOL", [16] = "SQLITE_EMPTY",      [17] = "SQLITE_SCHEMA",
		[18] = "SQLITE_TOOBIG",	  [19] = "SQLITE_CONSTRAINT", [20] = "SQLITE_MISMATCH",
		[21] = "SQLITE_MISUSE",	  [22] = "SQLITE_NOLFS",      [23] = "SQLITE_AUTH",
		[24] = "SQLITE_FORMAT",	  [25] = "SQLITE_RANGE",      [26] = "SQLITE_NOTADB",
		[27] = "SQLITE_NOTICE",	  [28] = "SQLITE_WARNING",
	};
	int primary = rc & 0xff;

	if (primary >= 0 && primary < (int)(sizeof(names) / sizeof(names[0])) && names[primary]) {
		if (rc == primary)
			return names[primary];
		snprintf(buf, len, "%s (extended code %d)", names[primary], rc);
		return buf;
	}
	snprintf(buf, len, "SQLITE result code %d", rc);
	return buf;
}

/* Copies len bytes of statement text, dropping a trailing NUL and whitespace, and a
 * character the --max-query cut left incomplete. */
static char *text_dup(const char *s, size_t len)
{
	size_t n = utf8_cut(s, strnlen(s, len));

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return strndup(s, n);
}

static bool text_truncated(const struct sc_sql_text_event *e)
{
	return e->full_len > e->len;
}

/* Takes the stack captured at key_ts for the query being built, unless the query's record
 * is full and will only count it. Returns true when a capture existed. */
static bool take_stack(struct sqlite_tracker *t, uint32_t pid, uint32_t tid, uint64_t key_ts,
		       struct stack *out)
{
	if (!t->ps)
		return false;
	if (correlator__keeps(t->corr, pid, tid, DB_SQLITE))
		return pystack__take(t->ps, pid, tid, key_ts, out);
	pystack__drop(t->ps, tid, key_ts);
	return true;
}

/* A prepare that failed is a query of its own, with its error. */
static void failed_prepare(struct sqlite_tracker *t, const struct sc_sql_text_event *e)
{
	struct query q = { .db = DB_SQLITE, .tid = e->hdr.tid };
	char buf[64];

	q.sql = text_dup(e->text, e->len);
	q.truncated = text_truncated(e);
	q.start_ns = e->t_enter;
	q.end_ns = e->t_exit;
	q.busy_ns = e->t_exit - e->t_enter;
	q.error = strdup(sqlite_rc_name(e->rc, buf, sizeof(buf)));
	take_stack(t, e->hdr.pid, e->hdr.tid, e->t_enter, &q.stack);
	correlator__query(t->corr, e->hdr.pid, &q);
}

struct evict_span {
	uint64_t oldest, newest;
};

static int span_of(uint64_t key, void *val, void *ctx)
{
	const struct stmt_info *s = val;
	struct evict_span *sp = ctx;

	if (s->used < sp->oldest)
		sp->oldest = s->used;
	if (s->used > sp->newest)
		sp->newest = s->used;
	return 0;
}

static int used_before(uint64_t key, void *val, void *ctx)
{
	struct stmt_info *s = val;

	if (s->used > *(uint64_t *)ctx)
		return 0;
	stmt_free(s);
	return 1;
}

/* Makes room in a full table of texts: drops the statements last used in the older half of
 * the span of use times (the oldest one at least). Without a finalize probe the table holds
 * every address a statement was ever prepared at; a dropped one that runs again is recorded
 * as "(statement text lost)". Two passes over the table, only when it is full. */
static void stmts_evict(struct sqlite_tracker *t)
{
	struct evict_span sp = { .oldest = UINT64_MAX };
	uint64_t cutoff;

	hashmap__sweep(t->stmts, span_of, &sp);
	cutoff = sp.oldest + (sp.newest - sp.oldest) / 2;
	hashmap__sweep(t->stmts, used_before, &cutoff);
}

void sqlite_tracker__text(struct sqlite_tracker *t, const struct sc_sql_text_event *e)
{
	uint64_t key = hashmap_key2(e->hdr.pid, e->stmt);
	struct stmt_info *s, *old = NULL;
	int err;

	if (e->flags & SC_SQL_F_PREPARE && e->rc != 0) {
		failed_prepare(t, e);
		return;
	}
	if (!e->stmt) /* an empty statement (only whitespace or a comment) */
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->pid = e->hdr.pid;
	if (e->flags & SC_SQL_F_NO_TEXT)
		s->sql = strdup("(statement prepared before attach; text not readable)");
	else
		s->sql = text_dup(e->text, e->len);
	s->truncated = text_truncated(e);
	if (e->flags & SC_SQL_F_PREPARE) {
		s->prep_enter = e->t_enter;
		s->prep_exit = e->t_exit;
	}
	s->used = e->hdr.ts;
	err = s->sql ? hashmap__set(t->stmts, key, s, (void **)&old) : -ENOMEM;
	if (err == -ENOSPC) {
		stmts_evict(t);
		err = hashmap__set(t->stmts, key, s, (void **)&old);
	}
	if (err) {
		stmt_free(s);
		return;
	}
	stmt_free(old);
}

void sqlite_tracker__exec(struct sqlite_tracker *t, const struct sc_sql_exec_event *e)
{
	struct stmt_info *s = hashmap__get(t->stmts, hashmap_key2(e->hdr.pid, e->stmt));
	struct query q = { .db = DB_SQLITE, .tid = e->hdr.tid };
	int primary = e->rc & 0xff;
	char buf[64];

	q.start_ns = e->t_first;
	q.end_ns = e->hdr.ts;
	q.busy_ns = e->busy_ns;
	if (s) {
		s->used = e->hdr.ts;
		q.sql = strdup(s->sql);
		q.truncated = s->truncated;
		if (s->prep_exit) { /* this execution pays for its prepare */
			q.start_ns = s->prep_enter;
			q.busy_ns += s->prep_exit - s->prep_enter;
			s->prep_enter = s->prep_exit = 0;
		}
	} else {
		q.sql = strdup("(statement text lost)");
	}
	/* the stack taken at the prepare, else at the first step; the other is dropped. BPF
	 * names the prepare's when it took none at the step (the same thread prepared it) */
	if (e->stack_ts)
		take_stack(t, e->hdr.pid, e->hdr.tid, e->stack_ts, &q.stack);
	else if (!take_stack(t, e->hdr.pid, e->hdr.tid, q.start_ns, &q.stack))
		take_stack(t, e->hdr.pid, e->hdr.tid, e->t_first, &q.stack);
	else if (t->ps && q.start_ns != e->t_first)
		pystack__drop(t->ps, e->hdr.tid, e->t_first);
	/* 100 SQLITE_ROW and 101 SQLITE_DONE are the successful outcomes */
	if (e->end == SC_SQL_END_STEP && primary != 100 && primary != 101)
		q.error = strdup(sqlite_rc_name(e->rc, buf, sizeof(buf)));
	correlator__query(t->corr, e->hdr.pid, &q);
}

void sqlite_tracker__errmsg(struct sqlite_tracker *t, const struct sc_sql_text_event *e)
{
	char *msg = text_dup(e->text, e->len);

	if (msg && *msg)
		correlator__explain_error(t->corr, e->hdr.pid, e->hdr.tid, DB_SQLITE, msg);
	free(msg);
}

static int sweep_pid(uint64_t key, void *val, void *ctx)
{
	struct stmt_info *s = val;

	if (s->pid != *(uint32_t *)ctx)
		return 0;
	stmt_free(s);
	return 1;
}

void sqlite_tracker__proc_gone(struct sqlite_tracker *t, uint32_t pid)
{
	hashmap__sweep(t->stmts, sweep_pid, &pid);
}
