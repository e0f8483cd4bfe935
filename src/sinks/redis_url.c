/* Parses the Redis URL given on the command line into what a connection needs. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redis_url.h"

/* A span of the URL text: parts are located first, then decoded into *out. */
struct span {
	const char *s;
	size_t n;
};

static int fail(struct redis_url *out, char *err, size_t errlen, const char *why)
{
	/* the URL may carry a password: wipe it, and never quote the URL in err */
	explicit_bzero(out, sizeof(*out));
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes sp into dst (size bytes, NUL-terminated). Returns 0,
 * -EINVAL for a bad escape or an encoded NUL (the result is a C string), or
 * -ENAMETOOLONG when it does not fit.
 */
static int pct_decode(struct span sp, char *dst, size_t size)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < sp.n; i++) {
		c = sp.s[i];
		if (c == '%') {
			if (i + 2 >= sp.n)
				return -EINVAL;
			hi = hexval(sp.s[i + 1]);
			lo = hexval(sp.s[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -EINVAL;
			c = hi << 4 | lo;
			i += 2;
		}
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

/* Parses a non-negative decimal int; false when empty, not digits or too big. */
static bool parse_uint(struct span sp, long max, long *v)
{
	long x = 0;
	size_t i;

	if (!sp.n)
		return false;
	for (i = 0; i < sp.n; i++) {
		if (sp.s[i] < '0' || sp.s[i] > '9' || x > (max - (sp.s[i] - '0')) / 10)
			return false;
		x = x * 10 + (sp.s[i] - '0');
	}
	*v = x;
	return true;
}

/* Splits "[[user]:password@]" into user and password; a lone word is a password. */
static int parse_userinfo(struct span ui, struct redis_url *out, char *err, size_t errlen)
{
	const char *colon = memchr(ui.s, ':', ui.n);
	struct span user = { ui.s, 0 }, pass = ui;
	int rc;

	if (colon) {
		user.n = colon - ui.s;
		pass.s = colon + 1;
		pass.n = ui.n - user.n - 1;
	}
	rc = pct_decode(user, out->user, sizeof(out->user));
	if (rc == -ENAMETOOLONG)
		return fail(out, err, errlen, "user name too long (max 127 bytes)");
	if (rc)
		return fail(out, err, errlen, "invalid percent-encoding in user name");
	rc = pct_decode(pass, out->password, sizeof(out->password));
	if (rc == -ENAMETOOLONG)
		return fail(out, err, errlen, "password too long (max 255 bytes)");
	if (rc)
		return fail(out, err, errlen, "invalid percent-encoding in password");
	return 0;
}

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* Checks "[v6addr(%25zone)?]" and stores the address, zone as "%zone", unbracketed. */
static int parse_ipv6(struct span h, struct redis_url *out, char *err, size_t errlen)
{
	const char *zone = NULL;
	size_t i, n = h.n, colons = 0;

	for (i = 0; i < h.n; i++) {
		if (h.s[i] == '%') {
			zone = h.s + i;
			n = i;
			break;
		}
		if (h.s[i] == ':')
			colons++;
		else if (h.s[i] != '.' && hexval(h.s[i]) < 0)
			return fail(out, err, errlen, "invalid IPv6 address");
	}
	if (colons < 2)
		return fail(out, err, errlen, "invalid IPv6 address");
	if (zone) {
		/* RFC 6874: the zone separator is itself percent-encoded */
		if (h.s + h.n - zone < 4 || strncmp(zone, "%25", 3))
			return fail(out, err, errlen, "invalid IPv6 zone (write it as %25zone)");
		for (i = 3; zone + i < h.s + h.n; i++)
			if (!is_host_char(zone[i]) && zone[i] != '~')
				return fail(out, err, errlen, "invalid IPv6 zone");
	}
	if (h.n - (zone ? 2 : 0) >= sizeof(out->host))
		return fail(out, err, errlen, "host too long");
	memcpy(out->host, h.s, n);
	if (zone) {
		out->host[n] = '%';
		memcpy(out->host + n + 1, zone + 3, h.n - n - 3);
	}
	return 0;
}

/* Parses "host[:port]" or "[v6]:port". */
static int parse_hostport(struct span hp, struct redis_url *out, char *err, size_t errlen)
{
	struct span host = hp, port = { NULL, 0 };
	const char *p, *end = hp.s + hp.n;
	bool has_port = false;
	long v;
	size_t i;
	int rc;

	if (hp.n && hp.s[0] == '[') {
		p = memchr(hp.s, ']', hp.n);
		if (!p)
			return fail(out, err, errlen, "missing ']' after IPv6 address");
		host.s = hp.s + 1;
		host.n = p - host.s;
		p++;
		if (p < end && *p != ':')
			return fail(out, err, errlen, "unexpected text after IPv6 address");
		has_port = p < end;
		if (has_port) {
			port.s = p + 1;
			port.n = end - port.s;
		}
		rc = parse_ipv6(host, out, err, errlen);
		if (rc)
			return rc;
	} else {
		p = memchr(hp.s, ':', hp.n);
		if (p) {
			host.n = p - hp.s;
			port.s = p + 1;
			port.n = end - port.s;
			has_port = true;
			if (memchr(port.s, ':', port.n))
				return fail(out, err, errlen, "IPv6 addresses must be in brackets");
		}
		if (!host.n)
			return fail(out, err, errlen, "missing host");
		if (host.n >= sizeof(out->host))
			return fail(out, err, errlen, "host too long");
		for (i = 0; i < host.n; i++)
			if (!is_host_char(host.s[i]))
				return fail(out, err, errlen, "invalid character in host");
		memcpy(out->host, host.s, host.n);
	}
	if (has_port) {
		if (!parse_uint(port, 65535, &v) || v == 0)
			return fail(out, err, errlen, "invalid port (expected 1-65535)");
		out->port = v;
	}
	return 0;
}

static int parse_db(struct span sp, struct redis_url *out, char *err, size_t errlen)
{
	long v;

	if (!parse_uint(sp, 2147483647L, &v))
		return fail(out, err, errlen, "invalid database number");
	out->db = v;
	return 0;
}

/* Parses "name=value&..." after '?'; db is the only parameter understood. */
static int parse_query(struct span q, struct redis_url *out, char *err, size_t errlen)
{
	const char *p = q.s, *end, *amp;
	struct span param;
	int rc;

	if (!q.n)
		return 0; /* no query (q.s may be NULL: no arithmetic on it) */
	end = q.s + q.n;
	while (p < end) {
		amp = memchr(p, '&', end - p);
		if (!amp)
			amp = end;
		param.s = p;
		param.n = amp - p;
		p = amp + 1;
		if (!param.n)
			continue;
		if (param.n < 3 || strncmp(param.s, "db=", 3))
			return fail(out, err, errlen, "unsupported URL parameter (only db=N)");
		param.s += 3;
		param.n -= 3;
		rc = parse_db(param, out, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Finds the userinfo of an authority: up to its last '@' (a raw '@' in a password is forgiven). */
static bool split_userinfo(struct span auth, struct span *ui, struct span *rest)
{
	const char *at = NULL, *p;

	for (p = auth.s; p < auth.s + auth.n; p++)
		if (*p == '@')
			at = p;
	if (!at) {
		*rest = auth;
		return false;
	}
	ui->s = auth.s;
	ui->n = at - auth.s;
	rest->s = at + 1;
	rest->n = auth.s + auth.n - rest->s;
	return true;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen)
{
	struct span auth, ui, hp, path, query = { NULL, 0 };
	const char *rest, *p, *q;
	bool is_unix;
	int rc;

	if (!out)
		return -EINVAL;
	explicit_bzero(out, sizeof(*out));
	if (!url)
		return fail(out, err, errlen, "no URL given");
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(out, err, errlen, "space or control character in URL");
	if (strchr(url, '#'))
		return fail(out, err, errlen, "unexpected '#' in URL (percent-encode it as %23)");
	rest = strstr(url, "://");
	if (!rest)
		return fail(out, err, errlen,
			    "not a Redis URL (expected redis://host[:port][/db] or unix:///path)");
	if (rest - url == 5 && !strncasecmp(url, "redis", 5))
		is_unix = false;
	else if (rest - url == 4 && !strncasecmp(url, "unix", 4))
		is_unix = true;
	else if (rest - url == 6 && !strncasecmp(url, "rediss", 6))
		return fail(out, err, errlen, "TLS (rediss://) is not supported");
	else
		return fail(out, err, errlen, "unsupported scheme (expected redis:// or unix://)");
	rest += 3;
	out->is_unix = is_unix;

	/* the authority ends at the path or the query; for unix it holds userinfo only */
	auth.s = rest;
	auth.n = strcspn(rest, "/?");
	q = strchr(rest + auth.n, '?');
	if (q) {
		query.s = q + 1;
		query.n = strlen(query.s);
	}
	path.s = rest + auth.n;
	path.n = (q ? q : path.s + strlen(path.s)) - path.s;
	if (!split_userinfo(auth, &ui, &hp)) {
		/* likely a password with a raw '/' or '?', which ended the authority early */
		if (strchr(path.s, '@'))
			return fail(out, err, errlen,
				    "unexpected '@' (percent-encode '/?@' in passwords)");
	} else {
		rc = parse_userinfo(ui, out, err, errlen);
		if (rc)
			return rc;
	}

	if (is_unix) {
		if (hp.n)
			return fail(out, err, errlen,
				    "unix URLs have no host (expected unix:///path/to/socket)");
		if (!path.n)
			return fail(out, err, errlen, "missing socket path");
		rc = pct_decode(path, out->path, sizeof(out->path));
		if (rc == -ENAMETOOLONG)
			return fail(out, err, errlen, "socket path too long (max 107 bytes)");
		if (rc)
			return fail(out, err, errlen, "invalid percent-encoding in socket path");
	} else {
		out->port = 6379;
		rc = parse_hostport(hp, out, err, errlen);
		if (rc)
			return rc;
		/* "/" alone and no path both mean db 0 */
		if (path.n > 1) {
			path.s++;
			path.n--;
			rc = parse_db(path, out, err, errlen);
			if (rc)
				return rc;
		}
	}
	/* like redis-py, ?db= wins over the path */
	return parse_query(query, out, err, errlen);
}
