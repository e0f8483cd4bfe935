/* PostgreSQL frontend/backend protocol v3: client messages into commands, replies into errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"
#include "pq.h"
#include "wire_pg_msg.h"

/* What a pending command's reply ends with. */
enum {
	PG_Q = 1, /* simple query: ReadyForQuery */
	PG_EXEC, /* Execute: CommandComplete, EmptyQueryResponse, PortalSuspended, ErrorResponse */
	PG_PARSE, /* a Parse on its own: ParseComplete or ErrorResponse */
};

#define WIRE_MAX_PORTALS 32

/* A Parse not yet known to be a command of its own (an Execute of its statement in the
 * same batch makes it part of that command instead). */
#define WIRE_PG_OPEN 8
struct wire_pg_open {
	struct wire_cmd cmd; /* held over to the next send: the message continues there */
	bool held;
	size_t idx; /* not held: its index in the caller's commands */
	uint32_t batch, zbefore;
	char *name; /* the statement's name */
};

/* A connection's PostgreSQL state (struct wire_conn's parser area). */
struct pg_conn {
	uint32_t batch; /* Sync batches and simple queries seen */
	uint32_t empty_z; /* command-less batches closed in this send, before the next command */
	bool batch_has_cmd;
	struct wire_pg_open open[WIRE_PG_OPEN];
	size_t nopen;
	struct wire_stmts portals;
	struct wire_stmts stmts; /* by name */
};

static struct pg_conn *pg_st(struct wire_conn *c)
{
	return wire_conn__state(c);
}

/* Removes pending entry k (0 = the newest) and returns its ReadyForQuery count, which
 * goes to the entry after it when hand_on. */
static uint32_t pend_remove(struct wire_conn *c, size_t k, bool hand_on)
{
	struct wire_pend *p;
	uint32_t z;
	size_t i;

	if (k >= c->npend)
		return 0;
	i = c->npend - 1 - k;
	p = &c->pend[i];
	z = p->zbefore;
	free(p->sql);
	if (hand_on && i + 1 < c->npend)
		p[1].zbefore += z;
	else if (hand_on)
		pg_st(c)->empty_z += z;
	memmove(p, p + 1, (c->npend - i - 1) * sizeof(*p));
	c->npend--;
	return z;
}

/* Appends a command of the given kind and batch, taking cmd's strings. Returns its index
 * in *cmds, or -ENOMEM (cmd is then cleared). */
static long pg_emit(struct wire_conn *c, struct wire_cmd *cmd, uint8_t kind, uint32_t batch,
		    uint32_t zbefore, struct wire_cmd **cmds, size_t *ncmds)
{
	struct wire_pend *p = wire__pend_push(c, kind, NULL);
	struct wire_cmd *d;

	if (!p) {
		wire_cmd__clear(cmd);
		return -ENOMEM;
	}
	p->batch = batch;
	p->zbefore = zbefore + pg_st(c)->empty_z;
	d = wire__cmd_push(cmds, ncmds);
	if (!d) {
		wire__pend_drop(c, c->npend - 1);
		wire_cmd__clear(cmd);
		return -ENOMEM;
	}
	pg_st(c)->empty_z = 0;
	pg_st(c)->batch_has_cmd = true;
	*d = *cmd;
	memset(cmd, 0, sizeof(*cmd));
	d->db = DB_POSTGRESQL;
	return (long)*ncmds - 1;
}

/* Forgets open Parse k; a held one's command is freed. */
static void open_forget(struct wire_conn *c, size_t k)
{
	wire_cmd__clear(&pg_st(c)->open[k].cmd);
	free(pg_st(c)->open[k].name);
	memmove(&pg_st(c)->open[k], &pg_st(c)->open[k + 1],
		(pg_st(c)->nopen - k - 1) * sizeof(pg_st(c)->open[0]));
	pg_st(c)->nopen--;
}

/* Takes open Parse k's command out of *cmds and the pending list: into the open entry
 * when hold (its statement may be executed in the next send), freed otherwise (an
 * Execute of its statement came: the Parse is part of that command). */
static void open_unemit(struct wire_conn *c, size_t k, bool hold, struct wire_cmd *cmds,
			size_t *ncmds)
{
	struct wire_pg_open *o = &pg_st(c)->open[k];
	size_t j, idx = o->idx;

	if (o->held) {
		if (!hold)
			pg_st(c)->empty_z += o->zbefore;
		return;
	}
	o->zbefore = pend_remove(c, *ncmds - 1 - idx, !hold);
	if (hold)
		o->cmd = cmds[idx];
	else
		wire_cmd__clear(&cmds[idx]);
	memmove(&cmds[idx], &cmds[idx + 1], (*ncmds - idx - 1) * sizeof(*cmds));
	(*ncmds)--;
	o->held = hold;
	for (j = 0; j < pg_st(c)->nopen; j++)
		if (!pg_st(c)->open[j].held && pg_st(c)->open[j].idx > idx)
			pg_st(c)->open[j].idx--;
}

/* Settles every open Parse: held ones become commands of the given kind, in-send ones
 * take that kind (PG_EXEC when what followed them was not seen). Returns 0 or -ENOMEM. */
static int open_settle(struct wire_conn *c, uint8_t kind, struct wire_cmd **cmds, size_t *ncmds)
{
	struct wire_pg_open *o;
	size_t k;
	long idx;
	int rc = 0;

	while (pg_st(c)->nopen) {
		o = &pg_st(c)->open[0];
		if (o->held && !rc) {
			idx = pg_emit(c, &o->cmd, kind, o->batch, o->zbefore, cmds, ncmds);
			rc = idx < 0 ? (int)idx : 0;
		} else if (!o->held && (k = *ncmds - 1 - o->idx) < c->npend) {
			c->pend[c->npend - 1 - k].kind = kind;
		}
		open_forget(c, 0);
	}
	return rc;
}

/* Drops the Parses held over from earlier sends. */
static void open_drop_all(struct wire_conn *c)
{
	while (pg_st(c)->nopen)
		open_forget(c, 0);
}

static void wire_pg__free(struct wire_conn *c)
{
	open_drop_all(c);
	wire_stmts__free(&pg_st(c)->stmts);
	wire_stmts__free(&pg_st(c)->portals);
}

/* Parse: remembers the statement, and makes the Parse a command of its own, open until
 * the batch ends (an Execute of the statement in the batch takes it back). Returns 0
 * or -ENOMEM. */
static int pg_on_parse(struct wire_conn *c, const struct pg_walk *w, const struct pg_msg *m,
		       const struct pg_fields *f, struct wire_cmd **cmds, size_t *ncmds)
{
	struct wire_cmd cmd = { 0 };
	struct wire_pg_open *o;
	bool trunc = !f->text_ok;
	char *name;
	long idx;

	if (!f->name_ok || !f->text)
		return 0;
	cmd.sql = wire__text(f->text, f->tlen, c->max_text, &trunc);
	if (!cmd.sql)
		return -ENOMEM;
	cmd.truncated = trunc;
	cmd.db = DB_POSTGRESQL;
	name = wire__text(f->name, f->nlen, f->nlen, NULL);
	if (!name || wire_stmts__put(&pg_st(c)->stmts, WIRE_MAX_STMTS, f->name, f->nlen, NULL,
				     cmd.sql, trunc)) {
		free(name);
		wire_cmd__clear(&cmd);
		return -ENOMEM;
	}
	if (m->end > w->full && pg_st(c)->nopen < WIRE_PG_OPEN) {
		/* the message goes on in the next send, and so may the batch */
		o = &pg_st(c)->open[pg_st(c)->nopen++];
		*o = (struct wire_pg_open){ .cmd = cmd,
					    .held = true,
					    .batch = pg_st(c)->batch,
					    .zbefore = pg_st(c)->empty_z,
					    .name = name };
		pg_st(c)->empty_z = 0;
		pg_st(c)->batch_has_cmd = true;
		return 0;
	}
	idx = pg_emit(c, &cmd, m->end > w->cap ? PG_EXEC : PG_PARSE, pg_st(c)->batch, 0, cmds,
		      ncmds);
	if (idx < 0 || m->end > w->cap || pg_st(c)->nopen == WIRE_PG_OPEN) {
		free(name);
		return idx < 0 ? (int)idx : 0;
	}
	pg_st(c)->open[pg_st(c)->nopen++] =
		(struct wire_pg_open){ .idx = (size_t)idx, .batch = pg_st(c)->batch, .name = name };
	return 0;
}

/* Execute: one command, whose text is the bound statement's. Open Parses of that
 * statement are part of it; Parses held from an earlier send are commands of their own
 * before it. Returns 0 or -ENOMEM. */
static int pg_on_execute(struct wire_conn *c, const struct pg_fields *f, struct wire_cmd **cmds,
			 size_t *ncmds)
{
	struct wire_stmt *p;
	struct wire_cmd cmd = { 0 };
	size_t k;
	long idx;

	if (!f->name_ok)
		return 0;
	p = wire_stmts__get(&pg_st(c)->portals, f->name, f->nlen);
	for (k = 0; p && p->stmt && k < pg_st(c)->nopen;) {
		if (!strcmp(pg_st(c)->open[k].name, p->stmt)) {
			open_unemit(c, k, false, *cmds, ncmds);
			open_forget(c, k);
		} else {
			k++;
		}
	}
	for (k = 0; k < pg_st(c)->nopen; k++) {
		if (!pg_st(c)->open[k].held)
			continue;
		idx = pg_emit(c, &pg_st(c)->open[k].cmd, PG_PARSE, pg_st(c)->open[k].batch,
			      pg_st(c)->open[k].zbefore, cmds, ncmds);
		if (idx < 0)
			return (int)idx;
		pg_st(c)->open[k].held = false;
		pg_st(c)->open[k].idx = (size_t)idx;
	}
	if (p && p->sql) {
		cmd.sql = strdup(p->sql);
		cmd.truncated = p->truncated;
	} else if (p) {
		cmd.sql = wire__named("EXECUTE ", p->stmt, strlen(p->stmt), c->max_text,
				      &cmd.truncated);
	} else {
		cmd.sql = wire__named("EXECUTE ", f->name, f->nlen, c->max_text, &cmd.truncated);
	}
	if (!cmd.sql)
		return -ENOMEM;
	idx = pg_emit(c, &cmd, PG_EXEC, pg_st(c)->batch, 0, cmds, ncmds);
	return idx < 0 ? (int)idx : 0;
}

/* Simple query: one command, its own batch. Returns 0 or -ENOMEM. */
static int pg_on_query(struct wire_conn *c, const struct pg_fields *f, struct wire_cmd **cmds,
		       size_t *ncmds)
{
	struct wire_cmd cmd = { .truncated = !f->text_ok };
	long idx;

	cmd.sql = wire__text(f->text, f->tlen, c->max_text, &cmd.truncated);
	if (!cmd.sql)
		return -ENOMEM;
	idx = pg_emit(c, &cmd, PG_Q, pg_st(c)->batch, 0, cmds, ncmds);
	pg_st(c)->batch++;
	pg_st(c)->batch_has_cmd = false;
	return idx < 0 ? (int)idx : 0;
}

/* Acts on one well-formed client message. Returns 0 or -ENOMEM. */
static int pg_act(struct wire_conn *c, const struct pg_walk *w, const struct pg_msg *m,
		  const struct pg_fields *f, struct wire_cmd **cmds, size_t *ncmds)
{
	struct wire_stmt *s;
	int rc;

	switch (m->type) {
	case 'Q':
		return pg_on_query(c, f, cmds, ncmds);
	case 'P':
		return pg_on_parse(c, w, m, f, cmds, ncmds);
	case 'E':
		return pg_on_execute(c, f, cmds, ncmds);
	case 'B':
		if (!f->name_ok || !f->text_ok)
			return 0;
		s = wire_stmts__get(&pg_st(c)->stmts, f->text, f->tlen);
		/* f->text is NUL-terminated in the capture */
		return wire_stmts__put(&pg_st(c)->portals, WIRE_MAX_PORTALS, f->name, f->nlen,
				       (const char *)f->text, s ? s->sql : NULL,
				       s && s->truncated) ?
			       -ENOMEM :
			       0;
	case 'C':
		if (f->name_ok)
			wire_stmts__del(f->what == 'S' ? &pg_st(c)->stmts : &pg_st(c)->portals,
					f->name, f->nlen);
		return 0;
	case 'S':
		rc = open_settle(c, PG_PARSE, cmds, ncmds);
		if (!pg_st(c)->batch_has_cmd)
			pg_st(c)->empty_z++;
		pg_st(c)->batch_has_cmd = false;
		pg_st(c)->batch++;
		return rc;
	default:
		return 0;
	}
}

/* After the last message framed: a message going on in the next send sets the skip and
 * holds the open Parses over (their Execute may come there); bytes left unseen settle
 * them as executed-or-not (PG_EXEC). Returns 0 or -ENOMEM. */
static int pg_end(struct wire_conn *c, const struct pg_walk *w, struct wire_cmd **cmds,
		  size_t *ncmds)
{
	size_t k;

	if (w->pos > w->full) {
		c->skip = w->pos - w->full;
		for (k = 0; k < pg_st(c)->nopen; k++)
			open_unemit(c, k, true, *cmds, ncmds);
		return 0;
	}
	return open_settle(c, w->lost || w->pos > w->cap ? PG_EXEC : PG_PARSE, cmds, ncmds);
}

/*
 * Checks the framing of the whole captured send first (nothing is learnt from a send
 * that holds anything a client does not send), then turns its messages into commands.
 * Returns the number of commands appended, or -ENOMEM.
 */
static int wire_pg__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
			   struct wire_cmd **cmds, size_t *ncmds)
{
	struct pg_walk w = { .buf = buf, .cap = cap, .full = full };
	size_t n0 = *ncmds;
	struct pg_fields f;
	struct pg_msg m;
	int rc = 0;

	pg_st(c)->empty_z = 0;
	if (pg_check(buf, cap, full) < 0) {
		open_drop_all(c);
		wire__lost(c);
		return 0;
	}
	while (!rc && pg_next(&w, &m) > 0) {
		pg_fields(&m, &f);
		rc = pg_act(c, &w, &m, &f, cmds, ncmds);
	}
	if (!rc)
		rc = pg_end(c, &w, cmds, ncmds);
	if (rc) {
		open_drop_all(c);
		wire__lost(c);
		return rc;
	}
	return (int)(*ncmds - n0);
}

/* Where the reply walk stands: the command answered next, and an extended-protocol
 * batch whose commands are done but whose ReadyForQuery is still due. */
struct pg_reply {
	struct wire_conn *c;
	size_t npending, i;
	struct wire_pend *p;
	uint32_t zleft;
	bool open;
	uint32_t open_batch;
};

static uint8_t reply_kind(const struct pg_reply *r)
{
	return r->p ? r->p->kind : PG_Q;
}

static void reply_next(struct pg_reply *r)
{
	r->i++;
	r->p = r->i < r->npending ? wire__pend_at(r->c, r->npending, r->i) : NULL;
	r->zleft = r->p ? r->p->zbefore : 0;
}

/* Finishes the current command and those after it in the same extended batch. */
static void reply_end_batch(struct pg_reply *r, uint32_t batch)
{
	while (r->i < r->npending && r->p && reply_kind(r) != PG_Q && r->p->batch == batch)
		reply_next(r);
}

/* ReadyForQuery: closes the batch of the commands finished last, else the current
 * command's (a simple query, or its extended batch whose results were not seen). */
static void reply_ready(struct pg_reply *r)
{
	if (r->open) {
		r->open = false;
		reply_end_batch(r, r->open_batch);
	} else if (r->zleft) {
		r->zleft--;
	} else if (reply_kind(r) == PG_Q || !r->p) {
		reply_next(r);
	} else {
		reply_end_batch(r, r->p->batch);
	}
}

/* Finishes an extended-protocol command; its batch's ReadyForQuery is still due. */
static void reply_done(struct pg_reply *r)
{
	if (r->p) {
		r->open = true;
		r->open_batch = r->p->batch;
	}
	reply_next(r);
}

/*
 * Walks the backend messages of the reply head, giving each pending command the first
 * ErrorResponse among its results. Stops at the capture's end or at bytes that are not a
 * backend message (the rest stay NULL). Returns 0 or -ENOMEM.
 */
static int wire_pg__server(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
			   char **errs)
{
	struct pg_reply r = { .c = c, .npending = npending };
	size_t pos = 0, avail;
	uint32_t len;
	uint8_t t;
	char *e;

	open_drop_all(c);
	r.p = wire__pend_at(c, npending, 0);
	r.zleft = r.p ? r.p->zbefore : 0;
	while (r.i < npending && cap - pos >= 5) {
		t = buf[pos];
		len = wire_be32(buf + pos + 1);
		if (!t || !strchr("RKSZTDCEINn12stAGHWdcVv3", t) || len < 4 || len >= PG_MAX_LEN)
			break;
		avail = cap - pos - 5 < len - 4 ? cap - pos - 5 : len - 4;
		if (t == 'E') {
			e = pg_error(buf + pos + 5, avail, c->max_text);
			if (!e)
				return -ENOMEM;
			if (errs[r.i])
				free(e);
			else
				errs[r.i] = e;
			if (reply_kind(&r) != PG_Q)
				reply_done(&r);
		} else if (t == 'Z') {
			reply_ready(&r);
		} else if ((t == 'C' || t == 'I' || t == 's') && reply_kind(&r) == PG_EXEC) {
			reply_done(&r);
		} else if (t == '1' && reply_kind(&r) == PG_PARSE) {
			reply_done(&r);
		}
		if (len - 4 > cap - pos - 5)
			break;
		pos += 1 + (size_t)len;
	}
	return 0;
}

/* True for a PostgreSQL typed client message header (5 bytes) or an untyped startup,
 * SSL/GSS encryption or cancel request (8 bytes). */
static bool guess_pg(const uint8_t *b, size_t n)
{
	uint32_t len, code;

	if (n >= 5 && b[0] && strchr("QPBEDSCHFXdcf", b[0])) {
		len = wire_be32(b + 1);
		if (len < 4 || len >= 1u << 30)
			return false;
		/* Sync, Flush, Terminate, CopyDone have no body; the others always do */
		return strchr("SHXc", b[0]) ? len == 4 : len >= 5;
	}
	if (n < 8)
		return false;
	len = wire_be32(b);
	code = wire_be32(b + 4);
	if (len == 8 && (code == 80877103 || code == 80877104))
		return true;
	if (len == 16 && code == 80877102)
		return true;
	return code == 196608 && len >= 8 && len < 10000;
}

static const char *const pg_aliases[] = { "postgres", "pg", NULL };

const struct wire_parser postgresql_wire_parser = {
	.proto = SC_CL_PG,
	.name = "postgresql",
	.aliases = pg_aliases,
	.port = 5432,
	.guess = guess_pg,
	.client = wire_pg__client,
	.server = wire_pg__server,
	.state_size = sizeof(struct pg_conn),
	.free = wire_pg__free,
};
