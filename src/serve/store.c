/* The viewer's Redis connections: a small pool for request handlers, and one-off connects. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/redis_conn.h"
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

redisContext *store__connect(struct store *s, int timeout_ms, char *reason, size_t len)
{
	return redis_conn__open(&s->url, s->password, timeout_ms, reason, len);
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
			redis_conn__io_reason(c, reason, len);
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
