/* Publishes request records to Redis from a background thread, holding them while Redis is away. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "record/record.h"
#include "redis_conn.h"
#include "redis_batch.h"
#include "redis_resp.h"
#include "sinks/redis.h"

#define SINK_TIMEOUT_MS 1000 /* connect and command timeouts */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define BATCH_MAX_BYTES (1 << 20) /* JSON bytes per round trip, past the first record */

/* One pending record; seq numbers are consecutive along the queue. */
struct sink_rec {
	struct sink_rec *next;
	unsigned long long seq;
	long long score;
	size_t json_len;
	char *json; /* owned */
	char uuid[33];
	bool framed; /* counted in the kept ring (a retry frames it again) */
	char doomed[33]; /* the record this one's transaction deletes, "" when none */
};

static void sink_rec__free(struct sink_rec *r)
{
	if (!r)
		return;
	free(r->json);
	free(r);
}

static void sink_rec__free_list(struct sink_rec *r)
{
	struct sink_rec *next;

	for (; r; r = next) {
		next = r->next;
		sink_rec__free(r);
	}
}

/* Records sent in one round trip: seqs first_seq .. first_seq + n - 1. */
struct sink_batch {
	unsigned long long first_seq;
	size_t n;
	size_t ok; /* leading records confirmed */
};

struct redis_sink {
	struct redis_url url; /* password wiped: it lives in password */
	char *password; /* NULL when none */
	char addr[300]; /* host:port or socket path, for messages */
	int ttl_s;
	long keep;
	size_t max_pending;
	size_t max_bytes; /* bound on the JSON held: a few huge records must not eat memory */
	pthread_t thread;

	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* to the thread: records arrived, or stop */
	pthread_cond_t drained; /* to flushers: records left the queue */
	bool stop;
	bool kicked; /* publish does not wake the thread: redis_sink__kick does */
	struct sink_rec *head, *tail;
	/* records below this seq are being written from their own memory: a record dropped
	 * meanwhile waits here, for the thread to free it */
	unsigned long long inflight_end;
	struct sink_rec *orphans;
	size_t count;
	size_t bytes; /* JSON bytes queued */
	size_t peak_count, peak_bytes; /* the most ever queued at once */
	unsigned long long next_seq;
	unsigned long long published, dropped, reconnects;
	bool connected;

	/* the thread's alone */
	redisContext *ctx;
	struct redis_batch *batch; /* the batch framed, and how the last one went */
	bool quiet_ok; /* the server takes CLIENT REPLY */
	/* uuids of the last keep records framed, oldest at kept_head: the record that pushes
	 * one out deletes it, so that Redis holds --keep records, not a TTL's worth of them
	 * (600 s at 1000 req/s is 600000 records of tens of KiB each) */
	char (*kept)[32];
	size_t kept_cap, kept_head, kept_n;
	bool ctx_used; /* a batch succeeded on ctx, so it may since have gone stale */
	bool ever_connected;
	bool reachable; /* no warning printed since the last success */
	bool reply_failed; /* the last batch failed on an error reply, not on the network */
	unsigned backoff_ms;
};

static bool sink__stopping(struct redis_sink *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Waits the current backoff (or until stop), then doubles it. */
static void sink__backoff(struct redis_sink *s)
{
	struct timespec deadline;

	mono_after_ms(&deadline, s->backoff_ms);
	pthread_mutex_lock(&s->lock);
	/* publishes signal wake too: only stop or the deadline end the wait */
	while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
	s->backoff_ms *= 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
}

static void sink__healthy(struct redis_sink *s)
{
	if (!s->reachable)
		fprintf(stderr, "scooby-bpf: redis %s reachable again\n", s->addr);
	s->reachable = true;
	s->backoff_ms = BACKOFF_MIN_MS;
}

static void sink__unreachable(struct redis_sink *s, const char *reason)
{
	if (s->reachable)
		fprintf(stderr,
			"scooby-bpf: warning: redis %s unreachable (%s); holding up to %zu records\n",
			s->addr, reason, s->max_pending);
	s->reachable = false;
}

/* Appends uuid to the kept ring (which must have room). */
static void sink__kept_push(struct redis_sink *s, const char *uuid)
{
	memcpy(s->kept[s->kept_n++], uuid, 32);
}

/*
 * Fills the kept ring with the records the index holds already (an earlier run's, or a
 * run's before a restart), oldest first, so that --keep counts them: otherwise each run
 * would start its count at zero and its predecessors' records would stay until their TTL.
 * Those beyond the newest keep are deleted now. Done at the first connection, before any
 * record is framed; best effort: a failed read leaves the ring empty, as it was (an I/O
 * failure shows in c->err).
 */
static void sink__seed(struct redis_sink *s, redisContext *c)
{
	size_t i, first = 0, sent = 0;
	redisReply *r;
	void *reply;

	if (s->kept) /* seeded by a first connection that failed after it */
		return;
	r = redisCommand(c, "ZRANGE " RESP_INDEX_KEY " 0 -1");
	if (!r || r->type != REDIS_REPLY_ARRAY || !r->elements)
		goto cleanup;
	if (r->elements > (size_t)s->keep)
		first = r->elements - s->keep;
	s->kept = calloc(r->elements - first, sizeof(*s->kept));
	if (!s->kept)
		goto cleanup;
	s->kept_cap = r->elements - first;
	for (i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len != 32)
			continue;
		if (i >= first)
			sink__kept_push(s, r->element[i]->str);
		else if (redisAppendCommand(c, "UNLINK " RESP_KEY_PREFIX "%b", r->element[i]->str,
					    (size_t)32) == REDIS_OK)
			sent++;
	}
	/* the deletions pipelined: a run with a smaller --keep than the last may have many */
	while (sent-- && redisGetReply(c, &reply) == REDIS_OK)
		freeReplyObject(reply);
cleanup:
	freeReplyObject(r);
}

/*
 * Connects, authenticates and selects the database per the URL, then PINGs
 * (so that a server demanding a password is found out now). Returns 0 with
 * s->ctx set, or -1 with the reason.
 */
static int sink__connect(struct redis_sink *s, char *reason, size_t len)
{
	redisContext *c = redis_conn__open(&s->url, s->password, SINK_TIMEOUT_MS, reason, len);
	redisReply *r;

	if (!c)
		return -1;
	/* CLIENT REPLY is Redis 3.2's; a server or proxy without it gets every reply */
	r = redisCommand(c, "CLIENT REPLY ON");
	s->quiet_ok = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!s->ever_connected && !c->err)
		sink__seed(s, c);
	if (c->err) {
		redis_conn__io_reason(c, reason, len);
		redisFree(c);
		return -1;
	}
	s->ctx = c;
	s->ctx_used = false;
	pthread_mutex_lock(&s->lock);
	s->connected = true;
	if (s->ever_connected)
		s->reconnects++;
	s->ever_connected = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * Drops a SIGPIPE left pending by writing to a closed socket; it is blocked
 * in this thread (see redis_sink__new), which is what turned it into EPIPE.
 */
static void sink__clear_sigpipe(void)
{
	struct timespec zero = { 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}

static void sink__disconnect(struct redis_sink *s)
{
	redisFree(s->ctx);
	s->ctx = NULL;
	sink__clear_sigpipe();
	pthread_mutex_lock(&s->lock);
	s->connected = false;
	pthread_mutex_unlock(&s->lock);
}

/* Counts r among the kept records, the first time it is framed: once keep are, the oldest
 * leaves the ring into r->doomed. Without memory for the ring, nothing is deleted (the
 * TTL still is). */
static void sink__keep(struct redis_sink *s, struct sink_rec *r)
{
	char(*nk)[32];
	size_t cap;

	if (r->framed)
		return;
	r->framed = true;
	if (s->kept_n == (size_t)s->keep) {
		memcpy(r->doomed, s->kept[s->kept_head], 32);
		r->doomed[32] = 0;
		memcpy(s->kept[s->kept_head], r->uuid, 32);
		s->kept_head = (s->kept_head + 1) % s->kept_n;
		return;
	}
	if (s->kept_n == s->kept_cap) {
		cap = s->kept_cap ? s->kept_cap * 2 : 64;
		if (cap > (size_t)s->keep)
			cap = s->keep;
		nk = realloc(s->kept, cap * sizeof(*nk));
		if (!nk)
			return;
		/* the ring is unwrapped while it fills: kept_head stays 0 until it is full */
		s->kept = nk;
		s->kept_cap = cap;
	}
	sink__kept_push(s, r->uuid);
}

/*
 * Waits for records, then frames a batch from the head of the queue. The records stay
 * queued until confirmed, so the producer may drop them meanwhile: it leaves those in
 * flight to the thread (see orphans). Returns false when the sink is stopping, or true
 * with *b set and s->batch holding it.
 */
static bool sink__take_batch(struct redis_sink *s, struct sink_batch *b)
{
	struct sink_rec *r;
	size_t bytes = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stop && !s->count)
		pthread_cond_wait(&s->wake, &s->lock);
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	b->first_seq = s->head->seq;
	b->n = 0;
	b->ok = 0;
	redis_batch__begin(s->batch, s->quiet_ok);
	for (r = s->head; r && b->n < REDIS_BATCH_MAX_RECS; r = r->next) {
		if (b->n && bytes + r->json_len > BATCH_MAX_BYTES)
			break;
		sink__keep(s, r);
		redis_batch__add(s->batch, r->uuid, r->json, r->json_len, s->ttl_s,
				 r->doomed[0] ? r->doomed : NULL, r->score);
		bytes += r->json_len;
		b->n++;
	}
	redis_batch__end(s->batch, s->keep);
	s->inflight_end = b->first_seq + b->n;
	pthread_mutex_unlock(&s->lock);
	return true;
}

/*
 * Removes the confirmed records from the queue and counts them. A confirmed
 * record the producer dropped while it was in flight was not lost after all:
 * it moves from dropped to published.
 */
static void sink__settle(struct redis_sink *s, const struct sink_batch *b)
{
	struct sink_rec *done = NULL, *r, *orphans;
	size_t popped = 0;

	pthread_mutex_lock(&s->lock);
	orphans = s->orphans;
	s->orphans = NULL;
	s->inflight_end = 0;
	while (s->head && s->head->seq < b->first_seq + b->ok) {
		r = s->head;
		s->head = r->next;
		r->next = done;
		done = r;
		s->count--;
		s->bytes -= r->json_len;
		popped++;
	}
	if (!s->head)
		s->tail = NULL;
	s->published += b->ok;
	s->dropped -= b->ok - popped;
	if (popped)
		pthread_cond_broadcast(&s->drained);
	pthread_mutex_unlock(&s->lock);
	sink_rec__free_list(done);
	sink_rec__free_list(orphans);
}

static void *sink__run(void *arg)
{
	struct redis_sink *s = arg;
	enum redis_batch_fail rc;
	struct sink_batch b;
	char reason[256];
	bool stale;

	while (!sink__stopping(s)) {
		if (!s->ctx) {
			if (sink__connect(s, reason, sizeof(reason))) {
				sink__unreachable(s, reason);
				sink__backoff(s);
			} else if (!s->reply_failed) {
				/* after an error reply, only a batch that goes through proves health */
				sink__healthy(s);
			}
			continue;
		}
		if (!sink__take_batch(s, &b))
			break;
		rc = redis_batch__send(s->batch, s->ctx, &b.ok, reason, sizeof(reason));
		sink__settle(s, &b);
		if (rc ==
		    REDIS_BATCH_FAIL_QUIET) /* at once, with every reply: they tell what failed */
			continue;
		if (rc == REDIS_BATCH_OK) {
			s->ctx_used = true;
			s->reply_failed = false;
			sink__healthy(s);
			continue;
		}
		/* an idle connection may have been closed by the server: retry once at once */
		stale = rc == REDIS_BATCH_FAIL_IO && s->ctx_used;
		if (rc == REDIS_BATCH_FAIL_REPLY)
			s->reply_failed = true;
		sink__disconnect(s);
		if (stale)
			continue;
		sink__unreachable(s, reason);
		sink__backoff(s);
	}
	return NULL;
}

static void sink__free_queue(struct redis_sink *s)
{
	sink_rec__free_list(s->head);
	sink_rec__free_list(s->orphans);
	s->head = s->tail = s->orphans = NULL;
	s->count = 0;
}

static bool url_ok(const struct redis_url *u)
{
	if (u->db < 0)
		return false;
	if (u->is_unix)
		return u->path[0] == '/' && memchr(u->path, '\0', sizeof(u->path));
	return u->host[0] && memchr(u->host, '\0', sizeof(u->host)) &&
	       memchr(u->user, '\0', sizeof(u->user)) && u->port > 0 && u->port <= 65535;
}

/* Sets s->password from the URL, else from REDISCLI_AUTH; returns 0 or -ENOMEM. */
static int sink__set_password(struct redis_sink *s, const struct redis_url *u)
{
	const char *pw = u->password;

	/* like redis-cli: the environment keeps the password out of ps and shell history */
	if (!memchr(u->password, '\0', sizeof(u->password)) || !u->password[0])
		pw = getenv("REDISCLI_AUTH");
	if (!pw || !pw[0])
		return 0;
	s->password = strdup(pw);
	return s->password ? 0 : -ENOMEM;
}

/* Initialises the lock and condition variables; returns 0 or -errno, leaving nothing behind. */
static int sink__init_sync(struct redis_sink *s)
{
	pthread_condattr_t ca;
	int err;

	err = -pthread_condattr_init(&ca);
	if (err)
		return err;
	/* monotonic waits: a wall clock step must not stretch a flush or a backoff */
	err = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (err)
		goto cleanup;
	err = -pthread_mutex_init(&s->lock, NULL);
	if (err)
		goto cleanup;
	err = -pthread_cond_init(&s->wake, &ca);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		goto cleanup;
	}
	err = -pthread_cond_init(&s->drained, &ca);
	if (err) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
	}
cleanup:
	pthread_condattr_destroy(&ca);
	return err;
}

struct redis_sink *redis_sink__new(const struct redis_sink_opts *o)
{
	sigset_t all, old;
	bool sync_ready = false;
	struct redis_sink *s;
	int err;

	if (!o || !o->url || o->ttl_s < 0 || o->keep < 0 || !url_ok(o->url)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->url = *o->url;
	explicit_bzero(s->url.password, sizeof(s->url.password));
	err = sink__set_password(s, o->url);
	if (err)
		goto cleanup;
	if (s->url.is_unix)
		snprintf(s->addr, sizeof(s->addr), "%s", s->url.path);
	else if (strchr(s->url.host, ':'))
		snprintf(s->addr, sizeof(s->addr), "[%s]:%d", s->url.host, s->url.port);
	else
		snprintf(s->addr, sizeof(s->addr), "%s:%d", s->url.host, s->url.port);
	s->ttl_s = o->ttl_s ? o->ttl_s : 600;
	s->keep = o->keep ? o->keep : 10000;
	s->max_pending = o->max_pending ? o->max_pending : 10000;
	s->max_bytes = o->max_bytes ? o->max_bytes : REDIS_SINK_MAX_BYTES;
	s->kicked = o->kicked;
	s->reachable = true;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->batch = redis_batch__new();
	err = -ENOMEM;
	if (!s->batch)
		goto cleanup;

	err = sink__init_sync(s);
	if (err)
		goto cleanup;
	sync_ready = true;

	/*
	 * The thread starts with every signal blocked: SIGINT and SIGTERM must
	 * reach the event loop's thread and interrupt its poll, and as hiredis
	 * write()s, a write to a Redis that went away must fail with EPIPE
	 * rather than kill the process with SIGPIPE.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&s->thread, NULL, sink__run, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto cleanup;
	return s;
cleanup:
	if (sync_ready) {
		pthread_cond_destroy(&s->drained);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
	}
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	redis_batch__free(s->batch);
	free(s->kept);
	free(s);
	errno = -err;
	return NULL;
}

static bool uuid_ok(const char *u)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return false;
	return u[32] == '\0';
}

int redis_sink__publish_owned(struct redis_sink *s, const char *uuid, double start_unix_ms,
			      char *json, size_t len)
{
	struct sink_rec *r, *old = NULL, *drop;

	/* the comparison also rejects NaN; the bound keeps the integer cast defined */
	if (!s || !uuid || !json || !uuid_ok(uuid) ||
	    !(start_unix_ms > -9e18 && start_unix_ms < 9e18)) {
		free(json);
		return -EINVAL;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		free(json);
		return -ENOMEM;
	}
	r->next = NULL;
	r->score = (long long)start_unix_ms;
	r->json_len = len;
	r->json = json;
	memcpy(r->uuid, uuid, sizeof(r->uuid));
	r->framed = false;
	r->doomed[0] = 0;

	pthread_mutex_lock(&s->lock);
	while (s->head && (s->count >= s->max_pending || s->bytes + len > s->max_bytes)) {
		drop = s->head;
		s->head = drop->next;
		if (!s->head)
			s->tail = NULL;
		s->count--;
		s->bytes -= drop->json_len;
		s->dropped++;
		if (drop->seq < s->inflight_end) { /* being written: the thread frees it */
			drop->next = s->orphans;
			s->orphans = drop;
		} else {
			drop->next = old;
			old = drop;
		}
	}
	s->bytes += len;
	r->seq = s->next_seq++;
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	if (s->bytes > s->peak_bytes)
		s->peak_bytes = s->bytes;
	/* the thread waits for work only on an empty queue */
	if (s->count++ == 0 && !s->kicked)
		pthread_cond_signal(&s->wake);
	if (s->count > s->peak_count)
		s->peak_count = s->count;
	pthread_mutex_unlock(&s->lock);
	sink_rec__free_list(old);
	return 0;
}

int redis_sink__publish(struct redis_sink *s, const char *uuid, double start_unix_ms,
			const char *json)
{
	size_t n;
	char *copy;

	if (!s || !json)
		return -EINVAL;
	n = strlen(json);
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, json, n + 1);
	return redis_sink__publish_owned(s, uuid, start_unix_ms, copy, n);
}

void redis_sink__kick(struct redis_sink *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->count)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

size_t redis_sink__flush(struct redis_sink *s, int timeout_ms)
{
	struct timespec deadline;
	size_t n;

	if (!s)
		return 0;
	if (timeout_ms >= 0)
		mono_after_ms(&deadline, timeout_ms);
	pthread_mutex_lock(&s->lock);
	if (s->count)
		pthread_cond_signal(&s->wake);
	while (s->count && !s->stop) {
		if (timeout_ms < 0)
			pthread_cond_wait(&s->drained, &s->lock);
		else if (pthread_cond_timedwait(&s->drained, &s->lock, &deadline) == ETIMEDOUT)
			break;
	}
	n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void redis_sink__stats(struct redis_sink *s, struct redis_sink_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	st->published = s->published;
	st->dropped = s->dropped;
	st->pending = s->count;
	st->reconnects = s->reconnects;
	st->connected = s->connected;
	st->peak_pending = s->peak_count;
	st->max_pending = s->max_pending;
	st->peak_bytes = s->peak_bytes;
	st->max_bytes = s->max_bytes;
	pthread_mutex_unlock(&s->lock);
}

void redis_sink__free(struct redis_sink *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->drained);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	if (s->ctx)
		redisFree(s->ctx);
	sink__free_queue(s);
	pthread_cond_destroy(&s->drained);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	redis_batch__free(s->batch);
	free(s->kept);
	free(s);
}
