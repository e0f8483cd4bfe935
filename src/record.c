/* The per-request record: model, uuid, clocks and JSON building (the format is docs/FORMAT.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <cjson/cJSON.h>
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

void query__free_strings(struct query *q)
{
	free(q->sql);
	free(q->error);
	q->sql = q->error = NULL;
	stack__clear(&q->stack);
}

void record__free(struct record *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nqueries; i++)
		query__free_strings(&r->queries[i]);
	free(r->queries);
	free(r->path);
	free(r->host);
	free(r->request_id);
	free(r->view_name);
	profile__free(r->profile);
	free(r);
}

int record__add_query(struct record *r, struct query *q)
{
	struct query *nq;
	size_t cap;

	if (r->nqueries >= RECORD_MAX_QUERIES) {
		r->omitted++;
		r->omitted_ns += q->busy_ns;
		query__free_strings(q);
		return 0;
	}
	if (r->nqueries == r->cap) {
		cap = r->cap ? r->cap * 2 : 8;
		nq = realloc(r->queries, cap * sizeof(*nq));
		if (!nq) {
			query__free_strings(q);
			return -ENOMEM;
		}
		r->queries = nq;
		r->cap = cap;
	}
	r->queries[r->nqueries++] = *q;
	return 0;
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

static bool add_iso(cJSON *obj, const char *name, uint64_t mono_ns)
{
	char buf[40];

	iso8601_utc(mono_to_unix_ns(mono_ns), buf, sizeof(buf));
	return cJSON_AddStringToObject(obj, name, buf) != NULL;
}

static const char *db_name(enum db_kind db)
{
	return db == DB_POSTGRESQL ? "postgresql" : "sqlite";
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

static bool add_stack(cJSON *q, const struct stack *s)
{
	cJSON *arr = cJSON_AddArrayToObject(q, "stack");
	size_t i;

	if (!arr)
		return false;
	for (i = 0; i < s->nframes; i++)
		if (!add_frame(arr, &s->frames[i]))
			return false;
	return cJSON_AddBoolToObject(q, "stack_truncated", s->truncated) &&
	       cJSON_AddBoolToObject(q, "stack_partial", s->partial);
}

static bool add_query(cJSON *arr, const struct record *r, const struct query *q)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	return add_str(o, "db", db_name(q->db)) && add_str(o, "query", q->sql ? q->sql : "") &&
	       add_iso(o, "start", q->start_ns) && add_iso(o, "end", q->end_ns) &&
	       cJSON_AddNumberToObject(o, "start_offset_ms",
				       q->start_ns >= r->start_ns ?
					       ms(q->start_ns - r->start_ns) :
					       -ms(r->start_ns - q->start_ns)) &&
	       cJSON_AddNumberToObject(o, "time_taken", ms(q->busy_ns)) &&
	       add_str(o, "error", q->error) &&
	       cJSON_AddBoolToObject(o, "truncated", q->truncated) &&
	       cJSON_AddNumberToObject(o, "tid", q->tid) && add_stack(o, &q->stack);
}

/* Builds plugins_data: ViewName, ProcessTime and SQL; returns false on ENOMEM. */
static bool add_plugins(cJSON *root, const struct record *r, cJSON **groups)
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
	if (*groups) {
		cJSON_AddItemToObject(sql, "groups", *groups);
		*groups = NULL;
	}
	if (r->profile) {
		cJSON *prof = profile__to_json(r->profile, (r->end_ns - r->start_ns) / 1e6);

		if (!prof)
			return false;
		cJSON_AddItemToObject(plugins, "Profile", prof);
	}
	return true;
}

char *record__to_json(const struct record *r, cJSON *groups)
{
	cJSON *root = cJSON_CreateObject();
	char *out = NULL;

	if (!root)
		goto cleanup;
	if (!cJSON_AddStringToObject(root, "uuid", r->uuid) ||
	    !cJSON_AddNumberToObject(root, "version", 1) || !add_request(root, r) ||
	    !add_plugins(root, r, &groups) ||
	    !cJSON_AddNumberToObject(root, "lost_events", r->lost_events))
		goto cleanup;
	out = cJSON_PrintUnformatted(root);
cleanup:
	cJSON_Delete(groups);
	cJSON_Delete(root);
	return out;
}
