/* libFuzzer harness for record__to_json (src/record.h) with SQL groups and a CPU profile: records of fuzz bytes must give valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "fuzz_util.h"
#include "record/groups.h"
#include "util/intern.h"
#include "record/profile.h"
#include "serve/stored.h"
#include "record/record.h"
#include "util/utf8.h"
#include "stores/memcached/memcached.h"
#include "stores/postgresql/pq.h"
#include "stores/redis/hiredis.h"
#include "stores/sqlite/sqlite.h"

#define MAX_QUERIES 6
#define MAX_FRAMES 4
#define MAX_STR 300
/* the stores the old numbering reached: SQLite, PostgreSQL, Redis, memcached */
static const struct db_kind *const stores_db[] = { DB_SQLITE, DB_POSTGRESQL, DB_REDIS,
						   DB_MEMCACHE };

/* CLOCK_MONOTONIC values a kernel can hand out: about nine years of uptime */
#define MONO_MASK ((1ULL << 58) - 1)

/* A NUL-terminated string of fuzz bytes (NULs inside end it early, as in C), or NULL. */
static char *take_str(struct fuzz_in *in, bool may_be_null)
{
	const uint8_t *p;
	size_t n;

	if (may_be_null && (fuzz_u8(in) & 3) == 0)
		return NULL;
	p = fuzz_bytes(in, MAX_STR, &n);
	return fuzz_strndup(p, n);
}

/* Frame strings are interned, as in the program: the record's JSON writer caches a stack's
 * text by its strings' addresses. */
static const char *take_kept(struct fuzz_in *in)
{
	char *s = take_str(in, true);
	const char *kept = intern(s);

	free(s);
	return kept;
}

/* The JSON string member name of obj must be the repaired form of want (NULL: null). */
static void check_str(const cJSON *obj, const char *name, const char *want)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	char *clean;

	FUZZ_CHECK(item);
	if (!want) {
		FUZZ_CHECK(cJSON_IsNull(item));
		return;
	}
	FUZZ_CHECK(cJSON_IsString(item));
	clean = utf8_sanitize(want, strlen(want));
	FUZZ_CHECK(clean && !strcmp(item->valuestring, clean));
	free(clean);
}

static void fill_stack(struct fuzz_in *in, struct stack *s)
{
	struct frame *f;
	size_t i;
	uint8_t b = fuzz_u8(in);

	s->nframes = (b & 7) % (MAX_FRAMES + 1);
	s->truncated = b & 0x10;
	s->partial = b & 0x20;
	if (!s->nframes)
		return;
	s->frames = calloc(s->nframes, sizeof(*s->frames));
	if (!s->frames)
		abort();
	for (i = 0; i < s->nframes; i++) {
		f = &s->frames[i];
		b = fuzz_u8(in);
		f->native = b & 1;
		f->unresolved = !f->native && (b & 6) == 6;
		if (f->native) {
			f->module = take_kept(in);
			f->symbol = take_kept(in);
			f->offset = fuzz_u64(in, 4);
		} else if (!f->unresolved) {
			f->filename = take_kept(in);
			f->function = take_kept(in);
			f->lineno = (int)fuzz_u64(in, 2) - (b & 8 ? 1 : 0);
		}
	}
}

static void check_frames(const cJSON *q, const struct stack *s)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(q, "stack"), *fo;
	const struct frame *f;
	size_t i = 0;

	FUZZ_CHECK(cJSON_IsArray(arr) && (size_t)cJSON_GetArraySize(arr) == s->nframes);
	cJSON_ArrayForEach(fo, arr) {
		f = &s->frames[i++];
		if (f->native) {
			check_str(fo, "module", f->module);
			check_str(fo, "symbol", f->symbol);
		} else if (!f->unresolved) {
			check_str(fo, "filename", f->filename);
			check_str(fo, "function", f->function);
		}
	}
}

/*
 * Samples the queries' stacks (each up to 3 times, and its outer half once) into a
 * profile; returns the on-CPU samples added.
 */
static uint64_t fill_profile(struct fuzz_in *in, struct record *r)
{
	uint64_t n = 0;
	size_t i, k, times;

	r->profile = profile__new(1 + fuzz_u8(in) * 41);
	if (!r->profile)
		abort();
	for (i = 0; i < r->nqueries; i++) {
		const struct stack *s = &r->queries[i].stack;

		times = fuzz_u8(in) % 4;
		for (k = 0; k < times; k++, n++)
			FUZZ_CHECK(profile__add_sample(r->profile, s->frames, s->nframes) == 0);
		if (s->nframes > 1) {
			FUZZ_CHECK(profile__add_sample(r->profile, s->frames + s->nframes / 2,
						       s->nframes - s->nframes / 2) == 0);
			n++;
		}
	}
	profile__add_offcpu(r->profile, fuzz_u64(in, 5));
	return n;
}

/* Folded stacks are written one per line to files: no line breaks, counts that add up. */
static void check_folded(const struct profile *p, uint64_t samples)
{
	struct profile_folded *f;
	uint64_t sum = 0;
	size_t n, i;

	FUZZ_CHECK(profile__folded(p, &f, &n) == 0);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].stack && f[i].stack[0] && !strpbrk(f[i].stack, "\r\n"));
		FUZZ_CHECK(f[i].samples > 0);
		sum += f[i].samples;
	}
	FUZZ_CHECK(sum >= samples);
	profile_folded__free(f, n);
}

/* The stored form (frames once, a profile's entries naming them) expands back to exactly
 * the full form's text. */
static void check_stored_form(const struct record *r)
{
	struct record_groups g1 = { .write = true }, g2 = { .write = true };
	size_t len, slen;
	char *full = record__to_json_len(r, &g1, &len);
	char *stored = record__to_stored_json(r, &g2, &slen);
	char *expanded;
	cJSON *j;

	FUZZ_CHECK(full && stored);
	j = cJSON_Parse(stored);
	FUZZ_CHECK(j && stored_record__expand(j) == 1);
	expanded = cJSON_PrintUnformatted(j);
	FUZZ_CHECK(expanded && !strcmp(expanded, full));
	free(expanded);
	cJSON_Delete(j);
	free(stored);
	free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t samples = 0;
	static bool clock_set;
	struct fuzz_in in = { data, size };
	const cJSON *req, *sql, *queries, *qo, *count;
	struct record *r;
	struct query q;
	struct record_groups groups = {};
	cJSON *root;
	char *json, *method;
	size_t i, nq;
	uint8_t b;

	if (!clock_set) {
		clock_ref__init();
		clock_set = true;
	}
	r = record__new();
	if (!r)
		abort();
	b = fuzz_u8(&in);
	r->background = b & 1;
	r->incomplete = b & 2;
	method = take_str(&in, false);
	snprintf(r->method, sizeof(r->method), "%s", method);
	free(method);
	method = take_str(&in, false);
	snprintf(r->comm, sizeof(r->comm), "%s", method);
	free(method);
	r->path = take_str(&in, true);
	r->host = take_str(&in, true);
	r->request_id = take_str(&in, true);
	r->view_name = take_str(&in, true);
	r->status = (int)fuzz_u64(&in, 2);
	r->start_ns = fuzz_u64(&in, 8) & MONO_MASK;
	r->end_ns = r->start_ns + (fuzz_u64(&in, 6) & MONO_MASK);
	r->pid = fuzz_u64(&in, 4);
	r->tid = fuzz_u64(&in, 4);
	r->lost_events = fuzz_u64(&in, 8);

	nq = fuzz_u8(&in) % (MAX_QUERIES + 1);
	for (i = 0; i < nq; i++) {
		memset(&q, 0, sizeof(q));
		b = fuzz_u8(&in);
		/* every store: SQL ones, and key-value commands with a key and an argument */
		q.db = stores_db[(b & 1) + (b & 8 ? 2 : 0)];
		if (q.db == DB_REDIS || q.db == DB_MEMCACHE) {
			q.command = take_str(&in, true);
			q.key = take_str(&in, true);
			q.args = calloc(1, sizeof(*q.args));
			if (q.args && (q.args[0] = take_str(&in, true)))
				q.nargs = 1;
		}
		q.truncated = b & 2;
		q.sql = take_str(&in, true);
		q.error = take_str(&in, true);
		/* queries may start before the request (a connection set up earlier) */
		q.start_ns = fuzz_u64(&in, 8) & MONO_MASK;
		q.end_ns = q.start_ns + (fuzz_u64(&in, 4));
		q.busy_ns = fuzz_u64(&in, 4);
		q.tid = fuzz_u64(&in, 4);
		fill_stack(&in, &q.stack);
		FUZZ_CHECK(record__add_query(r, &q) == 0);
	}

	if (fuzz_u8(&in) & 1)
		samples = fill_profile(&in, r);

	FUZZ_CHECK(groups__build_all(r, &groups) == 0);
	json = record__to_json(r, &groups);
	FUZZ_CHECK(json && fuzz_utf8_valid(json, strlen(json)));
	root = cJSON_Parse(json);
	FUZZ_CHECK(root);

	req = cJSON_GetObjectItemCaseSensitive(root, "request");
	FUZZ_CHECK(cJSON_IsObject(req));
	check_str(req, "method", r->background ? "background" : r->method);
	check_str(req, "path", r->path);
	check_str(req, "host", r->host);
	check_str(req, "request_id", r->request_id);
	check_str(req, "comm", r->comm);
	sql = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "plugins_data"), "SQL");
	FUZZ_CHECK(cJSON_IsObject(sql));
	count = cJSON_GetObjectItemCaseSensitive(sql, "count");
	FUZZ_CHECK(cJSON_IsNumber(count) && count->valuedouble == (double)r->nqueries);
	FUZZ_CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(sql, "groups")));
	queries = cJSON_GetObjectItemCaseSensitive(sql, "queries");
	FUZZ_CHECK(cJSON_IsArray(queries) && (size_t)cJSON_GetArraySize(queries) == r->nqueries);
	FUZZ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			   cJSON_GetObjectItemCaseSensitive(
				   cJSON_GetObjectItemCaseSensitive(root, "plugins_data"), "Redis"),
			   "queries")) == (int)r->redis.n);
	i = 0;
	cJSON_ArrayForEach(qo, queries) {
		check_str(qo, "query", r->queries[i].sql ? r->queries[i].sql : "");
		check_str(qo, "error", r->queries[i].error);
		check_frames(qo, &r->queries[i].stack);
		i++;
	}
	if (r->profile) {
		const cJSON *prof = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(root, "plugins_data"), "Profile");
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(prof, "samples");

		FUZZ_CHECK(cJSON_IsObject(prof) && cJSON_IsNumber(ns) &&
			   ns->valuedouble == (double)samples);
		FUZZ_CHECK(profile__samples(r->profile) == samples);
		check_folded(r->profile, samples);
	}
	cJSON_Delete(root);
	free(json);
	check_stored_form(r);
	record__free(r);
	return 0;
}
