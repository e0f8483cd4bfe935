/* MySQL/MariaDB client library events -> queries: plain queries, send + read, prepared statements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "stores/libcall.h"
#include "mysql.h"

/* mysql_send_query calls waiting for their read */
static struct hashmap_table mysql_sent = HASHMAP_TABLE("MySQL queries sent", 256, 65536);

/* Prepared statements' SQL until mysql_stmt_close: a program that never closes its
 * statements must not grow it forever (past it, new statements execute as "prepared before
 * attach") */
static struct hashmap_table mysql_stmts = HASHMAP_TABLE("MySQL statements", 1024, 65536);

/*
 * One outermost mysql_real_query, mysql_stmt_prepare or mysql_stmt_execute is one query.
 * mysql_send_query and the mysql_read_query_result after it on the same connection are one
 * query too: its time_taken is the time inside both calls, its span from the send to the
 * read's return. A statement's SQL is remembered from its prepare until mysql_stmt_close.
 */

/* A query sent with mysql_send_query, waiting for its mysql_read_query_result. */
struct my_sent {
	uint32_t pid;
	struct query q;
};

/* A prepared statement's SQL. */
struct my_stmt {
	uint32_t pid;
	bool truncated;
	char sql[];
};

struct mysql_tracker {
	struct correlator *corr;
	struct pystack *ps;
	struct libcalls *calls;
	struct hashmap *sent; /* (pid, MYSQL *) -> struct my_sent */
	struct hashmap *stmts; /* (pid, MYSQL_STMT *) -> struct my_stmt */
};

static void sent_free(void *p)
{
	struct my_sent *s = p;

	if (!s)
		return;
	query__free_strings(&s->q);
	free(s);
}

struct mysql_tracker *mysql_tracker__new(struct correlator *c, struct pystack *ps)
{
	struct mysql_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->calls = libcalls__new();
	t->sent = hashmap__new_in(&mysql_sent);
	t->stmts = hashmap__new_in(&mysql_stmts);
	if (!t->calls || !t->sent || !t->stmts) {
		mysql_tracker__free(t);
		return NULL;
	}
	return t;
}

void mysql_tracker__free(struct mysql_tracker *t)
{
	if (!t)
		return;
	libcalls__free(t->calls);
	hashmap__free(t->sent, sent_free);
	hashmap__free(t->stmts, free);
	free(t);
}

const char *mysql_errno_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ 1044, "ER_DBACCESS_DENIED_ERROR" },
		{ 1045, "ER_ACCESS_DENIED_ERROR" },
		{ 1046, "ER_NO_DB_ERROR" },
		{ 1054, "ER_BAD_FIELD_ERROR" },
		{ 1062, "ER_DUP_ENTRY" },
		{ 1064, "ER_PARSE_ERROR" },
		{ 1146, "ER_NO_SUCH_TABLE" },
		{ 1205, "ER_LOCK_WAIT_TIMEOUT" },
		{ 1213, "ER_LOCK_DEADLOCK" },
		{ 1243, "ER_UNKNOWN_STMT_HANDLER" },
		{ 1451, "ER_ROW_IS_REFERENCED_2" },
		{ 1452, "ER_NO_REFERENCED_ROW_2" },
		{ 2006, "CR_SERVER_GONE_ERROR" },
		{ 2013, "CR_SERVER_LOST" },
		{ 2014, "CR_COMMANDS_OUT_OF_SYNC" },
		{ 2030, "CR_NO_PREPARE_STMT" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return NULL;
}

/* The error of a failed call (ruling 3: never NULL): the library's message, else the
 * error number and its name, else "MySQL error". */
static char *error_text(const struct sc_call_ret_event *e)
{
	const char *name = mysql_errno_name((int)e->status);
	char *msg = libcall__ret_err(e);

	if (msg)
		return msg;
	if (e->status > 0 && asprintf(&msg, "MySQL error %lld%s%s", (long long)e->status,
				      name ? " " : "", name ? name : "") >= 0)
		return msg;
	return strdup("MySQL error");
}

void mysql_tracker__call(struct mysql_tracker *t, const struct sc_call_event *e)
{
	if (e->hdr.kind != SC_EV_CALL)
		return;
	if (e->func == SC_MY_STMT_CLOSE) {
		free(hashmap__del(t->stmts, hashmap_key2(e->hdr.pid, e->handle)));
		return;
	}
	libcalls__enter(t->calls, e);
}

/* Hands a finished query to the correlator (which takes its strings). */
static void finish(struct mysql_tracker *t, uint32_t pid, struct query *q)
{
	if (!q->sql) {
		query__free_strings(q);
		return;
	}
	correlator__query(t->corr, pid, q);
}

/* Remembers the SQL a successful mysql_stmt_prepare gave its statement. */
static void stmt_remember(struct mysql_tracker *t, const struct libcall *c, const struct query *q)
{
	size_t len = strlen(q->sql) + 1;
	struct my_stmt *s = malloc(sizeof(*s) + len);
	void *old = NULL;

	if (!s)
		return;
	s->pid = c->pid;
	s->truncated = q->truncated;
	memcpy(s->sql, q->sql, len);
	if (hashmap__set(t->stmts, hashmap_key2(c->pid, c->handle), s, &old))
		free(s);
	else
		free(old);
}

/* The query an entry starts: its SQL (a statement's remembered one for an execute), its
 * timing up to this return, its stack. */
static void query_of(struct mysql_tracker *t, const struct libcall *c,
		     const struct sc_call_ret_event *e, struct query *q)
{
	const struct my_stmt *s;

	q->db = DB_MYSQL;
	if (c->func == SC_MY_STMT_EXECUTE) {
		s = hashmap__get(t->stmts, hashmap_key2(c->pid, c->handle));
		q->sql = strdup(s ? s->sql : "EXECUTE (statement prepared before attach)");
		q->truncated = s && s->truncated;
	} else {
		q->sql = libcall__sql(c);
		q->truncated = c->full_len > c->len;
	}
	libcall__timing(q, c, e);
	libcall__stack(t->ps, t->corr, c, DB_MYSQL, &q->stack);
	if (e->rc)
		q->error = error_text(e);
}

/* mysql_send_query returned: the query waits for its read, unless the send failed. */
static void sent(struct mysql_tracker *t, const struct libcall *c,
		 const struct sc_call_ret_event *e)
{
	struct my_sent *s = calloc(1, sizeof(*s)), *old = NULL;

	if (!s)
		return;
	s->pid = c->pid;
	query_of(t, c, e, &s->q);
	if (e->rc || hashmap__set(t->sent, hashmap_key2(c->pid, c->handle), s, (void **)&old)) {
		finish(t, c->pid, &s->q);
		free(s);
		return;
	}
	if (old) /* sent again without a read: the first one ended unread */
		finish(t, old->pid, &old->q);
	free(old);
}

/* mysql_read_query_result returned: it ends the query sent on its connection. */
static void read_result(struct mysql_tracker *t, const struct libcall *c,
			const struct sc_call_ret_event *e)
{
	struct my_sent *s = hashmap__del(t->sent, hashmap_key2(c->pid, c->handle));
	uint64_t end = e->hdr.ts > c->start ? e->hdr.ts : c->start;

	if (!s)
		return; /* sent before we attached */
	s->q.busy_ns += end - c->start;
	s->q.end_ns = end > s->q.end_ns ? end : s->q.end_ns;
	if (e->rc && !s->q.error)
		s->q.error = error_text(e);
	finish(t, s->pid, &s->q);
	free(s);
}

void mysql_tracker__ret(struct mysql_tracker *t, const struct sc_call_ret_event *e)
{
	struct libcall *c = libcalls__leave(t->calls, e);
	struct query q = {};

	if (!c)
		return;
	switch (c->func) {
	case SC_MY_SEND_QUERY:
		sent(t, c, e);
		break;
	case SC_MY_READ_RESULT:
		read_result(t, c, e);
		break;
	case SC_MY_REAL_QUERY:
	case SC_MY_STMT_PREPARE:
	case SC_MY_STMT_EXECUTE:
		query_of(t, c, e, &q);
		if (c->func == SC_MY_STMT_PREPARE && !e->rc && q.sql)
			stmt_remember(t, c, &q);
		finish(t, c->pid, &q);
		break;
	}
	libcall__free(c);
}

static int sweep_sent(uint64_t key, void *val, void *ctx)
{
	struct my_sent *s = val;

	if (s->pid != *(uint32_t *)ctx)
		return 0;
	sent_free(s);
	return 1;
}

static int sweep_stmt(uint64_t key, void *val, void *ctx)
{
	struct my_stmt *s = val;

	if (s->pid != *(uint32_t *)ctx)
		return 0;
	free(s);
	return 1;
}

void mysql_tracker__proc_gone(struct mysql_tracker *t, uint32_t pid)
{
	if (!t)
		return;
	libcalls__proc_gone(t->calls, pid);
	hashmap__sweep(t->sent, sweep_sent, &pid);
	hashmap__sweep(t->stmts, sweep_stmt, &pid);
}
