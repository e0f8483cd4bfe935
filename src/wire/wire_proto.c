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
	if (c->ops->lost)
		c->ops->lost(c);
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

/* Returns the parser of proto (enum sc_client), NULL when none speaks it. */
static const struct wire_parser *parser_of(uint32_t proto)
{
	const struct wire_parser *const *p;

	for (p = wire_parsers; *p; p++)
		if ((*p)->proto == proto)
			return *p;
	return NULL;
}

struct wire_conn *wire_conn__new(uint32_t proto, size_t max_text)
{
	const struct wire_parser *ops = parser_of(proto);
	struct wire_conn *c;

	if (!ops)
		return NULL;
	c = calloc(1, sizeof(*c) + ops->state_size);
	if (!c)
		return NULL;
	c->proto = proto;
	c->ops = ops;
	c->max_text = max_text ? max_text : WIRE_DEFAULT_TEXT;
	return c;
}

void wire_conn__free(struct wire_conn *c)
{
	if (!c)
		return;
	if (c->ops->free)
		c->ops->free(c);
	wire__pend_drop(c, 0);
	free(c->pend);
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
	return c->ops->client(c, buf, cap, full, cmds, ncmds);
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
	if (npending && (buf || !cap))
		rc = c->ops->server(c, buf, cap, npending, errs);
	wire__pend_drop(c, 0);
	if (rc < 0) {
		for (i = 0; i < npending; i++) {
			free(errs[i]);
			errs[i] = NULL;
		}
	}
	return rc;
}

/*
 * Looks at buf[0..7] only (fewer when len < 8), like the kernel side (wire_guess8 and
 * bpf/wire_NAME.bpf.h): each parser's guess in the registry's order, the first that
 * matches wins. Each guess says what it tests; HTTP request lines match none (a method's
 * letters make PostgreSQL's length >= 2^30 and MySQL's sequence byte a letter or ' ', and
 * no memcached verb is upper case).
 */
uint32_t wire_guess(const uint8_t *buf, size_t len)
{
	size_t n = len < 8 ? len : 8;

	const struct wire_parser *const *p;

	if (!buf)
		return SC_CL_NONE;
	for (p = wire_parsers; *p; p++)
		if ((*p)->guess(buf, n))
			return (*p)->proto;
	return SC_CL_NONE;
}

const char *wire_proto_name(uint32_t proto)
{
	const struct wire_parser *p = parser_of(proto);

	return p ? p->name : NULL;
}

/* Accepts the names wire_proto_name gives, any case, and each parser's aliases
 * ("postgres", "pg", "mariadb"...). */
uint32_t wire_proto_parse(const char *name)
{
	const struct wire_parser *const *p;
	const char *const *a;

	if (!name)
		return SC_CL_NONE;
	for (p = wire_parsers; *p; p++) {
		if (!strcasecmp(name, (*p)->name))
			return (*p)->proto;
		for (a = (*p)->aliases; a && *a; a++)
			if (!strcasecmp(name, *a))
				return (*p)->proto;
	}
	return SC_CL_NONE;
}
