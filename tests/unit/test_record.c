/* Tests the record model and its JSON: exact layout, escaping of any bytes, rounding, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "record/groups.h"
#include "record/profile.h"
#include "record/record.h"
#include "serve/stored.h"
#include "util/jsonw.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/postgresql/pq.h"
#include "stores/redis/hiredis.h"
#include "stores/sqlite/sqlite.h"

/* cmocka 1.1.5 has no assert_double_equal */
#define assert_close(a, b, eps) assert_true(fabs((a) - (b)) < (eps))

/* A record at a fixed monotonic time; the unix conversion is whatever the clock says. */
static struct record *sample(void)
{
	struct record *r = record__new();

	assert_non_null(r);
	strcpy(r->method, "GET");
	r->path = strdup("/items/?q=1");
	r->status = 200;
	r->start_ns = 1000000000ULL;
	r->end_ns = 1012345678ULL; /* 12.345678 ms */
	r->pid = 42;
	r->tid = 43;
	strcpy(r->comm, "gunicorn");
	return r;
}

static void add(struct record *r, const char *sql, uint64_t start, uint64_t busy, const char *err)
{
	struct query q = { .db = DB_SQLITE, .tid = 43 };

	q.sql = strdup(sql);
	q.start_ns = start;
	q.end_ns = start + busy;
	q.busy_ns = busy;
	q.error = err ? strdup(err) : NULL;
	assert_int_equal(record__add_query(r, &q), 0);
}

/* Parses a record's JSON text, and frees it. */
static cJSON *parsed(char *text)
{
	cJSON *j;

	assert_non_null(text);
	j = cJSON_Parse(text);
	assert_non_null(j);
	free(text);
	return j;
}

static cJSON *to_json(const struct record *r)
{
	return parsed(record__to_json(r, NULL));
}

static cJSON *get(cJSON *o, const char *path)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, tok);
	assert_non_null(o);
	return o;
}

static void test_uuid_is_32_hex_and_random(void **state)
{
	struct record *a = record__new(), *b = record__new();
	size_t i;

	assert_int_equal(strlen(a->uuid), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a->uuid[i]));
	assert_string_not_equal(a->uuid, b->uuid);
	record__free(a);
	record__free(b);
}

static void test_layout_and_rounding(void **state)
{
	struct record *r = sample();
	cJSON *j, *q;

	add(r, "SELECT 1", 1000500000ULL, 1234567ULL, NULL); /* 1.234567 ms */
	add(r, "SELECT * FROM nope", 1002000000ULL, 500ULL, "SQLITE_ERROR: no such table: nope");
	j = to_json(r);
	assert_string_equal(get(j, "uuid")->valuestring, r->uuid);
	assert_int_equal(get(j, "version")->valueint, 1);
	assert_string_equal(get(j, "request.method")->valuestring, "GET");
	assert_string_equal(get(j, "request.path")->valuestring, "/items/?q=1");
	assert_int_equal(get(j, "request.status")->valueint, 200);
	assert_true(cJSON_IsNull(get(j, "request.host")));
	assert_true(cJSON_IsNull(get(j, "request.request_id")));
	assert_true(cJSON_IsFalse(get(j, "request.incomplete")));
	/* milliseconds rounded to the microsecond */
	assert_close(get(j, "request.duration_ms")->valuedouble, 12.346, 1e-9);
	assert_close(get(j, "plugins_data.ProcessTime.process_time")->valuedouble, 12.346, 1e-9);
	assert_int_equal(get(j, "plugins_data.SQL.count")->valueint, 2);
	assert_close(get(j, "plugins_data.SQL.total_time")->valuedouble, 1.235, 1e-9);
	assert_true(cJSON_IsNull(get(j, "plugins_data.ViewName.view_name")));
	q = cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 0);
	assert_string_equal(get(q, "db")->valuestring, "sqlite");
	assert_string_equal(get(q, "query")->valuestring, "SELECT 1");
	assert_close(get(q, "time_taken")->valuedouble, 1.235, 1e-9);
	assert_close(get(q, "start_offset_ms")->valuedouble, 0.5, 1e-9);
	assert_true(cJSON_IsNull(get(q, "error")));
	assert_int_equal(cJSON_GetArraySize(get(q, "stack")), 0);
	q = cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 1);
	assert_string_equal(get(q, "error")->valuestring, "SQLITE_ERROR: no such table: nope");
	assert_close(get(q, "time_taken")->valuedouble, 0.001, 1e-9);
	cJSON_Delete(j);
	record__free(r);
}

static void test_any_bytes_become_valid_json(void **state)
{
	struct record *r = sample();
	char *text;
	cJSON *j;

	free(r->path);
	r->path = strdup("/<script>alert(1)</script>\"\\");
	add(r, "SELECT '\xff\xfe' || '\x01\x1f' || '\xe2\x9c\x93' || '\xe2\x9c'", 1000000000ULL, 1,
	    NULL);
	text = record__to_json(r, NULL);
	assert_non_null(text);
	/* control bytes escaped, invalid UTF-8 replaced, valid UTF-8 kept */
	assert_non_null(strstr(text, "\\u0001\\u001f"));
	assert_null(strchr(text, '\xff'));
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(get(j, "request.path")->valuestring, "/<script>alert(1)</script>\"\\");
	assert_string_equal(
		get(cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 0), "query")
			->valuestring,
		"SELECT '\xef\xbf\xbd\xef\xbf\xbd' || '\x01\x1f' || '\xe2\x9c\x93' || '\xef\xbf\xbd'");
	cJSON_Delete(j);
	free(text);
	record__free(r);
}

/* jsonw's string as cJSON prints it, for s. */
static void assert_str_as_cjson(const char *s)
{
	struct jsonw w = { 0 };
	cJSON *j = cJSON_CreateString(s);
	char *want = cJSON_PrintUnformatted(j);

	jsonw__str(&w, s);
	assert_false(w.oom);
	assert_string_equal(w.buf, want);
	cJSON_free(want);
	cJSON_Delete(j);
	jsonw__free(&w);
}

/* Every ASCII byte, and a UTF-8 character, at every place of a string long enough for the
 * word-at-a-time scan: escaped or kept exactly as cJSON does. */
static void test_strings_escape_as_cjson(void **state)
{
	char s[40];
	int b, k;

	for (b = 1; b < 0x80; b++) {
		for (k = 0; k < 24; k++) {
			memset(s, 'a', 24);
			s[24] = 0;
			s[k] = (char)b;
			assert_str_as_cjson(s);
			s[k + 1 < 24 ? k + 1 : 0] = (char)b; /* two in a row */
			assert_str_as_cjson(s);
		}
	}
	for (k = 0; k < 23; k++) {
		memset(s, 'a', 24);
		s[24] = 0;
		s[k] = '\xc3';
		s[k + 1] = '\xa9';
		assert_str_as_cjson(s);
	}
}

/* jsonw's number as cJSON prints it, for d. */
static void assert_num_as_cjson(double d)
{
	struct jsonw w = { 0 };
	cJSON *j = cJSON_CreateNumber(d);
	char *want = cJSON_PrintUnformatted(j);

	jsonw__num(&w, d);
	assert_false(w.oom);
	if (strcmp(w.buf, want))
		fprintf(stderr, "%a: got %s, cJSON %s\n", d, w.buf, want);
	assert_string_equal(w.buf, want);
	cJSON_free(want);
	cJSON_Delete(j);
	jsonw__free(&w);
}

/* Numbers print as cJSON prints them: Unix times in ms with microseconds (16 digits: the
 * 17-digit form), random doubles over every magnitude jsonw writes without printf, ties and
 * values next to a power of ten, both signs. */
static void test_numbers_print_as_cjson(void **state)
{
	static const double edges[] = { 1.0000000000000002,
					9.999999999999998,
					99.99999999999999,
					999999999999999.9,
					999999999999999.0,
					1e15 - 0.5,
					0.5,
					1.5,
					2.5,
					123456789012.3456,
					4503599627370495.5,
					1e15,
					1e16,
					1.25e-5,
					0.1 };
	uint64_t rng = 88172645463325252ULL, bits;
	double d, t = 1796645778593.309;
	int i, k;

	for (i = 0; i < (int)(sizeof(edges) / sizeof(edges[0])); i++) {
		assert_num_as_cjson(edges[i]);
		assert_num_as_cjson(-edges[i]);
	}
	for (i = 0; i < 20000; i++) /* a run's start times, a microsecond apart */
		assert_num_as_cjson(t + i * 0.001);
	for (i = 0; i < 200000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		k = (int)(rng % 16);
		bits = rng >> 12; /* a random mantissa */
		d = ldexp((double)(bits | (1ULL << 52)), -52) * pow(10, k);
		assert_num_as_cjson(i & 1 ? -d : d);
		assert_num_as_cjson(round(d * 1000) / 1000);
		assert_num_as_cjson(round(d * 1e6) / 1e6);
	}
}

static void test_query_limit_counts_the_rest(void **state)
{
	struct record *r = sample();
	cJSON *j;
	int i;

	for (i = 0; i < RECORD_MAX_QUERIES + 5; i++)
		add(r, "SELECT 1", 1000000000ULL + i, 1000, NULL);
	j = to_json(r);
	assert_int_equal(get(j, "plugins_data.SQL.count")->valueint, RECORD_MAX_QUERIES + 5);
	assert_int_equal(get(j, "plugins_data.SQL.omitted")->valueint, 5);
	assert_int_equal(cJSON_GetArraySize(get(j, "plugins_data.SQL.queries")),
			 RECORD_MAX_QUERIES);
	assert_close(get(j, "plugins_data.SQL.total_time")->valuedouble,
		     (RECORD_MAX_QUERIES + 5) * 0.001, 1e-6);
	cJSON_Delete(j);
	record__free(r);
}

/* A Redis command with its args as the RESP parser would give them. */
static void add_redis(struct record *r, const char *cmd, const char *key, const char *arg,
		      uint64_t start, const char *err)
{
	struct query q = { .db = DB_REDIS, .tid = 43, .wire = true };

	q.command = strdup(cmd);
	q.key = key ? strdup(key) : NULL;
	if (arg) {
		q.args = calloc(1, sizeof(*q.args));
		q.args[0] = strdup(arg);
		q.nargs = 1;
	}
	assert_true(asprintf(&q.sql, "%s%s%s%s%s", cmd, key ? " " : "", key ? key : "",
			     arg ? " " : "", arg ? arg : "") > 0);
	q.start_ns = start;
	q.end_ns = start + 2000;
	q.busy_ns = 2000;
	q.error = err ? strdup(err) : NULL;
	assert_int_equal(record__add_query(r, &q), 0);
}

static void test_stores_and_logs(void **state)
{
	struct record *r = sample();
	struct query q = { .db = DB_MEMCACHE, .tid = 43 };
	struct log_entry l = { .ts = 1001000000ULL, .tid = 43, .fd = 2 };
	cJSON *j, *e;

	add(r, "SELECT 1", 1000500000ULL, 1000, NULL);
	add_redis(r, "SET", "user:1", "\xff\xfe", 1000600000ULL, NULL);
	add_redis(r, "INCR", "user:1", NULL, 1000700000ULL,
		  "ERR value is not an integer or out of range");
	q.command = strdup("get");
	q.key = strdup("a b");
	q.sql = strdup("get a b");
	q.start_ns = 1000800000ULL;
	q.end_ns = q.start_ns + 3000;
	q.busy_ns = 3000;
	assert_int_equal(record__add_query(r, &q), 0);
	l.s = strdup("WARNING:storeapp:hello 1");
	assert_int_equal(record__add_log(r, &l), 0);
	assert_int_equal(record__nqueries_all(r), 4);
	j = to_json(r);
	assert_int_equal(get(j, "plugins_data.SQL.count")->valueint, 1);
	assert_int_equal(get(j, "plugins_data.Redis.count")->valueint, 2);
	assert_close(get(j, "plugins_data.Redis.total_time")->valuedouble, 0.004, 1e-9);
	e = cJSON_GetArrayItem(get(j, "plugins_data.Redis.queries"), 0);
	assert_string_equal(get(e, "command")->valuestring, "SET");
	assert_string_equal(get(e, "key")->valuestring, "user:1");
	assert_string_equal(cJSON_GetArrayItem(get(e, "args"), 0)->valuestring,
			    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(get(e, "via")->valuestring, "wire");
	assert_true(cJSON_IsNull(get(e, "error")));
	assert_close(get(e, "start_offset_ms")->valuedouble, 0.6, 1e-9);
	e = cJSON_GetArrayItem(get(j, "plugins_data.Redis.queries"), 1);
	assert_string_equal(get(e, "error")->valuestring,
			    "ERR value is not an integer or out of range");
	assert_int_equal(cJSON_GetArraySize(get(e, "args")), 0);
	e = cJSON_GetArrayItem(get(j, "plugins_data.Memcache.queries"), 0);
	assert_string_equal(get(e, "func_name")->valuestring, "get");
	assert_string_equal(get(e, "arg")->valuestring, "a b");
	assert_string_equal(get(e, "via")->valuestring, "library");
	assert_close(get(e, "time_taken")->valuedouble, 0.003, 1e-9);
	assert_int_equal(get(j, "plugins_data.CustomLog.count")->valueint, 1);
	e = cJSON_GetArrayItem(get(j, "plugins_data.CustomLog.logs"), 0);
	assert_string_equal(get(e, "s")->valuestring, "WARNING:storeapp:hello 1");
	assert_string_equal(get(e, "stream")->valuestring, "stderr");
	assert_close(get(e, "start_offset_ms")->valuedouble, 1.0, 1e-9);
	cJSON_Delete(j);
	record__free(r);
}

static void test_log_limit_counts_the_rest(void **state)
{
	struct record *r = sample();
	struct log_entry l = { .ts = 1001000000ULL, .tid = 43, .fd = 1 };
	cJSON *j;
	int i;

	for (i = 0; i < RECORD_MAX_LOGS + 3; i++) {
		l.s = strdup("line");
		assert_int_equal(record__add_log(r, &l), 0);
	}
	j = to_json(r);
	assert_int_equal(get(j, "plugins_data.CustomLog.count")->valueint, RECORD_MAX_LOGS + 3);
	assert_int_equal(get(j, "plugins_data.CustomLog.omitted")->valueint, 3);
	assert_int_equal(cJSON_GetArraySize(get(j, "plugins_data.CustomLog.logs")),
			 RECORD_MAX_LOGS);
	cJSON_Delete(j);
	record__free(r);
}

static void test_background_and_frames(void **state)
{
	struct record *r = record__new();
	struct query q = { .db = DB_POSTGRESQL, .tid = 7 };
	cJSON *j, *st;

	r->background = true;
	r->pid = 9;
	r->start_ns = 5;
	r->end_ns = 10;
	q.sql = strdup("SELECT 2");
	q.start_ns = 5;
	q.end_ns = 10;
	q.busy_ns = 5;
	q.stack.frames = calloc(2, sizeof(struct frame));
	q.stack.nframes = 2;
	q.stack.frames[0].filename = "/app/views.py";
	q.stack.frames[0].lineno = 12;
	q.stack.frames[0].function = "items";
	q.stack.frames[1].unresolved = true;
	q.stack.truncated = true;
	assert_int_equal(record__add_query(r, &q), 0);
	j = to_json(r);
	assert_string_equal(get(j, "request.method")->valuestring, "background");
	assert_true(cJSON_IsNull(get(j, "request.path")));
	assert_true(cJSON_IsNull(get(j, "request.status")));
	st = get(cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 0), "stack");
	assert_string_equal(get(cJSON_GetArrayItem(st, 0), "filename")->valuestring,
			    "/app/views.py");
	assert_int_equal(get(cJSON_GetArrayItem(st, 0), "lineno")->valueint, 12);
	assert_true(cJSON_IsNull(get(cJSON_GetArrayItem(st, 1), "lineno")));
	assert_true(cJSON_IsTrue(get(cJSON_GetArrayItem(st, 1), "unresolved")));
	assert_true(cJSON_IsTrue(
		get(cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 0), "stack_truncated")));
	cJSON_Delete(j);
	record__free(r);
}

/* Adds a SQL query whose stack is n frames of table, by index. */
static void add_with_stack(struct record *r, const struct frame *table, const int *idx, size_t n)
{
	struct query q = { .db = DB_SQLITE,
			   .tid = 43,
			   .start_ns = 1000000000ULL,
			   .end_ns = 1000001000ULL,
			   .busy_ns = 1000 };
	size_t i;

	q.sql = strdup("SELECT ?");
	q.stack.frames = calloc(n ? n : 1, sizeof(struct frame));
	q.stack.nframes = n;
	for (i = 0; i < n; i++)
		q.stack.frames[i] = table[idx[i]];
	assert_int_equal(record__add_query(r, &q), 0);
}

/* The stored form holds each distinct frame once, first use first, and expands back to
 * exactly the full form's text. */
static void test_stored_form(void **state)
{
	static const char *views = "/app/views.py", *base = "/usr/lib/python3/x.py";
	const struct frame table[] = {
		{ .filename = views, .lineno = 12, .function = "items" },
		{ .filename = base, .lineno = 3, .function = "execute" },
		{ .filename = views, .lineno = 13, .function = "items" },
		{ .native = true,
		  .module = "/lib/libsqlite3.so",
		  .symbol = "sqlite3_step",
		  .offset = 4 },
		{ .unresolved = true },
	};
	static const int a[] = { 1, 0 }, b[] = { 1, 2 }, c[] = { 3, 4, 1, 0 };
	static const double bad[] = { 5, -1, 0.5 }; /* past the table, negative, not an index */
	struct record *r = sample();
	char *full, *stored, *expanded;
	size_t len, slen, i;
	cJSON *j, *f;

	add_with_stack(r, table, a, 2);
	add_with_stack(r, table, a, 2);
	add_with_stack(r, table, b, 2);
	add_with_stack(r, table, c, 4);
	add_with_stack(r, table, c, 0);
	full = record__to_json_len(r, NULL, &len);
	stored = record__to_stored_json(r, NULL, &slen);
	assert_non_null(full);
	assert_non_null(stored);
	assert_int_equal(strlen(stored), slen);
	assert_true(slen < len);
	j = cJSON_Parse(stored);
	assert_non_null(j);
	f = get(j, "frames");
	assert_int_equal(cJSON_GetArraySize(f), 5);
	assert_string_equal(get(cJSON_GetArrayItem(f, 0), "function")->valuestring, "execute");
	assert_string_equal(get(cJSON_GetArrayItem(f, 3), "symbol")->valuestring, "sqlite3_step");
	assert_true(cJSON_IsTrue(get(cJSON_GetArrayItem(f, 4), "unresolved")));
	expanded = cJSON_PrintUnformatted(
		get(cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 3), "stack"));
	assert_string_equal(expanded, "[3,4,0,1]");
	free(expanded);
	assert_int_equal(stored_record__expand(j), 1);
	expanded = cJSON_PrintUnformatted(j);
	assert_string_equal(expanded, full);
	/* a full-form record is left as it is; a bad index is refused */
	assert_int_equal(stored_record__expand(j), 0);
	cJSON_Delete(j);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(stored);
		cJSON_ReplaceItemInArray(
			get(cJSON_GetArrayItem(get(j, "plugins_data.SQL.queries"), 0), "stack"), 0,
			cJSON_CreateNumber(bad[i]));
		assert_int_equal(stored_record__expand(j), -1);
		cJSON_Delete(j);
	}
	free(expanded);
	free(stored);
	free(full);
	record__free(r);
}

/* Expands r's stored form and checks it against its full form. */
static void assert_stored_expands_to_full(const struct record *r)
{
	char *full, *stored, *expanded;
	size_t len, slen;
	cJSON *j;

	full = record__to_json_len(r, NULL, &len);
	stored = record__to_stored_json(r, NULL, &slen);
	assert_non_null(full);
	assert_non_null(stored);
	j = cJSON_Parse(stored);
	assert_non_null(j);
	assert_int_equal(stored_record__expand(j), 1);
	expanded = cJSON_PrintUnformatted(j);
	assert_string_equal(expanded, full);
	cJSON_Delete(j);
	free(expanded);
	free(stored);
	free(full);
}

/* A record of many distinct frames, then a small one: the frame table is sized per record. */
static void test_stored_form_after_a_large_record(void **state)
{
	static const char *file = "/app/loop.py";
	struct frame table[600];
	struct record *big = sample(), *small = sample();
	int idx[3];
	size_t i;

	for (i = 0; i < 600; i++)
		table[i] =
			(struct frame){ .filename = file, .lineno = (int)i + 1, .function = "f" };
	for (i = 0; i < 200; i++) {
		idx[0] = 3 * i;
		idx[1] = 3 * i + 1;
		idx[2] = i % 2 ? 0 : 3 * i + 2; /* frame 0 shared by half of them */
		add_with_stack(big, table, idx, 3);
	}
	assert_stored_expands_to_full(big);
	idx[0] = 7;
	idx[1] = 0;
	add_with_stack(small, table, idx, 2);
	add_with_stack(small, table, idx, 1);
	assert_stored_expands_to_full(small);
	record__free(big);
	record__free(small);
}

/* Stacks that come again, lately and past the table's memory of recent ones (8): each
 * repeat writes the same indices as its first time. */
static void test_stored_form_repeated_stacks(void **state)
{
	static const char *file = "/app/loop.py";
	static const int order[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 11, 5, 5, 1, 1 };
	struct frame table[40];
	struct record *r = sample();
	int idx[4];
	size_t i, k;

	for (i = 0; i < 40; i++)
		table[i] =
			(struct frame){ .filename = file, .lineno = (int)i + 1, .function = "f" };
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		for (k = 0; k < 4; k++) /* frames 0 and 1 shared by all, two of each stack's own */
			idx[k] = k < 2 ? (int)k : 2 + 3 * order[i] + (int)k;
		add_with_stack(r, table, idx, 4);
	}
	assert_stored_expands_to_full(r);
	record__free(r);
}

/* Returns the stored form of r, parsed. */
static cJSON *stored_json(const struct record *r)
{
	size_t len;

	return parsed(record__to_stored_json(r, NULL, &len));
}

/* A profile's top entries and folded stacks of Python frames name frames of the record's
 * table (shared with the queries' stacks, or added); entries with a native or unresolved
 * frame, [other] and [off-CPU] are written in full; the whole expands back to the full
 * form's text, labels and their '_' for ';' and line breaks included. */
static void test_stored_form_profile(void **state)
{
	static const char *views = "/app/views.py", *odd = "/app/we;ird\nname.py";
	const struct frame table[] = {
		{ .filename = views, .lineno = 12, .function = "items" },
		{ .filename = views, .lineno = 20, .function = "render" },
		{ .filename = odd, .lineno = 0, .function = "a;b" },
		{ .native = true, .module = "/lib/libc.so.6", .symbol = "memcpy", .offset = 8 },
		{ .unresolved = true },
	};
	static const int q[] = { 0 }, s1[] = { 1, 0 }, s2[] = { 2, 1, 0 }, s3[] = { 3, 0 },
			 s4[] = { 4, 1 };
	const int *stacks[] = { s1, s2, s3, s4 };
	const size_t depth[] = { 2, 3, 2, 2 }, count[] = { 5, 3, 2, 1 };
	struct record *r = sample();
	struct frame f[3], many[2];
	cJSON *j, *prof, *e;
	size_t k, n;
	char *text;
	int i;

	add_with_stack(r, table, q, 1);
	r->profile = profile__new(999);
	assert_non_null(r->profile);

	for (k = 0; k < 4; k++) {
		for (n = 0; n < depth[k]; n++)
			f[n] = table[stacks[k][n]];
		assert_int_equal(profile__add_samples(r->profile, f, depth[k], count[k]), 0);
	}
	profile__add_offcpu(r->profile, 4000000); /* 4 ms: 4 samples' worth */
	assert_stored_expands_to_full(r);

	j = stored_json(r);
	/* frames: the query's first, then the profile's in first use (top_self first) */
	text = cJSON_PrintUnformatted(get(j, "frames"));
	assert_string_equal(
		text,
		"[{\"filename\":\"/app/views.py\",\"lineno\":12,\"function\":\"items\"},"
		"{\"filename\":\"/app/views.py\",\"lineno\":20,\"function\":\"render\"},"
		"{\"filename\":\"/app/we;ird\\nname.py\",\"lineno\":null,\"function\":\"a;b\"}]");
	free(text);
	prof = get(j, "plugins_data.Profile");
	text = cJSON_PrintUnformatted(get(prof, "top_self"));
	assert_string_equal(
		text,
		"[{\"frame\":1,\"samples\":5},{\"frame\":2,\"samples\":3},"
		"{\"function\":\"memcpy\",\"filename\":\"/lib/libc.so.6\",\"lineno\":null,\"samples\":2},"
		"{\"function\":\"[unresolved]\",\"filename\":null,\"lineno\":null,\"samples\":1}]");
	free(text);
	text = cJSON_PrintUnformatted(get(prof, "folded"));
	assert_string_equal(
		text,
		"[{\"fold\":[0,1],\"samples\":5},{\"fold\":[0,1,2],\"samples\":3},"
		"{\"stack\":\"items (/app/views.py:12);memcpy (/lib/libc.so.6)\",\"samples\":2},"
		"{\"stack\":\"render (/app/views.py:20);[unresolved]\",\"samples\":1},"
		"{\"stack\":\"[off-CPU]\",\"samples\":4}]");
	free(text);
	cJSON_Delete(j);

	/* past the folded list's bound: the stacks summed into [other] add no frame */
	profile__free(r->profile);
	r->profile = profile__new(999);
	for (i = 0; i < PROFILE_JSON_FOLDED + 5; i++) {
		many[0] =
			(struct frame){ .filename = views, .lineno = 1000 + i, .function = "loop" };
		many[1] = table[0];
		assert_int_equal(profile__add_samples(r->profile, many, 2, i < 5 ? 1 : 2), 0);
	}
	assert_stored_expands_to_full(r);
	j = stored_json(r);
	/* the table: items:12, loop's 200 lines kept (20 in the top lists among them) */
	assert_int_equal(cJSON_GetArraySize(get(j, "frames")), 1 + PROFILE_JSON_FOLDED);
	e = cJSON_GetArrayItem(get(j, "plugins_data.Profile.folded"), PROFILE_JSON_FOLDED);
	text = cJSON_PrintUnformatted(e);
	assert_string_equal(text, "{\"stack\":\"[other]\",\"samples\":5}");
	free(text);
	cJSON_Delete(j);
	record__free(r);
}

/* A shared stack's copies share its frames (one array), keep them after the original is
 * cleared, and one made its own can change without the others seeing it (ASan: no leak,
 * no double free). */
static void test_shared_stack_frames(void **state)
{
	struct stack s = { .nframes = 2 }, a, b;

	s.frames = calloc(2, sizeof(*s.frames));
	s.frames[0] = (struct frame){ .filename = "/app/a.py", .lineno = 1, .function = "f" };
	s.frames[1] = (struct frame){ .filename = "/app/b.py", .lineno = 2, .function = "g" };
	assert_int_equal(stack__share(&s), 0);
	assert_non_null(s.share);
	assert_int_equal(stack__copy(&a, &s), 0);
	assert_int_equal(stack__copy(&b, &a), 0);
	assert_ptr_equal(a.frames, s.frames);
	assert_ptr_equal(b.frames, s.frames);
	stack__clear(&s);
	assert_int_equal(a.frames[1].lineno, 2);
	assert_int_equal(stack__own(&b), 0);
	assert_null(b.share);
	assert_ptr_not_equal(b.frames, a.frames);
	b.frames[1].lineno = 7;
	assert_int_equal(a.frames[1].lineno, 2);
	assert_int_equal(b.frames[1].lineno, 7);
	stack__clear(&a);
	stack__clear(&b);
	/* an unshared stack's copy is a copy */
	s = (struct stack){ .nframes = 1, .frames = calloc(1, sizeof(*s.frames)) };
	assert_int_equal(stack__copy(&a, &s), 0);
	assert_ptr_not_equal(a.frames, s.frames);
	assert_int_equal(stack__own(&a), 0);
	stack__clear(&a);
	stack__clear(&s);
}

/* A shared stack's memo of its serialized frames outlives none of the cache's entries: past
 * a sweep of the stack cache (1024 entries) the same stack is serialized again, right
 * (under ASan a stale memo is a use after free). Its call site is worked out once. */
static void test_shared_stack_memo(void **state)
{
	static const char *file = "/app/memo.py";
	struct stack sh = { .nframes = 2 };
	struct record *r;
	struct query q;
	char *before, *after;
	int i;

	sh.frames = calloc(2, sizeof(*sh.frames));
	sh.frames[0] = (struct frame){ .filename = "/usr/lib/python3.11/x.py", .function = "lib" };
	sh.frames[1] = (struct frame){ .filename = file, .lineno = 9, .function = "view" };
	assert_int_equal(stack__share(&sh), 0);
	r = sample();
	q = (struct query){ .db = DB_SQLITE, .sql = strdup("SELECT 1") };
	assert_int_equal(stack__copy(&q.stack, &sh), 0);
	assert_int_equal(record__add_query(r, &q), 0);
	before = record__to_json(r, NULL);
	record__free(r);
	assert_ptr_equal(stack__call_site(&sh), &sh.frames[1]);
	for (i = 0; i < 1100; i++) { /* distinct stacks: the cache fills and is swept */
		struct frame f = { .filename = file, .lineno = 1000 + i, .function = "other" };

		r = sample();
		q = (struct query){ .db = DB_SQLITE, .sql = strdup("SELECT 2") };
		q.stack.frames = malloc(sizeof(f));
		q.stack.frames[0] = f;
		q.stack.nframes = 1;
		assert_int_equal(record__add_query(r, &q), 0);
		free(record__to_json(r, NULL));
		record__free(r);
	}
	r = sample();
	q = (struct query){ .db = DB_SQLITE, .sql = strdup("SELECT 1") };
	assert_int_equal(stack__copy(&q.stack, &sh), 0);
	assert_int_equal(record__add_query(r, &q), 0);
	after = record__to_json(r, NULL);
	assert_string_equal(strstr(after, "\"stack\""), strstr(before, "\"stack\""));
	assert_ptr_equal(stack__call_site(&sh), &sh.frames[1]);
	free(before);
	free(after);
	record__free(r);
	stack__clear(&sh);
}

static void test_app_frames(void **state)
{
	struct frame f = { .filename = "/srv/app/views.py" };

	assert_true(frame__is_app(&f));
	f.filename = "/usr/lib/python3/dist-packages/django/db/models/query.py";
	assert_false(frame__is_app(&f));
	f.filename = "/root/.pyenv/versions/3.12.1/lib/python3.12/site-packages/x.py";
	assert_false(frame__is_app(&f));
	f.filename = "/usr/lib/python3.11/threading.py";
	assert_false(frame__is_app(&f));
	f.filename = "/usr/lib64/python3.9/json/decoder.py";
	assert_false(frame__is_app(&f));
	f.filename = "/home/u/lib/python3stuff/x.py";
	assert_true(frame__is_app(&f));
	f.filename = "/home/u/lib/python3.11/x.py";
	assert_false(frame__is_app(&f));
	f.filename = "<frozen importlib._bootstrap>";
	assert_false(frame__is_app(&f));
	f.filename = "/srv/app/views.py";
	f.unresolved = true;
	assert_false(frame__is_app(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_is_32_hex_and_random),
		cmocka_unit_test(test_layout_and_rounding),
		cmocka_unit_test(test_any_bytes_become_valid_json),
		cmocka_unit_test(test_strings_escape_as_cjson),
		cmocka_unit_test(test_numbers_print_as_cjson),
		cmocka_unit_test(test_query_limit_counts_the_rest),
		cmocka_unit_test(test_background_and_frames),
		cmocka_unit_test(test_stores_and_logs),
		cmocka_unit_test(test_log_limit_counts_the_rest),
		cmocka_unit_test(test_app_frames),
		cmocka_unit_test(test_stored_form),
		cmocka_unit_test(test_stored_form_after_a_large_record),
		cmocka_unit_test(test_stored_form_repeated_stacks),
		cmocka_unit_test(test_stored_form_profile),
		cmocka_unit_test(test_shared_stack_frames),
		cmocka_unit_test(test_shared_stack_memo),
	};

	clock_ref__init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
