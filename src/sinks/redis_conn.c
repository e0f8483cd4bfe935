/* One Redis connection as a URL describes it: connect, authenticate, select, ping. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "redis_conn.h"

void redis_conn__io_reason(const redisContext *c, char *reason, size_t len)
{
	if (c->err == REDIS_ERR_IO && !strcmp(c->errstr, strerror(EAGAIN)))
		snprintf(reason, len, "timed out");
	else
		snprintf(reason, len, "%s", c->errstr[0] ? c->errstr : "connection error");
}

int redis_conn__check(const redisContext *c, const redisReply *r, char *reason, size_t len)
{
	if (!r) {
		redis_conn__io_reason(c, reason, len);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(reason, len, "%.*s", (int)r->len, r->str);
		return -1;
	}
	return 0;
}

int redis_conn__command(redisContext *c, int argc, const char **argv, char *reason, size_t len)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int err = redis_conn__check(c, r, reason, len);

	freeReplyObject(r);
	return err;
}

redisContext *redis_conn__open(const struct redis_url *u, const char *password, int timeout_ms,
			       char *reason, size_t len)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	const char *argv[3];
	redisContext *c;
	char db[16];
	int err = -1;

	if (u->is_unix)
		c = redisConnectUnixWithTimeout(u->path, tv);
	else
		c = redisConnectWithTimeout(u->host, u->port, tv);
	if (!c) {
		snprintf(reason, len, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		redis_conn__io_reason(c, reason, len);
		goto cleanup;
	}
	if (!u->is_unix)
		redisEnableKeepAlive(c); /* best effort: detects a vanished peer sooner */
	if (password) {
		argv[0] = "AUTH";
		argv[1] = u->user[0] ? u->user : password;
		argv[2] = password;
		if (redis_conn__command(c, u->user[0] ? 3 : 2, argv, reason, len))
			goto cleanup;
	}
	if (u->db) {
		snprintf(db, sizeof(db), "%d", u->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (redis_conn__command(c, 2, argv, reason, len))
			goto cleanup;
	}
	argv[0] = "PING";
	if (redis_conn__command(c, 1, argv, reason, len))
		goto cleanup;
	err = 0;
cleanup:
	if (err) {
		redisFree(c);
		return NULL;
	}
	return c;
}
