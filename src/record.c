/* The per-request record: model, uuid, clocks and JSON building (the format is docs/FORMAT.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "hashmap.h"
#include "profile.h"
#include "record.h"
#include "utf8.h"

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
	time_t secs = unix_ns / 1000000000;
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06dZ", (int)(unix_ns % 1000000000 / 1000));
}

struct record *record__new(void)
{
	static const char hex[] = "0123456789abcdef";
	struct record *r = calloc(1, sizeof(*r));
	unsigned char raw[16];
	size_t got = 0;
	ssize_t n;
	int i;

	if (!r)
		return NULL;
	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno != EINTR) {
			free(r);
			return NULL;
		}
		if (n > 0)
			got += n;
	}
	for (i = 0; i < 16; i++) {
		r->uuid[2 * i] = hex[raw[i] >> 4];
		r->uuid[2 * i + 1] = hex[raw[i] & 15];
	}
	return r;
}

void stack__clear(struct stack *s)
{
	free(s->frames);
	free(s->view);
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

int stack__copy(struct stack *dst, const struct stack *src)
{
	*dst = *src;
	dst->frames = NULL;
	dst->view = NULL;
	if (src->nframes) {
		dst->frames = malloc(src->nframes * sizeof(*dst->frames));
		if (!dst->frames)
			goto nomem;
		memcpy(dst->frames, src->frames, src->nframes * sizeof(*dst->frames));
	}
	if (src->view && !(dst->view = strdup(src->view)))
		goto nomem;
	return 0;
nomem:
	stack__clear(dst);
	return -ENOMEM;
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

static struct query_list *kv_list(struct record *r, enum db_kind db)
{
	return db == DB_REDIS ? &r->redis : &r->memcache;
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

bool record__keeps(const struct record *r, enum db_kind db)
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

/* Milliseconds with microsecond precision, as the format promises. */
static double ms(uint64_t ns)
{
	return round(ns / 1e3) / 1e3;
}

static double unix_ms(uint64_t mono_ns)
{
	return round(mono_to_unix_ns(mono_ns) / 1e3) / 1e3;
}

/* True when s is ASCII: valid UTF-8 that needs no repaired copy (most names and SQL). */
static bool plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Adds a string member made valid UTF-8 (or JSON null for NULL); false on ENOMEM. */
static bool add_str(cJSON *obj, const char *name, const char *s)
{
	char *clean;
	bool ok;

	if (!s)
		return cJSON_AddNullToObject(obj, name) != NULL;
	if (plain_ascii(s)) /* cJSON escapes control bytes itself */
		return cJSON_AddStringToObject(obj, name, s) != NULL;
	clean = utf8_sanitize(s, strlen(s));
	if (!clean)
		return false;
	ok = cJSON_AddStringToObject(obj, name, clean) != NULL;
	free(clean);
	return ok;
}

/* Appends a string (made valid UTF-8) to an array; false on ENOMEM. */
static bool add_str_item(cJSON *arr, const char *s)
{
	if (!s) {
		cJSON *null = cJSON_CreateNull();

		if (!null || !cJSON_AddItemToArray(arr, null)) {
			cJSON_Delete(null);
			return false;
		}
		return true;
	}
	char *clean = plain_ascii(s) ? NULL : utf8_sanitize(s, strlen(s));
	cJSON *item;

	if (!plain_ascii(s) && !clean)
		return false;
	item = cJSON_CreateString(clean ? clean : s);
	free(clean);
	if (!item || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static bool add_iso(cJSON *obj, const char *name, uint64_t mono_ns)
{
	char buf[40];

	iso8601_utc(mono_to_unix_ns(mono_ns), buf, sizeof(buf));
	return cJSON_AddStringToObject(obj, name, buf) != NULL;
}

const char *db__name(enum db_kind db)
{
	static const char *const names[] = {
		[DB_SQLITE] = "sqlite", [DB_POSTGRESQL] = "postgresql", [DB_MYSQL] = "mysql",
		[DB_REDIS] = "redis",	[DB_MEMCACHE] = "memcached",
	};

	return db >= DB_SQLITE && db <= DB_MEMCACHE ? names[db] : "unknown";
}

/* Milliseconds from the record's start to t (negative before it). */
static double offset_ms(const struct record *r, uint64_t t)
{
	return t >= r->start_ns ? ms(t - r->start_ns) : -ms(r->start_ns - t);
}

/* Builds the request object; returns false on ENOMEM. */
static bool add_request(cJSON *root, const struct record *r)
{
	cJSON *req = cJSON_AddObjectToObject(root, "request");
	bool ok;

	if (!req)
		return false;
	ok = add_str(req, "method", r->background ? "background" : r->method) &&
	     add_str(req, "path", r->path) &&
	     (r->status ? cJSON_AddNumberToObject(req, "status", r->status) :
			  cJSON_AddNullToObject(req, "status")) &&
	     cJSON_AddNumberToObject(req, "start_unix_ms", unix_ms(r->start_ns)) &&
	     cJSON_AddNumberToObject(req, "duration_ms", ms(r->end_ns - r->start_ns)) &&
	     cJSON_AddNumberToObject(req, "pid", r->pid) &&
	     (r->tid ? cJSON_AddNumberToObject(req, "tid", r->tid) :
		       cJSON_AddNullToObject(req, "tid")) &&
	     add_str(req, "comm", r->comm) && add_str(req, "host", r->host) &&
	     add_str(req, "request_id", r->request_id) &&
	     cJSON_AddBoolToObject(req, "incomplete", r->incomplete);
	return ok;
}

/* Adds a frame in Scooby's form ({filename, lineno, function}); false on ENOMEM. */
static bool add_frame(cJSON *arr, const struct frame *f)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	if (f->native)
		return add_str(o, "module", f->module) && add_str(o, "symbol", f->symbol) &&
		       cJSON_AddNumberToObject(o, "offset", f->offset);
	if (f->unresolved)
		return cJSON_AddNullToObject(o, "filename") && cJSON_AddNullToObject(o, "lineno") &&
		       cJSON_AddNullToObject(o, "function") &&
		       cJSON_AddTrueToObject(o, "unresolved");
	return add_str(o, "filename", f->filename) &&
	       (f->lineno ? cJSON_AddNumberToObject(o, "lineno", f->lineno) :
			    cJSON_AddNullToObject(o, "lineno")) &&
	       add_str(o, "function", f->function);
}

/* Bound of the stack-JSON cache: distinct frame lists kept serialized. Past it the
 * cache is emptied and refilled. Only the main thread builds records. */
#define STACK_JSON_MAX 1024

/* A frame list serialized once: its frames (to confirm a hash match) and its JSON array. */
struct stack_json {
	size_t nframes;
	struct frame *frames;
	char *json;
};

static struct hashmap *stack_jsons; /* frame-list hash -> struct stack_json */

static void stack_json_free(void *v)
{
	struct stack_json *sj = v;

	if (!sj)
		return;
	free(sj->frames);
	free(sj->json);
	free(sj);
}

static int stack_json_drop(uint64_t key, void *val, void *ctx)
{
	stack_json_free(val);
	return 1;
}

static bool frame_eq(const struct frame *a, const struct frame *b)
{
	/* strings are interned: the same text is the same pointer */
	return a->filename == b->filename && a->lineno == b->lineno && a->function == b->function &&
	       a->module == b->module && a->symbol == b->symbol && a->offset == b->offset &&
	       a->native == b->native && a->unresolved == b->unresolved;
}

static uint64_t frames_hash(const struct frame *f, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;
	size_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ (uintptr_t)f[i].filename) * 0x100000001b3ULL;
		h = (h ^ (uintptr_t)f[i].function) * 0x100000001b3ULL;
		h = (h ^ (uint64_t)f[i].lineno) * 0x100000001b3ULL;
		h = (h ^ (uintptr_t)f[i].symbol ^ f[i].offset) * 0x100000001b3ULL;
		h = (h ^ (uintptr_t)f[i].module ^ f[i].native ^ (f[i].unresolved << 1)) *
		    0x100000001b3ULL;
	}
	return h;
}

/* Serializes a frame list as a JSON array afresh; malloc'd, NULL on ENOMEM. */
static char *frames_json(const struct frame *frames, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *out = NULL;
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < n; i++)
		if (!add_frame(arr, &frames[i]))
			goto cleanup;
	out = cJSON_PrintUnformatted(arr);
cleanup:
	cJSON_Delete(arr);
	return out;
}

/* Returns the JSON array of a stack's frames, serialized once per distinct frame list
 * (owned by the cache, valid until the next call), or NULL on ENOMEM. */
static const char *stack_json(const struct stack *s)
{
	uint64_t h = frames_hash(s->frames, s->nframes);
	struct stack_json *sj;
	size_t i;

	if (!stack_jsons && !(stack_jsons = hashmap__new()))
		return NULL;
	sj = hashmap__get(stack_jsons, h);
	if (sj && sj->nframes == s->nframes) {
		for (i = 0; i < s->nframes && frame_eq(&sj->frames[i], &s->frames[i]); i++)
			;
		if (i == s->nframes)
			return sj->json;
	}
	stack_json_free(hashmap__del(stack_jsons, h));
	if (hashmap__size(stack_jsons) >= STACK_JSON_MAX)
		hashmap__sweep(stack_jsons, stack_json_drop, NULL);
	sj = calloc(1, sizeof(*sj));
	if (!sj)
		return NULL;
	sj->nframes = s->nframes;
	sj->frames = malloc((s->nframes ? s->nframes : 1) * sizeof(*sj->frames));
	sj->json = frames_json(s->frames, s->nframes);
	if (sj->frames)
		memcpy(sj->frames, s->frames, s->nframes * sizeof(*sj->frames));
	if (!sj->frames || !sj->json || hashmap__set(stack_jsons, h, sj, NULL)) {
		stack_json_free(sj);
		return NULL;
	}
	return sj->json;
}

static bool add_stack(cJSON *q, const struct stack *s)
{
	const char *json = stack_json(s);

	return json && cJSON_AddRawToObject(q, "stack", json) &&
	       cJSON_AddBoolToObject(q, "stack_truncated", s->truncated) &&
	       cJSON_AddBoolToObject(q, "stack_partial", s->partial);
}

/* Adds a new object to arr; NULL on ENOMEM. */
static cJSON *add_object(cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The members every store's entry has: timing, error, origin, stack. False on ENOMEM. */
static bool add_query_common(cJSON *o, const struct record *r, const struct query *q)
{
	return add_iso(o, "start", q->start_ns) && add_iso(o, "end", q->end_ns) &&
	       cJSON_AddNumberToObject(o, "start_offset_ms", offset_ms(r, q->start_ns)) &&
	       cJSON_AddNumberToObject(o, "time_taken", ms(q->busy_ns)) &&
	       add_str(o, "error", q->error) &&
	       cJSON_AddBoolToObject(o, "truncated", q->truncated) &&
	       cJSON_AddNumberToObject(o, "tid", q->tid) &&
	       add_str(o, "via", q->wire ? "wire" : "library") && add_stack(o, &q->stack);
}

static bool add_query(cJSON *arr, const struct record *r, const struct query *q)
{
	cJSON *o = add_object(arr);

	return o && add_str(o, "db", db__name(q->db)) &&
	       add_str(o, "query", q->sql ? q->sql : "") && add_query_common(o, r, q);
}

/* A Redis command: command, key, args, and the common members. */
static bool add_redis(cJSON *arr, const struct record *r, const struct query *q)
{
	cJSON *o = add_object(arr), *args;
	uint32_t i;

	if (!o || !add_str(o, "command", q->command) || !add_str(o, "key", q->key) ||
	    !(args = cJSON_AddArrayToObject(o, "args")))
		return false;
	for (i = 0; i < q->nargs; i++)
		if (!add_str_item(args, q->args[i]))
			return false;
	return cJSON_AddBoolToObject(o, "args_truncated", q->args_truncated) &&
	       add_str(o, "query", q->sql ? q->sql : "") && add_query_common(o, r, q);
}

/* A memcached command in Scooby's Memcache form: func_name and arg. */
static bool add_memcache(cJSON *arr, const struct record *r, const struct query *q)
{
	cJSON *o = add_object(arr);

	return o && add_str(o, "func_name", q->command) && add_str(o, "arg", q->key) &&
	       add_str(o, "query", q->sql ? q->sql : "") && add_query_common(o, r, q);
}

/* Adds plugins_data.<name> for a key-value store list; false on ENOMEM. */
static bool add_kv_plugin(cJSON *plugins, const char *name, const struct record *r,
			  const struct query_list *l, cJSON **groups,
			  bool (*add)(cJSON *, const struct record *, const struct query *))
{
	cJSON *p = cJSON_AddObjectToObject(plugins, name), *arr;
	size_t i;

	if (!p || !cJSON_AddNumberToObject(p, "count", l->n + l->omitted) ||
	    !cJSON_AddNumberToObject(p, "omitted", l->omitted) ||
	    !cJSON_AddNumberToObject(p, "total_time", round(query_list__total_ms(l) * 1e3) / 1e3) ||
	    !(arr = cJSON_AddArrayToObject(p, "queries")))
		return false;
	for (i = 0; i < l->n; i++)
		if (!add(arr, r, &l->q[i]))
			return false;
	if (*groups) {
		cJSON_AddItemToObject(p, "groups", *groups);
		*groups = NULL;
	}
	return true;
}

/* plugins_data.CustomLog: the request thread's stdout/stderr writes; false on ENOMEM. */
static bool add_logs(cJSON *plugins, const struct record *r)
{
	cJSON *p = cJSON_AddObjectToObject(plugins, "CustomLog"), *arr, *o;
	const struct log_entry *l;
	size_t i;

	if (!p || !cJSON_AddNumberToObject(p, "count", r->nlogs + r->logs_omitted) ||
	    !cJSON_AddNumberToObject(p, "omitted", r->logs_omitted) ||
	    !(arr = cJSON_AddArrayToObject(p, "logs")))
		return false;
	for (i = 0; i < r->nlogs; i++) {
		l = &r->logs[i];
		o = add_object(arr);
		if (!o || !add_str(o, "s", l->s) ||
		    !add_str(o, "stream", l->fd == 1 ? "stdout" : "stderr") ||
		    !add_iso(o, "time", l->ts) ||
		    !cJSON_AddNumberToObject(o, "start_offset_ms", offset_ms(r, l->ts)) ||
		    !cJSON_AddBoolToObject(o, "truncated", l->truncated) ||
		    !cJSON_AddNumberToObject(o, "tid", l->tid) || !add_stack(o, &l->stack))
			return false;
	}
	return true;
}

/* Builds plugins_data: ViewName, ProcessTime and SQL; returns false on ENOMEM. */
static bool add_plugins(cJSON *root, const struct record *r, struct record_groups *groups)
{
	cJSON *plugins = cJSON_AddObjectToObject(root, "plugins_data");
	cJSON *pt, *sql, *queries, *view;
	size_t i;

	if (!plugins)
		return false;
	view = cJSON_AddObjectToObject(plugins, "ViewName");
	if (!view || !add_str(view, "view_name", r->view_name))
		return false;
	pt = cJSON_AddObjectToObject(plugins, "ProcessTime");
	if (!pt || !add_iso(pt, "start", r->start_ns) || !add_iso(pt, "end", r->end_ns) ||
	    !cJSON_AddNumberToObject(pt, "process_time", ms(r->end_ns - r->start_ns)))
		return false;
	sql = cJSON_AddObjectToObject(plugins, "SQL");
	if (!sql || !cJSON_AddNumberToObject(sql, "count", r->nqueries + r->omitted) ||
	    !cJSON_AddNumberToObject(sql, "omitted", r->omitted) ||
	    !cJSON_AddNumberToObject(sql, "total_time", round(record__total_db_ms(r) * 1e3) / 1e3))
		return false;
	queries = cJSON_AddArrayToObject(sql, "queries");
	if (!queries)
		return false;
	for (i = 0; i < r->nqueries; i++)
		if (!add_query(queries, r, &r->queries[i]))
			return false;
	if (groups->sql) {
		cJSON_AddItemToObject(sql, "groups", groups->sql);
		groups->sql = NULL;
	}
	if (!add_kv_plugin(plugins, "Redis", r, &r->redis, &groups->redis, add_redis) ||
	    !add_kv_plugin(plugins, "Memcache", r, &r->memcache, &groups->memcache, add_memcache) ||
	    !add_logs(plugins, r))
		return false;
	if (r->profile) {
		cJSON *prof = profile__to_json(r->profile, (r->end_ns - r->start_ns) / 1e6);

		if (!prof)
			return false;
		cJSON_AddItemToObject(plugins, "Profile", prof);
	}
	return true;
}

char *record__to_json(const struct record *r, struct record_groups *g)
{
	struct record_groups none = {}, *groups = g ? g : &none;
	cJSON *root = cJSON_CreateObject();
	char *out = NULL;

	if (!root)
		goto cleanup;
	if (!cJSON_AddStringToObject(root, "uuid", r->uuid) ||
	    !cJSON_AddNumberToObject(root, "version", 1) || !add_request(root, r) ||
	    !add_plugins(root, r, groups) ||
	    !cJSON_AddNumberToObject(root, "lost_events", r->lost_events))
		goto cleanup;
	out = cJSON_PrintUnformatted(root);
cleanup:
	cJSON_Delete(groups->sql);
	cJSON_Delete(groups->redis);
	cJSON_Delete(groups->memcache);
	memset(groups, 0, sizeof(*groups));
	cJSON_Delete(root);
	return out;
}
