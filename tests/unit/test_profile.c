/* Tests the per-request profile: exact Profile JSON, folded stacks, recursion, caps, rounding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "record/profile.h"

/* A frame to build: Python file:line function, or native module symbol (line ignored). */
struct fspec {
	const char *file;
	int line;
	const char *func;
	bool native;
};

#define PY(file, line, func)            \
	{                               \
		file, line, func, false \
	}
#define NATIVE(module, sym)          \
	{                            \
		module, 0, sym, true \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Adds count samples of the stack spec (innermost first); native offsets vary per sample. */
static void add(struct profile *p, const struct fspec *spec, size_t n, int count)
{
	struct frame frames[16];
	size_t i;

	assert_true(n <= N(frames));
	while (count--) {
		memset(frames, 0, sizeof(frames));
		for (i = 0; i < n; i++) {
			frames[i].native = spec[i].native;
			frames[i].lineno = spec[i].line;
			if (spec[i].native) {
				frames[i].module = spec[i].file;
				frames[i].symbol = spec[i].func;
				frames[i].offset = 16 * count + i;
			} else {
				frames[i].filename = spec[i].file;
				frames[i].function = spec[i].func;
			}
		}
		assert_int_equal(profile__add_sample(p, frames, n), 0);
	}
}

/* Asserts the unformatted JSON of p's Profile. */
static void assert_json(const struct profile *p, double duration_ms, const char *want)
{
	cJSON *j = profile__to_json(p, duration_ms);
	char *text;

	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(text);
	if (strcmp(text, want))
		fprintf(stderr, "got:  %s\nwant: %s\n", text, want);
	assert_string_equal(text, want);
	free(text);
	cJSON_Delete(j);
}

#define WSGI "/srv/app/wsgi.py"
#define VIEWS "/srv/app/views.py"
#define UTIL "/srv/app/util.py"
#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static const struct fspec spin5[] = { PY(VIEWS, 5, "spin"), PY(VIEWS, 20, "view"),
				      PY(WSGI, 10, "main") };
static const struct fspec helper[] = { PY(UTIL, 7, "helper"), PY(VIEWS, 21, "view"),
				       PY(WSGI, 10, "main") };
static const struct fspec spin6[] = { PY(VIEWS, 6, "spin"), PY(VIEWS, 20, "view"),
				      PY(WSGI, 10, "main") };
static const struct fspec memcpy6[] = { NATIVE(LIBC, "memcpy"), PY(VIEWS, 6, "spin"),
					PY(VIEWS, 20, "view"), PY(WSGI, 10, "main") };
static const struct fspec odd[] = { PY("/srv/app/x.py", 1, "a;b\nc") };

#define S_SPIN5 "main (" WSGI ":10);view (" VIEWS ":20);spin (" VIEWS ":5)"
#define S_SPIN6 "main (" WSGI ":10);view (" VIEWS ":20);spin (" VIEWS ":6)"
#define S_MEMCPY S_SPIN6 ";memcpy (" LIBC ")"
#define S_HELPER "main (" WSGI ":10);view (" VIEWS ":21);helper (" UTIL ":7)"

static void test_json_exact(void **state)
{
	struct profile *p = profile__new(100);

	assert_non_null(p);
	add(p, spin5, N(spin5), 3);
	add(p, helper, N(helper), 1);
	add(p, spin6, N(spin6), 2);
	add(p, memcpy6, N(memcpy6), 2); /* two offsets in memcpy: one frame */
	assert_int_equal(profile__add_sample(p, NULL, 0), 0); /* no stack: unresolved */
	add(p, odd, N(odd), 1);
	profile__add_offcpu(p, 20000000);
	profile__add_offcpu(p, 3000000); /* 23 ms: 2.3 samples at 100 Hz */
	assert_json(
		p, 150,
		"{\"samples\":10,\"hz\":100,\"cpu_ms\":100,\"offcpu_ms\":23,\"offcpu_share\":0.153,"
		"\"top_self\":["
		"{\"function\":\"spin\",\"filename\":\"" VIEWS "\",\"lineno\":5,\"samples\":5},"
		"{\"function\":\"memcpy\",\"filename\":\"" LIBC "\",\"lineno\":null,\"samples\":2},"
		"{\"function\":\"[unresolved]\",\"filename\":null,\"lineno\":null,\"samples\":1},"
		"{\"function\":\"a;b\\nc\",\"filename\":\"/srv/app/x.py\",\"lineno\":1,\"samples\":1},"
		"{\"function\":\"helper\",\"filename\":\"" UTIL "\",\"lineno\":7,\"samples\":1}],"
		"\"top_total\":["
		"{\"function\":\"main\",\"filename\":\"" WSGI "\",\"lineno\":10,\"samples\":8},"
		"{\"function\":\"view\",\"filename\":\"" VIEWS "\",\"lineno\":20,\"samples\":8},"
		"{\"function\":\"spin\",\"filename\":\"" VIEWS "\",\"lineno\":6,\"samples\":7},"
		"{\"function\":\"memcpy\",\"filename\":\"" LIBC "\",\"lineno\":null,\"samples\":2},"
		"{\"function\":\"[unresolved]\",\"filename\":null,\"lineno\":null,\"samples\":1},"
		"{\"function\":\"a;b\\nc\",\"filename\":\"/srv/app/x.py\",\"lineno\":1,\"samples\":1},"
		"{\"function\":\"helper\",\"filename\":\"" UTIL "\",\"lineno\":7,\"samples\":1}],"
		"\"folded\":["
		"{\"stack\":\"" S_SPIN5 "\",\"samples\":3},"
		"{\"stack\":\"" S_SPIN6 "\",\"samples\":2},"
		"{\"stack\":\"" S_MEMCPY "\",\"samples\":2},"
		"{\"stack\":\"[unresolved]\",\"samples\":1},"
		"{\"stack\":\"a_b_c (/srv/app/x.py:1)\",\"samples\":1},"
		"{\"stack\":\"" S_HELPER "\",\"samples\":1},"
		"{\"stack\":\"[off-CPU]\",\"samples\":2}]}");
	profile__free(p);
}

static void test_empty_and_rounding(void **state)
{
	struct profile *p = profile__new(999);
	cJSON *j;

	assert_null(profile__new(0));
	profile__free(NULL);
	profile__add_offcpu(NULL, 1);
	assert_json(p, 0,
		    "{\"samples\":0,\"hz\":999,\"cpu_ms\":0,\"offcpu_ms\":0,\"offcpu_share\":null,"
		    "\"top_self\":[],\"top_total\":[],\"folded\":[]}");
	/* 1001.001 us per sample: to the microsecond; 1.5 us off-CPU rounds up */
	add(p, spin5, 1, 1);
	profile__add_offcpu(p, 1500);
	assert_json(p, 0.5,
		    "{\"samples\":1,\"hz\":999,\"cpu_ms\":1.001,\"offcpu_ms\":0.002,"
		    "\"offcpu_share\":0.004,"
		    "\"top_self\":[{\"function\":\"spin\",\"filename\":\"" VIEWS "\","
		    "\"lineno\":5,\"samples\":1}],"
		    "\"top_total\":[{\"function\":\"spin\",\"filename\":\"" VIEWS "\","
		    "\"lineno\":5,\"samples\":1}],"
		    "\"folded\":[{\"stack\":\"spin (" VIEWS ":5)\",\"samples\":1}]}");
	/* off-CPU longer than the request (clock edges): the share stops at 1 */
	profile__add_offcpu(p, 2000000);
	j = profile__to_json(p, 1.0);
	assert_non_null(j);
	assert_true(cJSON_GetObjectItem(j, "offcpu_share")->valuedouble == 1.0);
	cJSON_Delete(j);
	profile__free(p);
}

/* Recursion counts a sample once per function in total, and self only for the innermost. */
static void test_recursion(void **state)
{
	static const struct fspec rec[] = { PY(VIEWS, 3, "fib"), PY(VIEWS, 4, "fib"),
					    PY(VIEWS, 4, "fib"), PY(VIEWS, 20, "view") };
	struct profile *p = profile__new(10);

	add(p, rec, N(rec), 4);
	assert_json(p, 1000,
		    "{\"samples\":4,\"hz\":10,\"cpu_ms\":400,\"offcpu_ms\":0,\"offcpu_share\":0,"
		    "\"top_self\":[{\"function\":\"fib\",\"filename\":\"" VIEWS "\","
		    "\"lineno\":3,\"samples\":4}],"
		    "\"top_total\":[{\"function\":\"fib\",\"filename\":\"" VIEWS "\","
		    "\"lineno\":3,\"samples\":4},"
		    "{\"function\":\"view\",\"filename\":\"" VIEWS
		    "\",\"lineno\":20,\"samples\":4}],"
		    "\"folded\":[{\"stack\":\"view (" VIEWS ":20);fib (" VIEWS ":4);fib (" VIEWS
		    ":4);fib (" VIEWS ":3)\",\"samples\":4}]}");
	profile__free(p);
}

/* Asserts entry i of top list key: its function and samples. */
static void assert_top(cJSON *j, const char *key, int i, const char *function, int samples)
{
	cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, key), i);

	assert_non_null(e);
	assert_string_equal(cJSON_GetObjectItem(e, "function")->valuestring, function);
	assert_int_equal(cJSON_GetObjectItem(e, "samples")->valueint, samples);
}

/* Past PROFILE_MAX_STACKS a new stack is "[other]", a known one still counts as itself; the
 * JSON keeps 200 stacks and 20 functions. */
static void test_caps(void **state)
{
	struct profile *p = profile__new(1000);
	struct fspec one[2] = { PY(VIEWS, 0, "f"), PY(VIEWS, 1, "top") };
	struct profile_folded *f;
	cJSON *j, *folded, *last;
	char names[PROFILE_MAX_STACKS + 10][16];
	size_t i, n;

	for (i = 0; i < PROFILE_MAX_STACKS + 10; i++) {
		snprintf(names[i], sizeof(names[i]), "f%05zu", i);
		one[0].func = names[i];
		one[0].line = (int)i + 1;
		add(p, one, 2, i < 3 ? 2 : 1);
	}
	one[0].func = names[0];
	one[0].line = 1;
	add(p, one, 2, 1); /* known: not [other] */
	assert_int_equal(profile__nstacks(p), PROFILE_MAX_STACKS);
	assert_int_equal(profile__other_samples(p), 10);
	assert_int_equal(profile__samples(p), PROFILE_MAX_STACKS + 10 + 3 + 1);
	assert_int_equal(profile__folded(p, &f, &n), 0);
	assert_int_equal(n, PROFILE_MAX_STACKS + 1);
	assert_string_equal(f[0].stack, "top (" VIEWS ":1);f00000 (" VIEWS ":1)");
	assert_int_equal(f[0].samples, 3);
	assert_string_equal(f[n - 1].stack, "[other]");
	assert_int_equal(f[n - 1].samples, 10);
	profile_folded__free(f, n);

	j = profile__to_json(p, 10000);
	assert_non_null(j);
	folded = cJSON_GetObjectItem(j, "folded");
	assert_int_equal(cJSON_GetArraySize(folded), PROFILE_JSON_FOLDED + 1);
	last = cJSON_GetArrayItem(folded, PROFILE_JSON_FOLDED);
	assert_string_equal(cJSON_GetObjectItem(last, "stack")->valuestring, "[other]");
	/* 5000 kept stacks of which 200 shown, plus the 10 past the cap */
	assert_int_equal(cJSON_GetObjectItem(last, "samples")->valueint,
			 PROFILE_MAX_STACKS + 3 + 1 - (3 * 2 + 1 + 197) + 10);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "top_self")), PROFILE_JSON_TOP);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "top_total")), PROFILE_JSON_TOP);
	/* the first 20 of the 5001 functions kept, by samples then by name: the 3-sample one,
	 * the two of 2, then the ties of 1 from f00003 on, wherever the selection met them */
	assert_top(j, "top_self", 0, "f00000", 3);
	assert_top(j, "top_self", 2, "f00002", 2);
	assert_top(j, "top_self", 3, "f00003", 1);
	assert_top(j, "top_self", PROFILE_JSON_TOP - 1, "f00019", 1);
	assert_top(j, "top_total", 0, "top", PROFILE_MAX_STACKS + 3 + 1); /* the kept stacks */
	assert_top(j, "top_total", 1, "f00000", 3);
	assert_top(j, "top_total", PROFILE_JSON_TOP - 1, "f00018", 1);
	cJSON_Delete(j);
	profile__free(p);
}

/* Ties in the top lists go by name as strcmp orders them, names alike in their first 8 bytes
 * and names that are prefixes of others included, then by file. */
static void test_top_ties_by_name(void **state)
{
	static const struct fspec s[][1] = {
		{ PY(VIEWS, 1, "handle_request_b") },
		{ PY(VIEWS, 2, "handlf") },
		{ PY(VIEWS, 3, "handle_request_a") },
		{ PY("/srv/b.py", 4, "view") },
		{ PY(VIEWS, 5, "handle") },
		{ PY("/srv/a.py", 6, "view") },
		{ PY(VIEWS, 7, "a") },
	};
	static const char *const want[] = {
		"a", "handle", "handle_request_a", "handle_request_b", "handlf", "view", "view"
	};
	struct profile *p = profile__new(100);
	cJSON *j;
	size_t i;

	(void)state;
	for (i = 0; i < N(s); i++)
		add(p, s[i], 1, 1);
	j = profile__to_json(p, 1000);
	assert_non_null(j);
	for (i = 0; i < N(want); i++)
		assert_top(j, "top_self", (int)i, want[i], 1);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "top_self"), 5),
				    "filename")
			->valuestring,
		"/srv/a.py");
	cJSON_Delete(j);
	profile__free(p);
}

/* Labels that fold to the same text are one entry; bad UTF-8 still makes valid JSON. */
static void test_merge_and_utf8(void **state)
{
	static const struct fspec a[] = { PY(VIEWS, 1, "x;y") };
	static const struct fspec b[] = { PY(VIEWS, 1, "x_y") };
	static const struct fspec c[] = { PY("/srv/\xff.py", 2, "g") };
	struct profile *p = profile__new(100);
	struct profile_folded *f;
	size_t n;
	cJSON *j;
	char *text;

	add(p, a, 1, 1);
	add(p, b, 1, 2);
	add(p, c, 1, 1);
	assert_int_equal(profile__folded(p, &f, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].stack, "x_y (" VIEWS ":1)");
	assert_int_equal(f[0].samples, 3);
	profile_folded__free(f, n);
	j = profile__to_json(p, 100);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "\"filename\":\"/srv/\xef\xbf\xbd.py\""));
	free(text);
	cJSON_Delete(j);
	profile__free(p);
}

/* Random stacks over labels that share prefixes, end inside one another ("f (m)" in
 * "f (m)z)" and "f (m))", whose next bytes sort after and before the separator ';'), or
 * fold alike ("x;y" and "x_y"): the folded lines come out distinct, by samples descending
 * and ties in strcmp order of their texts, every sample kept. */
static void test_fold_order_is_strcmp(void **state)
{
	static const struct fspec vocab[] = {
		PY(VIEWS, 1, "f"),   PY(VIEWS, 10, "f"), PY(VIEWS, 1, "x;y"),
		PY(VIEWS, 1, "x_y"), NATIVE("m", "f"),	 NATIVE("m)z", "f"),
		NATIVE("m)", "f"),   PY(UTIL, 2, "g"),	 PY(WSGI, 3, "main"),
	};
	struct profile *p = profile__new(100);
	struct fspec spec[6];
	struct profile_folded *f;
	uint64_t total = 0, got = 0;
	uint32_t rng = 12345;
	size_t n, i, k, depth;
	int count;

	for (i = 0; i < 400; i++) {
		rng = rng * 1103515245 + 12345;
		depth = 1 + (rng >> 16) % 5;
		for (k = 0; k < depth; k++) {
			rng = rng * 1103515245 + 12345;
			spec[k] = vocab[(rng >> 16) % N(vocab)];
		}
		count = 1 + (rng >> 8) % 3;
		add(p, spec, depth, count);
		total += count;
	}
	assert_int_equal(profile__folded(p, &f, &n), 0);
	assert_true(n > 100);
	for (i = 0; i < n; i++) {
		got += f[i].samples;
		if (i && f[i - 1].samples == f[i].samples)
			assert_true(strcmp(f[i - 1].stack, f[i].stack) < 0);
		else if (i)
			assert_true(f[i - 1].samples > f[i].samples);
		for (k = 0; k < i; k++)
			assert_true(strcmp(f[k].stack, f[i].stack) != 0);
	}
	assert_int_equal(got, total);
	profile_folded__free(f, n);
	profile__free(p);
}

/* The read-back API the file writers use. */
static void test_read_back(void **state)
{
	struct profile *p = profile__new(100);
	const uint32_t *ids;
	const char *file, *name;
	uint32_t fn;
	size_t depth;

	add(p, memcpy6, N(memcpy6), 2);
	assert_int_equal(profile__hz(p), 100);
	assert_int_equal(profile__nstacks(p), 1);
	assert_int_equal(profile__stack(p, 0, &ids, &depth), 2);
	assert_int_equal(depth, 4);
	assert_int_equal(profile__nframes(p), 4);
	assert_int_equal(profile__nfuncs(p), 4);
	assert_int_equal(profile__frame(p, ids[0], &fn), 0);
	name = profile__func(p, fn, &file);
	assert_string_equal(name, "memcpy");
	assert_string_equal(file, LIBC);
	assert_int_equal(profile__frame(p, ids[1], &fn), 6);
	assert_string_equal(profile__func(p, fn, &file), "spin");
	assert_string_equal(file, VIEWS);
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_exact),     cmocka_unit_test(test_empty_and_rounding),
		cmocka_unit_test(test_recursion),      cmocka_unit_test(test_caps),
		cmocka_unit_test(test_merge_and_utf8), cmocka_unit_test(test_fold_order_is_strcmp),
		cmocka_unit_test(test_read_back),      cmocka_unit_test(test_top_ties_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
