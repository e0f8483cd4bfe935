/* Parses HTTP/1.x heads captured from sockets and tracks when a response body has been written. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* One "name: value" line of a head, pointing into the captured bytes. */
struct http_hdr {
	const char *name, *val;
	size_t name_len, val_len;
};

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Returns 1 with *h set for the next complete header line at *pos, 0 at the
 * blank line ending the head, -1 when the capture ends before either. *pos
 * moves past what was consumed. Malformed lines (no colon, bad name, obsolete
 * folding) are skipped: captured bytes are not trusted to be well formed.
 */
static int http__next_header(const char **pos, const char *end, struct http_hdr *h)
{
	const char *p, *eol, *colon, *v, *ve;
	size_t i;

	for (;;) {
		p = *pos;
		eol = memchr(p, '\n', end - p);
		if (!eol)
			return -1;
		*pos = eol + 1;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			return 0;
		colon = memchr(p, ':', ve - p);
		if (!colon || colon == p)
			continue;
		for (i = 0; i < (size_t)(colon - p) && is_tchar(p[i]); i++)
			;
		if (p + i != colon)
			continue;
		for (v = colon + 1; v < ve && is_ows(*v); v++)
			;
		while (ve > v && is_ows(ve[-1]))
			ve--;
		h->name = p;
		h->name_len = colon - p;
		h->val = v;
		h->val_len = ve - v;
		return 1;
	}
}

static bool hdr_is(const struct http_hdr *h, const char *name)
{
	return h->name_len == strlen(name) && !strncasecmp(h->name, name, h->name_len);
}

/* Copies the value into dst (cut to fit) unless an earlier header already filled it. */
static void hdr_copy(const struct http_hdr *h, char *dst, size_t size)
{
	size_t n = h->val_len < size - 1 ? h->val_len : size - 1;

	if (dst[0])
		return;
	memcpy(dst, h->val, n);
	dst[n] = '\0';
}

/*
 * Checks the "HTTP/1.x" at p against the bytes available; returns the minor
 * version, -2 when the capture ends before the digit, or -1 when it is not
 * HTTP/1.0 or 1.1.
 */
static int http__version(const char *p, const char *end)
{
	static const char prefix[] = "HTTP/1.";
	size_t avail = end - p, n = sizeof(prefix) - 1;

	if (memcmp(p, prefix, avail < n ? avail : n))
		return -1;
	if (avail <= n)
		return -2;
	if (p[n] != '0' && p[n] != '1')
		return -1;
	return p[n] - '0';
}

/* Target bytes: anything but controls and space; raw UTF-8 is tolerated. */
static bool is_target_byte(unsigned char c)
{
	return c > ' ' && c != 0x7f;
}

/* Copies a uwsgi var's value (not NUL-terminated, n bytes) into dst of size bytes. */
static void var_copy(char *dst, size_t size, const char *val, size_t n)
{
	if (dst[0])
		return;
	if (n > size - 1)
		n = size - 1;
	memcpy(dst, val, n);
	dst[n] = '\0';
}

static bool var_is(const char *key, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(key, name, n) == 0;
}

/* The path as a client sent it: REQUEST_URI, else PATH_INFO and QUERY_STRING. */
static void uwsgi_path(struct http_req_info *out, const char *uri, size_t uri_len, const char *pi,
		       size_t pi_len, const char *qs, size_t qs_len)
{
	size_t n = 0;

	if (uri) {
		n = uri_len;
		if (n > HTTP_PATH_MAX)
			n = HTTP_PATH_MAX;
		memcpy(out->path, uri, n);
		out->path_truncated = uri_len > HTTP_PATH_MAX;
		return;
	}
	out->path_truncated = pi_len + (qs_len ? 1 + qs_len : 0) > HTTP_PATH_MAX;
	if (pi_len > HTTP_PATH_MAX)
		pi_len = HTTP_PATH_MAX;
	memcpy(out->path, pi, pi_len);
	n = pi_len;
	if (qs_len && n < HTTP_PATH_MAX) {
		out->path[n++] = '?';
		if (qs_len > HTTP_PATH_MAX - n)
			qs_len = HTTP_PATH_MAX - n;
		memcpy(out->path + n, qs, qs_len);
		n += qs_len;
	}
	out->path[n] = '\0';
}

/*
 * A request in the uwsgi protocol (what nginx's uwsgi_pass sends to uWSGI): a 4-byte header
 * (modifier1 0 for WSGI, a little-endian 16-bit size of the vars, modifier2 0), then vars,
 * each a 16-bit key length, the key, a 16-bit value length, the value: the CGI variables of
 * the request. Returns 0 and fills *out from REQUEST_METHOD, REQUEST_URI (or PATH_INFO and
 * QUERY_STRING), SERVER_PROTOCOL, HTTP_HOST, HTTP_X_REQUEST_ID and HTTP_TRACEPARENT; vars the
 * capture cut are not read. -EINVAL when buf is no such packet or has no method and path.
 */
static int parse_uwsgi(const unsigned char *buf, size_t len, struct http_req_info *out)
{
	const char *uri = NULL, *pi = NULL, *qs = NULL;
	size_t uri_len = 0, pi_len = 0, qs_len = 0, size, p = 4, kl, vl, i;
	const char *k, *v;

	if (len < 8 || buf[0] != 0 || buf[3] != 0)
		return -EINVAL;
	size = buf[1] | (size_t)buf[2] << 8;
	if (size < 4)
		return -EINVAL;
	if (len > 4 + size)
		len = 4 + size;
	while (p + 2 <= len) {
		kl = buf[p] | (size_t)buf[p + 1] << 8;
		if (kl == 0 || p + 2 + kl + 2 > len)
			break;
		k = (const char *)buf + p + 2;
		vl = buf[p + 2 + kl] | (size_t)buf[p + 3 + kl] << 8;
		if (p + 4 + kl + vl > len)
			break; /* cut by the capture */
		v = (const char *)buf + p + 4 + kl;
		p += 4 + kl + vl;
		vl = strnlen(v, vl); /* a value is text: a NUL ends it */
		if (var_is(k, kl, "REQUEST_METHOD")) {
			for (i = 0; i < vl; i++)
				if (v[i] < 'A' || v[i] > 'Z')
					return -EINVAL;
			if (vl == 0 || vl >= sizeof(out->method))
				return -EINVAL;
			var_copy(out->method, sizeof(out->method), v, vl);
		} else if (var_is(k, kl, "REQUEST_URI") && vl) {
			uri = v;
			uri_len = vl;
		} else if (var_is(k, kl, "PATH_INFO")) {
			pi = v;
			pi_len = vl;
		} else if (var_is(k, kl, "QUERY_STRING")) {
			qs = v;
			qs_len = vl;
		} else if (var_is(k, kl, "SERVER_PROTOCOL")) {
			out->version_minor = vl == 8 && memcmp(v, "HTTP/1.0", 8) == 0 ? 0 : 1;
		} else if (var_is(k, kl, "HTTP_HOST")) {
			var_copy(out->host, sizeof(out->host), v, vl);
		} else if (var_is(k, kl, "HTTP_X_REQUEST_ID")) {
			var_copy(out->request_id, sizeof(out->request_id), v, vl);
		} else if (var_is(k, kl, "HTTP_TRACEPARENT")) {
			var_copy(out->traceparent, sizeof(out->traceparent), v, vl);
		}
	}
	if (!out->method[0] || (!uri && !pi_len))
		return -EINVAL;
	uwsgi_path(out, uri, uri_len, pi, pi_len, qs, qs_len);
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_req_info *out)
{
	const char *end = buf + len, *t, *te, *p;
	struct http_hdr h;
	size_t n, plen;
	int v;

	if (!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len && buf[0] == 0) {
		out->version_minor = 1;
		v = parse_uwsgi((const unsigned char *)buf, len, out);
		if (v)
			memset(out, 0, sizeof(*out));
		return v;
	}
	for (n = 0; n < len && n < sizeof(out->method) && buf[n] >= 'A' && buf[n] <= 'Z'; n++)
		;
	if (n == 0 || n >= sizeof(out->method) || n + 1 >= len || buf[n] != ' ')
		return -EINVAL;
	t = buf + n + 1;
	for (te = t; te < end && is_target_byte(*te); te++)
		;
	if (te == t || (te < end && *te != ' '))
		return -EINVAL;

	memcpy(out->method, buf, n);
	plen = te - t;
	out->path_truncated = plen > HTTP_PATH_MAX || te == end;
	if (plen > HTTP_PATH_MAX)
		plen = HTTP_PATH_MAX;
	memcpy(out->path, t, plen);
	out->version_minor = 1; /* what a cut capture most likely carried */
	if (te == end)
		return 0;

	p = te + 1;
	v = http__version(p, end);
	if (v == -1)
		goto invalid;
	if (v == -2)
		return 0;
	out->version_minor = v;
	p += 8;
	if (p < end && *p == '\r')
		p++;
	if (p == end)
		return 0;
	if (*p != '\n')
		goto invalid;
	p++;

	while (http__next_header(&p, end, &h) > 0) {
		if (hdr_is(&h, "host"))
			hdr_copy(&h, out->host, sizeof(out->host));
		else if (hdr_is(&h, "x-request-id"))
			hdr_copy(&h, out->request_id, sizeof(out->request_id));
		else if (hdr_is(&h, "traceparent"))
			hdr_copy(&h, out->traceparent, sizeof(out->traceparent));
	}
	return 0;
invalid:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* Calls fn on each non-empty element of a comma-separated header value, blanks stripped. */
static void hdr_foreach_elem(const struct http_hdr *h,
			     void (*fn)(const char *s, size_t n, void *ctx), void *ctx)
{
	const char *p = h->val, *end = h->val + h->val_len, *e, *s;

	while (p < end) {
		e = memchr(p, ',', end - p);
		if (!e)
			e = end;
		for (s = p; s < e && is_ows(*s); s++)
			;
		p = e + 1;
		while (e > s && is_ows(e[-1]))
			e--;
		if (e > s)
			fn(s, e - s, ctx);
	}
}

/* Content-Length parsing state across headers and list elements. */
struct cl_state {
	long long val; /* -1 until a value is seen */
	bool invalid;
};

static void cl_elem(const char *s, size_t n, void *ctx)
{
	struct cl_state *cl = ctx;
	long long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (LLONG_MAX - (s[i] - '0')) / 10) {
			cl->invalid = true;
			return;
		}
		v = v * 10 + (s[i] - '0');
	}
	/* identical repeats are tolerated (RFC 7230 3.3.2), conflicting ones are not */
	if (cl->val >= 0 && cl->val != v)
		cl->invalid = true;
	cl->val = v;
}

static void last_elem_chunked(const char *s, size_t n, void *ctx)
{
	*(int *)ctx = n == 7 && !strncasecmp(s, "chunked", 7);
}

static void conn_elem(const char *s, size_t n, void *ctx)
{
	if (n == 5 && !strncasecmp(s, "close", 5))
		*(int *)ctx = 1;
}

int http_parse_response(const char *buf, size_t len, struct http_resp_info *out)
{
	struct cl_state cl = { .val = -1 };
	const char *end = buf + len, *p;
	struct http_hdr h;
	int v, rc;

	if (!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	if (len < 12)
		return -EINVAL;
	v = http__version(buf, end);
	if (v < 0 || buf[8] != ' ' || buf[9] < '1' || buf[9] > '9' || buf[10] < '0' ||
	    buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return -EINVAL;
	if (len > 12 && buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
		return -EINVAL;
	out->version_minor = v;
	out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');

	p = memchr(buf + 12, '\n', len - 12);
	if (!p)
		return 0;
	p++;
	while ((rc = http__next_header(&p, end, &h)) > 0) {
		if (hdr_is(&h, "content-length")) {
			if (!h.val_len)
				cl.invalid = true;
			hdr_foreach_elem(&h, cl_elem, &cl);
		} else if (hdr_is(&h, "transfer-encoding")) {
			/* only the final coding decides the framing */
			out->chunked = 0;
			hdr_foreach_elem(&h, last_elem_chunked, &out->chunked);
		} else if (hdr_is(&h, "connection")) {
			hdr_foreach_elem(&h, conn_elem, &out->conn_close);
		}
	}
	if (rc == 0)
		out->head_len = p - buf;
	out->content_length = cl.invalid ? -1 : cl.val;
	return 0;
}

/* True when the known stream tail ends with a last-chunk ("0\r\n") and an empty trailer. */
static bool body__chunk_end(const struct http_body_tracker *t)
{
	const char *s = t->tail;
	unsigned i = t->tail_len;

	if (i < 5 || memcmp(s + i - 4, "\r\n\r\n", 4))
		return false;
	i -= 4;
	if (s[i - 1] != '0')
		return false;
	while (i > 0 && s[i - 1] == '0')
		i--;
	/*
	 * The zeros must start a line: "...10\r\n\r\n" is chunk data ending in
	 * "10\r\n". When the zeros reach the start of what is known the byte
	 * before is unknown; a write this short ending like that is taken as the
	 * terminator.
	 */
	return i == 0 || s[i - 1] == '\n';
}

static int body__check(const struct http_body_tracker *t)
{
	if (t->in_head)
		return t->chunked && !t->no_body && body__chunk_end(t);
	if (t->no_body)
		return 1;
	if (t->chunked)
		return body__chunk_end(t);
	return t->content_length >= 0 && t->body_sent >= t->content_length;
}

/* Adds the last tail_len bytes of a len-byte write to the known stream tail. */
static void body__add_tail(struct http_body_tracker *t, unsigned long long len, const char *tail,
			   unsigned tail_len)
{
	unsigned keep = 0;

	if (!tail)
		tail_len = 0;
	if (tail_len > len)
		tail_len = len;
	if (tail_len > sizeof(t->tail)) {
		tail += tail_len - sizeof(t->tail);
		tail_len = sizeof(t->tail);
	}
	/* only a write seen whole continues the known tail; else what precedes is unknown */
	if (tail_len == len) {
		keep = sizeof(t->tail) - tail_len;
		if (keep > t->tail_len)
			keep = t->tail_len;
		memmove(t->tail, t->tail + t->tail_len - keep, keep);
	}
	if (tail_len)
		memcpy(t->tail + keep, tail, tail_len);
	t->tail_len = keep + tail_len;
}

static void body__add_sent(struct http_body_tracker *t, unsigned long long len)
{
	if (len > (unsigned long long)(LLONG_MAX - t->body_sent))
		t->body_sent = LLONG_MAX;
	else
		t->body_sent += len;
}

void http_body__init(struct http_body_tracker *t, const struct http_resp_info *r, const char *first,
		     size_t first_cap, unsigned long long first_len, int no_body)
{
	size_t skip;

	memset(t, 0, sizeof(*t));
	t->chunked = r->chunked;
	t->content_length = r->chunked ? -1 : r->content_length;
	t->no_body = no_body || (r->status >= 100 && r->status < 200) || r->status == 204 ||
		     r->status == 304;
	if (!first || first_cap > first_len)
		first_cap = 0;
	t->in_head = !r->head_len || r->head_len > first_len;
	skip = t->in_head ? 0 : r->head_len;
	if (!t->in_head)
		body__add_sent(t, first_len - r->head_len);
	/* the tail of the first write is known only when all of it was captured */
	if (first_cap == first_len)
		body__add_tail(t, first_len - skip, first + skip, first_cap - skip);
	t->done = body__check(t);
}

int http_body__feed(struct http_body_tracker *t, unsigned long long len, const char *tail,
		    unsigned tail_len)
{
	if (!t)
		return 0;
	if (t->done || !len)
		return t->done;
	body__add_tail(t, len, tail, tail_len);
	if (t->in_head) {
		if (body__check(t))
			return t->done = 1;
		/* a head cut by the capture usually ends with the write carrying its end */
		if (t->tail_len >= 4 && !memcmp(t->tail + t->tail_len - 4, "\r\n\r\n", 4)) {
			t->in_head = 0;
			t->tail_len = 0;
		}
		return t->done = body__check(t);
	}
	body__add_sent(t, len);
	return t->done = body__check(t);
}
