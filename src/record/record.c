/* The per-request record: model, uuid, clocks and JSON building (the format is docs/FORMAT.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "profile.h"
#include "record.h"

static int64_t mono_to_unix_offset;

void clock_ref__init(void)
{
	struct timespec r1, m, r2;

	/* bracket the monotonic read between two realtime reads to halve the error */
	clock_gettime(CLOCK_REALTIME, &r1);
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r2);
	mono_to_unix_offset = ((int64_t)r1.tv_sec * 1000000000 + r1.tv_nsec) / 2 +
			      ((int64_t)r2.tv_sec * 1000000000 + r2.tv_nsec) / 2 -
			      ((int64_t)m.tv_sec * 1000000000 + m.tv_nsec);
}

int64_t mono_to_unix_ns(uint64_t mono_ns)
{
	return (int64_t)mono_ns + mono_to_unix_offset;
}

uint64_t mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mono_after_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void iso8601_utc(int64_t unix_ns, char *buf, size_t len)
{
	/* the date and time of day of the last second formatted, per thread: a record's
	 * times fall in a few seconds, and gmtime_r and strftime cost more than the rest */
	static __thread time_t cached_secs = -1;
	static __thread char cached[32];
	static __thread size_t cached_n;
	time_t secs = unix_ns / 1000000000;
	int us = (int)(unix_ns % 1000000000 / 1000), i;
	struct tm tm;

	if (unix_ns < 0 || len < 32) { /* the plain way for the odd case */
		size_t n;

		gmtime_r(&secs, &tm);
		n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf + n, len - n, ".%06dZ", us);
		return;
	}
	if (secs != cached_secs) {
		gmtime_r(&secs, &tm);
		cached_n = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_secs = secs;
	}
	memcpy(buf, cached, cached_n);
	buf[cached_n] = '.';
	for (i = 6; i >= 1; i--, us /= 10)
		buf[cached_n + i] = '0' + us % 10;
	buf[cached_n + 7] = 'Z';
	buf[cached_n + 8] = 0;
}

/* Copies 16 random bytes into raw from a pool the kernel refills 256 uuids at a time (a
 * getrandom per record costs more than the rest of its uuid); false when it fails. Records
 * are made on the main thread only. */
static bool random16(unsigned char *raw)
{
	static unsigned char pool[4096];
	static size_t used = sizeof(pool);
	size_t got = 0;
	ssize_t n;

	if (used == sizeof(pool)) {
		while (got < sizeof(pool)) {
			n = getrandom(pool + got, sizeof(pool) - got, 0);
			if (n < 0 && errno != EINTR)
				return false;
			if (n > 0)
				got += n;
		}
		used = 0;
	}
	memcpy(raw, pool + used, 16);
	explicit_bzero(pool + used, 16); /* each uuid is handed out once */
	used += 16;
	return true;
}

struct record *record__new(void)
{
	static const char hex[] = "0123456789abcdef";
	struct record *r = calloc(1, sizeof(*r));
	unsigned char raw[16];
	int i;

	if (!r)
		return NULL;
	if (!random16(raw)) {
		free(r);
		return NULL;
	}
	for (i = 0; i < 16; i++) {
		r->uuid[2 * i] = hex[raw[i] >> 4];
		r->uuid[2 * i + 1] = hex[raw[i] & 15];
	}
	return r;
}

/* Drops one reference to s's frames, freeing them with the last. */
static void stack__drop_frames(struct stack *s)
{
	if (!s->share)
		free(s->frames);
	else if (!--s->share->refs)
		free(s->share);
	s->frames = NULL;
	s->share = NULL;
}

void stack__clear(struct stack *s)
{
	stack__drop_frames(s);
	free(s->view);
	free(s->scooby_view);
	memset(s, 0, sizeof(*s));
}

/* True when path has a "/lib/python3.X/" or "/lib64/python3.X/" component: the standard
 * library of an interpreter installed under some prefix. */
static bool in_stdlib(const char *path)
{
	const char *p = path, *v;

	while ((p = strstr(p, "/python3."))) {
		v = p + strlen("/python3.");
		if (*v >= '0' && *v <= '9') {
			while (*v >= '0' && *v <= '9')
				v++;
			if (*v == '/' && ((p - path >= 4 && strncmp(p - 4, "/lib", 4) == 0) ||
					  (p - path >= 6 && strncmp(p - 6, "/lib64", 6) == 0)))
				return true;
		}
		p++;
	}
	return false;
}

bool frame__is_app(const struct frame *f)
{
	if (f->native || f->unresolved || !f->filename || f->filename[0] == '<')
		return false;
	if (strstr(f->filename, "/site-packages/") || strstr(f->filename, "/dist-packages/"))
		return false;
	return !in_stdlib(f->filename);
}

/* Returns a malloc'd copy of n frames (n may be 0), or NULL on ENOMEM. */
static struct frame *frames_dup(const struct frame *frames, size_t n)
{
	struct frame *f = malloc(n * sizeof(*f) + 1);

	if (f && n)
		memcpy(f, frames, n * sizeof(*f));
	return f;
}

int stack__copy(struct stack *dst, const struct stack *src)
{
	*dst = *src;
	dst->frames = NULL;
	dst->share = NULL;
	dst->view = NULL;
	dst->scooby_view = NULL;
	if (src->share) {
		dst->frames = src->frames;
		dst->share = src->share;
		src->share->refs++;
	} else if (src->nframes && !(dst->frames = frames_dup(src->frames, src->nframes))) {
		goto nomem;
	}
	if ((src->view && !(dst->view = strdup(src->view))) ||
	    (src->scooby_view && !(dst->scooby_view = strdup(src->scooby_view))))
		goto nomem;
	return 0;
nomem:
	stack__clear(dst);
	return -ENOMEM;
}

/* Returns a block of refs 1 holding a copy of s's frames, or NULL on ENOMEM. */
static struct frames_share *frames_share__of(const struct stack *s)
{
	struct frames_share *b = malloc(sizeof(*b) + s->nframes * sizeof(*s->frames));

	if (!b)
		return NULL;
	*b = (struct frames_share){ .refs = 1 };
	memcpy(b->frames, s->frames, s->nframes * sizeof(*s->frames));
	return b;
}

int stack__share(struct stack *s)
{
	struct frames_share *b;

	if (s->share || !s->nframes)
		return 0;
	b = frames_share__of(s);
	if (!b)
		return -ENOMEM;
	free(s->frames);
	s->frames = b->frames;
	s->share = b;
	return 0;
}

int stack__own(struct stack *s)
{
	struct frame *own;

	if (!s->share)
		return 0;
	own = frames_dup(s->frames, s->nframes);
	if (!own)
		return -ENOMEM;
	stack__drop_frames(s);
	s->frames = own;
	return 0;
}

void query__free_strings(struct query *q)
{
	uint32_t i;

	free(q->sql);
	free(q->error);
	free(q->command);
	free(q->key);
	for (i = 0; i < q->nargs; i++)
		free(q->args[i]);
	free(q->args);
	q->sql = q->error = q->command = q->key = NULL;
	q->args = NULL;
	q->nargs = 0;
	stack__clear(&q->stack);
}

static void query_list__free(struct query_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		query__free_strings(&l->q[i]);
	free(l->q);
}

void record__free(struct record *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nqueries; i++)
		query__free_strings(&r->queries[i]);
	free(r->queries);
	query_list__free(&r->redis);
	query_list__free(&r->memcache);
	for (i = 0; i < r->nlogs; i++) {
		free(r->logs[i].s);
		stack__clear(&r->logs[i].stack);
	}
	free(r->logs);
	free(r->path);
	free(r->host);
	free(r->request_id);
	free(r->view_name);
	free(r->scooby_view_name);
	profile__free(r->profile);
	free(r);
}

/* Appends q to a list (array, count, capacity, omitted count and time); see record__add_query. */
static int list__add(struct query **arr, size_t *n, size_t *cap, size_t *omitted,
		     uint64_t *omitted_ns, struct query *q)
{
	struct query *nq;
	size_t ncap;

	if (*n >= RECORD_MAX_QUERIES) {
		(*omitted)++;
		*omitted_ns += q->busy_ns;
		query__free_strings(q);
		return 0;
	}
	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 8;
		nq = realloc(*arr, ncap * sizeof(*nq));
		if (!nq) {
			query__free_strings(q);
			return -ENOMEM;
		}
		*arr = nq;
		*cap = ncap;
	}
	(*arr)[(*n)++] = *q;
	return 0;
}

static struct query_list *kv_list(struct record *r, const struct db_kind *db)
{
	return db && db->section == DB_SECTION_REDIS ? &r->redis : &r->memcache;
}

int record__add_query(struct record *r, struct query *q)
{
	struct query_list *l;

	if (db__is_sql(q->db))
		return list__add(&r->queries, &r->nqueries, &r->cap, &r->omitted, &r->omitted_ns,
				 q);
	l = kv_list(r, q->db);
	return list__add(&l->q, &l->n, &l->cap, &l->omitted, &l->omitted_ns, q);
}

bool record__keeps(const struct record *r, const struct db_kind *db)
{
	if (db__is_sql(db))
		return r->nqueries < RECORD_MAX_QUERIES;
	return kv_list((struct record *)r, db)->n < RECORD_MAX_QUERIES;
}

size_t record__nqueries_all(const struct record *r)
{
	return r->nqueries + r->omitted + r->redis.n + r->redis.omitted + r->memcache.n +
	       r->memcache.omitted;
}

int record__add_log(struct record *r, struct log_entry *l)
{
	struct log_entry *nl;
	size_t cap;

	if (r->nlogs >= RECORD_MAX_LOGS) {
		r->logs_omitted++;
		goto drop;
	}
	if (r->nlogs == r->logs_cap) {
		cap = r->logs_cap ? r->logs_cap * 2 : 8;
		nl = realloc(r->logs, cap * sizeof(*nl));
		if (!nl)
			goto drop;
		r->logs = nl;
		r->logs_cap = cap;
	}
	r->logs[r->nlogs++] = *l;
	return 0;
drop:
	free(l->s);
	l->s = NULL;
	stack__clear(&l->stack);
	return r->nlogs >= RECORD_MAX_LOGS ? 0 : -ENOMEM;
}

double query_list__total_ms(const struct query_list *l)
{
	uint64_t ns = l->omitted_ns;
	size_t i;

	for (i = 0; i < l->n; i++)
		ns += l->q[i].busy_ns;
	return ns / 1e6;
}

double record__total_db_ms(const struct record *r)
{
	uint64_t ns = r->omitted_ns;
	size_t i;

	for (i = 0; i < r->nqueries; i++)
		ns += r->queries[i].busy_ns;
	return ns / 1e6;
}

const char *db__name(const struct db_kind *db)
{
	return db && db->name ? db->name : "unknown";
}
