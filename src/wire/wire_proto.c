/* Wire protocol parsing shared by every store: connection state, dispatch, protocol guessing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"
#include "wire_int.h"

void wire_cmd__clear(struct wire_cmd *c)
{
	uint32_t i;

	if (!c)
		return;
	free(c->sql);
	free(c->command);
	free(c->key);
	for (i = 0; i < c->nargs; i++)
		free(c->args[i]);
	free(c->args);
	memset(c, 0, sizeof(*c));
}

void wire_cmd__to_query(struct wire_cmd *cmd, struct query *q)
{
	q->db = cmd->db;
	q->sql = cmd->sql;
	q->truncated = cmd->truncated;
	q->command = cmd->command;
	q->key = cmd->key;
	q->args = cmd->args;
	q->nargs = cmd->nargs;
	q->args_truncated = cmd->args_truncated;
	memset(cmd, 0, sizeof(*cmd));
}

char *wire__text(const void *s, size_t len, size_t max, bool *cut)
{
	size_t n = len, i;
	char *p;

	if (n > max) {
		n = utf8_cut(s, max);
		if (cut)
			*cut = true;
	}
	p = malloc(n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	for (i = 0; i < n; i++)
		if (!p[i])
			p[i] = '?';
	p[n] = '\0';
	return p;
}

char *wire__named(const char *prefix, const void *name, size_t len, size_t max, bool *cut)
{
	static const char unnamed[] = "(unnamed)";
	size_t pl = strlen(prefix);
	char *t, *p;

	if (!len) {
		name = unnamed;
		len = sizeof(unnamed) - 1;
	}
	t = malloc(pl + len);
	if (!t)
		return NULL;
	memcpy(t, prefix, pl);
	memcpy(t + pl, name, len);
	p = wire__text(t, pl + len, max, cut);
	free(t);
	return p;
}

struct wire_cmd *wire__cmd_push(struct wire_cmd **cmds, size_t *ncmds)
{
	struct wire_cmd *v = realloc(*cmds, (*ncmds + 1) * sizeof(*v));

	if (!v)
		return NULL;
	*cmds = v;
	memset(&v[*ncmds], 0, sizeof(*v));
	return &v[(*ncmds)++];
}

void wire__cmds_drop(struct wire_cmd *cmds, size_t *ncmds, size_t n0)
{
	while (*ncmds > n0)
		wire_cmd__clear(&cmds[--*ncmds]);
}

struct wire_pend *wire__pend_push(struct wire_conn *c, uint8_t kind, char *sql)
{
	struct wire_pend *p;
	size_t half = WIRE_PEND_MAX / 2, cap;

	/* most connections wait for one reply at a time: grow, do not start at the bound */
	if (c->npend == c->pend_cap && c->pend_cap < WIRE_PEND_MAX) {
		cap = c->pend_cap ? c->pend_cap * 2 : 8;
		p = realloc(c->pend, cap * sizeof(*c->pend));
		if (!p) {
			free(sql);
			return NULL;
		}
		c->pend = p;
		c->pend_cap = cap;
	}
	if (c->npend == WIRE_PEND_MAX) {
		/* replies are not being seen: the newest commands matter */
		for (size_t i = 0; i < half; i++)
			free(c->pend[i].sql);
		memmove(c->pend, c->pend + half, (c->npend - half) * sizeof(*c->pend));
		c->npend -= half;
	}
	p = &c->pend[c->npend++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->sql = sql;
	return p;
}

void wire__pend_drop(struct wire_conn *c, size_t n0)
{
	while (c->npend > n0) {
		c->npend--;
		free(c->pend[c->npend].sql);
		c->pend[c->npend].sql = NULL;
	}
}

struct wire_pend *wire__pend_at(struct wire_conn *c, size_t npending, size_t i)
{
	size_t off = c->npend > npending ? c->npend - npending : 0;

	return off + i < c->npend ? &c->pend[off + i] : NULL;
}

void wire__lost(struct wire_conn *c)
{
	c->skip = 0;
	c->bulks_left = 0;
	c->skip_line = false;
}

struct wire_stmt *wire_stmts__get(struct wire_stmts *m, const void *name, size_t len)
{
	size_t i;

	for (i = m->n; i-- > 0;)
		if (strlen(m->v[i].name) == len && !memcmp(m->v[i].name, name, len))
			return &m->v[i];
	return NULL;
}

static void stmt__free(struct wire_stmt *s)
{
	free(s->name);
	free(s->stmt);
	free(s->sql);
}

void wire_stmts__del(struct wire_stmts *m, const void *name, size_t len)
{
	struct wire_stmt *s = wire_stmts__get(m, name, len);

	if (!s)
		return;
	stmt__free(s);
	memmove(s, s + 1, (size_t)(&m->v[m->n] - (s + 1)) * sizeof(*s));
	m->n--;
}

int wire_stmts__put(struct wire_stmts *m, size_t max, const void *name, size_t len,
		    const char *stmt, const char *sql, bool truncated)
{
	struct wire_stmt e = { .truncated = truncated };

	e.name = wire__text(name, len, len, NULL);
	e.stmt = stmt ? strdup(stmt) : NULL;
	e.sql = sql ? strdup(sql) : NULL;
	if (!e.name || (stmt && !e.stmt) || (sql && !e.sql) ||
	    (!m->v && !(m->v = calloc(max, sizeof(*m->v))))) {
		stmt__free(&e);
		return -ENOMEM;
	}
	wire_stmts__del(m, name, len);
	if (m->n == max) {
		stmt__free(&m->v[0]);
		memmove(m->v, m->v + 1, (m->n - 1) * sizeof(*m->v));
		m->n--;
	}
	m->v[m->n++] = e;
	return 0;
}

void wire_stmts__free(struct wire_stmts *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		stmt__free(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

struct wire_conn *wire_conn__new(uint32_t proto, size_t max_text)
{
	struct wire_conn *c;

	if (proto != SC_CL_PG && proto != SC_CL_MYSQL && proto != SC_CL_REDIS &&
	    proto != SC_CL_MEMCACHE)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->proto = proto;
	c->max_text = max_text ? max_text : WIRE_DEFAULT_TEXT;
	return c;
}

void wire_conn__free(struct wire_conn *c)
{
	if (!c)
		return;
	wire_pg__free(c);
	wire__pend_drop(c, 0);
	free(c->pend);
	wire_stmts__free(&c->stmts);
	wire_stmts__free(&c->portals);
	free(c->last_prep);
	free(c);
}

/*
 * Consumes what the previous sends said continues into this one, then hands the rest
 * to the protocol's parser. Returns the number of commands appended, or -ENOMEM.
 */
int wire_conn__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
		      struct wire_cmd **cmds, size_t *ncmds)
{
	size_t start = 0;

	if (!c || !cmds || !ncmds || (!buf && cap))
		return 0;
	if (cap > full)
		cap = full;
	if (c->skip) {
		if (c->skip >= full) {
			c->skip -= full;
			return 0;
		}
		start = c->skip;
		c->skip = 0;
		if (start >= cap) {
			/* what follows the continuation was not captured */
			wire__lost(c);
			return 0;
		}
	}
	if (start)
		buf += start;
	cap -= start;
	full -= start;
	switch (c->proto) {
	case SC_CL_PG:
		return wire_pg__client(c, buf, cap, full, cmds, ncmds);
	case SC_CL_MYSQL:
		return wire_mysql__client(c, buf, cap, full, cmds, ncmds);
	case SC_CL_REDIS:
		return wire_redis__client(c, buf, cap, full, cmds, ncmds);
	default:
		return wire_memcache__client(c, buf, cap, full, cmds, ncmds);
	}
}

/*
 * Sets every errs[i] (NULL, or an error text), then forgets the pending commands: the
 * next sends start a new round. Returns 0, or -ENOMEM with every errs[i] NULL.
 */
int wire_conn__server(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
		      char **errs)
{
	size_t i;
	int rc = 0;

	if (!c || !errs)
		return 0;
	for (i = 0; i < npending; i++)
		errs[i] = NULL;
	if (npending && (buf || !cap)) {
		switch (c->proto) {
		case SC_CL_PG:
			rc = wire_pg__server(c, buf, cap, npending, errs);
			break;
		case SC_CL_MYSQL:
			rc = wire_mysql__server(c, buf, cap, npending, errs);
			break;
		case SC_CL_REDIS:
			rc = wire_redis__server(c, buf, cap, npending, errs);
			break;
		default:
			rc = wire_memcache__server(c, buf, cap, npending, errs);
		}
	}
	wire__pend_drop(c, 0);
	if (rc < 0) {
		for (i = 0; i < npending; i++) {
			free(errs[i]);
			errs[i] = NULL;
		}
	}
	return rc;
}

/* memcached verbs a client starts a line with (keep in step with wire_memcache.c). */
static const char *const mc_verbs[] = {
	"get",	   "gets",	"gat",	  "gats", "set",  "add",   "replace",	"append",
	"prepend", "cas",	"delete", "incr", "decr", "touch", "flush_all", "version",
	"stats",   "verbosity", "mg",	  "ms",	  "md",	  "ma",	   "mn",	"me",
};

/* True when the first 8 bytes of b (n of them present) are a memcached verb and then ' '
 * or '\r'; a verb of 8 letters or more is matched on its first 8. */
static bool guess_memcache(const uint8_t *b, size_t n)
{
	size_t i, vl;

	for (i = 0; i < sizeof(mc_verbs) / sizeof(mc_verbs[0]); i++) {
		vl = strlen(mc_verbs[i]);
		if (vl >= 8) {
			if (n >= 8 && !memcmp(b, mc_verbs[i], 8))
				return true;
		} else if (n > vl && !memcmp(b, mc_verbs[i], vl) &&
			   (b[vl] == ' ' || b[vl] == '\r')) {
			return true;
		}
	}
	return false;
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

/* True for a MySQL command packet header: length >= 1, sequence 0, a command byte that
 * starts a conversation (quit, init db, query, ping, statement prepare, execute, send
 * long data, close, reset, reset connection). */
static bool guess_mysql(const uint8_t *b, size_t n)
{
	static const uint8_t cmds[] = {
		0x01, 0x02, 0x03, 0x0e, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1f
	};

	return n >= 5 && wire_le24(b) >= 1 && b[3] == 0 && memchr(cmds, b[4], sizeof(cmds));
}

/*
 * Looks at buf[0..7] only (fewer when len < 8), like the kernel side:
 *   RESP        b0 '*', b1 a digit
 *   PostgreSQL  b0 in "QPBEDSCHFXdcf" and BE32(b1..b4) in [4, 2^30): 4 for S H X c, >= 5 else;
 *               or BE32(b0..b3) = len, BE32(b4..b7) = code: SSLRequest/GSSENCRequest (len 8,
 *               code 80877103/80877104), CancelRequest (len 16, code 80877102), startup
 *               (code 196608, len in [8, 10000))
 *   MySQL       LE24(b0..b2) >= 1, b3 == 0, b4 in {01 02 03 0e 16 17 18 19 1a 1f}
 *   memcached   a lower-case verb then ' ' or '\r' (the first 8 bytes of longer verbs)
 * HTTP request lines match none: their method's letters make the PostgreSQL length
 * >= 2^30, the MySQL sequence byte a letter or ' ', and no verb is upper case.
 */
uint32_t wire_guess(const uint8_t *buf, size_t len)
{
	size_t n = len < 8 ? len : 8;

	if (!buf)
		return SC_CL_NONE;
	if (n >= 2 && buf[0] == '*' && buf[1] >= '0' && buf[1] <= '9')
		return SC_CL_REDIS;
	if (guess_pg(buf, n))
		return SC_CL_PG;
	if (guess_mysql(buf, n))
		return SC_CL_MYSQL;
	if (guess_memcache(buf, n))
		return SC_CL_MEMCACHE;
	return SC_CL_NONE;
}

static const struct {
	const char *name;
	uint32_t proto;
} proto_names[] = {
	{ "postgresql", SC_CL_PG },	 { "mysql", SC_CL_MYSQL },	 { "redis", SC_CL_REDIS },
	{ "memcached", SC_CL_MEMCACHE }, { "postgres", SC_CL_PG },	 { "pg", SC_CL_PG },
	{ "mariadb", SC_CL_MYSQL },	 { "memcache", SC_CL_MEMCACHE },
};

const char *wire_proto_name(uint32_t proto)
{
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	return NULL;
}

/* Accepts the four names wire_proto_name gives, any case, and the aliases "postgres",
 * "pg", "mariadb", "memcache". */
uint32_t wire_proto_parse(const char *name)
{
	size_t i;

	if (!name)
		return SC_CL_NONE;
	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (!strcasecmp(name, proto_names[i].name))
			return proto_names[i].proto;
	return SC_CL_NONE;
}
