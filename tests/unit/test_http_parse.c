/* Unit tests for HTTP/1.x head parsing of captured bytes and response body tracking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request/http_parse.h"

/* Copies len bytes into an exactly sized heap block so ASan catches any read past the capture. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static int parse_req(const char *s, size_t len, struct http_req_info *out)
{
	char *p = exact_copy(s, len);
	int rc = http_parse_request(p, len, out);

	free(p);
	return rc;
}

static int parse_resp(const char *s, size_t len, struct http_resp_info *out)
{
	char *p = exact_copy(s, len);
	int rc = http_parse_response(p, len, out);

	free(p);
	return rc;
}

struct req_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	int rc;
	const char *method, *path;
	int truncated, minor;
	const char *host, *request_id, *traceparent;
};

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static const struct req_case req_cases[] = {
	{ "simple GET", "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", 0,
	  0, "GET", "/index.html", 0, 1, "example.com", "", "" },
	{ "query string kept", "POST /api/items?x=1&y=%20z HTTP/1.1\r\nHost: h\r\n\r\n{}", 0, 0,
	  "POST", "/api/items?x=1&y=%20z", 0, 1, "h", "", "" },
	{ "all three headers",
	  "GET / HTTP/1.1\r\nHost: a:8000\r\nX-Request-ID: abc-123\r\ntraceparent: " TP "\r\n\r\n",
	  0, 0, "GET", "/", 0, 1, "a:8000", "abc-123", TP },
	{ "header names case-insensitive",
	  "GET / HTTP/1.1\r\nHOST: up\r\nx-REQUEST-id: r1\r\nTraceParent: t1\r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "up", "r1", "t1" },
	{ "lowercase host", "GET / HTTP/1.1\r\nhost: low\r\n\r\n", 0, 0, "GET", "/", 0, 1, "low",
	  "", "" },
	{ "blanks around value", "GET / HTTP/1.1\r\nHost: \t  example.com \t \r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "example.com", "", "" },
	{ "no blank after colon", "GET / HTTP/1.1\r\nHost:example.com\r\n\r\n", 0, 0, "GET", "/", 0,
	  1, "example.com", "", "" },
	{ "empty value", "GET / HTTP/1.1\r\nX-Request-ID:\r\nHost: h\r\n\r\n", 0, 0, "GET", "/", 0,
	  1, "h", "", "" },
	{ "bare LF", "GET /lf HTTP/1.1\nHost: lf.example\nX-Request-ID: q\n\n", 0, 0, "GET", "/lf",
	  0, 1, "lf.example", "q", "" },
	{ "HTTP/1.0", "GET /old HTTP/1.0\r\n\r\n", 0, 0, "GET", "/old", 0, 0, "", "", "" },
	{ "no headers, line only", "DELETE /items/7 HTTP/1.1\r\n", 0, 0, "DELETE", "/items/7", 0, 1,
	  "", "", "" },
	{ "first host wins", "GET / HTTP/1.1\r\nHost: first\r\nHost: second\r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "first", "", "" },
	{ "empty then non-empty", "GET / HTTP/1.1\r\nHost:\r\nHost: second\r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "second", "", "" },
	{ "body not headers", "POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\nHost: evil\r\n\r\n", 0,
	  0, "POST", "/", 0, 1, "", "", "" },
	{ "header cut mid-value", "GET / HTTP/1.1\r\nX-Request-ID: r\r\nHost: exa", 0, 0, "GET",
	  "/", 0, 1, "", "r", "" },
	{ "header cut before LF", "GET / HTTP/1.1\r\nHost: example.com\r", 0, 0, "GET", "/", 0, 1,
	  "", "", "" },
	{ "header cut after LF", "GET / HTTP/1.1\r\nHost: example.com\r\n", 0, 0, "GET", "/", 0, 1,
	  "example.com", "", "" },
	{ "malformed line skipped", "GET / HTTP/1.1\r\nthis is junk\r\nHost: ok\r\n\r\n", 0, 0,
	  "GET", "/", 0, 1, "ok", "", "" },
	{ "blank before colon skipped", "GET / HTTP/1.1\r\nHost : bad\r\n\r\n", 0, 0, "GET", "/", 0,
	  1, "", "", "" },
	{ "folded line skipped", "GET / HTTP/1.1\r\nX-A: b\r\n Host: folded\r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "", "", "" },
	{ "empty name skipped", "GET / HTTP/1.1\r\n: x\r\nHost: y\r\n\r\n", 0, 0, "GET", "/", 0, 1,
	  "y", "", "" },
	{ "similar names ignored",
	  "GET / HTTP/1.1\r\nHosts: no\r\nX-Request-IDs: no\r\nX-Host: no\r\n\r\n", 0, 0, "GET",
	  "/", 0, 1, "", "", "" },
	{ "NUL in a header value", "GET / HTTP/1.1\r\nX-Request-ID: a\0b\r\nHost: h\r\n\r\n", 46, 0,
	  "GET", "/", 0, 1, "h", "a", "" },
	{ "PUT", "PUT /x HTTP/1.1\r\n\r\n", 0, 0, "PUT", "/x", 0, 1, "", "", "" },
	{ "HEAD", "HEAD /x HTTP/1.1\r\n\r\n", 0, 0, "HEAD", "/x", 0, 1, "", "", "" },
	{ "PATCH", "PATCH /x HTTP/1.1\r\n\r\n", 0, 0, "PATCH", "/x", 0, 1, "", "", "" },
	{ "TRACE", "TRACE /x HTTP/1.1\r\n\r\n", 0, 0, "TRACE", "/x", 0, 1, "", "", "" },
	{ "OPTIONS *", "OPTIONS * HTTP/1.1\r\n\r\n", 0, 0, "OPTIONS", "*", 0, 1, "", "", "" },
	{ "CONNECT authority", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	  0, 0, "CONNECT", "example.com:443", 0, 1, "example.com:443", "", "" },
	{ "absolute form", "GET http://h/p?q HTTP/1.1\r\n\r\n", 0, 0, "GET", "http://h/p?q", 0, 1,
	  "", "", "" },
	{ "extension method", "PROPFIND /dav HTTP/1.1\r\n\r\n", 0, 0, "PROPFIND", "/dav", 0, 1, "",
	  "", "" },
	{ "15-letter method", "ABCDEFGHIJKLMNO / HTTP/1.1\r\n\r\n", 0, 0, "ABCDEFGHIJKLMNO", "/", 0,
	  1, "", "", "" },
	{ "raw UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0, 0, "GET", "/caf\xc3\xa9",
	  0, 1, "", "", "" },
	{ "cut in target", "GET /abc", 0, 0, "GET", "/abc", 1, 1, "", "", "" },
	{ "cut after one target byte", "GET /", 0, 0, "GET", "/", 1, 1, "", "", "" },
	{ "cut after target space", "GET /abc ", 0, 0, "GET", "/abc", 0, 1, "", "", "" },
	{ "cut in version", "GET /abc HTT", 0, 0, "GET", "/abc", 0, 1, "", "", "" },
	{ "cut before minor", "GET /abc HTTP/1.", 0, 0, "GET", "/abc", 0, 1, "", "", "" },
	{ "cut after minor 0", "GET /abc HTTP/1.0", 0, 0, "GET", "/abc", 0, 0, "", "", "" },
	{ "cut after CR", "GET /abc HTTP/1.0\r", 0, 0, "GET", "/abc", 0, 0, "", "", "" },
	/* rejected */
	{ .name = "empty", .in = "", .len = 0, .rc = -EINVAL },
	{ .name = "method only", .in = "GET", .len = 0, .rc = -EINVAL },
	{ .name = "method and space", .in = "GET ", .len = 0, .rc = -EINVAL },
	{ .name = "lowercase method", .in = "get / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "mixed-case method", .in = "Get / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "16-letter method",
	  .in = "ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n",
	  .len = 0,
	  .rc = -EINVAL },
	{ .name = "digit in method", .in = "GET2 / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "dash in method", .in = "M-SEARCH * HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "leading space", .in = " GET / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "leading CRLF", .in = "\r\nGET / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "tab after method", .in = "GET\t/ HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "two spaces", .in = "GET  / HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "control in target",
	  .in = "GET /a\tb HTTP/1.1\r\n\r\n",
	  .len = 0,
	  .rc = -EINVAL },
	{ .name = "DEL in target", .in = "GET /a\x7f HTTP/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "NUL in target", .in = "GET /a\0b HTTP/1.1\r\n\r\n", .len = 21, .rc = -EINVAL },
	{ .name = "HTTP/0.9", .in = "GET /\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "no version", .in = "GET / \r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "HTTP/1.2", .in = "GET / HTTP/1.2\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "HTTP/2.0", .in = "GET / HTTP/2.0\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "lowercase version", .in = "GET / http/1.1\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "version trailing junk",
	  .in = "GET / HTTP/1.1x\r\n\r\n",
	  .len = 0,
	  .rc = -EINVAL },
	{ .name = "version two digits", .in = "GET / HTTP/1.10\r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "CR without LF",
	  .in = "GET / HTTP/1.1\rHost: x\r\n\r\n",
	  .len = 0,
	  .rc = -EINVAL },
	{ .name = "version space", .in = "GET / HTTP/1.1 \r\n\r\n", .len = 0, .rc = -EINVAL },
	{ .name = "cut in wrong version", .in = "GET /abc HTX", .len = 0, .rc = -EINVAL },
	{ .name = "response, not request",
	  .in = "HTTP/1.1 200 OK\r\n\r\n",
	  .len = 0,
	  .rc = -EINVAL },
	{ .name = "TLS hello",
	  .in = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	  .len = 11,
	  .rc = -EINVAL },
	{ .name = "binary", .in = "\x00\x01\x02GET / HTTP/1.1", .len = 17, .rc = -EINVAL },
};

static void test_request_table(void **state)
{
	struct http_req_info r;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];

		len = c->len ? c->len : strlen(c->in);
		memset(&r, 0x55, sizeof(r));
		rc = parse_req(c->in, len, &r);
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, expected %d", c->name, rc, c->rc);
		if (rc)
			continue;
		if (strcmp(r.method, c->method) || strcmp(r.path, c->path) ||
		    r.path_truncated != c->truncated || r.version_minor != c->minor ||
		    strcmp(r.host, c->host) || strcmp(r.request_id, c->request_id) ||
		    strcmp(r.traceparent, c->traceparent))
			fail_msg(
				"case '%s': got method '%s' path '%s' trunc %d minor %d host '%s' rid '%s' tp '%s'",
				c->name, r.method, r.path, r.path_truncated, r.version_minor,
				r.host, r.request_id, r.traceparent);
	}
}

static void test_request_null(void **state)
{
	struct http_req_info r;

	(void)state;
	assert_int_equal(http_parse_request(NULL, 10, &r), -EINVAL);
	assert_int_equal(http_parse_request("GET / HTTP/1.1\r\n", 16, NULL), -EINVAL);
}

/* Builds "GET /<n-1 x's> HTTP/1.1\r\nHost: h\r\n\r\n" with a target of exactly n bytes. */
static char *long_target_request(size_t n, size_t *len)
{
	const char *tail = " HTTP/1.1\r\nHost: h\r\nX-Request-ID: long\r\n\r\n";
	char *s = malloc(4 + n + strlen(tail) + 1);

	assert_non_null(s);
	memcpy(s, "GET /", 5);
	memset(s + 5, 'x', n - 1);
	strcpy(s + 4 + n, tail);
	*len = strlen(s);
	return s;
}

static void test_request_path_limits(void **state)
{
	struct http_req_info r;
	size_t len, n;
	char *s;

	(void)state;
	/* exactly HTTP_PATH_MAX: kept whole */
	s = long_target_request(1024, &len);
	assert_int_equal(parse_req(s, len, &r), 0);
	assert_int_equal(strlen(r.path), 1024);
	assert_memory_equal(r.path, s + 4, 1024);
	assert_int_equal(r.path_truncated, 0);
	assert_string_equal(r.host, "h");
	/* the capture ending right after those 1024 bytes: cannot tell, so truncated */
	assert_int_equal(parse_req(s, 4 + 1024, &r), 0);
	assert_int_equal(strlen(r.path), 1024);
	assert_int_equal(r.path_truncated, 1);
	/* one more byte of capture, the space: complete */
	assert_int_equal(parse_req(s, 4 + 1024 + 1, &r), 0);
	assert_int_equal(r.path_truncated, 0);
	free(s);

	/* one byte over */
	s = long_target_request(1025, &len);
	assert_int_equal(parse_req(s, len, &r), 0);
	assert_int_equal(strlen(r.path), 1024);
	assert_memory_equal(r.path, s + 4, 1024);
	assert_int_equal(r.path_truncated, 1);
	assert_int_equal(r.version_minor, 1);
	assert_string_equal(r.host, "h");
	assert_string_equal(r.request_id, "long");
	free(s);

	/* 1023 and far longer targets */
	for (n = 1023; n <= 3000; n += 1977) {
		s = long_target_request(n, &len);
		assert_int_equal(parse_req(s, len, &r), 0);
		assert_int_equal(strlen(r.path), n < 1024 ? n : 1024);
		assert_int_equal(r.path_truncated, n > 1024);
		assert_string_equal(r.request_id, "long");
		free(s);
	}
}

static void test_request_long_values_cut(void **state)
{
	char buf[1024], rid[300];
	struct http_req_info r;

	(void)state;
	memset(rid, 'r', 200);
	rid[200] = '\0';
	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX-Request-ID: %s\r\ntraceparent: %s\r\n\r\n",
		 rid, rid);
	assert_int_equal(parse_req(buf, strlen(buf), &r), 0);
	assert_int_equal(strlen(r.request_id), sizeof(r.request_id) - 1);
	assert_memory_equal(r.request_id, rid, sizeof(r.request_id) - 1);
	assert_int_equal(strlen(r.traceparent), sizeof(r.traceparent) - 1);

	memset(rid, 'h', 299);
	rid[299] = '\0';
	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", rid);
	assert_int_equal(parse_req(buf, strlen(buf), &r), 0);
	assert_int_equal(strlen(r.host), sizeof(r.host) - 1);
}

/* Every prefix of a sample request: no crash, and exactly what that prefix shows. */
static void test_request_every_prefix(void **state)
{
	static const char req[] = "POST /search?q=x HTTP/1.1\r\n"
				  "Host: shop.example\r\n"
				  "X-Request-ID: 4bf92f35\r\n"
				  "traceparent: " TP "\r\n"
				  "Content-Length: 2\r\n"
				  "\r\n"
				  "{}";
	const char *host_end = strstr(req, "shop.example\r\n") + strlen("shop.example\r\n");
	const char *rid_end = strstr(req, "4bf92f35\r\n") + strlen("4bf92f35\r\n");
	const char *tp_end = strstr(req, TP "\r\n") + strlen(TP "\r\n");
	size_t target_end = strlen("POST /search?q=x"), len, n;
	struct http_req_info r;
	int rc;

	(void)state;
	for (len = 0; len <= sizeof(req) - 1; len++) {
		rc = parse_req(req, len, &r);
		if (len < strlen("POST /")) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(r.method, "POST");
		n = len < target_end ? len - 5 : target_end - 5;
		assert_int_equal(strlen(r.path), n);
		assert_memory_equal(r.path, "/search?q=x", n);
		assert_int_equal(r.path_truncated, len <= target_end);
		assert_int_equal(r.version_minor, 1);
		assert_string_equal(r.host, len >= (size_t)(host_end - req) ? "shop.example" : "");
		assert_string_equal(r.request_id, len >= (size_t)(rid_end - req) ? "4bf92f35" : "");
		assert_string_equal(r.traceparent, len >= (size_t)(tp_end - req) ? TP : "");
	}
}

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void check_req_sane(const struct http_req_info *r)
{
	size_t i, n = strlen(r->method);

	assert_true(n >= 1 && n <= 15);
	for (i = 0; i < n; i++)
		assert_true(r->method[i] >= 'A' && r->method[i] <= 'Z');
	assert_true(strlen(r->path) >= 1 && strlen(r->path) <= HTTP_PATH_MAX);
	assert_true(r->version_minor == 0 || r->version_minor == 1);
	assert_true(r->path_truncated == 0 || r->path_truncated == 1);
	assert_true(strlen(r->host) < sizeof(r->host));
	assert_true(strlen(r->request_id) < sizeof(r->request_id));
	assert_true(strlen(r->traceparent) < sizeof(r->traceparent));
}

static void check_resp_sane(const struct http_resp_info *r, size_t len)
{
	assert_true(r->status >= 100 && r->status <= 999);
	assert_true(r->version_minor == 0 || r->version_minor == 1);
	assert_true(r->content_length >= -1);
	assert_true(r->head_len <= len);
	assert_true(r->chunked == 0 || r->chunked == 1);
	assert_true(r->conn_close == 0 || r->conn_close == 1);
}

/* Builds a uwsgi protocol request from NULL-terminated key, value pairs into buf;
 * returns its length. */
static size_t uwsgi_packet(unsigned char *buf, const char *const *kv)
{
	size_t n = 4, kl, vl;

	for (; *kv; kv += 2) {
		kl = strlen(kv[0]);
		vl = strlen(kv[1]);
		buf[n++] = kl & 0xff;
		buf[n++] = kl >> 8;
		memcpy(buf + n, kv[0], kl);
		n += kl;
		buf[n++] = vl & 0xff;
		buf[n++] = vl >> 8;
		memcpy(buf + n, kv[1], vl);
		n += vl;
	}
	buf[0] = 0;
	buf[1] = (n - 4) & 0xff;
	buf[2] = (n - 4) >> 8;
	buf[3] = 0;
	return n;
}

static void test_request_uwsgi(void **state)
{
	/* as nginx's uwsgi_params send them: REQUEST_URI wins over PATH_INFO + QUERY_STRING */
	static const char *const full[] = { "QUERY_STRING",
					    "a=1",
					    "REQUEST_METHOD",
					    "POST",
					    "REQUEST_URI",
					    "/x/y?a=1",
					    "PATH_INFO",
					    "/x/y",
					    "SERVER_PROTOCOL",
					    "HTTP/1.0",
					    "HTTP_HOST",
					    "h:8",
					    "HTTP_X_REQUEST_ID",
					    "rid-7",
					    "HTTP_TRACEPARENT",
					    "00-ab",
					    NULL };
	static const char *const no_uri[] = { "REQUEST_METHOD", "GET", "PATH_INFO", "/p",
					      "QUERY_STRING",	"q=2", NULL };
	static const char *const no_qs[] = {
		"PATH_INFO", "/p", "QUERY_STRING", "", "REQUEST_METHOD", "GET", NULL
	};
	static const char *const no_method[] = { "PATH_INFO", "/p", NULL };
	static const char *const bad_method[] = { "REQUEST_METHOD", "get", "PATH_INFO", "/p",
						  NULL };
	struct http_req_info r;
	unsigned char buf[512];
	size_t n, cut;

	n = uwsgi_packet(buf, full);
	assert_int_equal(http_parse_request((char *)buf, n, &r), 0);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.path, "/x/y?a=1");
	assert_int_equal(r.version_minor, 0);
	assert_string_equal(r.host, "h:8");
	assert_string_equal(r.request_id, "rid-7");
	assert_string_equal(r.traceparent, "00-ab");
	n = uwsgi_packet(buf, no_uri);
	assert_int_equal(http_parse_request((char *)buf, n, &r), 0);
	assert_string_equal(r.path, "/p?q=2");
	assert_int_equal(r.version_minor, 1);
	assert_string_equal(r.host, "");
	assert_int_equal(r.path_truncated, 0);
	n = uwsgi_packet(buf, no_qs);
	assert_int_equal(http_parse_request((char *)buf, n, &r), 0);
	assert_string_equal(r.path, "/p");
	n = uwsgi_packet(buf, no_method);
	assert_int_equal(http_parse_request((char *)buf, n, &r), -EINVAL);
	assert_string_equal(r.path, "");
	n = uwsgi_packet(buf, bad_method);
	assert_int_equal(http_parse_request((char *)buf, n, &r), -EINVAL);
	/* a capture cut inside a var reads the vars before it, and needs method and path */
	n = uwsgi_packet(buf, full);
	for (cut = 0; cut < n; cut++) {
		int rc = http_parse_request((char *)buf, cut, &r);

		/* QUERY_STRING, REQUEST_METHOD, REQUEST_URI: 4+16 + 4+17 + 4+19 = 64 bytes */
		assert_int_equal(rc, cut >= 4 + 64 ? 0 : -EINVAL);
	}
	/* modifier2 must be 0; a vars size under one var is no request */
	n = uwsgi_packet(buf, full);
	buf[3] = 1;
	assert_int_equal(http_parse_request((char *)buf, n, &r), -EINVAL);
	buf[3] = 0;
	buf[1] = 3;
	buf[2] = 0;
	assert_int_equal(http_parse_request((char *)buf, n, &r), -EINVAL);
}

static void test_garbage(void **state)
{
	static const char *const seeds[] = {
		"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Request-ID: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	};
	static const char alphabet[] = "GETPOSHTP/1.0 \r\n:\t,chunkedlosg0123456789\x80\xff";
	struct http_resp_info resp;
	struct http_req_info req;
	char buf[160];
	size_t len, i, k;
	int iter, rc;

	(void)state;
	for (iter = 0; iter < 200000; iter++) {
		switch (iter % 3) {
		case 0: /* random bytes */
			len = rng() % sizeof(buf);
			for (i = 0; i < len; i++)
				buf[i] = (char)rng();
			break;
		case 1: /* random HTTP-ish tokens */
			len = rng() % sizeof(buf);
			for (i = 0; i < len; i++)
				buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
			break;
		default: /* a valid head with a few bytes mutated, then cut */
			k = rng() % 2;
			len = strlen(seeds[k]);
			memcpy(buf, seeds[k], len);
			for (i = rng() % 4; i > 0; i--)
				buf[rng() % len] = (char)rng();
			len = rng() % (len + 1);
			break;
		}
		rc = parse_req(buf, len, &req);
		assert_true(rc == 0 || rc == -EINVAL);
		if (!rc)
			check_req_sane(&req);
		rc = parse_resp(buf, len, &resp);
		assert_true(rc == 0 || rc == -EINVAL);
		if (!rc)
			check_resp_sane(&resp, len);
	}
}

struct resp_case {
	const char *name;
	const char *in;
	int rc;
	int status, minor;
	long long content_length;
	int chunked, conn_close;
	long head_len; /* -1: strlen(in), i.e. the whole input is the head */
};

static const struct resp_case resp_cases[] = {
	{ "200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 200, 1, 5, 0, 0,
	  -1 },
	{ "1.0 404", "HTTP/1.0 404 Not Found\r\n\r\n", 0, 404, 0, -1, 0, 0, -1 },
	{ "no reason phrase", "HTTP/1.1 204\r\n\r\n", 0, 204, 1, -1, 0, 0, -1 },
	{ "empty reason", "HTTP/1.1 204 \r\n\r\n", 0, 204, 1, -1, 0, 0, -1 },
	{ "bare LF", "HTTP/1.1 301 Moved\nLocation: /x\nContent-Length: 0\n\n", 0, 301, 1, 0, 0, 0,
	  -1 },
	{ "status only, cut", "HTTP/1.1 200", 0, 200, 1, -1, 0, 0, 0 },
	{ "status line cut", "HTTP/1.1 500 Internal Ser", 0, 500, 1, -1, 0, 0, 0 },
	{ "head cut: complete lines count",
	  "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: clo", 0, 200, 1, 7, 0, 0, 0 },
	{ "head cut before final LF", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r", 0, 200, 1, 7, 0,
	  0, 0 },
	{ "100", "HTTP/1.1 100 Continue\r\n\r\n", 0, 100, 1, -1, 0, 0, -1 },
	{ "999", "HTTP/1.1 999 Odd\r\n\r\n", 0, 999, 1, -1, 0, 0, -1 },
	{ "length blanks", "HTTP/1.1 200 OK\r\nContent-Length: \t 42 \t\r\n\r\n", 0, 200, 1, 42, 0,
	  0, -1 },
	{ "length no blank", "HTTP/1.1 200 OK\r\ncontent-length:42\r\n\r\n", 0, 200, 1, 42, 0, 0,
	  -1 },
	{ "length case", "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\n\r\n", 0, 200, 1, 3, 0, 0, -1 },
	{ "length leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", 0, 200, 1, 7, 0,
	  0, -1 },
	{ "length max", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", 0, 200, 1,
	  9223372036854775807LL, 0, 0, -1 },
	{ "length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", 0,
	  200, 1, -1, 0, 0, -1 },
	{ "length huge", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
	  200, 1, -1, 0, 0, -1 },
	{ "length inner blank", "HTTP/1.1 200 OK\r\nContent-Length: 4 2\r\n\r\n", 0, 200, 1, -1, 0,
	  0, -1 },
	{ "length sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", 0, 200, 1, -1, 0, 0, -1 },
	{ "length negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "length empty", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", 0, 200, 1, -1, 0, 0, -1 },
	{ "length hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "length list same", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 0, 200, 1, 5, 0, 0,
	  -1 },
	{ "length list differ", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0, 200, 1, -1, 0,
	  0, -1 },
	{ "length twice same", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	  0, 200, 1, 5, 0, 0, -1 },
	{ "length twice differ",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "length valid then junk",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, 1, -1, 1, 0,
	  -1 },
	{ "chunked case", "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n", 0, 200, 1, -1, 1,
	  0, -1 },
	{ "gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 200, 1,
	  -1, 1, 0, -1 },
	{ "chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 200, 1,
	  -1, 0, 0, -1 },
	{ "chunked, trailing comma", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked ,\r\n\r\n", 0,
	  200, 1, -1, 1, 0, -1 },
	{ "TE twice, last decides",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 0,
	  200, 1, -1, 0, 0, -1 },
	{ "chunked and length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, 1,
	  9, 1, 0, -1 },
	{ "chunkedx", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 0, 200, 1, -1, 0, 1, -1 },
	{ "Close in list", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", 0, 200, 1,
	  -1, 0, 1, -1 },
	{ "keep-alive", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 200, 1, -1, 0, 0,
	  -1 },
	{ "closed", "HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", 0, 200, 1, -1, 0, 0, -1 },
	{ "body not headers",
	  "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nContent-Length: 1\r\n\r\n", 0, 200, 1, 30,
	  0, 0, 39 },
	{ "all together",
	  "HTTP/1.1 201 Created\r\nServer: gunicorn\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n",
	  0, 201, 1, 17, 0, 1, -1 },
	/* rejected */
	{ .name = "empty", .in = "", .rc = -EINVAL },
	{ .name = "too short", .in = "HTTP/1.1 20", .rc = -EINVAL },
	{ .name = "4-digit status", .in = "HTTP/1.1 2000 OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "status 099", .in = "HTTP/1.1 099 X\r\n\r\n", .rc = -EINVAL },
	{ .name = "status letters", .in = "HTTP/1.1 2xx OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "no space before reason", .in = "HTTP/1.1 200OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "two spaces", .in = "HTTP/1.1  200 OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "HTTP/2", .in = "HTTP/2 200\r\n\r\n", .rc = -EINVAL },
	{ .name = "HTTP/1.2", .in = "HTTP/1.2 200 OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "lowercase", .in = "http/1.1 200 OK\r\n\r\n", .rc = -EINVAL },
	{ .name = "request", .in = "GET / HTTP/1.1\r\n\r\n", .rc = -EINVAL },
	{ .name = "leading blank", .in = " HTTP/1.1 200 OK\r\n\r\n", .rc = -EINVAL },
};

static void test_response_table(void **state)
{
	struct http_resp_info r;
	size_t i, len, head;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
		const struct resp_case *c = &resp_cases[i];

		len = strlen(c->in);
		memset(&r, 0x55, sizeof(r));
		rc = parse_resp(c->in, len, &r);
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, expected %d", c->name, rc, c->rc);
		if (rc)
			continue;
		head = c->head_len < 0 ? len : (size_t)c->head_len;
		if (r.status != c->status || r.version_minor != c->minor ||
		    r.content_length != c->content_length || r.chunked != c->chunked ||
		    r.conn_close != c->conn_close || r.head_len != head)
			fail_msg(
				"case '%s': got status %d minor %d length %lld chunked %d close %d head %zu",
				c->name, r.status, r.version_minor, r.content_length, r.chunked,
				r.conn_close, r.head_len);
	}
	assert_int_equal(http_parse_response(NULL, 12, &r), -EINVAL);
	assert_int_equal(http_parse_response("HTTP/1.1 200 OK\r\n", 17, NULL), -EINVAL);
}

static void test_response_every_prefix(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 11\r\n"
				   "Connection: close\r\n"
				   "\r\n"
				   "hello world";
	size_t cl_end = strstr(resp, "11\r\n") + 4 - resp;
	size_t conn_end = strstr(resp, "close\r\n") + 7 - resp;
	size_t head = strstr(resp, "\r\n\r\n") + 4 - resp, len;
	struct http_resp_info r;

	(void)state;
	for (len = 0; len <= sizeof(resp) - 1; len++) {
		int rc = parse_resp(resp, len, &r);

		if (len < 12) {
			assert_int_equal(rc, -EINVAL);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.content_length, len >= cl_end ? 11 : -1);
		assert_int_equal(r.conn_close, len >= conn_end);
		assert_int_equal(r.head_len, len >= head ? head : 0);
		assert_int_equal(r.chunked, 0);
	}
}

/* Parses head+body as one first write and starts a tracker on it. */
static void start(struct http_body_tracker *t, const char *first, size_t cap,
		  unsigned long long len, int no_body)
{
	struct http_resp_info r;

	assert_int_equal(parse_resp(first, cap, &r), 0);
	http_body__init(t, &r, first, cap, len, no_body);
}

/* Feeds a write whose bytes are all known, passing its last 8 as the tail. */
static int feed(struct http_body_tracker *t, const char *data)
{
	size_t n = strlen(data);

	return http_body__feed(t, n, n > 8 ? data + n - 8 : data, n > 8 ? 8 : n);
}

#define H_CL(n) "HTTP/1.1 200 OK\r\nContent-Length: " #n "\r\n\r\n"
#define H_CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_body_content_length(void **state)
{
	struct http_body_tracker t;
	const char *s;

	(void)state;
	/* head and whole body in one write */
	s = H_CL(5) "hello";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 1);
	assert_int_equal(feed(&t, "more"), 1);

	/* gunicorn: head alone, then the body */
	s = H_CL(11);
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "hello"), 0);
	assert_int_equal(feed(&t, " worl"), 0);
	assert_int_equal(feed(&t, "d"), 1);
	assert_int_equal(t.body_sent, 11);

	/* part of the body with the head */
	s = H_CL(10) "abcd";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(t.body_sent, 4);
	assert_int_equal(http_body__feed(&t, 5, NULL, 0), 0);
	assert_int_equal(http_body__feed(&t, 0, NULL, 0), 0);
	assert_int_equal(http_body__feed(&t, 1, NULL, 0), 1);

	/* a first write larger than its capture: bytes counted from the write's length */
	s = H_CL(100000) "xxxx";
	start(&t, s, strlen(s), strlen(H_CL(100000)) + 60000, 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(t.body_sent, 60000);
	assert_int_equal(http_body__feed(&t, 39999, NULL, 0), 0);
	assert_int_equal(http_body__feed(&t, 1, NULL, 0), 1);

	/* empty body */
	s = H_CL(0);
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 1);

	/* 10 GB in 1 GB writes */
	s = H_CL(10000000000);
	start(&t, s, strlen(s), strlen(s), 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(http_body__feed(&t, 1000000000ULL, NULL, 0), 0);
	assert_int_equal(http_body__feed(&t, 1000000000ULL, NULL, 0), 1);

	/* invalid length: never completes by itself */
	s = "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 0);
}

static void test_body_no_body(void **state)
{
	static const char *const heads[] = {
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	};
	struct http_body_tracker t;
	size_t i;
	const char *s;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		start(&t, heads[i], strlen(heads[i]), strlen(heads[i]), 0);
		assert_int_equal(t.done, 1);
	}
	/* HEAD: the length describes what a GET would get */
	s = H_CL(5000);
	start(&t, s, strlen(s), strlen(s), 1);
	assert_int_equal(t.done, 1);
	s = H_CHUNKED;
	start(&t, s, strlen(s), strlen(s), 1);
	assert_int_equal(t.done, 1);
	/* without the flag the same head waits for its body */
	s = H_CL(5000);
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
}

static void test_body_chunked(void **state)
{
	struct http_body_tracker t;
	const char *s;

	(void)state;
	/* whole response in one write */
	s = H_CHUNKED "5\r\nhello\r\n0\r\n\r\n";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 1);

	/* empty chunked body */
	s = H_CHUNKED "0\r\n\r\n";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 1);

	/* head alone, chunks, terminator in its own write */
	s = H_CHUNKED;
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "5\r\nhello\r\n"), 0);
	assert_int_equal(feed(&t, "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"), 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 1);
	assert_int_equal(feed(&t, "x"), 1);

	/* terminator with the last chunk */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "3\r\nabc\r\n0\r\n\r\n"), 1);

	/* terminator split over writes */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "3\r\nabc\r\n0\r\n"), 0);
	assert_int_equal(feed(&t, "\r\n"), 1);

	/* terminator one byte per write */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "3\r\nabc\r\n"), 0);
	assert_int_equal(feed(&t, "0"), 0);
	assert_int_equal(feed(&t, "\r"), 0);
	assert_int_equal(feed(&t, "\n"), 0);
	assert_int_equal(feed(&t, "\r"), 0);
	assert_int_equal(feed(&t, "\n"), 1);

	/* chunk data that merely ends like a terminator: "10\r\n" + CRLF */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "6\r\ncnt 10\r\n\r\n"), 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 1);

	/* chunk data ending in "\n0\r\n" is indistinguishable from the end: accepted */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "4\r\na\n0\r\n\r\n"), 1);

	/* leading zeros in the last-chunk size */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "3\r\nabc\r\n000\r\n\r\n"), 1);

	/* the length a chunked response also carries is ignored (RFC 7230 3.3.3) */
	s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "3\r\nabc\r\n"), 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 1);

	/* a write whose tail was not captured, then the terminator alone */
	s = H_CHUNKED;
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(http_body__feed(&t, 70000, NULL, 0), 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 1);

	/* first write bigger than its capture: its tail is unknown */
	s = H_CHUNKED "5\r\nhello\r\n0\r\n\r\n";
	start(&t, s, strlen(H_CHUNKED) + 3, strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "2\r\nab\r\n0\r\n\r\n"), 1);

	/* a tail longer than 8 bytes and one longer than the write are clamped */
	s = H_CHUNKED;
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(http_body__feed(&t, 100, "xxxxxxxxxxxx\r\n0\r\n\r\n", 19), 1);
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(http_body__feed(&t, 2, "0\r\n\r\n", 5),
			 0); /* only "\r\n" is this write's */

	/* a stream that never ends */
	start(&t, s, strlen(s), strlen(s), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(feed(&t, "5\r\nhello\r\n"), 0);
}

static void test_body_unknown_length(void **state)
{
	struct http_body_tracker t;
	const char *s;
	int i;

	(void)state;
	s = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(http_body__feed(&t, 1 << 20, NULL, 0), 0);
	assert_int_equal(feed(&t, "\r\n0\r\n\r\n"), 0);
	assert_int_equal(feed(&t, "</html>"), 0);
}

static void test_body_head_not_captured(void **state)
{
	struct http_body_tracker t;
	const char *s;

	(void)state;
	/* head cut by the capture; its end arrives with the end of a later write */
	s = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: aaaaaaaaaaaa";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(t.in_head, 1);
	assert_int_equal(feed(&t, "aaaaaaaaaaaaaaaaaa"), 0);
	assert_int_equal(feed(&t, "aaa\r\n\r\n"), 0);
	assert_int_equal(t.in_head, 0);
	assert_int_equal(feed(&t, "abc"), 0);
	assert_int_equal(feed(&t, "def"), 1);

	/* the blank line split over writes */
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "a\r\n\r"), 0);
	assert_int_equal(feed(&t, "\n"), 0);
	assert_int_equal(t.in_head, 0);
	assert_int_equal(feed(&t, "abcdef"), 1);

	/* no body: complete when the head is */
	s = "HTTP/1.1 304 Not Modified\r\nETag: \"x";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "yz\"\r\n\r\n"), 1);

	/* chunked: the terminator is found wherever the head ended */
	s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Big: bbbbbbbb";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(t.done, 0);
	assert_int_equal(feed(&t, "bbb\r\n\r\n5\r\nhello\r\n"), 0);
	assert_int_equal(feed(&t, "0\r\n\r\n"), 1);

	s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Big: bbbbbbbb";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "bbb\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 1);

	/* head end inside a write: length unknowable, never completes by itself */
	s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Big: bbbbbbbb";
	start(&t, s, strlen(s), strlen(s), 0);
	assert_int_equal(feed(&t, "bbb\r\n\r\nabc"), 0);
	assert_int_equal(feed(&t, "def"), 0);
}

static void test_body_feed_null(void **state)
{
	(void)state;
	assert_int_equal(http_body__feed(NULL, 5, "abcde", 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_request_null),
		cmocka_unit_test(test_request_path_limits),
		cmocka_unit_test(test_request_long_values_cut),
		cmocka_unit_test(test_request_every_prefix),
		cmocka_unit_test(test_request_uwsgi),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_response_table),
		cmocka_unit_test(test_response_every_prefix),
		cmocka_unit_test(test_body_content_length),
		cmocka_unit_test(test_body_no_body),
		cmocka_unit_test(test_body_chunked),
		cmocka_unit_test(test_body_unknown_length),
		cmocka_unit_test(test_body_head_not_captured),
		cmocka_unit_test(test_body_feed_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
