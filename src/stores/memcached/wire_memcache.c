/* memcached text protocol (classic and meta commands): lines into commands, replies into errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"
#include "memcached.h"

/* What a pending command's reply looks like. */
enum {
	MC_ONE = 1, /* one line: STORED, DELETED, a number, VERSION x... */
	MC_GET, /* VALUE lines with their data blocks, then END */
	MC_STATS, /* STAT lines, then END */
	MC_META, /* one meta line (VA with a data block, HD, EN...) */
	MC_QUIT, /* quit: not a command */
};

#define MC_MAX_BLOCK (1u << 30)
#define MC_KEY_MAX 250
#define MC_ANY 0xffff

/* A connection's memcached state (struct wire_conn's parser area). */
struct mc_conn {
	bool skip_line; /* the next send starts inside a command line */
};

static struct mc_conn *mc_st(struct wire_conn *c)
{
	return wire_conn__state(c);
}

struct mc_verb {
	const char *name;
	uint8_t reply;
	uint16_t min, max; /* tokens after the verb */
	int8_t bytes; /* the token giving the data block's length, -1 for none */
	int8_t key; /* the first key token, -1 for a keyless verb */
	bool multi; /* every token from key on is a key */
	bool meta; /* flags after the key (the data length for ms): "q" is noreply */
	uint8_t nums, signs; /* bit i: token i is a number (signed) */
};

static const struct mc_verb verbs[] = {
	{ "get", MC_GET, 1, MC_ANY, -1, 0, true, false, 0, 0 },
	{ "gets", MC_GET, 1, MC_ANY, -1, 0, true, false, 0, 0 },
	{ "gat", MC_GET, 2, MC_ANY, -1, 1, true, false, 0x1, 0x1 },
	{ "gats", MC_GET, 2, MC_ANY, -1, 1, true, false, 0x1, 0x1 },
	{ "set", MC_ONE, 4, 5, 3, 0, false, false, 0xe, 0x4 },
	{ "add", MC_ONE, 4, 5, 3, 0, false, false, 0xe, 0x4 },
	{ "replace", MC_ONE, 4, 5, 3, 0, false, false, 0xe, 0x4 },
	{ "append", MC_ONE, 4, 5, 3, 0, false, false, 0xe, 0x4 },
	{ "prepend", MC_ONE, 4, 5, 3, 0, false, false, 0xe, 0x4 },
	{ "cas", MC_ONE, 5, 6, 3, 0, false, false, 0x1e, 0x4 },
	{ "delete", MC_ONE, 1, 3, -1, 0, false, false, 0x2, 0 },
	{ "incr", MC_ONE, 2, 3, -1, 0, false, false, 0x2, 0 },
	{ "decr", MC_ONE, 2, 3, -1, 0, false, false, 0x2, 0 },
	{ "touch", MC_ONE, 2, 3, -1, 0, false, false, 0x2, 0x2 },
	{ "flush_all", MC_ONE, 0, 2, -1, -1, false, false, 0x1, 0 },
	{ "version", MC_ONE, 0, 0, -1, -1, false, false, 0, 0 },
	{ "stats", MC_STATS, 0, 3, -1, -1, false, false, 0, 0 },
	{ "verbosity", MC_ONE, 1, 2, -1, -1, false, false, 0x1, 0 },
	{ "mg", MC_META, 1, 64, -1, 0, false, true, 0, 0 },
	{ "ms", MC_META, 2, 64, 1, 0, false, true, 0x2, 0 },
	{ "md", MC_META, 1, 64, -1, 0, false, true, 0, 0 },
	{ "ma", MC_META, 1, 64, -1, 0, false, true, 0, 0 },
	{ "mn", MC_META, 0, 0, -1, -1, false, true, 0, 0 },
	{ "me", MC_META, 1, 1, -1, 0, false, true, 0, 0 },
	{ "quit", MC_QUIT, 0, 0, -1, -1, false, false, 0, 0 },
};

/* A command line split into space-separated tokens (the first few kept). */
#define MC_TOKS 8
struct mc_line {
	const uint8_t *s;
	size_t len; /* without "\r\n" */
	bool cut; /* the capture or the send ended inside the line */
	const struct mc_verb *v;
	size_t ntok; /* tokens after the verb */
	const uint8_t *tok[MC_TOKS];
	size_t tlen[MC_TOKS];
	const uint8_t *last; /* the last token */
	size_t last_len;
	bool quiet; /* noreply, or the meta flag q */
};

/* Finds the next token at s[*off..len); returns false at the end. */
static bool mc_tok(const uint8_t *s, size_t len, size_t *off, const uint8_t **t, size_t *tl)
{
	size_t i = *off;

	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return false;
	*t = s + i;
	while (i < len && s[i] != ' ')
		i++;
	*tl = (size_t)(s + i - *t);
	*off = i;
	return true;
}

/* True when the token is all digits (one leading '-' allowed when sign), at most 20. */
static bool mc_num(const uint8_t *t, size_t len, bool sign)
{
	size_t i = sign && len && t[0] == '-' ? 1 : 0;

	if (i == len || len > 20)
		return false;
	for (; i < len; i++)
		if (t[i] < '0' || t[i] > '9')
			return false;
	return true;
}

static bool mc_is(const uint8_t *t, size_t len, const char *w)
{
	return strlen(w) == len && !memcmp(t, w, len);
}

/* True when token i (of n, t/tl) fits verb v's syntax. */
static bool mc_tok_ok(const struct mc_verb *v, size_t i, size_t n, const uint8_t *t, size_t tl)
{
	bool key = v->key >= 0 && (i == (size_t)v->key || (v->multi && i > (size_t)v->key));

	if (key)
		return tl <= (v->meta ? 2 * MC_KEY_MAX : MC_KEY_MAX);
	if (i < 8 && (v->nums >> i & 1))
		return mc_num(t, tl, v->signs >> i & 1) ||
		       (!v->meta && i + 1 == n && i >= v->min && mc_is(t, tl, "noreply"));
	if (v->meta)
		return (t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z');
	return !mc_is(t, tl, "noreply") || i + 1 == n;
}

/* Whether the line asks for no reply: a last "noreply" after the key (classic), or a
 * flag "q" (meta). */
static bool mc_quiet(const struct mc_line *l, size_t off)
{
	const struct mc_verb *v = l->v;
	const uint8_t *t;
	size_t tl, i = 0;

	if (!v->meta)
		return v->reply == MC_ONE && l->ntok > (size_t)(v->key + 1) &&
		       mc_is(l->last, l->last_len, "noreply");
	while (mc_tok(l->s, l->len, &off, &t, &tl)) {
		if (i++ > (size_t)(v->bytes > 0 ? v->bytes : v->key) && mc_is(t, tl, "q"))
			return true;
	}
	return false;
}

/*
 * Splits and checks the line l->s[0..l->len): a known verb and tokens that fit it (the
 * last token of a cut line is not checked). Returns 0, 1 when a cut line stops inside
 * its verb, -1 for a line no client sends.
 */
static int mc_parse(struct mc_line *l)
{
	size_t off = 0, after, i, n = 0, tl;
	const uint8_t *t;

	for (i = 0; i < l->len; i++)
		if (l->s[i] < ' ' || l->s[i] == 0x7f)
			return -1;
	if (!mc_tok(l->s, l->len, &off, &t, &tl) || t != l->s)
		return -1;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && !l->v; i++)
		if (mc_is(t, tl, verbs[i].name))
			l->v = &verbs[i];
	if (!l->v)
		return l->cut && off == l->len ? 1 : -1;
	after = off;
	while (mc_tok(l->s, l->len, &off, &t, &tl)) {
		if (n < MC_TOKS) {
			l->tok[n] = t;
			l->tlen[n] = tl;
		}
		l->last = t;
		l->last_len = tl;
		n++;
		if (n > l->v->max)
			return -1;
	}
	l->ntok = n;
	if (!l->cut && n < l->v->min)
		return -1;
	off = after;
	for (i = 0; i < n && mc_tok(l->s, l->len, &off, &t, &tl); i++)
		if (!(l->cut && i + 1 == n) && !mc_tok_ok(l->v, i, n, t, tl))
			return -1;
	l->quiet = mc_quiet(l, after);
	return 0;
}

/* Appends the command of a parsed line: verb, key(s), the line as text. Returns 0 or
 * -ENOMEM. */
static int mc_emit(struct wire_conn *c, const struct mc_line *l, struct wire_cmd **cmds,
		   size_t *ncmds)
{
	const struct mc_verb *v = l->v;
	struct wire_pend *p;
	struct wire_cmd *d;
	const uint8_t *k0;
	size_t klen;

	p = wire__pend_push(c, v->reply, NULL);
	if (!p)
		return -ENOMEM;
	p->no_reply = l->quiet;
	d = wire__cmd_push(cmds, ncmds);
	if (!d) {
		wire__pend_drop(c, c->npend - 1);
		return -ENOMEM;
	}
	d->db = DB_MEMCACHE;
	d->no_reply = l->quiet;
	d->truncated = l->cut;
	/* a get of several keys is Scooby's (and libmemcached's mget's) get_multi */
	d->command = strdup(strcmp(v->name, "get") == 0 && l->ntok > 1 ? "get_multi" : v->name);
	d->sql = wire__text(l->s, l->len, c->max_text, &d->truncated);
	if (v->key >= 0 && l->ntok > (size_t)v->key) {
		k0 = l->tok[v->key];
		klen = v->multi ? (size_t)(l->last + l->last_len - k0) : l->tlen[v->key];
		d->key = wire__text(k0, klen, c->max_text, &d->truncated);
		if (!d->key)
			goto nomem;
	}
	if (d->command && d->sql)
		return 0;
nomem:
	wire__cmds_drop(*cmds, ncmds, *ncmds - 1);
	wire__pend_drop(c, c->npend - 1);
	return -ENOMEM;
}

/* After a storage line: its data block of the declared length and "\r\n". Returns 1
 * when it lies within the capture (*pos after it), 0 when it goes on past it (c->skip
 * set when it goes on into the next sends), -1 when its end is not "\r\n". */
static int mc_block(struct wire_conn *c, const struct mc_line *l, const uint8_t *buf, size_t cap,
		    size_t full, size_t *pos)
{
	const uint8_t *t = l->tok[l->v->bytes];
	size_t i, tl = l->tlen[l->v->bytes];
	uint64_t n = 0, end;

	for (i = 0; i < tl && i < 11; i++)
		n = n * 10 + (uint64_t)(t[i] - '0');
	if (tl > 10 || n > MC_MAX_BLOCK)
		return -1;
	end = *pos + n + 2;
	if (end <= cap) {
		if (buf[end - 2] != '\r' || buf[end - 1] != '\n')
			return -1;
		*pos = (size_t)end;
		return 1;
	}
	if (end > full)
		c->skip = end - full;
	return 0;
}

/* Frames the line at buf[pos..cap) into *l; returns the offset after it, or cap when
 * it is cut; -1 when a '\n' comes without its '\r'. */
static long mc_frame(const uint8_t *buf, size_t pos, size_t cap, struct mc_line *l)
{
	const uint8_t *nl = memchr(buf + pos, '\n', cap - pos);

	memset(l, 0, sizeof(*l));
	l->s = buf + pos;
	if (!nl) {
		l->len = cap - pos;
		if (l->len && l->s[l->len - 1] == '\r')
			l->len--;
		l->cut = true;
		return (long)cap;
	}
	if (nl == buf + pos || nl[-1] != '\r')
		return -1;
	l->len = (size_t)(nl - 1 - l->s);
	return nl + 1 - buf;
}

/*
 * Reads the command lines of one send (a pipeline holds several), skipping the data
 * blocks of storage commands. Any line no client sends voids the whole send. Returns
 * the number of commands appended, or -ENOMEM.
 */
static int wire_memcache__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
				 struct wire_cmd **cmds, size_t *ncmds)
{
	size_t pos = 0, n0 = *ncmds, p0 = c->npend;
	const uint8_t *nl;
	struct mc_line l;
	long next;
	int r = 0;

	if (mc_st(c)->skip_line) {
		mc_st(c)->skip_line = false;
		nl = cap ? memchr(buf, '\n', cap) : NULL;
		if (!nl) {
			mc_st(c)->skip_line = cap == full;
			return 0;
		}
		pos = (size_t)(nl + 1 - buf);
	}
	while (pos < cap) {
		next = mc_frame(buf, pos, cap, &l);
		if (next < 0 || (r = mc_parse(&l)) < 0)
			goto bad;
		if (!r && l.v->reply != MC_QUIT && mc_emit(c, &l, cmds, ncmds))
			return -ENOMEM;
		if (l.cut) {
			/* a line going on in the next send: skippable when no data block follows */
			mc_st(c)->skip_line = cap == full && (!l.v || l.v->bytes < 0);
			break;
		}
		pos = (size_t)next;
		if (l.v->bytes >= 0 && (r = mc_block(c, &l, buf, cap, full, &pos)) <= 0) {
			if (r < 0)
				goto bad;
			break;
		}
	}
	return (int)(*ncmds - n0);
bad:
	wire__cmds_drop(*cmds, ncmds, n0);
	wire__pend_drop(c, p0);
	wire__lost(c);
	return 0;
}

/* True for a reply line that reports an error. */
static bool mc_error_line(const uint8_t *s, size_t len)
{
	return (len >= 5 && !memcmp(s, "ERROR", 5) && (len == 5 || s[5] == ' ')) ||
	       (len >= 12 && !memcmp(s, "CLIENT_ERROR", 12)) ||
	       (len >= 12 && !memcmp(s, "SERVER_ERROR", 12));
}

/* True when the line starts with word w and then ends or has a space. */
static bool mc_word(const uint8_t *s, size_t len, const char *w)
{
	size_t wl = strlen(w);

	return len >= wl && !memcmp(s, w, wl) && (len == wl || s[wl] == ' ');
}

/* Returns the data block length a "VALUE key flags bytes [cas]" or "VA bytes flags*"
 * line announces (tok: the token holding it), -1 when the token is not a length. */
static long long mc_value_len(const uint8_t *s, size_t len, size_t tok)
{
	const uint8_t *t = NULL;
	size_t off = 0, tl = 0, i;
	long long n = 0;

	for (i = 0; i <= tok; i++)
		if (!mc_tok(s, len, &off, &t, &tl))
			return -1;
	if (!mc_num(t, tl, false) || tl > 10)
		return -1;
	for (i = 0; i < tl; i++)
		n = n * 10 + (t[i] - '0');
	return n > MC_MAX_BLOCK ? -1 : n;
}

/* One reply line for a command of the given kind: 1 when it ends the command's reply,
 * 0 when more lines follow, -1 when it cannot be part of that reply. *block is set to
 * the data block that follows the line (-1 for none). */
static int mc_reply_line(uint8_t kind, const uint8_t *s, size_t len, long long *block)
{
	static const char *const one[] = { "STORED",  "NOT_STORED", "EXISTS", "NOT_FOUND",
					   "DELETED", "TOUCHED",    "OK",     "RESET" };
	size_t i;

	*block = -1;
	if (kind == MC_GET || kind == MC_STATS) {
		if (mc_is(s, len, "END"))
			return 1;
		if (kind == MC_STATS)
			return mc_word(s, len, "STAT")			     ? 0 :
			       mc_is(s, len, "OK") || mc_is(s, len, "RESET") ? 1 :
									       -1;
		if (!mc_word(s, len, "VALUE"))
			return -1;
		*block = mc_value_len(s, len, 3);
		return *block < 0 ? -1 : 0;
	}
	if (kind == MC_META) {
		if (mc_word(s, len, "VA")) {
			*block = mc_value_len(s, len, 1);
			return *block < 0 ? -1 : 1;
		}
		return mc_word(s, len, "HD") || mc_word(s, len, "EN") || mc_word(s, len, "NF") ||
				       mc_word(s, len, "NS") || mc_word(s, len, "EX") ||
				       mc_word(s, len, "MN") || mc_word(s, len, "ME") ?
			       1 :
			       -1;
	}
	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if (mc_is(s, len, one[i]))
			return 1;
	return mc_num(s, len, false) || mc_word(s, len, "VERSION") ? 1 : -1;
}

/* Walks the reply lines of one command of the given kind from *pos. Returns 1 when its
 * reply ended within the capture (*pos after it), 0 when the walk must stop (the capture
 * ended, or a line does not fit), -ENOMEM. An error line sets *err. */
static int mc_reply(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t *pos, uint8_t kind,
		    char **err)
{
	const uint8_t *nl;
	long long block;
	size_t len;
	int r;

	for (r = 0; !r;) {
		if (*pos >= cap)
			return 0;
		nl = memchr(buf + *pos, '\n', cap - *pos);
		len = nl ? (size_t)(nl - (buf + *pos)) : cap - *pos;
		if (len && buf[*pos + len - 1] == '\r')
			len--;
		block = -1;
		if (mc_error_line(buf + *pos, len)) {
			*err = wire__text(buf + *pos, len, c->max_text, NULL);
			if (!*err)
				return -ENOMEM;
			r = 1;
		} else if (!nl || (r = mc_reply_line(kind, buf + *pos, len, &block)) < 0) {
			return 0;
		}
		if (!nl)
			return 0;
		*pos = (size_t)(nl + 1 - buf);
		if (block >= 0) {
			if ((uint64_t)block + 2 > cap - *pos)
				return 0;
			*pos += (size_t)block + 2;
		}
	}
	return 1;
}

/*
 * Walks the reply lines, command by command: an ERROR, CLIENT_ERROR or SERVER_ERROR line
 * is that command's error. Commands sent with noreply take no reply: when npending
 * leaves them out (as many as the commands expecting one), errs covers only the others;
 * else their errs stay NULL. Stops at the capture's end (an error line cut there is kept
 * as seen) or at a line that does not fit. Returns 0 or -ENOMEM.
 */
static int wire_memcache__server(struct wire_conn *c, const uint8_t *buf, size_t cap,
				 size_t npending, char **errs)
{
	size_t pos = 0, i, k, quiet = 0;
	struct wire_pend *p;
	bool excl;
	int r;

	for (k = 0; k < c->npend; k++)
		quiet += c->pend[k].no_reply;
	excl = quiet && npending == c->npend - quiet;
	for (i = 0, k = 0; i < npending; i++, k++) {
		if (excl) {
			while (c->pend[k].no_reply)
				k++;
			p = &c->pend[k];
		} else {
			p = wire__pend_at(c, npending, i);
			if (p && p->no_reply)
				continue;
		}
		r = mc_reply(c, buf, cap, &pos, p ? p->kind : MC_ONE, &errs[i]);
		if (r <= 0)
			return r;
	}
	return 0;
}

/* memcached verbs a client starts a line with (keep in step with the parser above). */
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

static void wire_memcache__lost(struct wire_conn *c)
{
	mc_st(c)->skip_line = false;
}

static const char *const memcache_aliases[] = { "memcache", NULL };

const struct wire_parser memcached_wire_parser = {
	.proto = SC_CL_MEMCACHE,
	.name = "memcached",
	.aliases = memcache_aliases,
	.port = 11211,
	.guess = guess_memcache,
	.client = wire_memcache__client,
	.server = wire_memcache__server,
	.state_size = sizeof(struct mc_conn),
	.lost = wire_memcache__lost,
};
