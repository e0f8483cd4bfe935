/* Unit tests for Redis URL parsing: forms, defaults, decoding, and errors that never leak the password. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/redis_url.h"

struct url_case {
	const char *url;
	int rc;
	int is_unix;
	const char *host;
	int port;
	const char *path, *user, *password;
	int db;
	const char *err; /* a substring of the reason, for failures */
};

#define OK_TCP(u, h, p, us, pw, d)                 \
	{                                          \
		u, 0, 0, h, p, "", us, pw, d, NULL \
	}
#define OK_UNIX(u, pa, us, pw, d)                   \
	{                                           \
		u, 0, 1, "", 0, pa, us, pw, d, NULL \
	}
#define BAD(u, why)                                 \
	{                                           \
		.url = u, .rc = -EINVAL, .err = why \
	}

static const struct url_case cases[] = {
	OK_TCP("redis://localhost", "localhost", 6379, "", "", 0),
	OK_TCP("redis://localhost:6380", "localhost", 6380, "", "", 0),
	OK_TCP("redis://localhost:6380/2", "localhost", 6380, "", "", 2),
	OK_TCP("redis://localhost/", "localhost", 6379, "", "", 0),
	OK_TCP("redis://localhost/7", "localhost", 6379, "", "", 7),
	OK_TCP("redis://127.0.0.1:6379/15", "127.0.0.1", 6379, "", "", 15),
	OK_TCP("redis://redis-master.svc_1.example.com:1", "redis-master.svc_1.example.com", 1, "",
	       "", 0),
	OK_TCP("REDIS://Cache", "Cache", 6379, "", "", 0),
	OK_TCP("redis://h:65535", "h", 65535, "", "", 0),
	OK_TCP("redis://h:06379", "h", 6379, "", "", 0),
	OK_TCP("redis://h/2147483647", "h", 6379, "", "", 2147483647),
	/* userinfo */
	OK_TCP("redis://alice:s3cret@cache:6380/1", "cache", 6380, "alice", "s3cret", 1),
	OK_TCP("redis://:s3cret@cache", "cache", 6379, "", "s3cret", 0),
	OK_TCP("redis://s3cret@cache", "cache", 6379, "", "s3cret", 0),
	OK_TCP("redis://alice:@cache", "cache", 6379, "alice", "", 0),
	OK_TCP("redis://:@cache", "cache", 6379, "", "", 0),
	OK_TCP("redis://@cache", "cache", 6379, "", "", 0),
	OK_TCP("redis://al%69ce:p%40ss%3Aw%2Fo%3Frd%23%25@cache", "cache", 6379, "alice",
	       "p@ss:w/o?rd#%", 0),
	OK_TCP("redis://:%e2%82%ac%20x@cache", "cache", 6379, "", "\xe2\x82\xac x", 0),
	OK_TCP("redis://:pass:with:colons@cache", "cache", 6379, "", "pass:with:colons", 0),
	OK_TCP("redis://:raw@at@cache", "cache", 6379, "", "raw@at", 0),
	/* IPv6 */
	OK_TCP("redis://[::1]", "::1", 6379, "", "", 0),
	OK_TCP("redis://[::1]:6380/3", "::1", 6380, "", "", 3),
	OK_TCP("redis://u:p@[2001:db8::10]:7000", "2001:db8::10", 7000, "u", "p", 0),
	OK_TCP("redis://[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1, "", "", 0),
	OK_TCP("redis://[fe80::1%25eth0]:6379", "fe80::1%eth0", 6379, "", "", 0),
	OK_TCP("redis://[FE80::ABCD]", "FE80::ABCD", 6379, "", "", 0),
	/* query */
	OK_TCP("redis://h?db=4", "h", 6379, "", "", 4),
	OK_TCP("redis://h/1?db=4", "h", 6379, "", "", 4),
	OK_TCP("redis://h:7/?db=5&", "h", 7, "", "", 5),
	OK_TCP("redis://h?", "h", 6379, "", "", 0),
	/* unix */
	OK_UNIX("unix:///tmp/redis.sock", "/tmp/redis.sock", "", "", 0),
	OK_UNIX("unix:///tmp/redis.sock?db=2", "/tmp/redis.sock", "", "", 2),
	OK_UNIX("UNIX:///run/redis/redis-server.sock", "/run/redis/redis-server.sock", "", "", 0),
	OK_UNIX("unix://:s3cret@/tmp/r.sock", "/tmp/r.sock", "", "s3cret", 0),
	OK_UNIX("unix://bob:pw@/tmp/r.sock?db=9", "/tmp/r.sock", "bob", "pw", 9),
	OK_UNIX("unix:///tmp/my%20dir/r.sock", "/tmp/my dir/r.sock", "", "", 0),
	/* rejected */
	BAD(NULL, "no URL"),
	BAD("", "not a Redis URL"),
	BAD("localhost:6379", "not a Redis URL"),
	BAD("redis:/localhost", "not a Redis URL"),
	BAD("http://localhost", "unsupported scheme"),
	BAD("://localhost", "unsupported scheme"),
	BAD("rediss://localhost", "TLS"),
	BAD("redis://", "missing host"),
	BAD("redis://:6379", "missing host"),
	BAD("redis:///0", "missing host"),
	BAD("redis://alice:secret@", "missing host"),
	BAD("redis://alice:secret@:6379", "missing host"),
	BAD("redis://h:0", "invalid port"),
	BAD("redis://h:65536", "invalid port"),
	BAD("redis://h:70000", "invalid port"),
	BAD("redis://h:abc", "invalid port"),
	BAD("redis://h:", "invalid port"),
	BAD("redis://h:-1", "invalid port"),
	BAD("redis://h:+1", "invalid port"),
	BAD("redis://h:99999999999999999999", "invalid port"),
	BAD("redis://h:63 79", "space"),
	BAD("redis://h/abc", "invalid database"),
	BAD("redis://h/-1", "invalid database"),
	BAD("redis://h/2147483648", "invalid database"),
	BAD("redis://h/1/2", "invalid database"),
	BAD("redis://h/1x", "invalid database"),
	BAD("redis://h?db=", "invalid database"),
	BAD("redis://h?db=x", "invalid database"),
	BAD("redis://h?foo=1", "unsupported URL parameter"),
	BAD("redis://h?secret=1", "unsupported URL parameter"),
	BAD("redis://h?DB=1", "unsupported URL parameter"),
	BAD("redis://h#x", "'#'"),
	BAD("redis://:sec#ret@h", "'#'"),
	BAD("redis://ho st", "space"),
	BAD("redis://host\n", "control"),
	BAD("redis://h\x01", "control"),
	BAD("redis://h!x", "invalid character in host"),
	BAD("redis://h%41", "invalid character in host"),
	BAD("redis://::1", "brackets"),
	BAD("redis://::1:6379", "brackets"),
	BAD("redis://[::1", "missing ']'"),
	BAD("redis://[::1]x", "unexpected text after IPv6"),
	BAD("redis://[::1]:", "invalid port"),
	BAD("redis://[::1]:0", "invalid port"),
	BAD("redis://[]", "invalid IPv6"),
	BAD("redis://[zz::1]", "invalid IPv6"),
	BAD("redis://[127.0.0.1]", "invalid IPv6"),
	BAD("redis://[fe80::1%eth0]", "invalid IPv6 zone"),
	BAD("redis://[fe80::1%25]", "invalid IPv6 zone"),
	BAD("redis://[fe80::1%25e/0]", "missing ']'"),
	BAD("redis://:%zzsecret@h", "invalid percent-encoding in password"),
	BAD("redis://:secret%4@h", "invalid percent-encoding in password"),
	BAD("redis://:secret%@h", "invalid percent-encoding in password"),
	BAD("redis://:secret%00@h", "invalid percent-encoding in password"),
	BAD("redis://a%4:secret@h", "invalid percent-encoding in user"),
	BAD("redis://:sec/ret@h", "unexpected '@'"),
	BAD("redis://:sec?ret@h", "unexpected '@'"),
	BAD("unix://", "missing socket path"),
	BAD("unix://:secret@", "missing socket path"),
	BAD("unix://localhost/tmp/r.sock", "no host"),
	BAD("unix://tmp/r.sock", "no host"),
	BAD("unix:///tmp/r.sock?x=1", "unsupported URL parameter"),
	BAD("unix:///tmp/r.sock?db=-1", "invalid database"),
	BAD("unix:///tmp/r%zz.sock", "invalid percent-encoding in socket path"),
};

static void check_failure(const struct url_case *c, int rc, const struct redis_url *u,
			  const char *err)
{
	static const struct redis_url zero;

	if (rc != -EINVAL)
		fail_msg("'%s': rc %d, expected -EINVAL", c->url, rc);
	if (!strstr(err, c->err))
		fail_msg("'%s': reason '%s' lacks '%s'", c->url, err, c->err);
	/* one line, and nothing of the URL that could be a password */
	assert_null(strchr(err, '\n'));
	assert_null(strstr(err, "secret"));
	assert_null(strstr(err, "sec"));
	assert_memory_equal(u, &zero, sizeof(zero));
}

static void test_table(void **state)
{
	struct redis_url u;
	char err[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct url_case *c = &cases[i];

		memset(&u, 0x55, sizeof(u));
		strcpy(err, "untouched");
		rc = redis_url_parse(c->url, &u, err, sizeof(err));
		if (c->rc) {
			check_failure(c, rc, &u, err);
			continue;
		}
		if (rc)
			fail_msg("'%s': rc %d (%s)", c->url, rc, err);
		if (u.is_unix != c->is_unix || strcmp(u.host, c->host) || u.port != c->port ||
		    strcmp(u.path, c->path) || strcmp(u.user, c->user) ||
		    strcmp(u.password, c->password) || u.db != c->db)
			fail_msg("'%s': got unix %d host '%s' port %d path '%s' user '%s' db %d",
				 c->url, u.is_unix, u.host, u.port, u.path, u.user, u.db);
	}
}

static void test_null_err_buffer(void **state)
{
	struct redis_url u;
	char err[8] = "x";

	(void)state;
	assert_int_equal(redis_url_parse("redis://h:0", &u, NULL, 0), -EINVAL);
	assert_int_equal(redis_url_parse("redis://h:0", &u, err, 0), -EINVAL);
	assert_string_equal(err, "x");
	/* a short buffer gets a cut, terminated reason */
	assert_int_equal(redis_url_parse("redis://h:0", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(redis_url_parse("redis://h", NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(redis_url_parse("redis://h", &u, NULL, 0), 0);
}

/* Builds "<prefix><n repeats of c><suffix>" in buf. */
static const char *build(char *buf, const char *prefix, char c, size_t n, const char *suffix)
{
	size_t p = strlen(prefix);

	memcpy(buf, prefix, p);
	memset(buf + p, c, n);
	strcpy(buf + p + n, suffix);
	return buf;
}

static void test_length_limits(void **state)
{
	struct redis_url u;
	char buf[1024], err[128];

	(void)state;
	assert_int_equal(
		redis_url_parse(build(buf, "redis://", 'h', 255, ""), &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.host), 255);
	assert_int_equal(
		redis_url_parse(build(buf, "redis://", 'h', 256, ""), &u, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "host too long"));

	assert_int_equal(
		redis_url_parse(build(buf, "redis://:", 'p', 255, "@h"), &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.password), 255);
	assert_int_equal(
		redis_url_parse(build(buf, "redis://:", 'p', 256, "@h"), &u, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "password too long"));
	assert_null(strstr(err, "ppp"));
	/* the limit is on decoded bytes */
	buf[0] = '\0';
	strcat(buf, "redis://:");
	for (int i = 0; i < 255; i++)
		strcat(buf, "%41");
	strcat(buf, "@h");
	assert_int_equal(redis_url_parse(buf, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.password), 255);
	assert_int_equal(u.password[0], 'A');

	assert_int_equal(
		redis_url_parse(build(buf, "redis://", 'u', 127, ":p@h"), &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.user), 127);
	assert_int_equal(
		redis_url_parse(build(buf, "redis://", 'u', 128, ":p@h"), &u, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "user name too long"));

	/* socket paths: sun_path holds 107 bytes and a NUL */
	assert_int_equal(
		redis_url_parse(build(buf, "unix:///", 's', 106, ""), &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.path), 107);
	assert_int_equal(
		redis_url_parse(build(buf, "unix:///", 's', 107, ""), &u, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "socket path too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_null_err_buffer),
		cmocka_unit_test(test_length_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
