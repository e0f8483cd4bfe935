/* Wire capture events -> queries: per connection, commands sent wait for the reply's first bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "wire.h"
#include "wire_proto.h"

/* Connections whose protocol state is kept */
static struct hashmap_table wire_conns = HASHMAP_TABLE("wire connections", 1024, 65536);

/* One connection of a traced process to a data store. */
struct conn {
	uint32_t pid, fd;
	uint32_t proto;
	struct wire_conn *parser;
	struct query *p; /* commands sent, waiting for their reply, oldest first */
	size_t n, cap;
};

struct wire_tracker {
	struct correlator *corr;
	struct pystack *ps;
	size_t max_text;
	struct hashmap *conns; /* pid << 32 | fd -> struct conn */
};

static uint64_t conn_key(uint32_t pid, uint32_t fd)
{
	return (uint64_t)pid << 32 | fd;
}

/* Hands a finished query to the correlator (which takes its strings). */
static void finish(struct wire_tracker *t, uint32_t pid, struct query *q, uint64_t end, char *error)
{
	q->end_ns = end > q->start_ns ? end : q->start_ns;
	q->busy_ns = q->end_ns - q->start_ns;
	if (error) {
		free(q->error);
		q->error = error;
	}
	correlator__query(t->corr, pid, q);
}

/* Ends every command of c still waiting, with error text msg (NULL: none). */
static void conn_flush(struct wire_tracker *t, struct conn *c, uint64_t ts, const char *msg)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		finish(t, c->pid, &c->p[i], ts, msg ? strdup(msg) : NULL);
	c->n = 0;
}

static void conn_free(struct conn *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		query__free_strings(&c->p[i]);
	free(c->p);
	wire_conn__free(c->parser);
	free(c);
}

struct wire_tracker *wire_tracker__new(struct correlator *c, struct pystack *ps, size_t max_text)
{
	struct wire_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->max_text = max_text;
	t->conns = hashmap__new_in(&wire_conns);
	if (!t->conns) {
		free(t);
		return NULL;
	}
	return t;
}

static int flush_all(uint64_t key, void *val, void *ctx)
{
	struct wire_tracker *t = ctx;
	struct conn *c = val;

	conn_flush(t, c, c->n ? c->p[c->n - 1].start_ns : 0, "no reply seen (tracing stopped)");
	conn_free(c);
	return 1;
}

void wire_tracker__free(struct wire_tracker *t)
{
	if (!t)
		return;
	hashmap__sweep(t->conns, flush_all, t);
	hashmap__free(t->conns, NULL);
	free(t);
}

/* Returns the connection state for e's (pid, fd) speaking e->proto, made anew when the
 * protocol changed (the fd was reused); NULL on ENOMEM. */
static struct conn *conn_get(struct wire_tracker *t, const struct sc_wire_event *e)
{
	uint64_t key = conn_key(e->hdr.pid, e->fd);
	struct conn *c = hashmap__get(t->conns, key);

	if (c && c->proto == e->proto)
		return c;
	if (c) {
		hashmap__del(t->conns, key);
		conn_flush(t, c, e->hdr.ts, "connection reused for another protocol");
		conn_free(c);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->pid = e->hdr.pid;
	c->fd = e->fd;
	c->proto = e->proto;
	c->parser = wire_conn__new(e->proto, t->max_text);
	if (!c->parser || hashmap__set(t->conns, key, c, NULL)) {
		conn_free(c);
		return NULL;
	}
	return c;
}

/* Moves a parsed command into a query started at start on tid. */
static void cmd_to_query(struct wire_cmd *cmd, struct query *q, uint32_t tid, uint64_t start)
{
	memset(q, 0, sizeof(*q));
	wire_cmd__to_query(cmd, q);
	q->wire = true;
	q->tid = tid;
	q->start_ns = start;
}

/* Queues q on c (taking it); a full queue publishes its oldest first. -ENOMEM. */
static int conn_push(struct wire_tracker *t, struct conn *c, struct query *q, uint64_t now)
{
	struct query *np;
	size_t cap;

	if (c->n == WIRE_MAX_PENDING) {
		finish(t, c->pid, &c->p[0], now, strdup("no reply seen"));
		memmove(c->p, c->p + 1, --c->n * sizeof(*c->p));
	}
	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 4;
		np = realloc(c->p, cap * sizeof(*np));
		if (!np) {
			query__free_strings(q);
			return -ENOMEM;
		}
		c->p = np;
		c->cap = cap;
	}
	c->p[c->n++] = *q;
	return 0;
}

void wire_tracker__out(struct wire_tracker *t, const struct sc_wire_event *e)
{
	struct wire_cmd *cmds = NULL;
	struct stack st = {};
	struct query q;
	size_t ncmds = 0, i;
	struct conn *c;

	c = conn_get(t, e);
	if (c)
		wire_conn__client(c->parser, (const uint8_t *)e->data, e->cap_len, e->len, &cmds,
				  &ncmds);
	if (ncmds && t->ps && correlator__keeps(t->corr, e->hdr.pid, e->hdr.tid, cmds[0].db))
		pystack__take(t->ps, e->hdr.pid, e->hdr.tid, e->t_start, &st);
	else if (t->ps)
		pystack__drop(t->ps, e->hdr.tid, e->t_start);
	for (i = 0; i < ncmds; i++) {
		bool no_reply = cmds[i].no_reply;

		cmd_to_query(&cmds[i], &q, e->hdr.tid, e->t_start);
		/* a pipeline's commands share the stack of the send that carried them */
		if (i + 1 < ncmds)
			stack__copy(&q.stack, &st);
		else
			q.stack = st;
		if (no_reply)
			finish(t, c->pid, &q, e->hdr.ts, NULL);
		else
			conn_push(t, c, &q, e->hdr.ts);
	}
	if (!ncmds)
		stack__clear(&st);
	free(cmds);
}

void wire_tracker__in(struct wire_tracker *t, const struct sc_wire_event *e)
{
	struct conn *c = hashmap__get(t->conns, conn_key(e->hdr.pid, e->fd));
	char **errs;
	size_t i;

	if (!c || !c->n)
		return; /* a reply to nothing we saw sent (a handshake, a continuation) */
	errs = calloc(c->n, sizeof(*errs));
	if (errs)
		wire_conn__server(c->parser, (const uint8_t *)e->data, e->cap_len, c->n, errs);
	for (i = 0; i < c->n; i++)
		finish(t, c->pid, &c->p[i], e->hdr.ts, errs ? errs[i] : NULL);
	c->n = 0;
	free(errs);
}

void wire_tracker__close(struct wire_tracker *t, uint32_t pid, uint32_t fd, uint64_t ts)
{
	struct conn *c = hashmap__del(t->conns, conn_key(pid, fd));

	if (!c)
		return;
	conn_flush(t, c, ts, "connection closed before a reply");
	conn_free(c);
}

struct gone_ctx {
	struct wire_tracker *t;
	uint32_t pid;
	uint64_t ts;
};

static int sweep_pid(uint64_t key, void *val, void *ctx)
{
	struct gone_ctx *g = ctx;
	struct conn *c = val;

	if (c->pid != g->pid)
		return 0;
	conn_flush(g->t, c, g->ts, "process exited before a reply");
	conn_free(c);
	return 1;
}

void wire_tracker__proc_gone(struct wire_tracker *t, uint32_t pid, uint64_t ts)
{
	struct gone_ctx g = { t, pid, ts };

	hashmap__sweep(t->conns, sweep_pid, &g);
}

void wire_tracker__log(struct wire_tracker *t, const struct sc_wire_event *e)
{
	struct log_entry l = { .ts = e->t_start, .tid = e->hdr.tid, .fd = e->fd };
	size_t n = e->cap_len;

	/* one line per write: the newline that ends it is not part of the text */
	while (n && (e->data[n - 1] == '\n' || e->data[n - 1] == '\r'))
		n--;
	if (!n && e->len == e->cap_len) {
		/* a bare newline (print() can write it on its own): nothing to show */
		if (t->ps)
			pystack__drop(t->ps, e->hdr.tid, e->t_start);
		return;
	}
	l.s = strndup(e->data, n);
	l.truncated = e->len > e->cap_len;
	if (t->ps && l.s)
		pystack__take(t->ps, e->hdr.pid, e->hdr.tid, e->t_start, &l.stack);
	else if (t->ps)
		pystack__drop(t->ps, e->hdr.tid, e->t_start);
	if (!l.s)
		return;
	correlator__log(t->corr, e->hdr.pid, &l);
}
