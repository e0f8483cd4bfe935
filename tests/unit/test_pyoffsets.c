/* Checks the built-in CPython layouts against offsetof() over each installed interpreter's own headers. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "python/pyoffsets.h"

/* Compiles tests/pyoffsets/gen.c against include dir inc and returns what it prints. */
static char *gen_for(const char *inc)
{
	char cmd[1024], *out = calloc(1, 4096);
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "gcc -I%s -I%s/internal tests/pyoffsets/gen.c -o build/tests/pyoffsets_gen && "
		 "build/tests/pyoffsets_gen",
		 inc, inc);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 4096, f));
	assert_int_equal(pclose(f), 0);
	out[strcspn(out, "\n")] = 0;
	return out;
}

static void check_dir(const char *inc)
{
	char *got = gen_for(inc), want[4096];
	const struct py_layout *l;
	int minor = -1;

	assert_int_equal(sscanf(got, "3.%d", &minor), 1);
	l = py_layout__get(minor);
	assert_non_null(l);
	py_layout__format(l, want, sizeof(want));
	printf("checked 3.%d against %s\n", minor, inc);
	assert_string_equal(got, want);
	free(got);
}

static void test_installed_headers(void **state)
{
	glob_t g = {};
	size_t i, n = 0;

	/* Debian's python3.11-dev and every pyenv interpreter on the machine */
	if (glob("/usr/include/python3.[0-9]*", 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++, n++)
			check_dir(g.gl_pathv[i]);
		globfree(&g);
	}
	if (glob("/root/.pyenv/versions/3.*/include/python3.*", 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			if (strstr(g.gl_pathv[i], "/python3.6") ||
			    strstr(g.gl_pathv[i], "/python3.7"))
				continue; /* older than we support */
			check_dir(g.gl_pathv[i]);
			n++;
		}
		globfree(&g);
	}
	/* in CI the headers must be there: a check that checked nothing is a failure */
	if (getenv("CI"))
		assert_true(n >= 2);
}

static void test_unknown_versions(void **state)
{
	assert_null(py_layout__get(7));
	assert_null(py_layout__get(14));
	assert_non_null(py_layout__get(8));
	assert_non_null(py_layout__get(13));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_installed_headers),
		cmocka_unit_test(test_unknown_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
