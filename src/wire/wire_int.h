/* Internals the wire protocol parsers (src/stores/NAME/wire_*.c) share: connection state, texts, lists. */
#ifndef SCOOBY_WIRE_INT_H
#define SCOOBY_WIRE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_proto.h"

/* Commands remembered while their reply is awaited, and statements kept per connection. */
#define WIRE_PEND_MAX 4096
#define WIRE_MAX_STMTS 256

/* Text kept when --max-query is not given (max_text 0). */
#define WIRE_DEFAULT_TEXT 4096

/* A command sent and not yet answered: what its reply looks like. */
struct wire_pend {
	uint8_t kind; /* per protocol: its parser's own values */
	bool no_reply; /* a command the server does not answer (noreply): no reply expected */
	uint32_t batch; /* PostgreSQL: the Sync batch (or simple query) it belongs to */
	uint32_t zbefore; /* PostgreSQL: ReadyForQuery of command-less batches before it */
	char *sql; /* MySQL prepare: its text, kept until the reply gives its id */
	bool truncated;
};

/* A prepared statement (by name or decimal id) or a portal, remembered across sends. */
struct wire_stmt {
	char *name;
	char *stmt; /* portal: the statement it was bound to */
	char *sql; /* NULL when the statement's text was never seen */
	bool truncated;
};

/* Up to a fixed number of entries, oldest first; the oldest goes when full. */
struct wire_stmts {
	struct wire_stmt *v;
	size_t n;
};

/*
 * One connection's parser state: what every protocol shares (the framing carried from
 * one send to the next, the commands awaiting their reply), then the parser's own area
 * of ops->state_size bytes (wire_conn__state), zeroed at the start and freed by
 * ops->free.
 */
struct wire_conn {
	uint32_t proto; /* enum sc_client */
	const struct wire_parser *ops;
	size_t max_text;
	uint64_t skip; /* bytes at the start of the next sends that continue a framed message */
	/* commands awaiting their reply, oldest first */
	struct wire_pend *pend;
	size_t npend, pend_cap; /* grown as needed up to WIRE_PEND_MAX */
	max_align_t state[]; /* the parser's own: ops->state_size bytes */
};

/* The parser's own state of c (struct wire_parser.state_size bytes). */
static inline void *wire_conn__state(struct wire_conn *c)
{
	return c->state;
}

/* Big-endian and little-endian readers; the caller checks the bounds. */
static inline uint32_t wire_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t wire_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static inline uint32_t wire_le32(const uint8_t *p)
{
	return wire_le24(p) | (uint32_t)p[3] << 24;
}

/* Returns a malloc'd copy of at most max of the len bytes at s (cut on a UTF-8 boundary,
 * NUL bytes as '?'), setting *cut when bytes were left out; NULL on ENOMEM. */
char *wire__text(const void *s, size_t len, size_t max, bool *cut);
/* Returns a malloc'd "prefix<name, or (unnamed) when empty>" cut to max like wire__text,
 * or NULL on ENOMEM. */
char *wire__named(const char *prefix, const void *name, size_t len, size_t max, bool *cut);

/* Returns a zeroed command appended to *cmds, or NULL on ENOMEM (nothing appended). */
struct wire_cmd *wire__cmd_push(struct wire_cmd **cmds, size_t *ncmds);
/* Frees the commands past the first n0 and sets *ncmds back to n0. */
void wire__cmds_drop(struct wire_cmd *cmds, size_t *ncmds, size_t n0);

/* Appends a pending command, taking sql (freed on failure); drops the oldest half when
 * full. Returns the entry, or NULL on ENOMEM (the command is then not tracked). */
struct wire_pend *wire__pend_push(struct wire_conn *c, uint8_t kind, char *sql);
/* Frees the pending commands past the first n0. */
void wire__pend_drop(struct wire_conn *c, size_t n0);
/* Returns the pending entry for the i-th of npending commands a reply answers (the last
 * npending recorded), or NULL when it was not recorded. */
struct wire_pend *wire__pend_at(struct wire_conn *c, size_t npending, size_t i);

/* Framing lost: the next send starts afresh (the parser's lost op forgets its part). */
void wire__lost(struct wire_conn *c);

/* Returns the entry named name, NULL if none. */
struct wire_stmt *wire_stmts__get(struct wire_stmts *m, const void *name, size_t len);
/* Remembers name -> (stmt, sql) with copies, replacing an entry of that name; stmt and sql
 * may be NULL. Returns 0 or -ENOMEM. */
int wire_stmts__put(struct wire_stmts *m, size_t max, const void *name, size_t len,
		    const char *stmt, const char *sql, bool truncated);
void wire_stmts__del(struct wire_stmts *m, const void *name, size_t len);
void wire_stmts__free(struct wire_stmts *m);

#endif /* SCOOBY_WIRE_INT_H */
