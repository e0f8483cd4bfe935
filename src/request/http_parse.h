/* Parses HTTP/1.x heads captured from sockets and tracks when a response body has been written. */
#ifndef SCOOBY_HTTP_PARSE_H
#define SCOOBY_HTTP_PARSE_H

#include <stddef.h>

#define HTTP_PATH_MAX 1024

struct http_req_info {
	char method[16];
	/* request target as sent, query string included, truncated at 1024 bytes */
	char path[HTTP_PATH_MAX + 1];
	/* 1 when the target was longer than 1024 bytes (or cut by the capture before the space) */
	int path_truncated;
	int version_minor; /* 0 or 1; 1 when the capture ended before the version */
	char host[256]; /* "" when absent/not captured */
	char request_id[128]; /* X-Request-ID header, "" when absent */
	char traceparent[128]; /* traceparent header, "" when absent */
};

/*
 * Returns 0 and fills *out when buf starts with a request line
 * "METHOD SP target SP HTTP/1.x" (CRLF or bare LF ending it); returns -EINVAL
 * when it does not. The method is 1 to 15 uppercase letters; the target is
 * 1 or more bytes other than controls and space. The capture may end anywhere
 * after the first target byte: a target cut by the capture sets path_truncated,
 * a version cut after "HTTP/1." or earlier must agree with what was seen.
 * Header names are matched case-insensitively, only complete header lines
 * count, the first non-empty occurrence wins, values are stripped of
 * surrounding blanks and cut to fit their field.
 */
int http_parse_request(const char *buf, size_t len, struct http_req_info *out);
/* A buf starting with a 0 byte is read as a uwsgi protocol request instead (uWSGI behind
 * nginx's uwsgi_pass): its CGI variables give the same fields (see parse_uwsgi). */

struct http_resp_info {
	int status; /* 100..999 */
	int version_minor; /* 0 or 1 */
	/* -1 when absent or invalid (several differing values are invalid) */
	long long content_length;
	int chunked; /* Transfer-Encoding: chunked (the last coding) */
	int conn_close; /* Connection: close */
	/* bytes up to and including the blank line, 0 when the capture ended first */
	size_t head_len;
};

/*
 * Returns 0 and fills *out when buf starts with "HTTP/1.x NNN" followed by a
 * space, a line end or the end of the capture; -EINVAL otherwise. Headers are
 * read from complete lines only, as for requests.
 */
int http_parse_response(const char *buf, size_t len, struct http_resp_info *out);

/*
 * Tracks how much of a response body has been written, to tell when the
 * response is complete. Fields are private to http_body__*.
 */
struct http_body_tracker {
	long long content_length; /* -1 when unknown or overridden by chunked */
	int chunked;
	long long body_sent;
	char tail[8]; /* last bytes of the stream so far, as far as known */
	unsigned tail_len;
	int done;
	int in_head; /* the blank line ending the head has not been located yet */
	int no_body;
};

/*
 * Starts tracking the response whose head r was parsed from its first write.
 * first/first_cap are the captured bytes of that write (what was given to
 * http_parse_response), first_len the bytes the write really moved (the
 * capture may be shorter). no_body: nonzero when the request forbids a
 * response body (HEAD; a 2xx to CONNECT); statuses 1xx, 204 and 304 are
 * recognised from r. Chunked framing overrides Content-Length (RFC 7230
 * 3.3.3). When r->head_len is 0 the body start is unknown: the head end is
 * then looked for at the end of later writes. A 1xx response is complete at
 * the end of its head; the final response follows it.
 */
void http_body__init(struct http_body_tracker *t, const struct http_resp_info *r, const char *first,
		     size_t first_cap, unsigned long long first_len, int no_body);

/*
 * Feed each later write: its byte count and the last min(len,8) bytes of it
 * (tail may be NULL/0 when not captured). Returns 1 once the response is
 * complete (content_length reached, or chunked stream ended with "0\r\n\r\n"
 * across writes; stays 1), else 0. A response with neither length nor
 * chunked never completes by itself (ends at close/next request).
 */
int http_body__feed(struct http_body_tracker *t, unsigned long long len, const char *tail,
		    unsigned tail_len);

#endif /* SCOOBY_HTTP_PARSE_H */
