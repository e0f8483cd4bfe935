/* libFuzzer harness for HTTP heads and the body tracker (src/http_parse.h), a response fed in random writes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "request/http_parse.h"

/*
 * Input: one flags byte, two PRNG seed bytes, then the bytes of the stream,
 * read both as a request and as a response. The flags pick no_body, how much
 * of the first write is captured, how long writes are, and how often a later
 * write goes uncaptured; the PRNG draws each write's length.
 */

#define TAIL 8 /* SC_HTTP_TAIL: bytes of a later write the BPF side copies */

static uint32_t rng_next(uint32_t *s)
{
	/* xorshift32; never zero */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int parse_req(const uint8_t *data, size_t len, struct http_req_info *out)
{
	char *p = fuzz_copy(data, len);
	int rc = http_parse_request(p, len, out);

	free(p);
	return rc;
}

static int parse_resp(const uint8_t *data, size_t len, struct http_resp_info *out)
{
	char *p = fuzz_copy(data, len);
	int rc = http_parse_response(p, len, out);

	free(p);
	return rc;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* A uwsgi protocol request (a first byte 0): fields from its variables, found in data. */
static void check_uwsgi_req(const uint8_t *data, size_t len, const struct http_req_info *r)
{
	size_t m = strlen(r->method), plen = strlen(r->path), i;

	FUZZ_CHECK(m >= 1 && m <= 15 && memmem(data, len, r->method, m));
	for (i = 0; i < m; i++)
		FUZZ_CHECK(r->method[i] >= 'A' && r->method[i] <= 'Z');
	FUZZ_CHECK(plen >= 1 && plen <= HTTP_PATH_MAX);
	FUZZ_CHECK(r->path_truncated == 0 || r->path_truncated == 1);
	FUZZ_CHECK(r->version_minor == 0 || r->version_minor == 1);
}

static void check_req(const uint8_t *data, size_t len, const struct http_req_info *r)
{
	size_t m, plen, i;

	FUZZ_CHECK(FUZZ_TERMINATED(r->method) && FUZZ_TERMINATED(r->path) &&
		   FUZZ_TERMINATED(r->host) && FUZZ_TERMINATED(r->request_id) &&
		   FUZZ_TERMINATED(r->traceparent));
	if (len && data[0] == 0) {
		check_uwsgi_req(data, len, r);
		return;
	}
	m = strlen(r->method);
	FUZZ_CHECK(m >= 1 && m <= 15 && !memcmp(r->method, data, m));
	for (i = 0; i < m; i++)
		FUZZ_CHECK(r->method[i] >= 'A' && r->method[i] <= 'Z');
	plen = strlen(r->path);
	FUZZ_CHECK(plen >= 1 && plen <= HTTP_PATH_MAX);
	FUZZ_CHECK(m + 1 + plen <= len && !memcmp(r->path, data + m + 1, plen));
	for (i = 0; i < plen; i++)
		FUZZ_CHECK((unsigned char)r->path[i] > ' ' && r->path[i] != 0x7f);
	FUZZ_CHECK(r->path_truncated == 0 || r->path_truncated == 1);
	FUZZ_CHECK(r->version_minor == 0 || r->version_minor == 1);
}

static void check_resp(const uint8_t *data, size_t len, const struct http_resp_info *r)
{
	FUZZ_CHECK(r->status >= 100 && r->status <= 999);
	FUZZ_CHECK(r->version_minor == 0 || r->version_minor == 1);
	FUZZ_CHECK(r->content_length >= -1);
	FUZZ_CHECK(r->chunked == 0 || r->chunked == 1);
	FUZZ_CHECK(r->conn_close == 0 || r->conn_close == 1);
	FUZZ_CHECK(r->head_len <= len);
	FUZZ_CHECK(!r->head_len || (r->head_len >= 14 && data[r->head_len - 1] == '\n'));
}

/*
 * A capture may end anywhere: a head that parses whole must parse the same
 * way from every prefix that still holds the method, a space and one target
 * byte (request) or the status line's first 12 bytes (response).
 */
static void check_prefixes(const uint8_t *data, size_t len, int req_rc,
			   const struct http_req_info *req, int resp_rc,
			   const struct http_resp_info *resp)
{
	struct http_req_info rp;
	struct http_resp_info sp;
	size_t k, step = len <= 160 ? 1 : len / 97 + 1;

	for (k = 1; k < len; k += step) {
		/* a request line's prefix parses alike; a cut uwsgi packet needs its vars */
		if (!req_rc && data[0] != 0 && k >= strlen(req->method) + 2) {
			FUZZ_CHECK(parse_req(data, k, &rp) == 0);
			FUZZ_CHECK(!strcmp(rp.method, req->method));
			FUZZ_CHECK(!strncmp(rp.path, req->path, strlen(rp.path)));
			FUZZ_CHECK(!rp.host[0] || !strcmp(rp.host, req->host));
			FUZZ_CHECK(!rp.request_id[0] || !strcmp(rp.request_id, req->request_id));
			FUZZ_CHECK(!rp.traceparent[0] || !strcmp(rp.traceparent, req->traceparent));
		}
		if (!resp_rc && k >= 12) {
			FUZZ_CHECK(parse_resp(data, k, &sp) == 0);
			FUZZ_CHECK(sp.status == resp->status);
			FUZZ_CHECK(sp.version_minor == resp->version_minor);
			FUZZ_CHECK(!sp.head_len || sp.head_len == resp->head_len);
			if (sp.head_len) {
				FUZZ_CHECK(sp.content_length == resp->content_length);
				FUZZ_CHECK(sp.chunked == resp->chunked);
				FUZZ_CHECK(sp.conn_close == resp->conn_close);
			}
		}
	}
}

/* The chunked terminator as the tracker defines it on the last known bytes of the body. */
static bool ref_chunk_end(const uint8_t *s, size_t n)
{
	size_t i;

	if (n > TAIL) {
		s += n - TAIL;
		n = TAIL;
	}
	if (n < 5 || memcmp(s + n - 4, "\r\n\r\n", 4))
		return false;
	i = n - 4;
	if (s[i - 1] != '0')
		return false;
	while (i > 0 && s[i - 1] == '0')
		i--;
	return i == 0 || s[i - 1] == '\n';
}

/*
 * Feeds the stream as a response in random writes, like http.c does: the
 * first write captured up to a limit, later writes by their last TAIL bytes
 * (or not at all). Where the head was seen whole in the first write, the
 * outcome is predicted from the whole stream after every write: it must not
 * depend on how the stream was split.
 */
static void fuzz_body(const uint8_t *s, size_t len, uint8_t flags, uint32_t seed)
{
	static const size_t caps[4] = { 4096, 64, 13, 0 };
	static const unsigned maxw[4] = { 3, 9, 70, 5000 };
	struct http_body_tracker t;
	struct http_resp_info r;
	unsigned long long first_len;
	size_t pos, w, cap, known_from, body_start = 0;
	bool no_body = flags & 1, oracle, expect = false, eff_no_body;
	char *first, *tail;
	int done, prev;

	if (!seed)
		seed = 0x9e3779b9;
	w = 1 + rng_next(&seed) % maxw[(flags >> 3) & 3];
	if (w > len)
		w = len;
	cap = caps[(flags >> 1) & 3];
	if (cap > w)
		cap = w;
	/* an uncaptured first write carries no head to parse */
	if (http_parse_response((first = fuzz_copy(s, cap)), cap, &r)) {
		free(first);
		return;
	}
	first_len = w;
	http_body__init(&t, &r, first, cap, first_len, no_body);
	free(first);
	done = t.done;

	oracle = r.head_len && r.head_len <= w;
	eff_no_body = no_body || (r.status >= 100 && r.status < 200) || r.status == 204 ||
		      r.status == 304;
	if (oracle) {
		body_start = r.head_len;
		/* the tracker knows the tail of the first write only when it saw all of it */
		known_from = cap == w ? body_start : w;
	}
	pos = w;
	for (;;) {
		if (oracle) {
			if (eff_no_body)
				expect = true;
			else if (r.chunked)
				expect = expect || ref_chunk_end(s + known_from, pos - known_from);
			else
				expect = r.content_length >= 0 &&
					 pos - body_start >= (size_t)r.content_length;
			FUZZ_CHECK(done == expect);
		}
		if (pos >= len)
			break;
		w = 1 + rng_next(&seed) % maxw[(flags >> 3) & 3];
		if (w > len - pos)
			w = len - pos;
		prev = done;
		if ((flags >> 5) && rng_next(&seed) % 8 < (unsigned)(flags >> 5)) {
			/* uncaptured: the known tail starts over after this write */
			done = http_body__feed(&t, w, NULL, 0);
			known_from = pos + w;
		} else {
			cap = w < TAIL ? w : TAIL;
			tail = fuzz_copy(s + pos + w - cap, cap);
			done = http_body__feed(&t, w, tail, cap);
			free(tail);
		}
		FUZZ_CHECK(done == 0 || done == 1);
		FUZZ_CHECK(!prev || done); /* complete stays complete */
		pos += w;
	}
	/* a zero-length write changes nothing */
	FUZZ_CHECK(http_body__feed(&t, 0, NULL, 0) == done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req_info req;
	struct http_resp_info resp;
	int req_rc, resp_rc;
	uint8_t flags;
	uint32_t seed;

	if (size < 3)
		return 0;
	flags = data[0];
	seed = data[1] | data[2] << 8 | (uint32_t)data[1] << 24;
	data += 3;
	size -= 3;

	req_rc = parse_req(data, size, &req);
	FUZZ_CHECK(req_rc == 0 || req_rc == -EINVAL);
	if (req_rc)
		FUZZ_CHECK(all_zero(&req, sizeof(req)));
	else
		check_req(data, size, &req);

	resp_rc = parse_resp(data, size, &resp);
	FUZZ_CHECK(resp_rc == 0 || resp_rc == -EINVAL);
	if (!resp_rc)
		check_resp(data, size, &resp);

	check_prefixes(data, size, req_rc, &req, resp_rc, &resp);
	if (!resp_rc)
		fuzz_body(data, size, flags, seed);
	return 0;
}
