/* The viewer's Redis connections: a small pool for request handlers, and one-off connects. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/store.h"

#define STORE_IDLE_MAX 8 /* idle connections kept; more are closed after use */
#define STORE_TIMEOUT_MS 2000

struct store {
	struct redis_url url;
	char *password; /* NULL when none */
	pthread_mutex_t lock;
	redisContext *idle[STORE_IDLE_MAX];
	int n_idle;
};

struct store *store__new(const struct redis_url *url)
{
	struct store *s = calloc(1, sizeof(*s));
	const char *pw;

	if (!s)
		return NULL;
	s->url = *url;
	pw = url->password[0] ? url->password : getenv("REDISCLI_AUTH");
	if (pw && pw[0]) {
		s->password = strdup(pw);
		if (!s->password) {
			free(s);
			return NULL;
		}
	}
	explicit_bzero(s->url.password, sizeof(s->url.password));
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void store__free(struct store *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n_idle; i++)
		redisFree(s->idle[i]);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Describes why c failed; hiredis words a socket timeout as EAGAIN's text. */
static void store__io_reason(const redisContext *c, char *reason, size_t len)
{
	if (c->err == REDIS_ERR_IO && !strcmp(c->errstr, strerror(EAGAIN)))
		snprintf(reason, len, "timed out");
	else
		snprintf(reason, len, "%s", c->errstr[0] ? c->errstr : "connection error");
}

/* Sends one command; returns 0 when its reply is not an error, else -1 with the reason. */
static int store__simple(redisContext *c, int argc, const char **argv, char *reason, size_t len)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int err = -1;

	if (!r) {
		store__io_reason(c, reason, len);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR)
		snprintf(reason, len, "%.*s", (int)r->len, r->str);
	else
		err = 0;
	freeReplyObject(r);
	return err;
}

redisContext *store__connect(struct store *s, int timeout_ms, char *reason, size_t len)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	const char *argv[3];
	redisContext *c;
	char db[16];
	int err = -1;

	if (s->url.is_unix)
		c = redisConnectUnixWithTimeout(s->url.path, tv);
	else
		c = redisConnectWithTimeout(s->url.host, s->url.port, tv);
	if (!c) {
		snprintf(reason, len, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		store__io_reason(c, reason, len);
		goto cleanup;
	}
	if (s->password) {
		argv[0] = "AUTH";
		argv[1] = s->url.user[0] ? s->url.user : s->password;
		argv[2] = s->password;
		if (store__simple(c, s->url.user[0] ? 3 : 2, argv, reason, len))
			goto cleanup;
	}
	if (s->url.db) {
		snprintf(db, sizeof(db), "%d", s->url.db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (store__simple(c, 2, argv, reason, len))
			goto cleanup;
	}
	argv[0] = "PING";
	if (store__simple(c, 1, argv, reason, len))
		goto cleanup;
	err = 0;
cleanup:
	if (err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Takes an idle connection (*pooled true) or opens one; NULL with the reason. */
static redisContext *store__get(struct store *s, bool *pooled, char *reason, size_t len)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->n_idle)
		c = s->idle[--s->n_idle];
	pthread_mutex_unlock(&s->lock);
	*pooled = c != NULL;
	return c ? c : store__connect(s, STORE_TIMEOUT_MS, reason, len);
}

/* Gives a healthy connection back to the pool, or closes it. */
static void store__put(struct store *s, redisContext *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&s->lock);
	if (!c->err && s->n_idle < STORE_IDLE_MAX) {
		s->idle[s->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	redisFree(c);
}

redisReply *store__command(struct store *s, int argc, const char **argv, const size_t *argvlen,
			   char *reason, size_t len)
{
	redisReply *r = NULL;
	redisContext *c;
	bool pooled;
	int attempt;

	for (attempt = 0; attempt < 2 && !r; attempt++) {
		c = store__get(s, &pooled, reason, len);
		if (!c)
			return NULL;
		r = redisCommandArgv(c, argc, argv, argvlen);
		if (!r) {
			store__io_reason(c, reason, len);
			redisFree(c);
			/* an idle connection may have outlived the server: one fresh try */
			if (!pooled)
				return NULL;
			continue;
		}
		store__put(s, c);
	}
	if (r && r->type == REDIS_REPLY_ERROR) {
		snprintf(reason, len, "%.*s", (int)r->len, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}
