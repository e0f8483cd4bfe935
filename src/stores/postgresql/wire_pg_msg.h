/* PostgreSQL v3 protocol messages a client sends: framing them in a send, their fields, an ErrorResponse's text. */
#ifndef SCOOBY_WIRE_PG_MSG_H
#define SCOOBY_WIRE_PG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_MAX_LEN (1u << 30)
#define PG_CODE_SSL 80877103u
#define PG_CODE_GSS 80877104u
#define PG_CODE_CANCEL 80877102u

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

/* Returns 1 with the next message of the send in *m, 0 when nothing more can be framed
 * (w->lost tells whether bytes were left unseen), -1 on a header no client sends. */
int pg_next(struct pg_walk *w, struct pg_msg *m);
/* Reads the fields of a client message into *f. Returns 1 when the whole body was seen and
 * is well formed, 0 when what was seen is well formed but the body goes past the capture,
 * -1 when the body cannot be what a client sends. */
int pg_fields(const struct pg_msg *m, struct pg_fields *f);
/* Returns 0 when every message framed in the send is one a client sends, -1 else. */
int pg_check(const uint8_t *buf, size_t cap, size_t full);
/* Returns "<severity>:  <message>" from an ErrorResponse body (n bytes seen), as libpq's
 * first line, cut to max; NULL on ENOMEM. */
char *pg_error(const uint8_t *b, size_t n, size_t max);

#endif /* SCOOBY_WIRE_PG_MSG_H */
