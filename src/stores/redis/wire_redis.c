/* RESP (Redis) requests into commands, one per array or inline line; replies into errors. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire/wire_int.h"
#include "hiredis.h"

#define RESP_MAX_BULK (512LL << 20) /* proto-max-bulk-len's default */
#define RESP_MAX_COUNT 0x7fffffffLL
#define RESP_NAME_MAX 64 /* longest command name taken for one */
#define INLINE_MAX 1024 /* longest inline command line taken for one */
#define MASK "***"

/* A connection's RESP state (struct wire_conn's parser area). */
struct resp_conn {
	uint32_t bulks_left; /* bulk strings of an array still due after the skip */
};

static struct resp_conn *resp_st(struct wire_conn *c)
{
	return wire_conn__state(c);
}

/* One argument as seen: its visible bytes, cut when the capture ended inside it. */
struct resp_arg {
	const uint8_t *s;
	size_t len;
	bool cut;
};

/* The first arguments of one request (command, key, QUERY_MAX_ARGS more). */
struct resp_req {
	struct resp_arg a[2 + QUERY_MAX_ARGS];
	size_t n; /* arguments kept in a[] */
	uint64_t total; /* arguments the request declares */
	bool cut; /* the capture ended inside the request */
};

/* Commands whose second argument is not a key. */
static const char *const keyless[] = {
	"PING",	    "AUTH",	"HELLO",	"SELECT",     "ECHO",	  "INFO",      "DBSIZE",
	"FLUSHDB",  "FLUSHALL", "MULTI",	"EXEC",	      "DISCARD",  "QUIT",      "CLIENT",
	"CONFIG",   "COMMAND",	"SCRIPT",	"TIME",	      "LASTSAVE", "SAVE",      "BGSAVE",
	"SHUTDOWN", "SLAVEOF",	"REPLICAOF",	"ROLE",	      "READONLY", "READWRITE", "WAIT",
	"EVAL",	    "EVALSHA",	"EVAL_RO",	"EVALSHA_RO", "OBJECT",	  "MEMORY",    "DEBUG",
	"SWAPDB",   "LATENCY",	"SLOWLOG",	"ACL",	      "MODULE",	  "FUNCTION",  "FCALL",
	"FCALL_RO", "CLUSTER",	"BGREWRITEAOF", "RESET",      "MONITOR",  "PUBSUB",    "RANDOMKEY",
	"SCAN",	    "UNWATCH",	"WAITAOF",	"FAILOVER",   "SYNC",	  "PSYNC",     "REPLCONF",
};

/*
 * Reads "<lead><integer>\r\n" at b[pos..cap). Returns 1 with *v and *next (the offset
 * after the line), 0 when the capture ends inside what could be such a line, -1 when it
 * is not one or the integer is outside [-1 if neg_ok else 0, max].
 */
static int resp_num(const uint8_t *b, size_t pos, size_t cap, uint8_t lead, bool neg_ok,
		    long long max, long long *v, size_t *next)
{
	size_t i = pos + 1, digits = 0;
	bool neg = false;
	long long n = 0;

	if (pos >= cap)
		return 0;
	if (b[pos] != lead)
		return -1;
	if (i < cap && b[i] == '-' && neg_ok) {
		neg = true;
		i++;
	}
	for (; i < cap && b[i] >= '0' && b[i] <= '9'; i++) {
		if (++digits > 10)
			return -1;
		n = n * 10 + (b[i] - '0');
	}
	if (i == cap)
		return 0;
	if (!digits || b[i] != '\r' || (neg && n != 1) || n > max)
		return -1;
	if (i + 1 == cap)
		return 0;
	if (b[i + 1] != '\n')
		return -1;
	*v = neg ? -n : n;
	*next = i + 2;
	return 1;
}

/*
 * Reads n bulk strings at b[*pos..cap), keeping the first ones in r (NULL: a
 * continuation, nothing kept). Returns 1 when all were within the capture (*pos after
 * them), 0 when the capture or the send ended inside them (c->skip and resp_st(c)->bulks_left
 * then say what the next sends carry, when the declared lengths tell), -1 on garbage.
 */
static int resp_bulks(struct wire_conn *c, const uint8_t *b, size_t cap, size_t full, size_t *pos,
		      uint64_t n, struct resp_req *r)
{
	size_t p = *pos, next, vis;
	long long len;
	uint64_t i, end;
	int rc;

	for (i = 0; i < n; i++) {
		rc = resp_num(b, p, cap, '$', false, RESP_MAX_BULK, &len, &next);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			/* a header not seen: known only when the send ended right before it */
			if (p == cap && cap == full)
				resp_st(c)->bulks_left = (uint32_t)(n - i);
			if (r)
				r->cut = true;
			return 0;
		}
		p = next;
		vis = cap - p < (size_t)len ? cap - p : (size_t)len;
		if (r && r->n < sizeof(r->a) / sizeof(r->a[0]))
			r->a[r->n++] = (struct resp_arg){ b + p, vis, vis < (size_t)len };
		end = p + (uint64_t)len + 2;
		if (end <= cap) {
			if (b[p + len] != '\r' || b[p + len + 1] != '\n')
				return -1;
			p = (size_t)end;
			continue;
		}
		if (p + len < cap && b[p + len] != '\r')
			return -1;
		if (r && (vis < (size_t)len || i + 1 < n))
			r->cut = true;
		if (end > full) {
			c->skip = end - full;
			resp_st(c)->bulks_left = (uint32_t)(n - i - 1);
		}
		return 0;
	}
	*pos = p;
	return 1;
}

/* A request array: "*<n>\r\n" and n bulk strings. Returns as resp_bulks. */
static int resp_array(struct wire_conn *c, const uint8_t *b, size_t cap, size_t full, size_t *pos,
		      struct resp_req *r)
{
	long long n;
	size_t next;
	int rc = resp_num(b, *pos, cap, '*', false, RESP_MAX_COUNT, &n, &next);

	if (rc <= 0)
		return rc;
	if (n < 1)
		return -1;
	r->total = (uint64_t)n;
	*pos = next;
	return resp_bulks(c, b, cap, full, pos, (uint64_t)n, r);
}

/* An inline command: a short line of space-separated words, the first all letters.
 * Returns 1 with the words in r (*pos after the line), 0 when the line goes past the
 * capture, -1 when it is not such a line. */
static int resp_inline(const uint8_t *b, size_t cap, size_t *pos, struct resp_req *r)
{
	size_t i = *pos, end, w;

	for (end = i; end < cap && b[end] != '\r'; end++) {
		if (end - i >= INLINE_MAX || ((b[end] < ' ' && b[end] != '\t') || b[end] > '~'))
			return -1;
	}
	if (end + 1 >= cap)
		return end - i < INLINE_MAX ? 0 : -1;
	if (b[end + 1] != '\n')
		return -1;
	while (i < end) {
		while (i < end && (b[i] == ' ' || b[i] == '\t'))
			i++;
		for (w = i; i < end && b[i] != ' ' && b[i] != '\t'; i++)
			if (!r->total && !isalpha(b[i]))
				return -1;
		if (i == w)
			break;
		if (r->n < sizeof(r->a) / sizeof(r->a[0]))
			r->a[r->n++] = (struct resp_arg){ b + w, i - w, false };
		r->total++;
	}
	if (!r->total)
		return -1;
	*pos = end + 2;
	return 1;
}

/* True when s (len bytes) equals the upper-case word w, in any case. */
static bool word_is(const uint8_t *s, size_t len, const char *w)
{
	return strlen(w) == len && !strncasecmp((const char *)s, w, len);
}

/*
 * Which arguments hide a secret: AUTH's, HELLO's AUTH user and password, MIGRATE's AUTH
 * password and AUTH2 user and password, CONFIG SET requirepass/masterauth values, ACL
 * SETUSER password rules. Sets mask[j] for each argument index j (0: the command).
 */
static void resp_mask(const struct resp_req *r, const char *cmd, bool *mask)
{
	const struct resp_arg *a = r->a;
	size_t j, left = 0;

	for (j = 1; j < r->n; j++) {
		if (left) {
			mask[j] = true;
			left--;
		} else if (!strcmp(cmd, "AUTH")) {
			mask[j] = true;
		} else if (!strcmp(cmd, "HELLO") && word_is(a[j].s, a[j].len, "AUTH")) {
			left = 2;
		} else if (!strcmp(cmd, "MIGRATE") && word_is(a[j].s, a[j].len, "AUTH")) {
			left = 1;
		} else if (!strcmp(cmd, "MIGRATE") && word_is(a[j].s, a[j].len, "AUTH2")) {
			left = 2;
		} else if (!strcmp(cmd, "CONFIG") && j >= 2 &&
			   (word_is(a[j].s, a[j].len, "requirepass") ||
			    word_is(a[j].s, a[j].len, "masterauth"))) {
			left = 1;
		} else if (!strcmp(cmd, "ACL") && j >= 3 && a[j].len &&
			   memchr("<>#!", a[j].s[0], 4)) {
			mask[j] = true;
		}
	}
}

/* Returns the upper-cased command name, NULL when a[0] is not a command name (*bad set)
 * or on ENOMEM. */
static char *resp_name(const struct resp_arg *a, bool *bad)
{
	char *n;
	size_t i;

	if (!a->len || a->len > RESP_NAME_MAX) {
		*bad = true;
		return NULL;
	}
	for (i = 0; i < a->len; i++) {
		if (!isalnum(a->s[i]) && !memchr("._|-:", a->s[i], 5)) {
			*bad = true;
			return NULL;
		}
	}
	n = malloc(a->len + 1);
	if (!n)
		return NULL;
	for (i = 0; i < a->len; i++)
		n[i] = (char)toupper(a->s[i]);
	n[a->len] = '\0';
	return n;
}

/* Returns whether name takes no key. */
static bool resp_keyless(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
		if (!strcmp(name, keyless[i]))
			return true;
	return false;
}

/* Returns the command line: the name, the key, the arguments kept, space-separated and
 * cut to max; NULL on ENOMEM. */
static char *resp_line(const struct wire_cmd *d, size_t max, bool *cut)
{
	size_t len = strlen(d->command) + 1, o;
	uint32_t j;
	char *t, *out;

	if (d->key)
		len += strlen(d->key) + 1;
	for (j = 0; j < d->nargs; j++)
		len += strlen(d->args[j]) + 1;
	t = malloc(len);
	if (!t)
		return NULL;
	o = (size_t)sprintf(t, "%s", d->command);
	if (d->key)
		o += (size_t)sprintf(t + o, " %s", d->key);
	for (j = 0; j < d->nargs; j++)
		o += (size_t)sprintf(t + o, " %s", d->args[j]);
	out = wire__text(t, o, max, cut);
	free(t);
	return out;
}

/* Fills d's key, arguments and text from r (masked where mask says). Returns 0 or
 * -ENOMEM. */
static int resp_fill(struct wire_conn *c, const struct resp_req *r, const bool *mask,
		     struct wire_cmd *d)
{
	size_t j = 1;
	uint64_t nargs;

	if (!resp_keyless(d->command) && r->n >= 2) {
		d->key = mask[1] ? strdup(MASK) :
				   wire__text(r->a[1].s, r->a[1].len, c->max_text, &d->truncated);
		if (!d->key)
			return -ENOMEM;
		j = 2;
	}
	nargs = r->total > j ? r->total - j : 0;
	d->args_truncated = r->cut || nargs > QUERY_MAX_ARGS;
	if (nargs > QUERY_MAX_ARGS)
		nargs = QUERY_MAX_ARGS;
	if (nargs > r->n - j)
		nargs = r->n - j;
	if (nargs) {
		d->args = calloc(nargs, sizeof(*d->args));
		if (!d->args)
			return -ENOMEM;
	}
	for (; d->nargs < nargs; d->nargs++, j++) {
		if (mask[j])
			d->args[d->nargs] = strdup(MASK);
		else
			d->args[d->nargs] = wire__text(r->a[j].s, r->a[j].len, QUERY_ARG_MAX,
						       &d->args_truncated);
		if (!d->args[d->nargs])
			return -ENOMEM;
	}
	d->sql = resp_line(d, c->max_text, &d->truncated);
	return d->sql ? 0 : -ENOMEM;
}

/* Appends the command r holds. Returns 1 when appended, 0 when r holds no whole command
 * name, -1 when its name is not one, -ENOMEM. */
static int resp_emit(struct wire_conn *c, const struct resp_req *r, struct wire_cmd **cmds,
		     size_t *ncmds)
{
	bool mask[2 + QUERY_MAX_ARGS] = { false }, bad = false;
	struct wire_cmd *d;
	char *name;
	int rc;

	if (!r->n || r->a[0].cut)
		return 0;
	name = resp_name(&r->a[0], &bad);
	if (!name)
		return bad ? -1 : -ENOMEM;
	d = wire__cmd_push(cmds, ncmds);
	if (!d) {
		free(name);
		return -ENOMEM;
	}
	d->db = DB_REDIS;
	d->command = name;
	d->truncated = r->cut;
	resp_mask(r, name, mask);
	rc = resp_fill(c, r, mask, d);
	if (rc) {
		wire__cmds_drop(*cmds, ncmds, *ncmds - 1);
		return rc;
	}
	return 1;
}

/*
 * Reads the requests of one send: RESP arrays (a pipeline holds several) and inline
 * lines, after the bulk strings an array begun in an earlier send still owes. Any
 * garbage voids the whole send. Returns the number of commands appended, or -ENOMEM.
 */
static int wire_redis__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
			      struct wire_cmd **cmds, size_t *ncmds)
{
	uint32_t owed = resp_st(c)->bulks_left;
	size_t pos = 0, n0 = *ncmds;
	struct resp_req r;
	int rc = 1, e;

	resp_st(c)->bulks_left = 0;
	if (owed)
		rc = resp_bulks(c, buf, cap, full, &pos, owed, NULL);
	while (rc > 0 && pos < cap) {
		memset(&r, 0, sizeof(r));
		if (buf[pos] == '*')
			rc = resp_array(c, buf, cap, full, &pos, &r);
		else if (isalpha(buf[pos]))
			rc = resp_inline(buf, cap, &pos, &r);
		else
			rc = -1;
		if (rc < 0)
			break;
		e = resp_emit(c, &r, cmds, ncmds);
		if (e == -ENOMEM) {
			wire__lost(c);
			return -ENOMEM;
		}
		if (e < 0)
			rc = -1;
	}
	if (rc < 0) {
		wire__cmds_drop(*cmds, ncmds, n0);
		wire__lost(c);
		return 0;
	}
	return (int)(*ncmds - n0);
}

/* Returns the offset of the "\r\n" ending the line that starts at pos, or cap when the
 * capture ends first. */
static size_t resp_eol(const uint8_t *b, size_t pos, size_t cap)
{
	const uint8_t *p;

	while (pos < cap && (p = memchr(b + pos, '\r', cap - pos))) {
		pos = (size_t)(p - b);
		if (pos + 1 < cap && b[pos + 1] == '\n')
			return pos;
		pos++;
	}
	return cap;
}

/* Reads the reply value at *pos: returns 1 with *pos after its header line and body,
 * *more the values nested in it, and err, elen an error's text ('-' or '!'); 0 when the
 * value goes past the capture (*err then holds what was seen of an error); -1 when the
 * bytes are not RESP. */
static int resp_value(const uint8_t *b, size_t cap, size_t *pos, uint64_t *more,
		      const uint8_t **err, size_t *elen)
{
	size_t p = *pos, eol = resp_eol(b, p + 1, cap), next;
	long long n;
	uint8_t t = b[p];
	int rc;

	*more = 0;
	if (t == '-') {
		*err = b + p + 1;
		*elen = eol - p - 1;
	}
	if (eol == cap)
		return t && strchr("+-:,(_#$=!*~>%|", t) ? 0 : -1;
	switch (t) {
	case '+':
	case '-':
	case ',':
	case '(':
	case '_':
	case '#':
	case ':':
		*pos = eol + 2;
		return 1;
	case '$':
	case '=':
	case '!':
		rc = resp_num(b, p, cap, t, t == '$', RESP_MAX_BULK, &n, &next);
		if (rc <= 0)
			return -1;
		if (t == '!') {
			*err = b + next;
			*elen = n < 0 || cap - next < (size_t)n ? cap - next : (size_t)n;
		}
		if (n < 0) {
			*pos = next;
			return 1;
		}
		if (cap - next < (size_t)n + 2)
			return 0;
		if (b[next + n] != '\r' || b[next + n + 1] != '\n')
			return -1;
		*pos = next + (size_t)n + 2;
		return 1;
	case '*':
	case '~':
	case '>':
	case '%':
	case '|':
		rc = resp_num(b, p, cap, t, t == '*', RESP_MAX_COUNT, &n, &next);
		if (rc <= 0)
			return -1;
		*more = n < 0	 ? 0 :
			t == '%' ? 2 * (uint64_t)n :
			t == '|' ? 2 * (uint64_t)n + 1 :
				   (uint64_t)n;
		*pos = next;
		return 1;
	default:
		return -1;
	}
}

/*
 * Walks one reply value per pending command; a top-level error ('-' line, '!' blob)
 * gives its text. Stops at the first value that does not fit in the capture (an error's
 * visible part is kept) or at bytes that are not RESP. Returns 0 or -ENOMEM.
 */
static int wire_redis__server(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
			      char **errs)
{
	size_t pos = 0, i, elen;
	const uint8_t *err;
	uint64_t need, more;
	bool top;
	int rc;

	for (i = 0; i < npending; i++) {
		for (need = 1, top = true; need; need--, top = false) {
			if (pos >= cap || need > cap - pos)
				return 0;
			err = NULL;
			rc = resp_value(buf, cap, &pos, &more, &err, &elen);
			if (top && err && rc >= 0 &&
			    !(errs[i] = wire__text(err, elen, c->max_text, NULL)))
				return -ENOMEM;
			if (rc <= 0)
				return 0;
			need += more;
		}
	}
	return 0;
}

/* True for a RESP array header: '*' and a digit. */
static bool guess_redis(const uint8_t *b, size_t n)
{
	return n >= 2 && b[0] == '*' && b[1] >= '0' && b[1] <= '9';
}

static void wire_redis__lost(struct wire_conn *c)
{
	resp_st(c)->bulks_left = 0;
}

const struct wire_parser redis_wire_parser = {
	.proto = SC_CL_REDIS,
	.name = "redis",
	.port = 6379,
	.guess = guess_redis,
	.client = wire_redis__client,
	.server = wire_redis__server,
	.state_size = sizeof(struct resp_conn),
	.lost = wire_redis__lost,
};
