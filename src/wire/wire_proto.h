/* Parsers of the protocols data stores speak, for wire capture: the commands a send holds, the errors a reply says. */
#ifndef SCOOBY_WIRE_PROTO_H
#define SCOOBY_WIRE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "record/record.h"
#include "scooby/events.h"

/*
 * The capture gives, per send() of the client, the head of its bytes (cap bytes of
 * the len it sent) and, per reply, the head of the first bytes the server sent back.
 * A parser keeps per-connection state (prepared statements, how much of a message
 * the next send still carries) and turns a send into commands and a reply head into
 * one error (or none) per command waiting for it.
 *
 * Nothing here trusts the bytes: any length field may be garbage, a buffer may stop
 * anywhere, a send may start in the middle of a message. A parser that loses the
 * framing reports nothing rather than a false command.
 */

/* One command found in a send. The strings are malloc'd and owned by the command. */
struct wire_cmd {
	const struct db_kind *db;
	/* SQL stores: the statement text (a prepared statement's execution carries the
	 * statement's SQL when the parser saw it prepared, else "EXECUTE <name or id>").
	 * Redis: the command line, arguments space-separated ("SET k v"), cut like args.
	 * memcached: the command line without its data block ("set k 0 0 5"). */
	char *sql;
	bool truncated; /* the text is cut (capture ended, or longer than max_text) */
	char *command; /* Redis: upper-case name ("GET"); memcached: "get", "set"...; SQL: NULL */
	char *key; /* Redis: first key (NULL when the command has none: PING, AUTH...);
		    * memcached: the key(s) space-separated; SQL: NULL */
	char **args; /* Redis: arguments after the key (see QUERY_MAX_ARGS, QUERY_ARG_MAX) */
	uint32_t nargs;
	bool args_truncated;
	bool no_reply; /* memcached "noreply": the server will not answer it */
};

void wire_cmd__clear(struct wire_cmd *c);
/* Moves a command's strings into q (db, text, command, key, args); cmd is left empty. */
void wire_cmd__to_query(struct wire_cmd *cmd, struct query *q);

struct wire_conn;

/* Returns parser state for one connection speaking proto (enum sc_client), or NULL on
 * ENOMEM or an unknown proto. max_text bounds every text kept (--max-query). */
struct wire_conn *wire_conn__new(uint32_t proto, size_t max_text);
void wire_conn__free(struct wire_conn *c);

/*
 * Parses one send: buf holds its first cap bytes, full is how many it sent (>= cap).
 * Appends each command found to *cmds (grown with realloc; *ncmds updated). Returns
 * the number appended (0 for bytes that are not a command: a handshake, a password
 * message, a continuation), or -ENOMEM (what was appended stays valid).
 * Redis AUTH and HELLO ... AUTH credentials never reach a command: they are "***".
 */
int wire_conn__client(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
		      struct wire_cmd **cmds, size_t *ncmds);

/*
 * Parses the head (cap bytes) of the server's reply to the npending commands sent
 * since the last reply, in order. Sets errs[i] to a malloc'd error text for the i-th
 * command whose reply in buf is an error, NULL otherwise (success, or its reply lies
 * beyond cap). Error texts: PostgreSQL "<severity>:  <message>" (libpq's first line),
 * MySQL the server's message, Redis the line after '-', memcached the whole line
 * ("SERVER_ERROR out of memory"). Learns what a reply teaches (MySQL prepared statement
 * ids). Returns 0 or -ENOMEM.
 */
int wire_conn__server(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
		      char **errs);

/* Returns the protocol (enum sc_client) whose client messages buf starts like, or
 * SC_CL_NONE. The kernel side makes the same decision on the first 8 bytes. */
uint32_t wire_guess(const uint8_t *buf, size_t len);

/* Returns the parser's name ("postgresql") for an enum sc_client, NULL else;
 * and the reverse (for --port-proto), SC_CL_NONE when unknown. */
const char *wire_proto_name(uint32_t proto);
uint32_t wire_proto_parse(const char *name);

/* One protocol's parser (src/stores/NAME/wire_*.c): what wire_proto.c dispatches to. */
struct wire_parser {
	uint32_t proto; /* enum sc_client */
	const char *name; /* wire_proto_name()'s: "postgresql" */
	/* more names --port-proto takes, NULL-terminated; may be NULL */
	const char *const *aliases;
	uint16_t port; /* its well-known server port: captured without --port-proto */
	/* True when the first n (at most 8) bytes of a send start like this protocol's client
	 * messages (the kernel side's test, bpf/wire.bpf.h) */
	bool (*guess)(const uint8_t *b, size_t n);
	int (*client)(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t full,
		      struct wire_cmd **cmds, size_t *ncmds);
	int (*server)(struct wire_conn *c, const uint8_t *buf, size_t cap, size_t npending,
		      char **errs);
	/* bytes of its own state per connection (wire_conn__state, src/wire/wire_int.h) */
	size_t state_size;
	/* Frees what its own state holds (statements, Parses held over); may be NULL. */
	void (*free)(struct wire_conn *c);
	/* The framing was lost: forgets what its state carries into the next send; may be
	 * NULL. */
	void (*lost)(struct wire_conn *c);
};

/* Every parser, NULL-terminated, in the order wire_guess() tries them. Defined with the
 * stores (src/stores/wire_parsers.c, from src/stores/registry.h): the dispatcher names no
 * protocol, and no parser calls back into it. */
extern const struct wire_parser *const wire_parsers[];

#endif /* SCOOBY_WIRE_PROTO_H */
