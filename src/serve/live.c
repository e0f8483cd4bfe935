/* The viewer's live feed: one SUBSCRIBE to scooby:live fanned out to Server-Sent Events clients. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "record/record.h"
#include "serve/live.h"
#include "serve/summary.h"

#define LIVE_RING 4096 /* frames kept for clients that fall behind */
#define LIVE_MAX_CLIENTS 64
#define LIVE_KEEPALIVE_MS 10000
#define LIVE_POLL_MS 250 /* the subscriber checks for stop this often */
#define LIVE_CONNECT_MS 2000
#define LIVE_BACKOFF_MIN_MS 250
#define LIVE_BACKOFF_MAX_MS 2000
#define LIVE_BATCH_BYTES (64 * 1024) /* frames handed to one client per wakeup */

struct live {
	struct store *store;
	pthread_t thread;
	bool started;

	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* frames arrived, or stop */
	bool stop;
	char *ring[LIVE_RING];
	unsigned long long next_seq; /* seq of the next frame; frame n is ring[n % LIVE_RING] */
	int clients;
	int redis_state; /* see live__redis_state */
	char redis_reason[160];
};

struct live_client {
	struct live *live;
	unsigned long long seq; /* the next frame this client reads */
	bool hello_sent;
	char *pending; /* bytes taken from the ring not yet handed out */
	size_t pending_len, pending_off;
};

static bool live__stopping(struct live *l)
{
	bool stop;

	pthread_mutex_lock(&l->lock);
	stop = l->stop;
	pthread_mutex_unlock(&l->lock);
	return stop;
}

/* Appends a frame (taking ownership) and wakes the clients. */
static void live__push(struct live *l, char *frame)
{
	char **slot;

	if (!frame)
		return;
	pthread_mutex_lock(&l->lock);
	slot = &l->ring[l->next_seq % LIVE_RING];
	free(*slot);
	*slot = frame;
	l->next_seq++;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* The "redis" event for a state; a new string, NULL on ENOMEM. */
static char *live__redis_frame(int up, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *json = NULL, *frame = NULL;

	if (o && cJSON_AddBoolToObject(o, "ok", up == 1) &&
	    (up == 1 || cJSON_AddStringToObject(o, "error", reason)))
		json = cJSON_PrintUnformatted(o);
	if (json && asprintf(&frame, "event: redis\ndata: %s\n\n", json) < 0)
		frame = NULL;
	cJSON_free(json);
	cJSON_Delete(o);
	return frame;
}

/* Records Redis' state; a change is pushed to the clients. */
static void live__set_redis(struct live *l, int up, const char *reason)
{
	bool changed;

	pthread_mutex_lock(&l->lock);
	changed = l->redis_state != up;
	l->redis_state = up;
	snprintf(l->redis_reason, sizeof(l->redis_reason), "%s", up == 1 ? "" : reason);
	pthread_mutex_unlock(&l->lock);
	if (changed)
		live__push(l, live__redis_frame(up, reason));
}

/* Sleeps ms or until stop. */
static void live__nap(struct live *l, long ms)
{
	struct timespec deadline;

	mono_after_ms(&deadline, ms);
	pthread_mutex_lock(&l->lock);
	while (!l->stop && pthread_cond_timedwait(&l->cond, &l->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&l->lock);
}

/* Reads the record of a published uuid and pushes its summary; a gone record is skipped. */
static void live__announce(struct live *l, const char *uuid, size_t len)
{
	char key[sizeof(STORE_KEY_PREFIX) + 32], reason[160], *json = NULL, *frame = NULL;
	const char *argv[2] = { "GET", key };
	redisReply *r = NULL;
	cJSON *rec = NULL, *sum = NULL;

	if (len != 32)
		return;
	snprintf(key, sizeof(key), STORE_KEY_PREFIX "%.*s", (int)len, uuid);
	if (!record_uuid__valid(key + sizeof(STORE_KEY_PREFIX) - 1))
		return;
	r = store__command(l->store, 2, argv, NULL, reason, sizeof(reason));
	if (!r || r->type != REDIS_REPLY_STRING)
		goto cleanup;
	rec = cJSON_ParseWithLength(r->str, r->len);
	sum = summary__new(rec);
	json = sum ? cJSON_PrintUnformatted(sum) : NULL;
	if (json && asprintf(&frame, "data: %s\n\n", json) >= 0)
		live__push(l, frame);
cleanup:
	cJSON_free(json);
	cJSON_Delete(sum);
	cJSON_Delete(rec);
	freeReplyObject(r);
}

/* Handles one reply of the subscribed connection: a "message" carries a uuid. */
static void live__on_reply(struct live *l, const redisReply *r)
{
	const redisReply *kind, *payload;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
		return;
	kind = r->element[0];
	payload = r->element[2];
	if (kind->type == REDIS_REPLY_STRING && kind->len == 7 &&
	    !memcmp(kind->str, "message", 7) && payload->type == REDIS_REPLY_STRING)
		live__announce(l, payload->str, payload->len);
}

/*
 * Reads the subscribed connection until it fails or the feed stops, polling
 * the socket so that stop is noticed. Returns 0 on stop, -1 with the reason
 * when the connection failed.
 */
static int live__listen(struct live *l, redisContext *c, char *reason, size_t len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	void *reply;
	int n;

	for (;;) {
		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			break;
		if (reply) {
			live__on_reply(l, reply);
			freeReplyObject(reply);
			continue;
		}
		if (live__stopping(l))
			return 0;
		n = poll(&pfd, 1, LIVE_POLL_MS);
		if (n < 0 && errno != EINTR) {
			snprintf(reason, len, "poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0 && redisBufferRead(c) != REDIS_OK)
			break;
	}
	snprintf(reason, len, "%s", c->errstr[0] ? c->errstr : "connection lost");
	return -1;
}

/* Connects and subscribes; returns the context or NULL with the reason. */
static redisContext *live__subscribe(struct live *l, char *reason, size_t len)
{
	const char *argv[2] = { "SUBSCRIBE", STORE_LIVE_CHANNEL };
	redisContext *c = store__connect(l->store, LIVE_CONNECT_MS, reason, len);
	redisReply *r;

	if (!c)
		return NULL;
	r = redisCommandArgv(c, 2, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		snprintf(reason, len, "SUBSCRIBE failed: %s",
			 !r			      ? c->errstr :
			 r->type == REDIS_REPLY_ERROR ? r->str :
							"unexpected reply");
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

static void *live__run(void *arg)
{
	struct live *l = arg;
	long backoff = LIVE_BACKOFF_MIN_MS;
	redisContext *c;
	char reason[160];

	while (!live__stopping(l)) {
		c = live__subscribe(l, reason, sizeof(reason));
		if (!c) {
			live__set_redis(l, 0, reason);
			live__nap(l, backoff);
			backoff = backoff * 2 > LIVE_BACKOFF_MAX_MS ? LIVE_BACKOFF_MAX_MS :
								      backoff * 2;
			continue;
		}
		backoff = LIVE_BACKOFF_MIN_MS;
		live__set_redis(l, 1, NULL);
		if (live__listen(l, c, reason, sizeof(reason)))
			live__set_redis(l, 0, reason);
		redisFree(c);
	}
	return NULL;
}

struct live *live__new(struct store *store)
{
	struct live *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	if (!l)
		return NULL;
	l->store = store;
	l->redis_state = -1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&l->thread, NULL, live__run, l)) {
		live__free(l);
		return NULL;
	}
	l->started = true;
	return l;
}

void live__stop(struct live *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	if (l->started)
		pthread_join(l->thread, NULL);
	l->started = false;
}

void live__free(struct live *l)
{
	int i;

	if (!l)
		return;
	live__stop(l);
	for (i = 0; i < LIVE_RING; i++)
		free(l->ring[i]);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int live__redis_state(struct live *l, char *reason, size_t len)
{
	int state;

	pthread_mutex_lock(&l->lock);
	state = l->redis_state;
	if (reason && len)
		snprintf(reason, len, "%s", l->redis_reason);
	pthread_mutex_unlock(&l->lock);
	return state;
}

struct live_client *live_client__new(struct live *l)
{
	struct live_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_lock(&l->lock);
	if (l->clients >= LIVE_MAX_CLIENTS) {
		pthread_mutex_unlock(&l->lock);
		free(c);
		return NULL;
	}
	l->clients++;
	c->live = l;
	c->seq = l->next_seq;
	pthread_mutex_unlock(&l->lock);
	return c;
}

void live_client__free(struct live_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->live->lock);
	c->live->clients--;
	pthread_mutex_unlock(&c->live->lock);
	free(c->pending);
	free(c);
}

/* Appends s to the client's pending bytes; false on ENOMEM. */
static bool live_client__queue(struct live_client *c, const char *s)
{
	size_t n = strlen(s);
	char *p = realloc(c->pending, c->pending_len + n + 1);

	if (!p)
		return false;
	memcpy(p + c->pending_len, s, n + 1);
	c->pending = p;
	c->pending_len += n;
	return true;
}

/*
 * Under the lock: queues the hello (retry delay, Redis state) on first use,
 * then every frame the client has not read, from the oldest still kept
 * (announcing a gap when frames were lost to it), up to LIVE_BATCH_BYTES.
 */
static void live_client__take(struct live_client *c)
{
	struct live *l = c->live;
	char *frame;

	if (!c->hello_sent) {
		c->hello_sent = true;
		live_client__queue(c, "retry: 2000\n\n");
		if (l->redis_state >= 0) {
			frame = live__redis_frame(l->redis_state, l->redis_reason);
			if (frame)
				live_client__queue(c, frame);
			free(frame);
		}
	}
	if (l->next_seq - c->seq > LIVE_RING) {
		c->seq = l->next_seq - LIVE_RING;
		live_client__queue(c, "event: gap\ndata: {}\n\n");
	}
	while (c->seq < l->next_seq && c->pending_len < LIVE_BATCH_BYTES)
		if (!live_client__queue(c, l->ring[c->seq++ % LIVE_RING]))
			break;
}

ssize_t live_client__read(struct live_client *c, char *buf, size_t max)
{
	struct live *l = c->live;
	struct timespec deadline;
	size_t n;

	if (c->pending_off == c->pending_len) {
		c->pending_off = c->pending_len = 0;
		mono_after_ms(&deadline, LIVE_KEEPALIVE_MS);
		pthread_mutex_lock(&l->lock);
		while (!l->stop && c->hello_sent && c->seq == l->next_seq &&
		       pthread_cond_timedwait(&l->cond, &l->lock, &deadline) != ETIMEDOUT)
			;
		if (l->stop) {
			pthread_mutex_unlock(&l->lock);
			return -1;
		}
		live_client__take(c);
		pthread_mutex_unlock(&l->lock);
		if (!c->pending_len && !live_client__queue(c, ": keepalive\n\n"))
			return -1;
	}
	n = c->pending_len - c->pending_off;
	if (n > max)
		n = max;
	memcpy(buf, c->pending + c->pending_off, n);
	c->pending_off += n;
	return n;
}
