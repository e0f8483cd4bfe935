/* MySQL/MariaDB client/server protocol: command packets into commands, replies into errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"
#include "mysql.h"

/* What a pending command is, for its reply. */
enum { MY_QUERY = 1, MY_PREPARE, MY_EXEC };

enum {
	COM_QUIT = 0x01,
	COM_QUERY = 0x03,
	COM_STATISTICS = 0x09,
	COM_PROCESS_INFO = 0x0a,
	COM_DEBUG = 0x0d,
	COM_PING = 0x0e,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_RESET_CONNECTION = 0x1f,
	COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB */
};

#define CLIENT_PROTOCOL_41 0x200u
#define CLIENT_SSL 0x800u
#define CLIENT_QUERY_ATTRIBUTES (1u << 27)
#define SERVER_MORE_RESULTS_EXISTS 0x0008u
#define MY_MAX_PAYLOAD 0xffffffu /* a payload this long goes on in the next packet */
#define MY_LAST_STMT 0xffffffffu /* MariaDB: "the statement prepared last" */

/* A connection's MySQL state (struct wire_conn's parser area). */
struct my_conn {
	struct wire_stmts stmts; /* by decimal id */
	char *last_prep; /* text of the last prepare (for MariaDB's id -1 "the last one") */
	bool last_prep_trunc;
	bool tls; /* the client asked for TLS: the rest is ciphertext */
	bool qattr; /* CLIENT_QUERY_ATTRIBUTES negotiated */
	bool seen_cmd; /* a command packet was seen (the handshake is over) */
	bool my_cont; /* the last packet was 0xffffff long: the next one continues it */
	bool my_infile; /* the server asked for a LOCAL INFILE: file packets come */
};

static struct my_conn *my_st(struct wire_conn *c)
{
	return wire_conn__state(c);
}

/* One packet framed in a send. */
struct my_pkt {
	uint8_t seq;
	const uint8_t *p; /* payload */
	size_t len; /* declared payload length */
	size_t avail; /* payload bytes within the capture */
};

struct my_walk {
	const uint8_t *buf;
	size_t cap, full, pos;
	bool lost;
};

/* Returns 1 with the next packet in *k, 0 when nothing more can be framed (w->lost tells
 * whether bytes were left unseen). */
static int my_next(struct my_walk *w, struct my_pkt *k)
{
	size_t left;

	if (w->pos >= w->cap || w->cap - w->pos < 4) {
		w->lost = w->pos < w->full;
		return 0;
	}
	left = w->cap - w->pos - 4;
	k->len = wire_le24(w->buf + w->pos);
	k->seq = w->buf[w->pos + 3];
	k->p = w->buf + w->pos + 4;
	k->avail = left < k->len ? left : k->len;
	w->pos += 4 + k->len;
	return 1;
}

/* True for a command byte a client sends with the payload length it needs. */
static bool my_cmd_ok(const struct my_pkt *k)
{
	uint8_t cmd = k->p[0];

	switch (cmd) {
	case COM_QUIT:
	case COM_STATISTICS:
	case COM_PROCESS_INFO:
	case COM_DEBUG:
	case COM_PING:
	case COM_RESET_CONNECTION:
		return k->len == 1;
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
		return k->len == 5;
	case COM_STMT_FETCH:
		return k->len == 9;
	case COM_SET_OPTION:
		return k->len == 3;
	case COM_STMT_SEND_LONG_DATA:
		return k->len >= 7;
	case COM_STMT_EXECUTE:
		/* the iteration count is always 1 */
		return k->len >= 10 && (k->avail < 10 || wire_le32(k->p + 6) == 1);
	case COM_STMT_BULK_EXECUTE:
		return k->len >= 7;
	default:
		/* init db, query, field list... (0x0b, 0x0f, 0x10, 0x14 are server-internal) */
		return cmd >= 0x02 && cmd <= 0x21 && cmd != 0x0b && cmd != 0x0f && cmd != 0x10 &&
		       cmd != 0x14;
	}
}

/* True when the send starts like a TLS record (handshake or application data). */
static bool my_tls(const uint8_t *b, size_t cap)
{
	return cap >= 3 && (b[0] == 0x16 || b[0] == 0x17) && b[1] == 0x03 && b[2] >= 1 && b[2] <= 3;
}

/* Returns 0 when every packet framed is one a client sends, -1 else. Once commands flow,
 * a packet that is not a command (sequence > 0) only continues a 16 MiB one or carries
 * a file the server asked for. */
static int my_check(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full)
{
	struct my_walk w = { .buf = buf, .cap = cap, .full = full };
	bool seen = my_st(c)->seen_cmd, cont = my_st(c)->my_cont, infile = my_st(c)->my_infile;
	struct my_pkt k;

	while (my_next(&w, &k) > 0) {
		if (k.seq) {
			/* handshake, authentication, continuation, file contents */
			if (seen && !cont && !infile)
				return -1;
			infile = infile && k.len;
		} else {
			if (!k.len || cont || (k.avail && !my_cmd_ok(&k)))
				return -1;
			seen = true;
		}
		cont = k.len == MY_MAX_PAYLOAD;
	}
	return 0;
}

/* Returns the text of a COM_QUERY or COM_STMT_PREPARE (cut to max_text), or NULL with
 * *nomem set on ENOMEM, or NULL when the query carries attributes this does not read. */
static char *my_query_text(struct wire_conn *c, const struct my_pkt *k, bool *trunc, bool *nomem)
{
	size_t off = 1;
	char *t;

	if (k->p[0] == COM_QUERY && k->avail >= 3 &&
	    (my_st(c)->qattr || (k->p[1] == 0 && k->p[2] == 1))) {
		/* parameter_count, parameter_set_count: only the no-attribute form is read */
		if (k->p[1] != 0)
			return NULL;
		off = 3;
	} else if (k->p[0] == COM_QUERY && my_st(c)->qattr && k->avail < 3) {
		return NULL;
	}
	*trunc = k->avail < k->len;
	t = wire__text(k->p + off, k->avail - off, c->max_text, trunc);
	if (!t)
		*nomem = true;
	return t;
}

/* Returns the text for executing statement id: the prepared SQL when known, else
 * "EXECUTE <id>"; NULL on ENOMEM. */
static char *my_exec_text(struct wire_conn *c, uint32_t id, bool *trunc)
{
	struct wire_stmt *s;
	char name[16];
	int n = snprintf(name, sizeof(name), "%u", id);

	if (id == MY_LAST_STMT && my_st(c)->last_prep) {
		*trunc = my_st(c)->last_prep_trunc;
		return strdup(my_st(c)->last_prep);
	}
	s = wire_stmts__get(&my_st(c)->stmts, name, (size_t)n);
	if (s && s->sql) {
		*trunc = s->truncated;
		return strdup(s->sql);
	}
	return wire__named("EXECUTE ", name, (size_t)n, c->max_text, trunc);
}

/* Appends a command (taking sql) and its pending entry; a prepare keeps a copy of its
 * text for the reply that gives its id. Returns 0 or -ENOMEM. */
static int my_emit(struct wire_conn *c, uint8_t kind, char *sql, bool trunc, struct wire_cmd **cmds,
		   size_t *ncmds)
{
	struct wire_pend *p;
	struct wire_cmd *d;
	char *keep = NULL;

	if (kind == MY_PREPARE && !(keep = strdup(sql))) {
		free(sql);
		return -ENOMEM;
	}
	p = wire__pend_push(c, kind, keep);
	d = p ? wire__cmd_push(cmds, ncmds) : NULL;
	if (!d) {
		if (p)
			wire__pend_drop(c, c->npend - 1);
		free(sql);
		return -ENOMEM;
	}
	p->truncated = trunc;
	d->db = DB_MYSQL;
	d->sql = sql;
	d->truncated = trunc;
	return 0;
}

/* Acts on one command packet. Returns 0 or -ENOMEM. */
static int my_command(struct wire_conn *c, const struct my_pkt *k, struct wire_cmd **cmds,
		      size_t *ncmds)
{
	uint8_t cmd = k->p[0];
	bool trunc = false, nomem = false;
	char name[16], *t;
	uint32_t id;
	int n;

	my_st(c)->seen_cmd = true;
	if (cmd == COM_QUERY || cmd == COM_STMT_PREPARE) {
		t = my_query_text(c, k, &trunc, &nomem);
		if (!t)
			return nomem ? -ENOMEM : 0;
		if (cmd == COM_STMT_PREPARE) {
			free(my_st(c)->last_prep);
			my_st(c)->last_prep = strdup(t);
			my_st(c)->last_prep_trunc = trunc;
			if (!my_st(c)->last_prep) {
				free(t);
				return -ENOMEM;
			}
		}
		return my_emit(c, cmd == COM_QUERY ? MY_QUERY : MY_PREPARE, t, trunc, cmds, ncmds);
	}
	if (k->avail < 5)
		return 0;
	id = wire_le32(k->p + 1);
	if (cmd == COM_STMT_EXECUTE || cmd == COM_STMT_BULK_EXECUTE) {
		t = my_exec_text(c, id, &trunc);
		return t ? my_emit(c, MY_EXEC, t, trunc, cmds, ncmds) : -ENOMEM;
	}
	if (cmd == COM_STMT_CLOSE) {
		n = snprintf(name, sizeof(name), "%u", id);
		wire_stmts__del(&my_st(c)->stmts, name, (size_t)n);
	}
	return 0;
}

/* The client's first packet (sequence 1): learns the capabilities; an SSLRequest (32
 * bytes with CLIENT_SSL) means the rest of the connection is ciphertext. */
static void my_handshake(struct wire_conn *c, const struct my_pkt *k)
{
	uint32_t caps;

	if (k->len < 32 || k->avail < 4)
		return;
	caps = wire_le32(k->p);
	if (!(caps & CLIENT_PROTOCOL_41))
		return;
	if (k->len == 32 && (caps & CLIENT_SSL))
		my_st(c)->tls = true;
	my_st(c)->qattr = caps & CLIENT_QUERY_ATTRIBUTES;
}

/*
 * Checks the framing of the whole captured send, then turns its command packets
 * (sequence 0) into commands. Returns the number appended, or -ENOMEM.
 */
static int wire_mysql__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
			      struct wire_cmd **cmds, size_t *ncmds)
{
	struct my_walk w = { .buf = buf, .cap = cap, .full = full };
	size_t n0 = *ncmds;
	struct my_pkt k;
	int rc = 0;

	if (my_st(c)->tls || my_tls(buf, cap)) {
		my_st(c)->tls = true;
		wire__lost(c);
		return 0;
	}
	if (my_check(c, buf, cap, full) < 0) {
		wire__lost(c);
		return 0;
	}
	while (!rc && my_next(&w, &k) > 0) {
		if (k.seq == 0 && k.avail)
			rc = my_command(c, &k, cmds, ncmds);
		else if (k.seq == 1 && !my_st(c)->seen_cmd)
			my_handshake(c, &k);
		else if (k.seq && !k.len)
			my_st(c)->my_infile = false;
		my_st(c)->my_cont = k.len == MY_MAX_PAYLOAD;
	}
	if (rc) {
		wire__lost(c);
		return rc;
	}
	if (w.pos > full)
		c->skip = w.pos - full;
	return (int)(*ncmds - n0);
}

/* Returns the message of an ERR packet payload (avail bytes seen), what mysql_error()
 * gives; NULL on ENOMEM. */
static char *my_error(const uint8_t *p, size_t avail, size_t max)
{
	char buf[32];
	size_t off = 3;
	uint16_t code = avail >= 3 ? (uint16_t)(p[1] | p[2] << 8) : 0;

	if (avail > 3 && p[3] == '#')
		off = avail >= 9 ? 9 : avail;
	if (avail <= off) {
		snprintf(buf, sizeof(buf), "MySQL error %u", code);
		return wire__text(buf, strlen(buf), max, NULL);
	}
	return wire__text(p + off, avail - off, max, NULL);
}

/* Reads a length-encoded integer at p[*off]; false when it is not within n bytes. */
static bool my_lenenc(const uint8_t *p, size_t n, size_t *off)
{
	static const size_t extra[] = { 2, 3, 8 };
	uint8_t b;

	if (*off >= n)
		return false;
	b = p[(*off)++];
	if (b < 0xfb)
		return true;
	if (b == 0xfb || b == 0xff)
		return false;
	*off += extra[b - 0xfc];
	return *off <= n;
}

/* True when an OK packet (avail bytes of payload seen) says no more results follow. */
static bool my_ok_last(const uint8_t *p, size_t avail)
{
	size_t off = 1;

	if (!my_lenenc(p, avail, &off) || !my_lenenc(p, avail, &off) || off + 2 > avail)
		return false;
	return !((p[off] | p[off + 1] << 8) & SERVER_MORE_RESULTS_EXISTS);
}

/*
 * Reads the reply head: the first packet answers the first pending command (OK, ERR, or
 * a result set); while replies are OK or ERR packets with nothing after them, the next
 * packet answers the next command. A prepare's OK teaches its statement id. Returns 0 or
 * -ENOMEM.
 */
static int wire_mysql__server(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
			      char **errs)
{
	struct wire_pend *pd;
	size_t pos = 0, i = 0, len, avail;
	const uint8_t *p;
	char name[16];
	int n;

	while (i < npending && cap - pos > 4) {
		len = wire_le24(buf + pos);
		p = buf + pos + 4;
		avail = cap - pos - 4 < len ? cap - pos - 4 : len;
		if (buf[pos + 3] != 1 || !len)
			break;
		pd = wire__pend_at(c, npending, i);
		if (p[0] == 0xff && avail >= 3 && p[1] == 0xff && p[2] == 0xff) {
			/* MariaDB progress report: the command is still running */
		} else if (p[0] == 0xff) {
			if (!(errs[i] = my_error(p, avail, c->max_text)))
				return -ENOMEM;
			i++;
		} else if (p[0] == 0x00 && pd && pd->kind == MY_PREPARE && len >= 12) {
			if (avail < 9)
				break;
			n = snprintf(name, sizeof(name), "%u", wire_le32(p + 1));
			if (pd->sql && wire_stmts__put(&my_st(c)->stmts, WIRE_MAX_STMTS, name,
						       (size_t)n, NULL, pd->sql, pd->truncated))
				return -ENOMEM;
			/* column and parameter definitions follow when there are any */
			if (p[5] || p[6] || p[7] || p[8])
				break;
			i++;
		} else if (p[0] == 0x00 && len >= 7 && my_ok_last(p, avail)) {
			i++;
		} else if (p[0] == 0xfb && (!pd || pd->kind == MY_QUERY)) {
			my_st(c)->my_infile =
				true; /* LOAD DATA LOCAL INFILE: the file comes next */
			break;
		} else {
			break; /* a result set, or more results: this command's reply goes on */
		}
		if (avail < len)
			break;
		pos += 4 + len;
	}
	return 0;
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

static void wire_mysql__free(struct wire_conn *c)
{
	wire_stmts__free(&my_st(c)->stmts);
	free(my_st(c)->last_prep);
}

static const char *const mysql_aliases[] = { "mariadb", NULL };

const struct wire_parser mysql_wire_parser = {
	.proto = SC_CL_MYSQL,
	.name = "mysql",
	.aliases = mysql_aliases,
	.port = 3306,
	.guess = guess_mysql,
	.client = wire_mysql__client,
	.server = wire_mysql__server,
	.state_size = sizeof(struct my_conn),
	.free = wire_mysql__free,
};
