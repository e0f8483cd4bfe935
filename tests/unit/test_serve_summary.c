/* Unit tests for the viewer's record views: uuids, summaries, N+1 counts, filters, Scooby's layout. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/summary.h"

static const char record[] =
	"{\"uuid\":\"3beffd8bd1c03470864b6e41b5495c4c\",\"version\":1,"
	"\"request\":{\"method\":\"GET\",\"path\":\"/items/?page=2\",\"status\":404,"
	"\"start_unix_ms\":1795363980155.17,\"duration_ms\":0.975,\"pid\":1,\"tid\":2,"
	"\"comm\":\"gunicorn\",\"host\":null,\"request_id\":null,\"incomplete\":true},"
	"\"plugins_data\":{\"ProcessTime\":{\"start\":\"a\",\"end\":\"b\",\"process_time\":0.975},"
	"\"SQL\":{\"count\":4,\"omitted\":0,\"total_time\":0.25,\"queries\":["
	"{\"db\":\"sqlite\",\"query\":\"SELECT 1\",\"start\":\"s\",\"end\":\"e\",\"time_taken\":0.1,"
	"\"error\":null,\"stack\":[{\"filename\":\"/app/v.py\",\"lineno\":3,\"function\":\"f\"}],"
	"\"params\":[1]},"
	"{\"db\":\"sqlite\",\"query\":\"SELECT 1\",\"time_taken\":0.05,\"error\":\"boom\",\"stack\":[]},"
	"{\"db\":\"sqlite\",\"query\":\"SELECT 1\",\"time_taken\":0.05,\"error\":null,\"stack\":[]},"
	"{\"db\":\"sqlite\",\"query\":\"SELECT 2\",\"time_taken\":0.05,\"error\":null,\"stack\":[]}"
	"]},\"CustomLog\":{\"logs\":[]}},\"lost_events\":0}";

/* A record of this version: Redis (one error, one omitted), Memcache and CustomLog. */
static const char stores_record[] =
	"{\"uuid\":\"0123456789abcdef0123456789abcdef\",\"request\":{\"method\":\"GET\","
	"\"path\":\"/cart/\",\"status\":200,\"duration_ms\":9.5},"
	"\"plugins_data\":{"
	"\"SQL\":{\"count\":1,\"omitted\":0,\"total_time\":0.5,\"queries\":["
	"{\"db\":\"mysql\",\"query\":\"SELECT 1\",\"time_taken\":0.5,\"error\":null,"
	"\"via\":\"wire\",\"stack\":[]}],\"groups\":[]},"
	"\"Redis\":{\"count\":4,\"omitted\":1,\"total_time\":1.25,\"queries\":["
	"{\"command\":\"GET\",\"key\":\"cart:1\",\"args\":[],\"query\":\"GET cart:1\","
	"\"time_taken\":0.25,\"error\":null,\"via\":\"wire\",\"stack\":[]},"
	"{\"command\":\"INCR\",\"key\":\"cart:1\",\"args\":[],\"query\":\"INCR cart:1\","
	"\"time_taken\":0.5,\"error\":\"ERR value is not an integer or out of range\","
	"\"via\":\"wire\",\"stack\":[]},"
	"{\"command\":\"PING\",\"key\":null,\"args\":[],\"query\":\"PING\",\"time_taken\":0.125,"
	"\"error\":null,\"via\":\"library\",\"stack\":[]}]},"
	"\"Memcache\":{\"count\":2,\"omitted\":0,\"total_time\":0.75,\"queries\":["
	"{\"func_name\":\"get\",\"arg\":\"k1\",\"query\":\"get k1\",\"time_taken\":0.5,"
	"\"error\":null,\"via\":\"wire\",\"stack\":[]},"
	"{\"func_name\":\"set\",\"arg\":\"k2\",\"query\":\"set k2\",\"time_taken\":0.25,"
	"\"error\":\"SERVER_ERROR out of memory\",\"via\":\"library\",\"stack\":[]}]},"
	"\"CustomLog\":{\"count\":3,\"omitted\":0,\"logs\":["
	"{\"s\":\"one\",\"stream\":\"stderr\",\"stack\":[]},{\"s\":\"two\",\"stream\":\"stdout\","
	"\"stack\":[]},{\"s\":\"<script>\",\"stream\":\"stdout\",\"stack\":[]}]}},"
	"\"lost_events\":0}";

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	assert_non_null(j);
	return j;
}

static void test_uuid(void **state)
{
	assert_true(record_uuid__valid("3beffd8bd1c03470864b6e41b5495c4c"));
	assert_false(record_uuid__valid(NULL));
	assert_false(record_uuid__valid(""));
	assert_false(record_uuid__valid("3BEFFD8BD1C03470864B6E41B5495C4C"));
	assert_false(record_uuid__valid("3beffd8bd1c03470864b6e41b5495c4"));
	assert_false(record_uuid__valid("3beffd8bd1c03470864b6e41b5495c4c0"));
	assert_false(record_uuid__valid("3beffd8bd1c03470864b6e41b5495c4g"));
	assert_false(record_uuid__valid("../../../../../etc/passwd/../../.."));
}

static void test_summary(void **state)
{
	cJSON *rec = parse(record), *s = summary__new(rec);

	assert_non_null(s);
	assert_string_equal(cJSON_GetObjectItem(s, "uuid")->valuestring,
			    "3beffd8bd1c03470864b6e41b5495c4c");
	assert_string_equal(cJSON_GetObjectItem(s, "path")->valuestring, "/items/?page=2");
	assert_int_equal(cJSON_GetObjectItem(s, "status")->valueint, 404);
	assert_int_equal(cJSON_GetObjectItem(s, "query_count")->valueint, 4);
	assert_true(cJSON_GetObjectItem(s, "db_time_ms")->valuedouble == 0.25);
	assert_true(cJSON_GetObjectItem(s, "start_unix_ms")->valuedouble == 1795363980155.17);
	/* "SELECT 1" three times, no groups: one repeated text */
	assert_int_equal(cJSON_GetObjectItem(s, "n_plus_one")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(s, "errors")->valueint, 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "incomplete")));
	/* an older record: no Redis nor Memcache, CustomLog without a count */
	assert_int_equal(cJSON_GetObjectItem(s, "redis_count")->valueint, 0);
	assert_true(cJSON_GetObjectItem(s, "redis_time_ms")->valuedouble == 0);
	assert_int_equal(cJSON_GetObjectItem(s, "redis_errors")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(s, "memcache_count")->valueint, 0);
	assert_true(cJSON_GetObjectItem(s, "memcache_time_ms")->valuedouble == 0);
	assert_int_equal(cJSON_GetObjectItem(s, "memcache_errors")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(s, "log_count")->valueint, 0);
	cJSON_Delete(s);
	cJSON_Delete(rec);

	/* no uuid: no summary; a bare uuid: nulls and zeros */
	rec = parse("{\"request\":{}}");
	assert_null(summary__new(rec));
	cJSON_Delete(rec);
	assert_null(summary__new(NULL));
	rec = parse("{\"uuid\":\"x\"}");
	s = summary__new(rec);
	assert_non_null(s);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(s, "path")));
	assert_int_equal(cJSON_GetObjectItem(s, "query_count")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(s, "redis_count")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(s, "log_count")->valueint, 0);
	cJSON_Delete(s);
	cJSON_Delete(rec);
}

/* The number at s.name; fails the test when it is not one. */
static double num(const cJSON *s, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(s, name);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void test_summary_stores(void **state)
{
	cJSON *rec = parse(stores_record), *s = summary__new(rec);

	assert_non_null(s);
	assert_int_equal(cJSON_GetArraySize(s), 18);
	assert_true(num(s, "query_count") == 1);
	assert_true(num(s, "db_time_ms") == 0.5);
	assert_true(num(s, "errors") == 0);
	/* the record's count and total_time, the omitted command included */
	assert_true(num(s, "redis_count") == 4);
	assert_true(num(s, "redis_time_ms") == 1.25);
	assert_true(num(s, "redis_errors") == 1);
	assert_true(num(s, "memcache_count") == 2);
	assert_true(num(s, "memcache_time_ms") == 0.75);
	assert_true(num(s, "memcache_errors") == 1);
	assert_true(num(s, "log_count") == 3);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(s, "incomplete")));
	cJSON_Delete(s);
	cJSON_Delete(rec);

	/* without count or total_time: the listed entries, their time_taken summed */
	rec = parse("{\"uuid\":\"x\",\"plugins_data\":{"
		    "\"Redis\":{\"queries\":[{\"time_taken\":0.5,\"error\":\"ERR x\"},"
		    "{\"time_taken\":0.25},{\"time_taken\":\"bad\"}]},"
		    "\"Memcache\":{\"queries\":[{\"time_taken\":2}]},"
		    "\"CustomLog\":{\"logs\":[\"a\",{\"s\":\"b\"}]}}}");
	s = summary__new(rec);
	assert_non_null(s);
	assert_true(num(s, "redis_count") == 3);
	assert_true(num(s, "redis_time_ms") == 0.75);
	assert_true(num(s, "redis_errors") == 1);
	assert_true(num(s, "memcache_count") == 1);
	assert_true(num(s, "memcache_time_ms") == 2);
	assert_true(num(s, "memcache_errors") == 0);
	assert_true(num(s, "log_count") == 2);
	cJSON_Delete(s);
	cJSON_Delete(rec);

	/* plugins of the wrong type count as empty */
	rec = parse("{\"uuid\":\"x\",\"plugins_data\":{\"Redis\":7,\"Memcache\":null,"
		    "\"CustomLog\":\"text\"}}");
	s = summary__new(rec);
	assert_non_null(s);
	assert_true(num(s, "redis_count") == 0);
	assert_true(num(s, "redis_time_ms") == 0);
	assert_true(num(s, "memcache_count") == 0);
	assert_true(num(s, "log_count") == 0);
	cJSON_Delete(s);
	cJSON_Delete(rec);
}

static void test_n_plus_one(void **state)
{
	cJSON *sql = parse("{\"groups\":[{\"n_plus_one\":true},{\"n_plus_one\":false},"
			   "{\"n_plus_one\":true}],\"queries\":[]}");

	assert_int_equal(summary__n_plus_one(sql), 2);
	cJSON_Delete(sql);
	/* groups present, none flagged: 0 even with repeated texts */
	sql = parse("{\"groups\":[],\"queries\":[{\"query\":\"a\"},{\"query\":\"a\"},"
		    "{\"query\":\"a\"}]}");
	assert_int_equal(summary__n_plus_one(sql), 0);
	cJSON_Delete(sql);
	sql = parse("{\"queries\":[{\"query\":\"a\"},{\"query\":\"b\"},{\"query\":\"a\"},"
		    "{\"query\":\"b\"},{\"query\":\"a\"},{\"query\":\"b\"},{\"query\":\"c\"},"
		    "{\"query\":\"c\"},{\"query\":null},{}]}");
	assert_int_equal(summary__n_plus_one(sql), 2);
	cJSON_Delete(sql);
	assert_int_equal(summary__n_plus_one(NULL), 0);
}

static void test_filters(void **state)
{
	cJSON *rec = parse(record), *s = summary__new(rec);
	struct summary_filter f = { 0 };
	int cls;

	assert_true(summary__matches(s, NULL));
	assert_true(summary__matches(s, &f));
	f.path = "ITEMS";
	assert_true(summary__matches(s, &f));
	f.path = "nope";
	assert_false(summary__matches(s, &f));
	f.path = NULL;
	f.min_ms = 0.9;
	assert_true(summary__matches(s, &f));
	f.min_ms = 1;
	assert_false(summary__matches(s, &f));
	f.min_ms = 0;
	f.status_class = 4;
	assert_true(summary__matches(s, &f));
	f.status_class = -1;
	assert_false(summary__matches(s, &f));
	f.status_class = 0;
	f.n_plus_one = true;
	assert_true(summary__matches(s, &f));

	assert_int_equal(summary__parse_status_class("", &cls), 0);
	assert_int_equal(cls, 0);
	assert_int_equal(summary__parse_status_class("5xx", &cls), 0);
	assert_int_equal(cls, 5);
	assert_int_equal(summary__parse_status_class("2", &cls), 0);
	assert_int_equal(cls, 2);
	assert_int_equal(summary__parse_status_class("none", &cls), 0);
	assert_int_equal(cls, -1);
	assert_int_equal(summary__parse_status_class("6xx", &cls), -1);
	assert_int_equal(summary__parse_status_class("2x", &cls), -1);
	cJSON_Delete(s);
	cJSON_Delete(rec);
}

static void test_scooby_layout(void **state)
{
	static const char *const kept[] = { "Redis", "Memcache", "CustomLog" };
	cJSON *rec = parse(record), *out = scooby_layout__new(rec), *pd, *q0, *q1;
	size_t i;

	assert_non_null(out);
	assert_int_equal(cJSON_GetArraySize(out), 1);
	pd = cJSON_GetObjectItem(out, "plugins_data");
	assert_true(cJSON_IsNull(
		cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "ViewName"), "view_name")));
	assert_non_null(cJSON_GetObjectItem(pd, "ProcessTime"));
	assert_non_null(cJSON_GetObjectItem(pd, "CustomLog"));
	q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "SQL"), "queries"), 0);
	q1 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "SQL"), "queries"), 1);
	assert_string_equal(cJSON_GetObjectItem(q0, "query")->valuestring, "SELECT 1");
	assert_string_equal(cJSON_GetObjectItem(q0, "start")->valuestring, "s");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(q0, "stack")), 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(q0, "params")), 1);
	/* absent in the record: null for Scooby's own names, left out for the optional ones */
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(q1, "start")));
	assert_null(cJSON_GetObjectItem(q1, "params"));
	assert_null(cJSON_GetObjectItem(q1, "via"));
	assert_string_equal(cJSON_GetObjectItem(q1, "error")->valuestring, "boom");
	cJSON_Delete(out);
	cJSON_Delete(rec);

	/* Redis, Memcache and CustomLog pass through in the record's form */
	rec = parse(stores_record);
	out = scooby_layout__new(rec);
	assert_non_null(out);
	pd = cJSON_GetObjectItem(out, "plugins_data");
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_true(cJSON_Compare(
			cJSON_GetObjectItem(pd, kept[i]),
			cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "plugins_data"), kept[i]),
			true));
	q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "Memcache"), "queries"),
				1);
	assert_string_equal(cJSON_GetObjectItem(q0, "func_name")->valuestring, "set");
	assert_string_equal(cJSON_GetObjectItem(q0, "arg")->valuestring, "k2");
	assert_true(cJSON_GetObjectItem(q0, "time_taken")->valuedouble == 0.25);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(q0, "stack")));
	q1 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "CustomLog"), "logs"),
				2);
	assert_string_equal(cJSON_GetObjectItem(q1, "s")->valuestring, "<script>");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(q1, "stack")));
	/* the SQL query keeps its db and via beside Scooby's names */
	q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(pd, "SQL"), "queries"), 0);
	assert_string_equal(cJSON_GetObjectItem(q0, "db")->valuestring, "mysql");
	assert_string_equal(cJSON_GetObjectItem(q0, "via")->valuestring, "wire");
	cJSON_Delete(out);
	cJSON_Delete(rec);

	rec = parse("{\"uuid\":\"x\"}");
	assert_null(scooby_layout__new(rec));
	cJSON_Delete(rec);
	assert_null(scooby_layout__new(NULL));
}

/* Scooby's ViewName shows scooby_view_name where the record has one; view_reason and
 * scooby_view_name are scooby-bpf's, not Scooby's. */
static void test_scooby_layout_view(void **state)
{
	static const char *const cases[][2] = {
		{ "{\"view_name\":\"app.views.make.<locals>.made\","
		  "\"scooby_view_name\":\"app.views.made\",\"view_reason\":null}",
		  "{\"view_name\":\"app.views.made\",\"args\":[],\"kwargs\":{}}" },
		{ "{\"view_name\":\"app.views.items\"}",
		  "{\"view_name\":\"app.views.items\",\"args\":[],\"kwargs\":{}}" },
		{ "{\"view_name\":null,\"scooby_view_name\":null,\"view_reason\":\"no stack\"}",
		  "{\"view_name\":null,\"args\":[],\"kwargs\":{}}" },
	};
	char buf[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *rec, *out, *want = parse(cases[i][1]);

		snprintf(buf, sizeof(buf), "{\"plugins_data\":{\"ViewName\":%s}}", cases[i][0]);
		rec = parse(buf);
		out = scooby_layout__new(rec);
		assert_non_null(out);
		assert_true(cJSON_Compare(
			cJSON_GetObjectItem(cJSON_GetObjectItem(out, "plugins_data"), "ViewName"),
			want, true));
		cJSON_Delete(out);
		cJSON_Delete(rec);
		cJSON_Delete(want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_stores),
		cmocka_unit_test(test_n_plus_one),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_scooby_layout),
		cmocka_unit_test(test_scooby_layout_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
