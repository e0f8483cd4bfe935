/* Tests per-request profile files: runprofileserver's names, callgrind (via callgrind_annotate),
 * folded text, mode 0600 and never overwriting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/profile.h"
#include "sinks/proffile.h"

#define T_END 1700000000LL
#define CALLGRIND_ANNOTATE "/usr/bin/callgrind_annotate"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_proffile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* Returns the whole file at path (malloc'd). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_name(const char *fmt, const char *path, double ms, const char *want)
{
	char out[PROFFILE_NAME_MAX + 1];
	int err = proffile__name(fmt, path, ms, T_END, out, sizeof(out));

	if (err || strcmp(out, want))
		fprintf(stderr, "fmt %s path %s: %d '%s', want '%s'\n", fmt, path, err, out, want);
	assert_int_equal(err, 0);
	assert_string_equal(out, want);
	assert_int_equal(proffile__check_format(fmt, NULL, 0), 0);
}

/* runprofileserver's examples, and Python's str.format for the specs it allows. */
static void test_names(void **state)
{
	const char *def = PROFFILE_DEFAULT_FORMAT;

	assert_name(def, "/", 123.4, "root.000123ms.1700000000");
	assert_name(NULL, "/", 123.4, "root.000123ms.1700000000");
	assert_name(def, "/api/v1/items/", 123.9, "api.v1.items.000123ms.1700000000");
	assert_name(def, "/api/v1/items/?page=2&next=/a/b", 123,
		    "api.v1.items.000123ms.1700000000");
	assert_name(def, "/?q=1", 0.4, "root.000000ms.1700000000");
	assert_name(def, "http://example.com:8000/a/b/?x", 1234567.0, "a.b.1234567ms.1700000000");
	assert_name("{path}.{time}", "/x/y", 5, "x.y.1700000000");
	assert_name("{path}.{time:d}", "//x//y//", 5, "x..y.1700000000");
	assert_name("{duration}", "/", 123.999, "123");
	assert_name("{duration:>6}|{duration:<6}|{duration:^7}", "/", 42, "    42|42    |  42   ");
	assert_name("{duration:*^8d}", "/", 42, "***42***");
	assert_name("{duration:+d}.{duration: d}.{duration:#d}", "/", 42, "+42. 42.42");
	assert_name("{duration:=+6}", "/", 42, "+   42");
	assert_name("{duration:0>5}.{duration:05}", "/", 42, "00042.00042");
	assert_name("{path:.3}.{path:_<6}.{path:>5s}", "/ab/", 1, "ab.ab____.   ab");
	assert_name("{path:.4}", "/a/b/c", 1, "a.b.");
	assert_name("{{{path}}}.prof", "/x", 1, "{x}.prof");
	assert_name("}}x{{", "/x", 1, "}x{");
	assert_name("{time}", "/", 1, "1700000000");
	assert_name("{duration:06d}", "/", -5, "000000"); /* clock trouble: 0 */
}

/* Formats that do not render: each is -EINVAL, and check_format says why. */
static void test_bad_formats(void **state)
{
	static const char *const bad[] = {
		"{nope}",
		"{duration:zz}",
		"{",
		"{path",
		"x{path.{time}",
		"}",
		"a}b",
		"{}",
		"{path!r}",
		"{duration:.2}",
		"{path:+}",
		"{path:=5}",
		"{path:05}",
		"{path:d}",
		"{time:x}",
		"{duration:,d}",
		"{path:{time}}",
		"",
		"{duration:5.}",
		"{time:s}",
		"{duration:>>>5}",
		"{PATH}",
		"{ path }",
	};
	char out[PROFFILE_NAME_MAX + 1], err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (proffile__name(bad[i], "/x", 1, T_END, out, sizeof(out)) != -EINVAL)
			fail_msg("format '%s' rendered '%s'", bad[i], out);
		assert_string_equal(out, "");
		assert_int_equal(proffile__check_format(bad[i], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "does not render: "));
		assert_null(strchr(err, '\n'));
	}
	proffile__check_format("{nope}", err, sizeof(err));
	assert_string_equal(err, "--prof-file \"{nope}\" does not render: unknown key {nope}");
	proffile__check_format("{duration:zz}", err, sizeof(err));
	assert_non_null(strstr(err, "bad format spec in {duration:zz}"));
	proffile__check_format("{path", err, sizeof(err));
	assert_non_null(strstr(err, "unbalanced '{'"));
	assert_int_equal(proffile__check_format(NULL, err, sizeof(err)), 0);
	assert_int_equal(proffile__check_format("{nope}", NULL, 0), -EINVAL);
}

/* No '/', control byte or NUL in a name; at most 255 bytes, not cut inside a character. */
static void test_name_sanitise(void **state)
{
	char path[1024], out[PROFFILE_NAME_MAX + 1], small[8];
	size_t i;

	assert_name("a/b.{path}", "/x\ty\x7f", 1, "a_b.x_y_");
	assert_name("{path}", "/./", 1, "_");
	assert_name("{path}", "/../", 1, "__");
	assert_name("{path}", "/caf\xc3\xa9/", 1, "caf\xc3\xa9");
	path[0] = '/';
	for (i = 1; i + 2 < sizeof(path); i += 2)
		memcpy(path + i, "\xc3\xa9", 2);
	path[i] = '\0';
	assert_int_equal(proffile__name(NULL, path, 1, T_END, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 254); /* 127 two-byte characters */
	assert_int_equal(proffile__name(NULL, "/abcdefghij", 1, T_END, small, sizeof(small)), 0);
	assert_string_equal(small, "abcdefg");
	assert_int_equal(proffile__name(NULL, "/", 1, T_END, small, 0), -EINVAL);
	/* a huge width is cut like any long name */
	assert_int_equal(proffile__name("{duration:99999999999}", "/", 1, T_END, out, sizeof(out)),
			 0);
	assert_int_equal(strlen(out), PROFFILE_NAME_MAX);
}

/* The hand-built profile of the callgrind tests, at 999 Hz: 1001.001 us a sample. */
static struct profile *sample_profile(const char *views)
{
	struct profile *p = profile__new(999);
	struct frame f[3];
	int i;

	assert_non_null(p);
	memset(f, 0, sizeof(f));
	f[0] = (struct frame){ .filename = views, .lineno = 5, .function = "spin" };
	f[1] = (struct frame){ .filename = views, .lineno = 20, .function = "view" };
	f[2] = (struct frame){ .filename = "/srv/app/wsgi.py", .lineno = 10, .function = "main" };
	for (i = 0; i < 3; i++)
		assert_int_equal(profile__add_sample(p, f, 3), 0);
	f[0] = (struct frame){ .filename = "/srv/app/util.py", .lineno = 7, .function = "helper" };
	f[1].lineno = 21;
	assert_int_equal(profile__add_sample(p, f, 3), 0);
	f[0] = (struct frame){ .filename = views, .lineno = 6, .function = "spin" };
	f[1].lineno = 20;
	for (i = 0; i < 2; i++)
		assert_int_equal(profile__add_sample(p, f, 3), 0);
	profile__add_offcpu(p, 5000000);
	return p;
}

/* Writes p in format fmt under dir and returns the file's path (static). */
static const char *write_file(const struct profile *p, enum prof_format fmt, const char *path)
{
	static char written[4096];
	struct proffile_opts o = { .dir = dir, .format = fmt };

	assert_int_equal(proffile__write(&o, p, path, 11.5, T_END, written, sizeof(written)), 0);
	return written;
}

static void test_callgrind_exact(void **state)
{
	char views[128], want[2048], file[4096];
	struct profile *p;
	char *text;

	snprintf(views, sizeof(views), "%s/views.py", dir);
	p = sample_profile(views);
	snprintf(file, sizeof(file), "%s", write_file(p, PROF_CALLGRIND, "/spin/?n=1"));
	assert_string_equal(strrchr(file, '/'), "/spin.000011ms.1700000000");
	text = slurp(file);
	/* files numbered in name order; self costs 3003 + 2002 + 1001 = 6006 us exactly (1001.001
	 * us a sample); calls carry inclusive costs */
	snprintf(want, sizeof(want),
		 "# callgrind format\nversion: 1\ncreator: scooby-bpf\ncmd: /spin/?n=1\n"
		 "positions: line\nevents: us\n\n"
		 "fl=(3) %s\nfn=(1) spin\n5 3003\n6 2002\n"
		 "fl=(3)\nfn=(2) view\n"
		 "cfl=(3)\ncfn=(1) spin\ncalls=5 5\n20 5005\n"
		 "cfl=(1) /srv/app/util.py\ncfn=(4) helper\ncalls=1 7\n21 1001\n"
		 "fl=(2) /srv/app/wsgi.py\nfn=(3) main\n"
		 "cfl=(3)\ncfn=(2) view\ncalls=6 20\n10 6006\n"
		 "fl=(1)\nfn=(4) helper\n7 1001\n"
		 "fl=(5) [off-CPU]\nfn=(6) [off-CPU]\n1 5000\n"
		 "\ntotals: 11006\n",
		 views);
	assert_string_equal(text, want);
	free(text);
	profile__free(p);
}

/* Runs callgrind_annotate on file and returns its output, stderr included (malloc'd). */
static char *annotate(const char *file)
{
	char cmd[4200], *out = calloc(1, 1 << 16);
	size_t n = 0, got;
	FILE *f;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "cd / && " CALLGRIND_ANNOTATE " --inclusive=yes '%s' 2>&1",
		 file);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((got = fread(out + n, 1, (1 << 16) - 1 - n, f)) > 0)
		n += got;
	assert_int_equal(pclose(f), 0);
	return out;
}

/* callgrind_annotate reads the file without a warning: the totals, each function with its file
 * and inclusive cost, and the source lines of views.py with their own costs. */
static void test_callgrind_annotate(void **state)
{
	char views[128], line[256];
	struct profile *p;
	char *out;
	FILE *src;
	int i;

	if (access(CALLGRIND_ANNOTATE, X_OK))
		skip();
	snprintf(views, sizeof(views), "%s/views.py", dir);
	src = fopen(views, "w");
	assert_non_null(src);
	for (i = 1; i <= 25; i++)
		fprintf(src, "    line_%d()\n", i);
	fclose(src);
	p = sample_profile(views);
	out = annotate(write_file(p, PROF_CALLGRIND, "/spin/"));
	if (strstr(out, "WARNING") || strstr(out, "rror"))
		fail_msg("callgrind_annotate complained:\n%s", out);
	assert_non_null(strstr(out, "Profile data file"));
	assert_non_null(strstr(out, "(creator: scooby-bpf)"));
	assert_non_null(strstr(out, "11,006 (100.0%)  PROGRAM TOTALS"));
	snprintf(line, sizeof(line), "5,005 (45.48%%)  %s:spin\n", views);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof(line), "6,006 (54.57%%)  %s:view\n", views);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "6,006 (54.57%)  /srv/app/wsgi.py:main\n"));
	assert_non_null(strstr(out, "1,001 ( 9.10%)  /srv/app/util.py:helper\n"));
	assert_non_null(strstr(out, "5,000 (45.43%)  [off-CPU]:[off-CPU]\n"));
	assert_non_null(strstr(out, "3,003 (27.29%)      line_5()\n"));
	assert_non_null(strstr(out, "2,002 (18.19%)      line_6()\n"));
	free(out);
	profile__free(p);
}

static void test_folded_exact(void **state)
{
	struct profile *p = sample_profile("/srv/app/views.py");
	char *text;

	text = slurp(write_file(p, PROF_FOLDED, "/f/"));
	assert_string_equal(text, "main (/srv/app/wsgi.py:10);view (/srv/app/views.py:20);"
				  "spin (/srv/app/views.py:5) 3\n"
				  "main (/srv/app/wsgi.py:10);view (/srv/app/views.py:20);"
				  "spin (/srv/app/views.py:6) 2\n"
				  "main (/srv/app/wsgi.py:10);view (/srv/app/views.py:21);"
				  "helper (/srv/app/util.py:7) 1\n"
				  "[off-CPU] 5\n");
	free(text);
	profile__free(p);
}

/* 0600 whatever the umask, even none. */
static void test_mode_0600(void **state)
{
	struct profile *p = sample_profile("/srv/app/views.py");
	mode_t old = umask(0);
	struct stat st;

	assert_int_equal(stat(write_file(p, PROF_CALLGRIND, "/mode0/"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(0277);
	assert_int_equal(stat(write_file(p, PROF_FOLDED, "/mode277/"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	umask(old);
	profile__free(p);
}

/* A name taken gets ".1", ".2"; the file there keeps its content. */
static void test_no_overwrite(void **state)
{
	struct profile *p = sample_profile("/srv/app/views.py");
	char first[256], path[4096], *text;
	FILE *f;

	snprintf(first, sizeof(first), "%s/same.000011ms.1700000000", dir);
	f = fopen(first, "w");
	assert_non_null(f);
	fputs("mine\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s.1", first);
	assert_string_equal(write_file(p, PROF_FOLDED, "/same/"), path);
	snprintf(path, sizeof(path), "%s.2", first);
	assert_string_equal(write_file(p, PROF_CALLGRIND, "/same"), path);
	text = slurp(first);
	assert_string_equal(text, "mine\n");
	free(text);
	/* a link in the way is not followed either */
	snprintf(path, sizeof(path), "%s/link.000011ms.1700000000", dir);
	assert_int_equal(symlink("/nonexistent/target", path), 0);
	snprintf(path, sizeof(path), "%s/link.000011ms.1700000000.1", dir);
	assert_string_equal(write_file(p, PROF_FOLDED, "/link"), path);
	assert_int_equal(access("/nonexistent/target", F_OK), -1);
	profile__free(p);
}

/* --prof-min-ms skips; a format that does not render, a missing directory: errors, no file. */
static void test_skip_and_errors(void **state)
{
	struct profile *p = sample_profile("/srv/app/views.py");
	struct proffile_opts o = { .dir = dir, .min_ms = 12 };
	char written[256] = "x", path[4096];

	assert_int_equal(proffile__write(&o, p, "/fast/", 11.9, T_END, written, sizeof(written)),
			 1);
	assert_string_equal(written, "");
	snprintf(path, sizeof(path), "%s/fast.000011ms.1700000000", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(proffile__write(&o, p, "/slow/", 12, T_END, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/slow.000012ms.1700000000", dir);
	assert_int_equal(access(path, F_OK), 0);
	o.name_format = "{nope}";
	assert_int_equal(proffile__write(&o, p, "/slow/", 12, T_END, written, sizeof(written)),
			 -EINVAL);
	o.name_format = NULL;
	o.dir = "/nonexistent/dir";
	assert_int_equal(proffile__write(&o, p, "/slow/", 12, T_END, written, sizeof(written)),
			 -ENOENT);
	assert_int_equal(proffile__write(NULL, p, "/", 12, T_END, NULL, 0), -EINVAL);
	profile__free(p);
}

/* "[other]" and native frames in callgrind: functions of their own, still parseable. */
static void test_callgrind_other_native(void **state)
{
	struct profile *p = profile__new(1000);
	struct frame f[2] = {
		{ .native = true, .module = "/lib/libc.so.6", .symbol = "memcpy" },
		{ .filename = "/srv/a.py", .lineno = 3, .function = "(1) odd\nname" }
	};
	struct frame g = { .filename = "/srv/a.py", .lineno = 4, .function = "g" };
	char *text, *out;
	const char *file;
	int i;

	for (i = 0; i < PROFILE_MAX_STACKS; i++) {
		g.lineno = i + 10;
		assert_int_equal(profile__add_sample(p, &g, 1), 0);
	}
	assert_int_equal(profile__add_sample(p, f, 2), 0); /* past the cap */
	file = write_file(p, PROF_CALLGRIND, "/other\n/");
	text = slurp(file);
	assert_non_null(strstr(text, "cmd: /other_/\n"));
	assert_non_null(strstr(text, "fl=(2) [other]\nfn=(2) [other]\n1 1000\n"));
	assert_non_null(strstr(text, "\ntotals: 5001000\n"));
	free(text);
	if (!access(CALLGRIND_ANNOTATE, X_OK)) {
		out = annotate(file);
		assert_null(strstr(out, "WARNING"));
		assert_non_null(strstr(out, "5,001,000 (100.0%)  PROGRAM TOTALS"));
		free(out);
	}
	profile__free(p);
	/* a native frame and an odd name, under the cap */
	p = profile__new(1000);
	assert_int_equal(profile__add_sample(p, f, 2), 0);
	file = write_file(p, PROF_CALLGRIND, "/native/");
	text = slurp(file);
	assert_non_null(strstr(text, "fl=(2) /srv/a.py\nfn=(2) (1) odd_name\n"));
	assert_non_null(strstr(text, "fl=(1) /lib/libc.so.6\nfn=(1) memcpy\n0 1000\n"));
	assert_non_null(strstr(text, "cfl=(1)\ncfn=(1) memcpy\ncalls=1 0\n3 1000\n"));
	free(text);
	if (!access(CALLGRIND_ANNOTATE, X_OK)) {
		out = annotate(file);
		assert_null(strstr(out, "WARNING"));
		assert_non_null(strstr(out, "1,000 (100.0%)  /lib/libc.so.6:memcpy\n"));
		assert_non_null(strstr(out, "1,000 (100.0%)  /srv/a.py:(1) odd_name\n"));
		free(out);
	}
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bad_formats),
		cmocka_unit_test(test_name_sanitise),
		cmocka_unit_test(test_callgrind_exact),
		cmocka_unit_test(test_callgrind_annotate),
		cmocka_unit_test(test_folded_exact),
		cmocka_unit_test(test_mode_0600),
		cmocka_unit_test(test_no_overwrite),
		cmocka_unit_test(test_skip_and_errors),
		cmocka_unit_test(test_callgrind_other_native),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
