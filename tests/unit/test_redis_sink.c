/* Tests the Redis sink against real redis-server instances on unix sockets, outages included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "sinks/redis_url.h"
#include "sinks/redis.h"

#define REDIS_SERVER "/usr/bin/redis-server"

/* A redis-server child on <dir>/r.sock. */
struct server {
	pid_t pid;
	char dir[64];
	char sock[128];
	const char *extra[16]; /* more arguments, NULL-terminated */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Connects to the test's server (no AUTH); NULL when it does not answer. */
static redisContext *connect_raw(const struct server *srv)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectUnixWithTimeout(srv->sock, tv);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static redisContext *connect_auth(const struct server *srv, const char *user, const char *pass)
{
	redisContext *c = connect_raw(srv);
	redisReply *r;

	assert_non_null(c);
	if (pass) {
		r = user ? redisCommand(c, "AUTH %s %s", user, pass) :
			   redisCommand(c, "AUTH %s", pass);
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	return c;
}

/* Starts redis-server and waits until it accepts connections. */
static void server_start(struct server *srv)
{
	const char *argv[32] = { "redis-server", "--port",	"0", "--unixsocket",
				 srv->sock,	 "--save",	"",  "--appendonly",
				 "no",		 "--daemonize", "no" };
	char log[192];
	long long deadline;
	redisContext *c;
	int i, n = 11, fd;

	for (i = 0; srv->extra[i]; i++)
		argv[n++] = srv->extra[i];
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/redis.log", srv->dir);
	srv->pid = fork();
	assert_true(srv->pid >= 0);
	if (srv->pid == 0) {
		/* a test that fails or crashes must not leave servers behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(REDIS_SERVER, (char **)argv);
		_exit(127);
	}
	deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		c = connect_raw(srv);
		if (c) {
			redisFree(c);
			return;
		}
		assert_int_equal(waitpid(srv->pid, NULL, WNOHANG), 0); /* it must not have died */
		sleep_ms(10);
	}
	fail_msg("redis-server did not start on %s", srv->sock);
}

static void server_kill(struct server *srv)
{
	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
	srv->pid = 0;
}

/* Every server alive, so that a failed test's teardown can reap them. */
static struct server *servers[8];

static struct server *server_new(const char *const *extra)
{
	struct server *srv = calloc(1, sizeof(*srv));
	size_t slot;
	int i;

	assert_non_null(srv);
	for (slot = 0; slot < 8 && servers[slot]; slot++)
		;
	assert_true(slot < 8);
	servers[slot] = srv;
	strcpy(srv->dir, "/tmp/scooby-redis-XXXXXX");
	assert_non_null(mkdtemp(srv->dir));
	snprintf(srv->sock, sizeof(srv->sock), "%s/r.sock", srv->dir);
	for (i = 0; extra && extra[i]; i++) {
		assert_true(i < 15);
		srv->extra[i] = extra[i];
	}
	return srv;
}

static void server_free(struct server *srv)
{
	char path[192];

	size_t i;

	if (!srv)
		return;
	for (i = 0; i < 8; i++)
		if (servers[i] == srv)
			servers[i] = NULL;
	server_kill(srv);
	unlink(srv->sock);
	snprintf(path, sizeof(path), "%s/redis.log", srv->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stderr.txt", srv->dir);
	unlink(path);
	rmdir(srv->dir);
	free(srv);
}

/* stderr redirected to a file, to check the sink's messages. */
struct capture {
	char path[192];
};

static int saved_stderr = -1; /* the real stderr while captured */

static void restore_stderr(void)
{
	if (saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
}

static void capture_start(struct capture *cap, const struct server *srv)
{
	int fd;

	snprintf(cap->path, sizeof(cap->path), "%s/stderr.txt", srv->dir);
	fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
}

/* What was written to stderr so far (malloc'd). */
static char *capture_read(const struct capture *cap)
{
	char *buf = calloc(1, 65536);
	int fd;

	assert_non_null(buf);
	fd = open(cap->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, 65535) >= 0);
	close(fd);
	return buf;
}

static char *capture_end(struct capture *cap)
{
	restore_stderr();
	return capture_read(cap);
}

/* Waits until the captured stderr contains s; returns whether it did within 5 s. */
static int capture_wait_for(const struct capture *cap, const char *s)
{
	long long deadline = now_ms() + 5000;
	int found = 0;
	char *text;

	while (!found && now_ms() < deadline) {
		text = capture_read(cap);
		found = strstr(text, s) != NULL;
		free(text);
		if (!found)
			sleep_ms(10);
	}
	return found;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static struct redis_sink *sink_new(const char *url, int ttl, long keep, size_t max_pending)
{
	struct redis_sink_opts o = { 0 };
	struct redis_sink *s;
	struct redis_url u;
	char err[128];

	if (redis_url_parse(url, &u, err, sizeof(err)))
		fail_msg("url %s: %s", url, err);
	o.url = &u;
	o.ttl_s = ttl;
	o.keep = keep;
	o.max_pending = max_pending;
	s = redis_sink__new(&o);
	assert_non_null(s);
	return s;
}

static void unix_url(char *buf, size_t len, const char *userinfo, const struct server *srv,
		     const char *query)
{
	snprintf(buf, len, "unix://%s%s%s%s", userinfo ? userinfo : "", userinfo ? "@" : "",
		 srv->sock, query ? query : "");
}

static void make_uuid(char *buf, unsigned n)
{
	snprintf(buf, 33, "%032x", n);
}

static void make_json(char *buf, size_t len, unsigned n)
{
	snprintf(buf, len,
		 "{\"uuid\":\"%032x\",\"path\":\"/items/%u\",\"note\":\"caf\xc3\xa9 \\\"q\\\"\"}",
		 n, n);
}

static void publish_n(struct redis_sink *s, unsigned from, unsigned to, double base_ms)
{
	char uuid[33], json[256];
	unsigned i;

	for (i = from; i <= to; i++) {
		make_uuid(uuid, i);
		make_json(json, sizeof(json), i);
		assert_int_equal(redis_sink__publish(s, uuid, base_ms + i, json), 0);
	}
}

static void assert_stats(struct redis_sink *s, unsigned long long published,
			 unsigned long long dropped, unsigned long long pending,
			 unsigned long long reconnects, int connected)
{
	struct redis_sink_stats st;

	redis_sink__stats(s, &st);
	if (st.published != published || st.dropped != dropped || st.pending != pending ||
	    st.reconnects != reconnects || st.connected != connected)
		fail_msg(
			"stats: published %llu dropped %llu pending %llu reconnects %llu connected %d; "
			"expected %llu %llu %llu %llu %d",
			st.published, st.dropped, st.pending, st.reconnects, st.connected,
			published, dropped, pending, reconnects, connected);
}

/* Waits for stats.connected to become want; fails after 5 s. */
static void wait_connected(struct redis_sink *s, int want)
{
	long long deadline = now_ms() + 5000;
	struct redis_sink_stats st;

	do {
		redis_sink__stats(s, &st);
		if (st.connected == want)
			return;
		sleep_ms(5);
	} while (now_ms() < deadline);
	fail_msg("connected never became %d", want);
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	return r;
}

/* Checks the record n is stored: exact JSON, TTL in (0, ttl]. */
static void assert_record(redisContext *c, unsigned n, int ttl)
{
	char uuid[33], json[256];
	redisReply *r;

	make_uuid(uuid, n);
	make_json(json, sizeof(json), n);
	r = cmd(c, "GET scooby:req:%s", uuid);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, json);
	freeReplyObject(r);
	r = cmd(c, "TTL scooby:req:%s", uuid);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_true(r->integer > 0 && r->integer <= ttl);
	freeReplyObject(r);
}

static void assert_no_record(redisContext *c, unsigned n)
{
	char uuid[33];
	redisReply *r;

	make_uuid(uuid, n);
	r = cmd(c, "EXISTS scooby:req:%s", uuid);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
}

/* Checks the zset holds exactly records from..to, with their integer scores base + n. */
static void assert_zset(redisContext *c, unsigned from, unsigned to, long long base)
{
	char uuid[33], score[32];
	redisReply *r;
	unsigned i;

	r = cmd(c, "ZRANGE scooby:requests 0 -1 WITHSCORES");
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 2 * (to - from + 1));
	for (i = from; i <= to; i++) {
		make_uuid(uuid, i);
		snprintf(score, sizeof(score), "%lld", base + i);
		assert_string_equal(r->element[2 * (i - from)]->str, uuid);
		assert_string_equal(r->element[2 * (i - from) + 1]->str, score);
	}
	freeReplyObject(r);
}

/* Shared server for the tests that need no outage. */
static struct server *shared;

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_DFL); /* the sink must cope without the process ignoring it */
	shared = server_new(NULL);
	server_start(shared);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	server_free(shared);
	shared = NULL;
	return 0;
}

/* After each test: undo what a failed one left (cmocka longjmps out of failed asserts). */
static int test_teardown(void **state)
{
	size_t i;

	(void)state;
	restore_stderr();
	for (i = 0; i < 8; i++)
		if (servers[i] && servers[i] != shared)
			server_free(servers[i]);
	return 0;
}

static int flush_shared(void **state)
{
	redisContext *c = connect_raw(shared);
	redisReply *r;

	(void)state;
	assert_non_null(c);
	r = cmd(c, "FLUSHALL");
	freeReplyObject(r);
	redisFree(c);
	return 0;
}

/* Redis holds keep records however many are published: each one pushed out of the newest
 * keep is deleted in the round trip of the record that pushed it, across batches. */
static void test_keep_bounds_records(void **state)
{
	char url[256], uuid[33];
	struct redis_sink *s;
	redisContext *c;
	redisReply *r;
	unsigned i;

	(void)state;
	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 60, 100, 5000);
	publish_n(s, 1, 1000, 1700000000000.0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1000, 0, 0, 0, 1);
	c = connect_raw(shared);
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, 101); /* 100 records and the index */
	freeReplyObject(r);
	for (i = 1; i <= 900; i += 899) {
		make_uuid(uuid, i);
		r = cmd(c, "EXISTS scooby:req:%s", uuid);
		assert_int_equal(r->integer, 0);
		freeReplyObject(r);
	}
	assert_record(c, 901, 60);
	assert_record(c, 1000, 60);
	redisFree(c);
	redis_sink__free(s);
}

/* Asserts that exactly the records numbered from..to are stored (nothing else but the index). */
static void assert_only(redisContext *c, unsigned from, unsigned to, unsigned upto)
{
	char uuid[33];
	redisReply *r;
	unsigned i;

	for (i = 1; i <= upto; i++) {
		make_uuid(uuid, i);
		r = cmd(c, "EXISTS scooby:req:%s", uuid);
		assert_int_equal(r->integer, i >= from && i <= to);
		freeReplyObject(r);
	}
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, to - from + 2);
	freeReplyObject(r);
}

/* One run of a sink with --keep keep: records from..to published, flushed, the sink gone. */
static void run_keeping(const char *url, long keep, unsigned from, unsigned to)
{
	struct redis_sink *s = sink_new(url, 60, keep, 100);

	publish_n(s, from, to, 1700000000000.0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	redis_sink__free(s);
}

/* A sink started after another one (a restart) counts the records that one indexed
 * towards its --keep: without that, a run's records outlived --keep until their TTL. */
static void test_keep_counts_an_earlier_runs_records(void **state)
{
	redisContext *c;
	char url[256];

	(void)state;
	unix_url(url, sizeof(url), NULL, shared, NULL);
	c = connect_raw(shared);
	run_keeping(url, 3, 1, 5);
	assert_only(c, 3, 5, 5);
	/* the same keep: 6 and 7 push out 3 and 4 */
	run_keeping(url, 3, 6, 7);
	assert_only(c, 5, 7, 7);
	assert_zset(c, 5, 7, 1700000000000LL);
	/* a smaller keep: the oldest beyond it go at once, then 8 pushes out 6 */
	run_keeping(url, 2, 8, 8);
	assert_only(c, 7, 8, 8);
	assert_zset(c, 7, 8, 1700000000000LL);
	redisFree(c);
}

static void test_publish_and_verify(void **state)
{
	const double base = 1700000000000.75; /* fraction dropped in the score */
	redisContext *c, *sub;
	char url[256], uuid[33];
	struct redis_sink *s;
	redisReply *r;
	unsigned i;

	(void)state;
	/* subscribe first, so every PUBLISH is seen */
	sub = connect_raw(shared);
	assert_non_null(sub);
	r = cmd(sub, "SUBSCRIBE scooby:live");
	freeReplyObject(r);

	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 60, 3, 100);
	publish_n(s, 1, 5, base);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 5, 0, 0, 0, 1);

	c = connect_raw(shared);
	/* keep=3: records 1 and 2 were deleted by 4 and 5, which pushed them out */
	for (i = 1; i <= 2; i++) {
		make_uuid(uuid, i);
		r = cmd(c, "EXISTS scooby:req:%s", uuid);
		assert_int_equal(r->integer, 0);
		freeReplyObject(r);
	}
	for (i = 3; i <= 5; i++)
		assert_record(c, i, 60);
	/* only the three highest scores stay in the index */
	assert_zset(c, 3, 5, 1700000000000LL);
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, 4);
	freeReplyObject(r);
	redisFree(c);

	for (i = 1; i <= 5; i++) {
		assert_int_equal(redisGetReply(sub, (void **)&r), REDIS_OK);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		assert_int_equal(r->elements, 3);
		assert_string_equal(r->element[0]->str, "message");
		assert_string_equal(r->element[1]->str, "scooby:live");
		make_uuid(uuid, i);
		assert_string_equal(r->element[2]->str, uuid);
		freeReplyObject(r);
	}
	redisFree(sub);
	redis_sink__free(s);
}

static void test_defaults_and_many(void **state)
{
	struct redis_sink *s;
	redisContext *c;
	char url[256];
	redisReply *r;

	(void)state;
	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 0, 0, 0); /* ttl 600, keep 10000, 10000 pending */
	/* more than one batch's worth, published faster than one round trip */
	publish_n(s, 1, 3000, 1.7e12);
	assert_int_equal(redis_sink__flush(s, 20000), 0);
	assert_stats(s, 3000, 0, 0, 0, 1);
	c = connect_raw(shared);
	r = cmd(c, "ZCARD scooby:requests");
	assert_int_equal(r->integer, 3000);
	freeReplyObject(r);
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, 3001);
	freeReplyObject(r);
	assert_record(c, 1, 600);
	assert_record(c, 3000, 600);
	r = cmd(c, "TTL scooby:req:%032x", 1500);
	assert_true(r->integer > 590);
	freeReplyObject(r);
	redisFree(c);
	redis_sink__free(s);
}

static void test_select_db(void **state)
{
	struct redis_sink *s;
	redisContext *c;
	char url[256];
	redisReply *r;

	(void)state;
	unix_url(url, sizeof(url), NULL, shared, "?db=5");
	s = sink_new(url, 30, 10, 10);
	publish_n(s, 7, 7, 1000);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	c = connect_raw(shared);
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, 0); /* nothing in db 0 */
	freeReplyObject(r);
	r = cmd(c, "SELECT 5");
	freeReplyObject(r);
	assert_record(c, 7, 30);
	assert_zset(c, 7, 7, 1000);
	redisFree(c);
	redis_sink__free(s);
}

static void test_publish_validation(void **state)
{
	static const char *const bad_uuids[] = {
		"",
		"0123456789abcdef0123456789abcde",
		"0123456789abcdef0123456789abcdef0",
		"0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef0123456789abcdeg",
		"0123456789abcdef 123456789abcdef",
		"../../../../etc/passwd0123456789a",
	};
	const char *good = "0123456789abcdef0123456789abcdef";
	struct redis_sink *s;
	char url[256];
	size_t i;

	(void)state;
	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 0, 0, 0);
	for (i = 0; i < sizeof(bad_uuids) / sizeof(bad_uuids[0]); i++)
		assert_int_equal(redis_sink__publish(s, bad_uuids[i], 1, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(s, NULL, 1, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(s, good, 1, NULL), -EINVAL);
	assert_int_equal(redis_sink__publish(s, good, NAN, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(s, good, INFINITY, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(s, good, 1e300, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(NULL, good, 1, "{}"), -EINVAL);
	assert_int_equal(redis_sink__publish(s, good, 5, ""), 0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1, 0, 0, 0, 1);
	redis_sink__free(s);
}

static void test_bad_opts(void **state)
{
	struct redis_sink_opts o = { 0 };
	struct redis_url u;

	(void)state;
	errno = 0;
	assert_null(redis_sink__new(NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);

	assert_int_equal(redis_url_parse("redis://localhost", &u, NULL, 0), 0);
	o.url = &u;
	o.ttl_s = -1;
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);
	o.ttl_s = 0;
	o.keep = -5;
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);
	o.keep = 0;
	u.port = 0;
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);
	u.port = 6379;
	u.host[0] = '\0';
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);

	assert_int_equal(redis_url_parse("unix:///x", &u, NULL, 0), 0);
	strcpy(u.path, "relative.sock");
	errno = 0;
	assert_null(redis_sink__new(&o));
	assert_int_equal(errno, EINVAL);
}

static void test_null_sink(void **state)
{
	struct redis_sink_stats st;

	(void)state;
	memset(&st, 0xff, sizeof(st));
	redis_sink__stats(NULL, &st);
	assert_int_equal(st.published, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.connected, 0);
	assert_int_equal(redis_sink__flush(NULL, 100), 0);
	redis_sink__free(NULL);
}

/* The scenario of the brief: an outage with a small buffer, then recovery without restarting the sink. */
static void test_outage_drops_oldest_and_recovers(void **state)
{
	struct server *srv = server_new(NULL);
	char url[256], expect[512], *text;
	struct capture cap;
	struct redis_sink *s;
	redisContext *c;
	redisReply *r;

	(void)state;
	server_start(srv);
	unix_url(url, sizeof(url), NULL, srv, NULL);
	s = sink_new(url, 60, 100, 3);
	publish_n(s, 100, 100, 5000);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1, 0, 0, 0, 1);

	capture_start(&cap, srv);
	server_kill(srv);
	publish_n(s, 1, 5, 5000);
	/* 5 into a queue of 3: the two oldest go, whatever the thread was doing */
	wait_connected(s, 0);
	assert_stats(s, 1, 2, 3, 0, 0);
	assert_int_equal(redis_sink__flush(s, 300), 3);
	assert_true(capture_wait_for(&cap, "unreachable"));

	server_start(srv);
	assert_int_equal(redis_sink__flush(s, 15000), 0);
	assert_stats(s, 4, 2, 0, 1, 1);
	text = capture_end(&cap);

	/* exactly one line each way, naming the socket, held count from max_pending */
	assert_int_equal(count_lines(text), 2);
	snprintf(expect, sizeof(expect), "scooby-bpf: warning: redis %s unreachable (", srv->sock);
	assert_memory_equal(text, expect, strlen(expect));
	assert_non_null(strstr(text, "); holding up to 3 records\n"));
	snprintf(expect, sizeof(expect), "scooby-bpf: redis %s reachable again\n", srv->sock);
	assert_non_null(strstr(text, expect));
	assert_true(strstr(text, expect) > strstr(text, "unreachable"));
	free(text);

	/* the new server has the three newest records only */
	c = connect_raw(srv);
	assert_no_record(c, 1);
	assert_no_record(c, 2);
	assert_record(c, 3, 60);
	assert_record(c, 4, 60);
	assert_record(c, 5, 60);
	assert_zset(c, 3, 5, 5000);
	r = cmd(c, "DBSIZE");
	assert_int_equal(r->integer, 4);
	freeReplyObject(r);
	redisFree(c);

	redis_sink__free(s);
	server_free(srv);
}

/* Redis down from the start: records wait, one warning, and they arrive once it is up. */
static void test_unreachable_at_start(void **state)
{
	struct server *srv = server_new(NULL);
	char url[256], expect[512], *text;
	struct capture cap;
	struct redis_sink *s;
	redisContext *c;

	(void)state;
	capture_start(&cap, srv);
	unix_url(url, sizeof(url), NULL, srv, NULL);
	s = sink_new(url, 60, 0, 0);
	publish_n(s, 1, 2, 10);
	assert_int_equal(redis_sink__flush(s, 200), 2);
	assert_true(capture_wait_for(&cap, "unreachable"));
	assert_stats(s, 0, 0, 2, 0, 0);

	server_start(srv);
	assert_int_equal(redis_sink__flush(s, 15000), 0);
	assert_stats(s, 2, 0, 0, 0, 1); /* a first connection is no reconnect */
	text = capture_end(&cap);
	assert_int_equal(count_lines(text), 2);
	snprintf(expect, sizeof(expect), "scooby-bpf: warning: redis %s unreachable (", srv->sock);
	assert_memory_equal(text, expect, strlen(expect));
	assert_non_null(strstr(text, "); holding up to 10000 records\n"));
	snprintf(expect, sizeof(expect), "scooby-bpf: redis %s reachable again\n", srv->sock);
	assert_non_null(strstr(text, expect));
	free(text);

	c = connect_raw(srv);
	assert_record(c, 1, 60);
	assert_record(c, 2, 60);
	redisFree(c);
	redis_sink__free(s);
	server_free(srv);
}

/* Password and ACL user: the right ones work, a wrong one is reported without being printed. */
static void test_auth(void **state)
{
	static const char *const extra[] = {
		"--requirepass", "pa ss@word", "--user", "alice", "on",
		">alice-Pw1",	 "~*",	       "&*",	 "+@all", NULL
	};
	struct server *srv = server_new(extra);
	char url[256], *text;
	struct capture cap;
	struct redis_sink *s;
	redisContext *c;

	(void)state;
	server_start(srv);
	unsetenv("REDISCLI_AUTH");

	/* default user, percent-encoded password */
	unix_url(url, sizeof(url), ":pa%20ss%40word", srv, NULL);
	s = sink_new(url, 60, 0, 0);
	publish_n(s, 1, 1, 0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1, 0, 0, 0, 1);
	redis_sink__free(s);

	/* ACL user: AUTH alice <pw> (her password is not the default user's) */
	unix_url(url, sizeof(url), "alice:alice-Pw1", srv, "?db=1");
	s = sink_new(url, 60, 0, 0);
	publish_n(s, 2, 2, 0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1, 0, 0, 0, 1);
	redis_sink__free(s);

	/* REDISCLI_AUTH fills in for a URL without password */
	setenv("REDISCLI_AUTH", "pa ss@word", 1);
	unix_url(url, sizeof(url), NULL, srv, NULL);
	s = sink_new(url, 60, 0, 0);
	unsetenv("REDISCLI_AUTH"); /* read at creation only */
	publish_n(s, 3, 3, 0);
	assert_int_equal(redis_sink__flush(s, 10000), 0);
	assert_stats(s, 1, 0, 0, 0, 1);
	redis_sink__free(s);

	/* ...but not over the URL's own */
	setenv("REDISCLI_AUTH", "pa ss@word", 1);
	capture_start(&cap, srv);
	unix_url(url, sizeof(url), ":Wrong-Pw-42", srv, NULL);
	s = sink_new(url, 60, 0, 0);
	unsetenv("REDISCLI_AUTH");
	publish_n(s, 4, 4, 0);
	assert_true(capture_wait_for(&cap, "unreachable"));
	assert_int_equal(redis_sink__flush(s, 100), 1);
	assert_stats(s, 0, 0, 1, 0, 0);
	redis_sink__free(s);

	/* no password at all: the server's NOAUTH is the reason */
	unix_url(url, sizeof(url), NULL, srv, NULL);
	s = sink_new(url, 60, 0, 0);
	assert_true(capture_wait_for(&cap, "NOAUTH"));
	redis_sink__free(s);
	text = capture_end(&cap);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "unreachable (WRONGPASS"));
	assert_null(strstr(text, "Wrong-Pw-42"));
	assert_null(strstr(text, "pa ss"));
	assert_null(strstr(text, "alice-Pw1"));
	free(text);

	c = connect_auth(srv, NULL, "pa ss@word");
	assert_record(c, 1, 60);
	assert_record(c, 3, 60);
	assert_no_record(c, 4);
	redisFree(c);
	c = connect_auth(srv, "alice", "alice-Pw1");
	freeReplyObject(cmd(c, "SELECT 1"));
	assert_record(c, 2, 60);
	redisFree(c);
	server_free(srv);
}

/* Redis refusing the writes (a key of the wrong type): records are held, and flow once fixed. */
static void test_error_reply_holds_records(void **state)
{
	char url[256], *text;
	struct capture cap;
	struct redis_sink *s;
	redisContext *c;

	(void)state;
	c = connect_raw(shared);
	freeReplyObject(cmd(c, "SET scooby:requests not-a-zset"));
	capture_start(&cap, shared);
	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 60, 0, 0);
	publish_n(s, 1, 2, 0);
	assert_true(capture_wait_for(&cap, "WRONGTYPE"));
	assert_int_equal(redis_sink__flush(s, 300), 2);

	freeReplyObject(cmd(c, "DEL scooby:requests"));
	assert_int_equal(redis_sink__flush(s, 15000), 0);
	redis_sink__free(s);
	text = capture_end(&cap);
	/* no flapping: one warning, one recovery */
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "reachable again"));
	free(text);
	assert_record(c, 1, 60);
	assert_record(c, 2, 60);
	assert_zset(c, 1, 2, 0);
	redisFree(c);
}

/* Returns the calls of command name (INFO commandstats' "cmdstat_<name>:calls=N"). */
static long long command_calls(redisContext *c, const char *name)
{
	redisReply *r = cmd(c, "INFO commandstats");
	char key[64], *at;
	long long n = 0;

	snprintf(key, sizeof(key), "cmdstat_%s:calls=", name);
	at = strstr(r->str, key);
	if (at)
		n = strtoll(at + strlen(key), NULL, 10);
	freeReplyObject(r);
	return n;
}

/* SETs Redis refuses while the rest goes through (a user without SET): the quiet batch's
 * EXISTS falls short, it is sent again with every reply, and the server's own error is the
 * warning's reason; records are held and flow, each once, when SET is allowed. */
static void test_quiet_batch_falls_back(void **state)
{
	struct redis_sink_stats st;
	char url[256], *text;
	struct capture cap;
	struct redis_sink *s;
	redisContext *c;

	(void)state;
	c = connect_raw(shared);
	freeReplyObject(cmd(c, "ACL SETUSER bob on >bob-Pw1 ~* &* +@all -set"));
	freeReplyObject(cmd(c, "CONFIG RESETSTAT"));
	capture_start(&cap, shared);
	unix_url(url, sizeof(url), "bob:bob-Pw1", shared, NULL);
	s = sink_new(url, 60, 0, 0);
	publish_n(s, 1, 2, 0);
	assert_true(capture_wait_for(&cap, "NOPERM"));
	assert_int_equal(redis_sink__flush(s, 300), 2);
	/* the batches went quiet: CLIENT REPLY at each connection and OFF/ON per batch */
	assert_true(command_calls(c, "client|reply") >= 3);

	freeReplyObject(cmd(c, "ACL SETUSER bob +set"));
	assert_int_equal(redis_sink__flush(s, 15000), 0);
	redis_sink__stats(s, &st);
	assert_int_equal(st.published, 2);
	assert_int_equal(st.dropped, 0);
	redis_sink__free(s);
	text = capture_end(&cap);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "unreachable (NOPERM"));
	assert_non_null(strstr(text, "'set'"));
	assert_non_null(strstr(text, "reachable again"));
	free(text);
	assert_record(c, 1, 60);
	assert_record(c, 2, 60);
	assert_zset(c, 1, 2, 0);
	freeReplyObject(cmd(c, "ACL DELUSER bob"));
	redisFree(c);
}

/* Freeing with records pending on an unreachable Redis is quick and frees everything. */
static void test_free_while_unreachable(void **state)
{
	struct capture cap;
	struct redis_sink *s;
	long long t0;
	char url[256];

	(void)state;
	capture_start(&cap, shared);
	s = sink_new("unix:///nonexistent/scooby/r.sock", 0, 0, 5);
	publish_n(s, 1, 10, 0);
	assert_stats(s, 0, 5, 5, 0, 0);
	t0 = now_ms();
	redis_sink__free(s);
	assert_true(now_ms() - t0 < 1500);
	free(capture_end(&cap));

	/* and with an idle, connected sink */
	unix_url(url, sizeof(url), NULL, shared, NULL);
	s = sink_new(url, 0, 0, 0);
	wait_connected(s, 1);
	t0 = now_ms();
	redis_sink__free(s);
	assert_true(now_ms() - t0 < 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_and_verify, flush_shared,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_keep_bounds_records, flush_shared,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_keep_counts_an_earlier_runs_records,
						flush_shared, test_teardown),
		cmocka_unit_test_setup_teardown(test_defaults_and_many, flush_shared,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_select_db, flush_shared, test_teardown),
		cmocka_unit_test_setup_teardown(test_publish_validation, flush_shared,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_error_reply_holds_records, flush_shared,
						test_teardown),
		cmocka_unit_test_setup_teardown(test_quiet_batch_falls_back, flush_shared,
						test_teardown),
		cmocka_unit_test_teardown(test_bad_opts, test_teardown),
		cmocka_unit_test_teardown(test_null_sink, test_teardown),
		cmocka_unit_test_teardown(test_free_while_unreachable, test_teardown),
		cmocka_unit_test_teardown(test_outage_drops_oldest_and_recovers, test_teardown),
		cmocka_unit_test_teardown(test_unreachable_at_start, test_teardown),
		cmocka_unit_test_teardown(test_auth, test_teardown),
	};

	if (access(REDIS_SERVER, X_OK)) {
		/* in CI a missing server is a failure, never a silent skip */
		fprintf(stderr, "%s not found: %s the Redis sink tests\n", REDIS_SERVER,
			getenv("CI") ? "cannot run" : "SKIPPING");
		return getenv("CI") ? 1 : 0;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
