/* PostgreSQL frontend/backend protocol v3: client messages into commands, replies into errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"
#include "pq.h"

/* What a pending command's reply ends with. */
enum {
	PG_Q = 1, /* simple query: ReadyForQuery */
	PG_EXEC, /* Execute: CommandComplete, EmptyQueryResponse, PortalSuspended, ErrorResponse */
	PG_PARSE, /* a Parse on its own: ParseComplete or ErrorResponse */
};

#define PG_MAX_LEN (1u << 30)
#define PG_CODE_SSL 80877103u
#define PG_CODE_GSS 80877104u
#define PG_CODE_CANCEL 80877102u

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

/* One message framed in a send: type 0 for an untyped startup-phase message. */
struct pg_msg {
	uint8_t type;
	const uint8_t *body;
	size_t blen; /* declared body length */
	size_t avail; /* body bytes within the capture */
	size_t end; /* offset of the next message in the send */
};

/* Framing over one send. */
struct pg_walk {
	const uint8_t *buf;
	size_t cap, full, pos;
	bool lost; /* the bytes after the last message framed were not seen */
};

/* Fields of a client message that the parser acts on. */
struct pg_fields {
	const uint8_t *name, *text; /* statement or portal name; SQL, or a Bind's statement */
	size_t nlen, tlen;
	bool name_ok, text_ok; /* NUL-terminated within the capture */
	uint8_t what; /* Describe/Close: 'S' or 'P' */
};

/* Reads the body of a message as declared, knowing only its first avail bytes. */
struct pg_cur {
	const uint8_t *p;
	size_t avail, blen, off;
};

/* Returns 1 with the next message of the send in *m, 0 when nothing more can be framed
 * (w->lost tells whether bytes were left unseen), -1 on a header no client sends. */
static int pg_next(struct pg_walk *w, struct pg_msg *m)
{
	const uint8_t *b;
	size_t left, hdr;
	uint32_t len, code;

	if (w->pos >= w->cap) {
		w->lost = w->pos < w->full;
		return 0;
	}
	b = w->buf + w->pos;
	left = w->cap - w->pos;
	if (!b[0]) {
		if (left < 8) {
			w->lost = true;
			return 0;
		}
		len = wire_be32(b);
		code = wire_be32(b + 4);
		if (!((len == 8 && (code == PG_CODE_SSL || code == PG_CODE_GSS)) ||
		      (len == 16 && code == PG_CODE_CANCEL) ||
		      ((code >> 16) == 3 && (code & 0xffff) < 16 && len > 8 && len < 10000)))
			return -1;
		hdr = 4;
	} else {
		if (!strchr("QPBEDSCHFXdcfp", b[0]))
			return -1;
		if (left < 5) {
			w->lost = true;
			return 0;
		}
		len = wire_be32(b + 1);
		if (len < 4 || len >= PG_MAX_LEN)
			return -1;
		hdr = 5;
	}
	m->type = b[0];
	m->body = b + hdr;
	m->blen = len - 4;
	m->avail = left - hdr < m->blen ? left - hdr : m->blen;
	m->end = w->pos + hdr + m->blen;
	w->pos = m->end;
	return 1;
}

/* Each reader returns 1 when the item lies within the capture, 0 when it starts or ends
 * past it, -1 when the declared body is too short for it. */
static int cur_skip(struct pg_cur *c, size_t n)
{
	if (n > c->blen - c->off)
		return -1;
	if (n > c->avail - c->off)
		return 0;
	c->off += n;
	return 1;
}

static int cur_int(struct pg_cur *c, size_t bytes, int32_t *v)
{
	const uint8_t *p = c->p + c->off;
	int r = cur_skip(c, bytes);

	if (r > 0)
		*v = bytes == 2 ? (int16_t)wire_be16(p) : (int32_t)wire_be32(p);
	return r;
}

/* A NUL-terminated string; *s and *len give its visible part even when it is cut. */
static int cur_str(struct pg_cur *c, const uint8_t **s, size_t *len)
{
	size_t vis = c->avail - c->off;
	const uint8_t *nul = memchr(c->p + c->off, 0, vis);

	*s = c->p + c->off;
	if (!nul) {
		*len = vis;
		return c->avail == c->blen ? -1 : 0;
	}
	*len = (size_t)(nul - *s);
	c->off += *len + 1;
	return 1;
}

/* Skips n items of 2 bytes (formats) or of an int32 length and its bytes (values). */
static int cur_items(struct pg_cur *c, int32_t n, bool values)
{
	int32_t i, vlen;
	int r;

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!values) {
			r = cur_skip(c, 2);
		} else if ((r = cur_int(c, 4, &vlen)) > 0) {
			if (vlen < -1)
				return -1;
			r = vlen > 0 ? cur_skip(c, (size_t)vlen) : 1;
		}
		if (r <= 0)
			return r;
	}
	return 1;
}

/* Bind: portal, statement, parameter formats, values, result formats. */
static int pg_bind(struct pg_cur *c, struct pg_fields *f)
{
	int32_t n;
	int r;

	if ((r = cur_str(c, &f->name, &f->nlen)) <= 0)
		return r;
	f->name_ok = true;
	if ((r = cur_str(c, &f->text, &f->tlen)) <= 0)
		return r;
	f->text_ok = true;
	if ((r = cur_int(c, 2, &n)) <= 0 || (r = cur_items(c, n, false)) <= 0)
		return r;
	if ((r = cur_int(c, 2, &n)) <= 0 || (r = cur_items(c, n, true)) <= 0)
		return r;
	if ((r = cur_int(c, 2, &n)) <= 0)
		return r;
	return cur_items(c, n, false);
}

/* Parse: statement name, query, parameter type OIDs. */
static int pg_parse_msg(struct pg_cur *c, struct pg_fields *f)
{
	int32_t n;
	int r;

	if ((r = cur_str(c, &f->name, &f->nlen)) <= 0)
		return r;
	f->name_ok = true;
	r = cur_str(c, &f->text, &f->tlen);
	if (r <= 0)
		return r;
	f->text_ok = true;
	if ((r = cur_int(c, 2, &n)) <= 0)
		return r;
	return n < 0 ? -1 : cur_skip(c, 4 * (size_t)n);
}

/* FunctionCall: OID, argument formats, arguments, result format. */
static int pg_fcall(struct pg_cur *c)
{
	int32_t v;
	int r;

	if ((r = cur_int(c, 4, &v)) <= 0 || (r = cur_int(c, 2, &v)) <= 0 ||
	    (r = cur_items(c, v, false)) <= 0 || (r = cur_int(c, 2, &v)) <= 0 ||
	    (r = cur_items(c, v, true)) <= 0)
		return r;
	return cur_skip(c, 2);
}

/*
 * Reads the fields of a client message. Returns 1 when the whole body was seen and is
 * well formed, 0 when what was seen is well formed but the body goes past the capture,
 * -1 when the body cannot be what a client sends.
 */
static int pg_fields(const struct pg_msg *m, struct pg_fields *f)
{
	struct pg_cur c = { .p = m->body, .avail = m->avail, .blen = m->blen };
	int32_t v;
	int r;

	memset(f, 0, sizeof(*f));
	switch (m->type) {
	case 'Q':
	case 'f':
		r = cur_str(&c, &f->text, &f->tlen);
		f->text_ok = r > 0;
		break;
	case 'P':
		r = pg_parse_msg(&c, f);
		break;
	case 'B':
		r = pg_bind(&c, f);
		break;
	case 'E':
		if ((r = cur_str(&c, &f->name, &f->nlen)) > 0) {
			f->name_ok = true;
			r = cur_int(&c, 4, &v);
		}
		break;
	case 'D':
	case 'C':
		if ((r = cur_skip(&c, 1)) > 0) {
			f->what = m->body[0];
			if (f->what != 'S' && f->what != 'P')
				return -1;
			r = cur_str(&c, &f->name, &f->nlen);
			f->name_ok = r > 0;
		}
		break;
	case 'F':
		r = pg_fcall(&c);
		break;
	case 'S':
	case 'H':
	case 'X':
	case 'c':
		return m->blen ? -1 : 1;
	default: /* untyped, CopyData, password: opaque */
		return m->avail == m->blen;
	}
	if (r > 0 && c.off != m->blen)
		return -1;
	return r;
}

/* Returns 0 when every message framed in the send is one a client sends, -1 else. */
static int pg_check(const uint8_t *buf, size_t cap, size_t full)
{
	struct pg_walk w = { .buf = buf, .cap = cap, .full = full };
	struct pg_fields f;
	struct pg_msg m;
	int r;

	while ((r = pg_next(&w, &m)) > 0)
		if (pg_fields(&m, &f) < 0)
			return -1;
	return r;
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

/* Returns "<severity>:  <message>" from an ErrorResponse body (n bytes seen), as libpq's
 * first line; NULL on ENOMEM. */
static char *pg_error(const uint8_t *b, size_t n, size_t max)
{
	const uint8_t *sev = NULL, *vsev = NULL, *msg = NULL, *nul;
	size_t i = 0, l, sl = 0, vl = 0, ml = 0;
	char *t, *out;

	while (i < n && b[i]) {
		uint8_t code = b[i++];

		nul = memchr(b + i, 0, n - i);
		l = nul ? (size_t)(nul - (b + i)) : n - i;
		if (code == 'S') {
			sev = b + i;
			sl = l;
		} else if (code == 'V') {
			vsev = b + i;
			vl = l;
		} else if (code == 'M') {
			msg = b + i;
			ml = l;
		}
		i += l + 1;
	}
	if (!sev && vsev) {
		sev = vsev;
		sl = vl;
	} else if (!sev) {
		sev = (const uint8_t *)"ERROR";
		sl = 5;
	}
	t = malloc(sl + 3 + ml + 1);
	if (!t)
		return NULL;
	memcpy(t, sev, sl);
	memcpy(t + sl, ":  ", 3);
	if (ml)
		memcpy(t + sl + 3, msg, ml);
	out = wire__text(t, sl + 3 + ml, max, NULL);
	free(t);
	return out;
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
