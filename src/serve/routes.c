/* The viewer's HTTP side: access control, the page, the API and the live stream per URL. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "serve/api.h"
#include "serve/assets.h"
#include "serve/routes.h"

#define SSE_BLOCK 16384

/* The page may load only itself; records can never bring in script, style or frames. */
#define CSP_PAGE                                                                          \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define CSP_DATA "default-src 'none'; frame-ancestors 'none'; sandbox"

#define API_REQUESTS "/api/requests"
#define SCOOBY_GET_DATA "/scooby/get-data/"

/* Adds the headers every response carries. */
static void routes__common_headers(struct MHD_Response *resp, const char *ctype, bool page)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy", page ? CSP_PAGE : CSP_DATA);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/*
 * Queues body (len bytes; freed here when must_free) with status and type.
 * Returns what MHD_queue_response returned, MHD_NO when no response could be
 * made.
 */
static enum MHD_Result routes__send(struct MHD_Connection *conn, unsigned status, const char *ctype,
				    const void *body, size_t len, bool must_free)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
		len, (void *)body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (must_free)
			free((void *)body);
		return MHD_NO;
	}
	routes__common_headers(resp, ctype, !strncmp(ctype, "text/html", 9));
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"scooby-bpf\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Queues an API reply (taking its body); a body lost to ENOMEM becomes a bare 500. */
static enum MHD_Result routes__reply(struct MHD_Connection *conn, struct api_reply *r)
{
	static const char oom[] = "{\"error\":\"out of memory\"}";

	if (!r->body)
		return routes__send(conn, 500, "application/json", oom, sizeof(oom) - 1, false);
	return routes__send(conn, r->status, "application/json", r->body, strlen(r->body), true);
}

static enum MHD_Result routes__error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	struct api_reply r;

	api__error(&r, status, "%s", msg);
	return routes__reply(conn, &r);
}

/* True when a and b are equal; the time taken depends only on b's length. */
static bool token__equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < lb; i++)
		diff |= (unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)b[i];
	return diff == 0;
}

/* True when the request carries the token: `Authorization: Bearer T` or `?token=T`. */
static bool routes__authorized(const struct routes *rt, struct MHD_Connection *conn)
{
	const char *auth, *q;
	bool ok = false;

	if (!rt->token)
		return true;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && !strncasecmp(auth, "Bearer ", 7)) {
		for (auth += 7; *auth == ' '; auth++)
			;
		ok |= token__equal(auth, rt->token);
	}
	q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	if (q)
		ok |= token__equal(q, rt->token);
	return ok;
}

/*
 * True when the Host header names a loopback address (or is absent). Without
 * a token this keeps a web page from reaching the viewer through a DNS name
 * rebound to 127.0.0.1.
 */
static bool routes__host_ok(struct MHD_Connection *conn)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	size_t n;

	if (!host)
		return true;
	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5) && (host[5] == '\0' || host[5] == ':');
	n = strcspn(host, ":");
	if (n == 9 && !strncasecmp(host, "localhost", 9))
		return true;
	return n >= 9 && n <= 15 && !strncmp(host, "127.", 4) && strspn(host, "0123456789.") == n;
}

static const char *asset__type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

static const struct serve_asset *asset__find(const char *name)
{
	size_t i;

	for (i = 0; i < serve_assets_count; i++)
		if (!strcmp(serve_assets[i].name, name))
			return &serve_assets[i];
	return NULL;
}

/* Serves an embedded file by name; 404 when there is none. */
static enum MHD_Result routes__asset(struct MHD_Connection *conn, const char *name)
{
	const struct serve_asset *a = asset__find(name);

	if (!a)
		return routes__error(conn, 404, "not found");
	return routes__send(conn, 200, asset__type(name), a->data, a->len, false);
}

/* Percent-encodes s but for RFC 3986's unreserved characters; a new string, NULL on ENOMEM. */
static char *url__encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	unsigned char c;

	if (!out)
		return NULL;
	for (; *s; s++) {
		c = *s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* True when the len bytes at p end a quoted reference to a script or style sheet. */
static bool page__asset_ref(const unsigned char *p, size_t left)
{
	return (left >= 4 && !memcmp(p, ".js\"", 4)) || (left >= 5 && !memcmp(p, ".css\"", 5));
}

/*
 * Serves index.html. With a token, its references to scripts and style
 * sheets carry ?token= too, so that a page opened with ?token=T can load
 * them. Returns like routes__send.
 */
static enum MHD_Result routes__page(const struct routes *rt, struct MHD_Connection *conn)
{
	const struct serve_asset *a = asset__find("index.html");
	char *enc = NULL, *out = NULL, *o;
	size_t i, n = 0, extra;

	if (!a || !rt->token)
		return routes__asset(conn, "index.html");
	enc = url__encode(rt->token);
	for (i = 0; enc && i < a->len; i++)
		n += page__asset_ref(a->data + i, a->len - i);
	extra = enc ? strlen("?token=") + strlen(enc) : 0;
	out = enc ? malloc(a->len + n * extra + 1) : NULL;
	if (!out) {
		free(enc);
		return routes__error(conn, 500, "out of memory");
	}
	for (i = 0, o = out; i < a->len; i++) {
		if (page__asset_ref(a->data + i, a->len - i)) {
			n = a->data[i + 1] == 'j' ? 3 : 4; /* ".js" or ".css" */
			o = mempcpy(o, a->data + i, n);
			o += sprintf(o, "?token=%s", enc);
			i += n - 1;
			continue;
		}
		*o++ = a->data[i];
	}
	free(enc);
	return routes__send(conn, 200, asset__type("index.html"), out, o - out, true);
}

/* GET /api/config: what the page needs to know from the command line. */
static enum MHD_Result routes__config(const struct routes *rt, struct MHD_Connection *conn)
{
	struct api_reply r = { .status = 200 };
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "slow_ms", rt->slow_ms);
	cJSON_AddBoolToObject(o, "token_required", rt->token != NULL);
	cJSON_AddNumberToObject(o, "version", 1);
	r.body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return routes__reply(conn, &r);
}

/* Parses a finite number >= 0 (NULL: keeps *out); -1 when malformed. */
static int arg__number(const char *s, double *out)
{
	char *end;
	double v;

	if (!s)
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (!s[0] || *end || errno || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Reads and checks GET /api/requests' arguments; -1 with why when one is malformed. */
static int routes__list_args(struct MHD_Connection *conn, struct api_list_args *a, const char **why)
{
	const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *before = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "before");
	const char *status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
	const char *n1 = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "n_plus_one");
	double v = API_LIST_DEFAULT;

	memset(a, 0, sizeof(*a));
	if (arg__number(limit, &v) || v < 1 || v > API_LIST_MAX || v != (long)v) {
		*why = "limit must be an integer from 1 to 1000";
		return -1;
	}
	a->limit = v;
	if (before) {
		if (arg__number(before, &a->before)) {
			*why = "before must be a number (unix ms)";
			return -1;
		}
		a->has_before = true;
	}
	if (arg__number(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "min_ms"),
			&a->filter.min_ms)) {
		*why = "min_ms must be a number >= 0";
		return -1;
	}
	if (summary__parse_status_class(status, &a->filter.status_class)) {
		*why = "status must be 1xx..5xx or none";
		return -1;
	}
	a->filter.path = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "path");
	a->filter.n_plus_one = n1 && (!strcmp(n1, "1") || !strcasecmp(n1, "true"));
	return 0;
}

static ssize_t routes__sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t n = live_client__read(cls, buf, max);

	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void routes__sse_free(void *cls)
{
	live_client__free(cls);
}

/* GET /api/live: a Server-Sent Events stream of summaries and Redis state changes. */
static enum MHD_Result routes__live(const struct routes *rt, struct MHD_Connection *conn)
{
	struct live_client *c = live_client__new(rt->live);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!c)
		return routes__error(conn, 503, "too many live clients");
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, routes__sse_read, c,
						 routes__sse_free);
	if (!resp) {
		live_client__free(c);
		return MHD_NO;
	}
	routes__common_headers(resp, "text/event-stream; charset=utf-8", false);
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The uuid after prefix in url ("/" after it allowed when trailing_slash); NULL when malformed. */
static const char *url__uuid(const char *url, const char *prefix, bool trailing_slash, char *buf)
{
	const char *rest = url + strlen(prefix);
	size_t n = strlen(rest);

	if (trailing_slash && n && rest[n - 1] == '/')
		n--;
	if (n != 32)
		return NULL;
	memcpy(buf, rest, 32);
	buf[32] = '\0';
	return record_uuid__valid(buf) ? buf : NULL;
}

/* Routes /api/... and /scooby/...; returns MHD_NO only when nothing could be queued. */
static enum MHD_Result routes__api(const struct routes *rt, struct MHD_Connection *conn,
				   const char *url)
{
	struct api_list_args args;
	struct api_reply r;
	const char *why;
	char uuid[33];

	if (!strcmp(url, API_REQUESTS)) {
		if (routes__list_args(conn, &args, &why))
			return routes__error(conn, 400, why);
		api__list(rt->store, &args, &r);
	} else if (!strncmp(url, API_REQUESTS "/", sizeof(API_REQUESTS))) {
		if (!url__uuid(url, API_REQUESTS "/", false, uuid))
			return routes__error(conn, 400,
					     "malformed uuid (expected 32 lowercase hex digits)");
		api__get(rt->store, uuid, &r);
	} else if (!strncmp(url, SCOOBY_GET_DATA, sizeof(SCOOBY_GET_DATA) - 1)) {
		if (!url__uuid(url, SCOOBY_GET_DATA, true, uuid))
			return routes__error(conn, 400,
					     "malformed uuid (expected 32 lowercase hex digits)");
		api__scooby(rt->store, uuid, &r);
	} else if (!strcmp(url, "/api/status")) {
		api__status(rt->store, &r);
	} else if (!strcmp(url, "/api/config")) {
		return routes__config(rt, conn);
	} else if (!strcmp(url, "/api/live")) {
		return routes__live(rt, conn);
	} else {
		return routes__error(conn, 404, "not found");
	}
	return routes__reply(conn, &r);
}

enum MHD_Result routes__handle(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	const struct routes *rt = cls;
	static int body_seen;

	/*
	 * Refusals are answered on the first call (a body sent along is never
	 * read, and the connection closes); GET and HEAD once the request is
	 * complete (a body is read and thrown away), so that the connection can
	 * be kept alive.
	 */
	if (!*con_cls) {
		*con_cls = (void *)rt;
		if (rt->check_host && !routes__host_ok(conn))
			return routes__error(conn, 403,
					     "Host must be a loopback address (or use --token)");
		if (!routes__authorized(rt, conn))
			return routes__error(conn, 401, "missing or invalid token");
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return routes__error(conn, 405, "read-only: GET and HEAD only");
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* discarded */
		*con_cls = &body_seen;
		return MHD_YES;
	}
	if (*con_cls == &body_seen)
		return routes__error(conn, 400, "GET and HEAD take no body");
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return routes__page(rt, conn);
	if (!strncmp(url, "/api/", 5) || !strncmp(url, "/scooby/", 8))
		return routes__api(rt, conn, url);
	if (url[0] == '/' && !strchr(url + 1, '/'))
		return routes__asset(conn, url + 1);
	return routes__error(conn, 404, "not found");
}
