/* libFuzzer harness for redis_url_parse (src/redis_url.h): any bytes as the --redis URL. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sinks/redis_url.h"

static struct redis_url u, v;

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* Appends s percent-encoded (everything but letters and digits, and '/' when keep_slash). */
static void enc(char **o, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s; s++) {
		c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (keep_slash && c == '/')) {
			*(*o)++ = c;
		} else {
			*(*o)++ = '%';
			*(*o)++ = hex[c >> 4];
			*(*o)++ = hex[c & 15];
		}
	}
}

/* Writes the canonical URL of a parsed result: everything percent-encoded that may be. */
static char *canonical(const struct redis_url *r)
{
	char *buf = malloc(4096), *o = buf;
	const char *pct;

	if (!buf)
		abort();
	o += sprintf(o, "%s://", r->is_unix ? "unix" : "redis");
	if (r->user[0] || r->password[0]) {
		enc(&o, r->user, false);
		*o++ = ':';
		enc(&o, r->password, false);
		*o++ = '@';
	}
	if (r->is_unix) {
		enc(&o, r->path, true);
	} else if (strchr(r->host, ':')) {
		/* an IPv6 address; its zone goes back to "%25zone" */
		pct = strchr(r->host, '%');
		*o++ = '[';
		if (pct) {
			memcpy(o, r->host, pct - r->host);
			o += pct - r->host;
			o += sprintf(o, "%%25%s", pct + 1);
		} else {
			o += sprintf(o, "%s", r->host);
		}
		*o++ = ']';
	} else {
		o += sprintf(o, "%s", r->host);
	}
	if (!r->is_unix)
		o += sprintf(o, ":%d/%d", r->port, r->db);
	else
		o += sprintf(o, "?db=%d", r->db);
	*o = '\0';
	return buf;
}

/*
 * The URL is the input up to its first NUL. A parse must fill fields that
 * fit and agree with each other; printing the result canonically must parse
 * back to the same result; a failure must zero *out and leave a one-line
 * reason that fits err and quotes nothing of a password.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size), i;
	char *url = fuzz_strndup(data, n), *canon, err[256], small[8];
	int rc, rc2;

	memset(err, 0, sizeof(err));
	rc = redis_url_parse(url, &u, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	/* the same verdict without a reason, and with a reason cut short */
	FUZZ_CHECK(redis_url_parse(url, &v, NULL, 0) == rc);
	rc2 = redis_url_parse(url, &v, small, 1 + n % sizeof(small));
	FUZZ_CHECK(rc2 == rc);
	if (rc) {
		FUZZ_CHECK(all_zero(&u, sizeof(u)));
		FUZZ_CHECK(err[0] && FUZZ_TERMINATED(err));
		for (i = 0; err[i]; i++)
			FUZZ_CHECK(err[i] >= ' ' && err[i] < 0x7f);
		FUZZ_CHECK(strlen(small) < 1 + n % sizeof(small));
		free(url);
		return 0;
	}
	FUZZ_CHECK(FUZZ_TERMINATED(u.host) && FUZZ_TERMINATED(u.path) && FUZZ_TERMINATED(u.user) &&
		   FUZZ_TERMINATED(u.password));
	FUZZ_CHECK(u.db >= 0);
	if (u.is_unix) {
		FUZZ_CHECK(u.is_unix == 1 && !u.host[0] && u.port == 0 && u.path[0] == '/');
	} else {
		FUZZ_CHECK(u.host[0] && !u.path[0] && u.port >= 1 && u.port <= 65535);
	}
	/* the password is in the URL, percent-encoded or not */
	FUZZ_CHECK(strlen(u.password) <= n && strlen(u.user) <= n);

	canon = canonical(&u);
	rc = redis_url_parse(canon, &v, err, sizeof(err));
	if (rc || memcmp(&u, &v, sizeof(u))) {
		fprintf(stderr, "canonical form %s: rc %d (%s)\n", canon, rc, rc ? err : "");
		FUZZ_CHECK(!"canonical form parses back the same");
	}
	free(canon);
	free(url);
	return 0;
}
