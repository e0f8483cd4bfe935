/* PostgreSQL v3 protocol messages a client sends: framing them in a send, their fields, an ErrorResponse's text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_int.h"
#include "wire_pg_msg.h"

/* Reads the body of a message as declared, knowing only its first avail bytes. */
struct pg_cur {
	const uint8_t *p;
	size_t avail, blen, off;
};

/* Returns 1 with the next message of the send in *m, 0 when nothing more can be framed
 * (w->lost tells whether bytes were left unseen), -1 on a header no client sends. */
int pg_next(struct pg_walk *w, struct pg_msg *m)
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
int pg_fields(const struct pg_msg *m, struct pg_fields *f)
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
int pg_check(const uint8_t *buf, size_t cap, size_t full)
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

/* Returns "<severity>:  <message>" from an ErrorResponse body (n bytes seen), as libpq's
 * first line; NULL on ENOMEM. */
char *pg_error(const uint8_t *b, size_t n, size_t max)
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
