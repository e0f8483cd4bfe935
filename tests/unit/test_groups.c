/* Unit tests for groups__build, groups__n_plus_one and stack__call_site on hand-built records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/groups.h"
#include "record/record.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/postgresql/pq.h"
#include "stores/redis/hiredis.h"
#include "stores/sqlite/sqlite.h"

/* A frame to build: a Python frame has file/line/func; native has module/symbol. */
struct fspec {
	const char *file;
	int line;
	const char *func;
	bool native;
	bool unresolved;
};

#define NFRAMES(a) (sizeof(a) / sizeof((a)[0]))

static char *dup_or_null(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return d;
}

/* Frames do not own their strings (they are interned): point at the spec's literals. */
static void stack__fill(struct stack *s, const struct fspec *spec, size_t n)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	s->frames = calloc(n, sizeof(*s->frames));
	assert_non_null(s->frames);
	s->nframes = n;
	for (i = 0; i < n; i++) {
		struct frame *f = &s->frames[i];

		f->native = spec[i].native;
		f->unresolved = spec[i].unresolved;
		f->lineno = spec[i].line;
		if (spec[i].native) {
			f->module = spec[i].file;
			f->symbol = spec[i].func;
		} else {
			f->filename = spec[i].file;
			f->function = spec[i].func;
		}
	}
}

static void add(struct record *r, const struct db_kind *db, const char *sql, uint64_t busy_ns,
		const struct fspec *frames, size_t n)
{
	struct query q;

	memset(&q, 0, sizeof(q));
	q.db = db;
	q.sql = dup_or_null(sql);
	q.busy_ns = busy_ns;
	q.start_ns = 1000;
	q.end_ns = 1000 + busy_ns;
	stack__fill(&q.stack, frames, n);
	assert_int_equal(record__add_query(r, &q), 0);
}

/* Asserts the unformatted JSON of r's groups and returns how many were N+1. */
static int expect_groups(const struct record *r, const char *want)
{
	cJSON *groups = groups__build(r);
	char *got;
	int n;

	assert_non_null(groups);
	got = cJSON_PrintUnformatted(groups);
	assert_non_null(got);
	if (strcmp(got, want))
		fail_msg("groups:\n  got:  %s\n  want: %s", got, want);
	n = groups__n_plus_one(groups);
	free(got);
	cJSON_Delete(groups);
	return n;
}

/* A Django-ish stack: driver (site-packages), ORM, the view's line, the handler. */
#define DJANGO_STACK(view_line)                                                                   \
	{                                                                                         \
		{ "/venv/lib/python3.11/site-packages/django/db/backends/utils.py", 89,           \
		  "CursorWrapper._execute" },                                                     \
			{ "/venv/lib/python3.11/site-packages/django/db/models/query.py", 51,     \
			  "ModelIterable.__iter__" },                                             \
			{ "/srv/app/polls/views.py", view_line, "index" },                        \
			{ "/venv/lib/python3.11/site-packages/django/core/handlers/base.py", 197, \
			  "BaseHandler._get_response" },                                          \
	}

static void test_empty(void **state)
{
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	assert_int_equal(expect_groups(r, "[]"), 0);
	record__free(r);
	assert_int_equal(groups__n_plus_one(NULL), 0);
}

static void test_n_plus_one(void **state)
{
	static const struct fspec list[] = DJANGO_STACK(10), loop[] = DJANGO_STACK(12);
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_POSTGRESQL, "SELECT \"q\".\"id\" FROM \"polls_question\" \"q\" LIMIT 5", 500000,
	    list, NFRAMES(list));
	add(r, DB_POSTGRESQL,
	    "SELECT \"c\".\"id\" FROM \"polls_choice\" \"c\" WHERE \"c\".\"q_id\" = 1", 100000,
	    loop, NFRAMES(loop));
	add(r, DB_POSTGRESQL,
	    "SELECT \"c\".\"id\" FROM \"polls_choice\" \"c\" WHERE \"c\".\"q_id\" = 2", 200000,
	    loop, NFRAMES(loop));
	add(r, DB_POSTGRESQL,
	    "SELECT \"c\".\"id\" FROM \"polls_choice\" \"c\" WHERE \"c\".\"q_id\" = 3", 300001,
	    loop, NFRAMES(loop));
	assert_int_equal(
		expect_groups(
			r,
			"[{\"fingerprint\":\"SELECT \\\"q\\\".\\\"id\\\" FROM \\\"polls_question\\\" \\\"q\\\" LIMIT ?\","
			"\"db\":\"postgresql\",\"count\":1,\"total_time\":0.5,"
			"\"call_sites\":[\"/srv/app/polls/views.py:10\"],\"duplicates\":0,\"n_plus_one\":false,\"queries\":[0]},"
			"{\"fingerprint\":\"SELECT \\\"c\\\".\\\"id\\\" FROM \\\"polls_choice\\\" \\\"c\\\" WHERE \\\"c\\\".\\\"q_id\\\" = ?\","
			"\"db\":\"postgresql\",\"count\":3,\"total_time\":0.6,"
			"\"call_sites\":[\"/srv/app/polls/views.py:12\"],\"duplicates\":0,\"n_plus_one\":true,\"queries\":[1,2,3]}]"),
		1);
	record__free(r);
}

/* Two queries from one site is not N+1; three from two sites neither. */
static void test_below_threshold(void **state)
{
	static const struct fspec a[] = { { "/srv/app/a.py", 5, "f" } },
				  b[] = { { "/srv/app/b.py", 7, "g" } };
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_SQLITE, "SELECT * FROM t WHERE id = ?", 1000, a, 1);
	add(r, DB_SQLITE, "SELECT * FROM t WHERE id = ?", 1000, b, 1);
	add(r, DB_SQLITE, "SELECT * FROM t WHERE id = ?", 1000, a, 1);
	add(r, DB_SQLITE, "SELECT * FROM t WHERE id = ?", 1000, b, 1);
	assert_int_equal(
		expect_groups(r, "[{\"fingerprint\":\"SELECT * FROM t WHERE id = ?\","
				 "\"db\":\"sqlite\",\"count\":4,\"total_time\":0.004,"
				 "\"call_sites\":[\"/srv/app/a.py:5\",\"/srv/app/b.py:7\"],"
				 "\"duplicates\":3,\"n_plus_one\":false,\"queries\":[0,1,2,3]}]"),
		0);
	/* a third from a.py:5 makes it one */
	add(r, DB_SQLITE, "SELECT * FROM t WHERE id = ?", 1000, a, 1);
	assert_int_equal(
		expect_groups(r, "[{\"fingerprint\":\"SELECT * FROM t WHERE id = ?\","
				 "\"db\":\"sqlite\",\"count\":5,\"total_time\":0.005,"
				 "\"call_sites\":[\"/srv/app/a.py:5\",\"/srv/app/b.py:7\"],"
				 "\"duplicates\":4,\"n_plus_one\":true,\"queries\":[0,1,2,3,4]}]"),
		1);
	record__free(r);
}

/* Duplicates compare the exact text: same shape with other literals is not a duplicate. */
static void test_duplicates(void **state)
{
	static const struct fspec site[] = { { "/srv/app/v.py", 3, "v" } };
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_POSTGRESQL, "SELECT a FROM t WHERE id = 1", 1000, site, 1);
	add(r, DB_POSTGRESQL, "SELECT a FROM t WHERE id = 2", 1000, site, 1);
	add(r, DB_POSTGRESQL, "SELECT a FROM t WHERE id = 1", 1000, site, 1);
	add(r, DB_POSTGRESQL, "select a from t where id = 1", 1000, site, 1);
	add(r, DB_POSTGRESQL, "SELECT a FROM t WHERE id = 2", 1000, site, 1);
	add(r, DB_POSTGRESQL, "SELECT a FROM t WHERE id = 1", 1000, site, 1);
	assert_int_equal(expect_groups(r, "[{\"fingerprint\":\"SELECT a FROM t WHERE id = ?\","
					  "\"db\":\"postgresql\",\"count\":6,\"total_time\":0.006,"
					  "\"call_sites\":[\"/srv/app/v.py:3\"],\"duplicates\":3,"
					  "\"n_plus_one\":true,\"queries\":[0,1,2,3,4,5]}]"),
			 1);
	record__free(r);
}

/* Without Python frames there is no call site, hence no N+1, however many queries. */
static void test_no_stacks(void **state)
{
	static const struct fspec native[] = { { "/usr/bin/client", 0, "run_query", true },
					       { "/usr/bin/client", 0, "main", true } };
	struct record *r = record__new();
	int i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < 4; i++)
		add(r, DB_POSTGRESQL, "SELECT 1", 250, NULL, 0);
	for (i = 0; i < 3; i++)
		add(r, DB_POSTGRESQL, "SELECT now()", 250, native, NFRAMES(native));
	assert_int_equal(
		expect_groups(r, "[{\"fingerprint\":\"SELECT ?\",\"db\":\"postgresql\","
				 "\"count\":4,\"total_time\":0.001,\"call_sites\":[],"
				 "\"duplicates\":3,\"n_plus_one\":false,\"queries\":[0,1,2,3]},"
				 "{\"fingerprint\":\"SELECT now()\",\"db\":\"postgresql\","
				 "\"count\":3,\"total_time\":0.001,\"call_sites\":[],"
				 "\"duplicates\":2,\"n_plus_one\":false,\"queries\":[4,5,6]}]"),
		0);
	record__free(r);
}

/* Groups come in order of their first query, each db apart, all in one array. */
static void test_order_and_dbs(void **state)
{
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_SQLITE, "SELECT * FROM a WHERE x = ?", 1000, NULL, 0);
	add(r, DB_SQLITE, "SELECT * FROM b", 2000, NULL, 0);
	add(r, DB_SQLITE, "select *  from a where x = ?", 3000, NULL, 0);
	add(r, DB_POSTGRESQL, "SELECT * FROM a WHERE x = 5", 4000, NULL, 0);
	add(r, DB_SQLITE, "SELECT * FROM b", 5000, NULL, 0);
	add(r, DB_POSTGRESQL, "SELECT * FROM a WHERE x = $1", 6000, NULL, 0);
	assert_int_equal(
		expect_groups(
			r, "[{\"fingerprint\":\"SELECT * FROM a WHERE x = ?\",\"db\":\"sqlite\","
			   "\"count\":2,\"total_time\":0.004,\"call_sites\":[],\"duplicates\":0,"
			   "\"n_plus_one\":false,\"queries\":[0,2]},"
			   "{\"fingerprint\":\"SELECT * FROM b\",\"db\":\"sqlite\","
			   "\"count\":2,\"total_time\":0.007,\"call_sites\":[],\"duplicates\":1,"
			   "\"n_plus_one\":false,\"queries\":[1,4]},"
			   "{\"fingerprint\":\"SELECT * FROM a WHERE x = ?\",\"db\":\"postgresql\","
			   "\"count\":2,\"total_time\":0.01,\"call_sites\":[],\"duplicates\":0,"
			   "\"n_plus_one\":false,\"queries\":[3,5]}]"),
		0);
	record__free(r);
}

/* total_time: ms rounded to the microsecond; NULL text is the empty fingerprint. */
static void test_time_and_null_text(void **state)
{
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_SQLITE, "UPDATE t SET a = 1", 1234567, NULL, 0);
	add(r, DB_SQLITE, "UPDATE t SET a = 2", 1, NULL, 0);
	add(r, DB_SQLITE, NULL, 499, NULL, 0);
	add(r, DB_SQLITE, "", 1500, NULL, 0);
	assert_int_equal(
		expect_groups(
			r,
			"[{\"fingerprint\":\"UPDATE t SET a = ?\",\"db\":\"sqlite\","
			"\"count\":2,\"total_time\":1.235,\"call_sites\":[],\"duplicates\":0,"
			"\"n_plus_one\":false,\"queries\":[0,1]},"
			"{\"fingerprint\":\"\",\"db\":\"sqlite\",\"count\":2,\"total_time\":0.002,"
			"\"call_sites\":[],\"duplicates\":1,\"n_plus_one\":false,\"queries\":[2,3]}]"),
		0);
	record__free(r);
}

/* Bytes from the target that are not UTF-8 come out as U+FFFD, in fingerprints and call sites. */
static void test_invalid_utf8(void **state)
{
	static const struct fspec site[] = { { "/srv/app/caf\xe9.py", 9, "f" } };
	struct record *r = record__new();

	(void)state;
	assert_non_null(r);
	add(r, DB_SQLITE, "SELECT \"\xff\" FROM t", 1000, site, 1);
	assert_int_equal(
		expect_groups(r,
			      "[{\"fingerprint\":\"SELECT \\\"\xef\xbf\xbd\\\" FROM t\","
			      "\"db\":\"sqlite\",\"count\":1,\"total_time\":0.001,"
			      "\"call_sites\":[\"/srv/app/caf\xef\xbf\xbd.py:9\"],\"duplicates\":0,"
			      "\"n_plus_one\":false,\"queries\":[0]}]"),
		0);
	record__free(r);
}

/* Several groups N+1 at once: the count the terminal line shows. */
static void test_count_n_plus_one(void **state)
{
	static const struct fspec a[] = { { "/srv/app/a.py", 1, "f" } };
	struct record *r = record__new();
	cJSON *groups;
	int i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < 3; i++) {
		add(r, DB_SQLITE, "SELECT * FROM x WHERE id = ?", 10, a, 1);
		add(r, DB_SQLITE, "SELECT * FROM y WHERE id IN (?, ?)", 10, a, 1);
		add(r, DB_SQLITE, i ? "SELECT 2" : "SELECT * FROM z", 10, a, 1);
	}
	groups = groups__build(r);
	assert_non_null(groups);
	assert_int_equal(cJSON_GetArraySize(groups), 4);
	assert_int_equal(groups__n_plus_one(groups), 2);
	cJSON_Delete(groups);
	record__free(r);
}

/* Every query kept in a record: one group, linear time, exact totals. */
static void test_many_queries(void **state)
{
	static const struct fspec a[] = { { "/srv/app/loop.py", 42, "f" } };
	struct record *r = record__new();
	const cJSON *g, *q;
	cJSON *groups;
	char sql[64];
	int i;

	(void)state;
	assert_non_null(r);
	for (i = 0; i < RECORD_MAX_QUERIES; i++) {
		snprintf(sql, sizeof(sql), "SELECT * FROM t WHERE id = %d",
			 i % (RECORD_MAX_QUERIES / 2));
		add(r, DB_POSTGRESQL, sql, 1000, a, 1);
	}
	groups = groups__build(r);
	assert_non_null(groups);
	assert_int_equal(cJSON_GetArraySize(groups), 1);
	g = cJSON_GetArrayItem(groups, 0);
	assert_int_equal(cJSON_GetObjectItem(g, "count")->valuedouble, RECORD_MAX_QUERIES);
	assert_int_equal(cJSON_GetObjectItem(g, "duplicates")->valuedouble, RECORD_MAX_QUERIES / 2);
	assert_true(cJSON_GetObjectItem(g, "total_time")->valuedouble ==
		    RECORD_MAX_QUERIES / 1000.0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(g, "n_plus_one")));
	q = cJSON_GetObjectItem(g, "queries");
	assert_int_equal(cJSON_GetArraySize(q), RECORD_MAX_QUERIES);
	assert_int_equal(cJSON_GetArrayItem(q, RECORD_MAX_QUERIES - 1)->valuedouble,
			 RECORD_MAX_QUERIES - 1);
	cJSON_Delete(groups);
	record__free(r);
}

static const char *site_of(const struct fspec *spec, size_t n)
{
	static char buf[256];
	const struct frame *f;
	struct stack s;

	stack__fill(&s, spec, n);
	f = stack__call_site(&s);
	if (f)
		snprintf(buf, sizeof(buf), "%s:%d", f->filename, f->lineno);
	stack__clear(&s);
	return f ? buf : NULL;
}

static void test_call_site(void **state)
{
	static const struct fspec deep[] = {
		{ "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", 0, "sqlite3_step", true },
		{ NULL, 0, NULL, false, true }, /* unresolved code object */
		{ "<frozen importlib._bootstrap>", 241, "_call_with_frames_removed" },
		{ "/usr/lib/python3.11/sqlite3/dbapi2.py", 80, "execute" },
		{ "/root/.pyenv/versions/3.12.1/lib/python3.12/contextlib.py", 81, "inner" },
		{ "/venv/lib/python3.11/site-packages/django/db/backends/utils.py", 89,
		  "_execute" },
		{ "/usr/lib/python3/dist-packages/django/db/models/query.py", 51, "__iter__" },
		{ "/srv/app/views.py", 12, "index" },
		{ "/srv/app/urls.py", 3, "outer" },
	};
	static const struct fspec lookalike[] = {
		{ "/home/u/my-site-packages-tool/app.py", 8, "f" },
	};
	static const struct fspec relative[] = { { "manage.py", 22, "main" } };
	static const struct fspec library_only[] = {
		{ "/venv/lib/python3.11/site-packages/celery/app/trace.py", 451, "trace_task" },
		{ "/usr/lib/python3.11/threading.py", 975, "run" },
	};
	struct stack none = { 0 };

	(void)state;
	assert_string_equal(site_of(deep, NFRAMES(deep)), "/srv/app/views.py:12");
	assert_string_equal(site_of(lookalike, 1), "/home/u/my-site-packages-tool/app.py:8");
	assert_string_equal(site_of(relative, 1), "manage.py:22");
	assert_null(site_of(library_only, NFRAMES(library_only)));
	assert_null(site_of(deep, 7));
	assert_null(stack__call_site(&none));
	assert_null(stack__call_site(NULL));
}

/* A Redis command as the RESP parser gives it. */
static void add_kv(struct record *r, const char *cmd, const char *key, const char *arg,
		   const struct fspec *frames, size_t n)
{
	struct query q;

	memset(&q, 0, sizeof(q));
	q.db = DB_REDIS;
	q.command = dup_or_null(cmd);
	q.key = dup_or_null(key);
	if (arg) {
		q.args = calloc(1, sizeof(*q.args));
		assert_non_null(q.args);
		q.args[0] = dup_or_null(arg);
		q.nargs = 1;
	}
	assert_true(asprintf(&q.sql, "%s %s%s%s", cmd, key, arg ? " " : "", arg ? arg : "") > 0);
	q.busy_ns = 1000;
	stack__fill(&q.stack, frames, n);
	assert_int_equal(record__add_query(r, &q), 0);
}

/* A GET per id in a loop is one group ("GET user:?"), an N+1; SET keeps its arg shape. */
static void test_redis_get_loop(void **state)
{
	static const struct fspec loop[] = { { "/srv/app/views.py", 7, "profile" } };
	struct record *r = record__new();
	cJSON *g;
	char *got;

	(void)state;
	assert_non_null(r);
	add_kv(r, "GET", "user:1", NULL, loop, 1);
	add_kv(r, "GET", "user:22", NULL, loop, 1);
	add_kv(r, "GET", "user:333", NULL, loop, 1);
	add_kv(r, "SET", "user:1:seen", "1700000000", loop, 1);
	add_kv(r, "GET", "user:22", NULL, loop, 1);
	g = groups__build_list(r->redis.q, r->redis.n);
	assert_non_null(g);
	got = cJSON_PrintUnformatted(g);
	assert_string_equal(got,
			    "[{\"fingerprint\":\"GET user:?\",\"db\":\"redis\",\"count\":4,"
			    "\"total_time\":0.004,\"call_sites\":[\"/srv/app/views.py:7\"],"
			    "\"duplicates\":1,\"n_plus_one\":true,\"queries\":[0,1,2,4]},"
			    "{\"fingerprint\":\"SET user:?:seen ?\",\"db\":\"redis\",\"count\":1,"
			    "\"total_time\":0.001,\"call_sites\":[\"/srv/app/views.py:7\"],"
			    "\"duplicates\":0,\"n_plus_one\":false,\"queries\":[3]}]");
	assert_int_equal(groups__n_plus_one(g), 1);
	free(got);
	cJSON_Delete(g);
	/* the SQL list of the same record is empty */
	assert_int_equal(expect_groups(r, "[]"), 0);
	record__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_n_plus_one),
		cmocka_unit_test(test_below_threshold),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_no_stacks),
		cmocka_unit_test(test_order_and_dbs),
		cmocka_unit_test(test_time_and_null_text),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_count_n_plus_one),
		cmocka_unit_test(test_many_queries),
		cmocka_unit_test(test_call_site),
		cmocka_unit_test(test_redis_get_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
