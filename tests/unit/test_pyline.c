/* Unit tests for pyline_addr2line: tables from real code objects of every CPython, hand-made and garbage tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyline.h"

/* One code object of a fixture file (tests/pyline/gen_fixtures.py writes them). */
struct fx_code {
	int firstlineno;
	long codelen;
	unsigned char *table;
	size_t len;
	long *offsets; /* every offset CPython reported a line for, and that line */
	int *lines;
	size_t n;
	long end; /* first offset past the table (3.10+), or -1 when unknown */
};

struct fixture {
	char *path;
	int minor;
	struct fx_code *codes;
	size_t ncodes;
	size_t nlive;
	long (*live)[3]; /* code index, f_lasti (bytes), f_lineno */
};

/* Totals over all tests, printed so a run shows how much was checked. */
static size_t checked_offsets, checked_live, checked_prefix, fixture_files;

static const char *fixture_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("SCOOBY_FIXTURES");
	char file[PATH_MAX];

	if (env)
		return env;
	/* make builds from the repo root, so __FILE__ is tests/unit/test_pyline.c */
	snprintf(file, sizeof(file), "%s", __FILE__);
	snprintf(dir, sizeof(dir), "%s/fixtures", dirname(file));
	return dir;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes a hex string into a malloc'd buffer exactly len bytes long (so ASan sees overreads). */
static unsigned char *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex), i;
	unsigned char *out;

	if (!strcmp(hex, "-")) {
		*len = 0;
		return malloc(1);
	}
	assert_int_equal(n % 2, 0);
	out = malloc(n / 2 ? n / 2 : 1);
	assert_non_null(out);
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		out[i] = hi << 4 | lo;
	}
	*len = n / 2;
	return out;
}

static struct fx_code *fixture__code(struct fixture *f, long idx)
{
	assert_true(idx >= 0 && (size_t)idx < f->ncodes);
	return &f->codes[idx];
}

static void fixture__parse_lines(struct fixture *f, char *rest)
{
	char *save = NULL, *tok = strtok_r(rest, " \n", &save);
	struct fx_code *c = fixture__code(f, strtol(tok, NULL, 10));
	size_t cap = 0;
	long off;
	int line;

	while ((tok = strtok_r(NULL, " \n", &save))) {
		assert_int_equal(sscanf(tok, "%ld:%d", &off, &line), 2);
		if (c->n == cap) {
			cap = cap ? 2 * cap : 64;
			c->offsets = realloc(c->offsets, cap * sizeof(*c->offsets));
			c->lines = realloc(c->lines, cap * sizeof(*c->lines));
			assert_true(c->offsets && c->lines);
		}
		c->offsets[c->n] = off;
		c->lines[c->n++] = line;
	}
}

static void fixture__load(struct fixture *f, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, name[256], hex[1 << 16];
	size_t cap = 0;
	long idx, a, b;
	int first;
	long codelen;

	memset(f, 0, sizeof(*f));
	f->minor = -1;
	f->path = strdup(path);
	assert_non_null(fp);
	while (getline(&line, &cap, fp) > 0) {
		if (line[0] == '#' || !strncmp(line, "version ", 8))
			continue;
		if (sscanf(line, "minor %d", &f->minor) == 1)
			continue;
		if (!strncmp(line, "code ", 5)) {
			struct fx_code *c;

			assert_true(strlen(line) < sizeof(hex));
			assert_int_equal(sscanf(line, "code %ld %255s %d %ld %65535s", &idx, name,
						&first, &codelen, hex),
					 5);
			assert_int_equal(idx, (long)f->ncodes);
			f->codes = realloc(f->codes, (f->ncodes + 1) * sizeof(*f->codes));
			assert_non_null(f->codes);
			c = &f->codes[f->ncodes++];
			memset(c, 0, sizeof(*c));
			c->firstlineno = first;
			c->codelen = codelen;
			c->end = -1;
			c->table = unhex(hex, &c->len);
		} else if (!strncmp(line, "lines ", 6)) {
			fixture__parse_lines(f, line + 6);
		} else if (sscanf(line, "end %ld %ld", &idx, &a) == 2) {
			fixture__code(f, idx)->end = a;
		} else if (sscanf(line, "live %ld %ld %ld", &idx, &a, &b) == 3) {
			f->live = realloc(f->live, (f->nlive + 1) * sizeof(*f->live));
			assert_non_null(f->live);
			f->live[f->nlive][0] = idx;
			f->live[f->nlive][1] = a;
			f->live[f->nlive][2] = b;
			f->nlive++;
		} else {
			fail_msg("%s: unexpected line: %s", path, line);
		}
	}
	free(line);
	fclose(fp);
	assert_true(f->minor >= PYLINE_MIN_MINOR && f->minor <= PYLINE_MAX_MINOR);
	assert_true(f->ncodes > 0);
}

static void fixture__free(struct fixture *f)
{
	size_t i;

	for (i = 0; i < f->ncodes; i++) {
		free(f->codes[i].table);
		free(f->codes[i].offsets);
		free(f->codes[i].lines);
	}
	free(f->codes);
	free(f->live);
	free(f->path);
}

/* Calls fn on every fixture file; fails when there is none (a silent pass would hide a bad path). */
static void each_fixture(void (*fn)(struct fixture *f))
{
	char pattern[PATH_MAX + 32];
	struct fixture f;
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "%s/pyline_*.txt", fixture_dir());
	if (glob(pattern, 0, NULL, &g) || g.gl_pathc == 0)
		fail_msg("no fixtures match %s (set SCOOBY_FIXTURES)", pattern);
	for (i = 0; i < g.gl_pathc; i++) {
		fixture__load(&f, g.gl_pathv[i]);
		fn(&f);
		fixture__free(&f);
	}
	globfree(&g);
}

static void check_offsets(struct fixture *f)
{
	size_t i, j;
	int got;

	fixture_files++;
	for (i = 0; i < f->ncodes; i++) {
		struct fx_code *c = &f->codes[i];

		assert_true(c->n > 0);
		for (j = 0; j < c->n; j++) {
			got = pyline_addr2line(f->minor, c->table, c->len, c->firstlineno,
					       c->offsets[j]);
			if (got != c->lines[j])
				fail_msg("%s: code %zu offset %ld: got line %d, CPython says %d",
					 f->path, i, c->offsets[j], got, c->lines[j]);
			checked_offsets++;
		}
		if (c->end >= 0) {
			assert_int_equal(c->end, c->codelen);
			got = pyline_addr2line(f->minor, c->table, c->len, c->firstlineno, c->end);
			if (got != -1)
				fail_msg("%s: code %zu: offset %ld past the table gave %d", f->path,
					 i, c->end, got);
		}
		assert_int_equal(pyline_addr2line(f->minor, c->table, c->len, c->firstlineno, -1),
				 -1);
	}
}

static void test_real_tables(void **state)
{
	(void)state;
	each_fixture(check_offsets);
	print_message("pyline: %zu offsets from %zu fixture files agree with CPython\n",
		      checked_offsets, fixture_files);
}

/* The (f_lasti, f_lineno) pairs of caller frames seen live: the walker's exact inputs. */
static void check_live(struct fixture *f)
{
	size_t i;
	int got;

	assert_true(f->nlive > 10);
	for (i = 0; i < f->nlive; i++) {
		struct fx_code *c = fixture__code(f, f->live[i][0]);

		got = pyline_addr2line(f->minor, c->table, c->len, c->firstlineno, f->live[i][1]);
		if (got != f->live[i][2])
			fail_msg(
				"%s: live frame of code %ld at lasti %ld: got %d, f_lineno was %ld",
				f->path, f->live[i][0], f->live[i][1], got, f->live[i][2]);
		checked_live++;
	}
}

static void test_live_frames(void **state)
{
	(void)state;
	each_fixture(check_live);
	print_message("pyline: %zu live caller frames agree with f_lineno\n", checked_live);
}

/*
 * Every prefix of every real table (copied to a buffer of exactly that size,
 * so ASan catches a read past it): for 3.10+ the answer is the right line or
 * -1, never a wrong line; 3.8/3.9 tables do not say where they end, so there
 * any line is possible but it must still be -1 or a line.
 */
static void check_prefix_at(struct fixture *f, size_t i, const unsigned char *buf, size_t p,
			    size_t j)
{
	struct fx_code *c = &f->codes[i];
	int got = pyline_addr2line(f->minor, buf, p, c->firstlineno, c->offsets[j]);

	if (f->minor >= 10 && got != -1 && got != c->lines[j])
		fail_msg("%s: code %zu cut to %zu bytes: offset %ld gave %d, not %d or -1", f->path,
			 i, p, c->offsets[j], got, c->lines[j]);
	assert_true(got >= -1);
	checked_prefix++;
}

static void check_prefixes(struct fixture *f)
{
	size_t i, p, j, stride;
	unsigned char *buf;

	for (i = 0; i < f->ncodes; i++) {
		struct fx_code *c = &f->codes[i];

		/* about 8 offsets per prefix, the last one always: enough, and fast */
		stride = c->n / 8 + 1;
		for (p = 0; p < c->len; p++) {
			buf = malloc(p ? p : 1);
			assert_non_null(buf);
			memcpy(buf, c->table, p);
			for (j = 0; j < c->n; j += stride)
				check_prefix_at(f, i, buf, p, j);
			check_prefix_at(f, i, buf, p, c->n - 1);
			free(buf);
		}
	}
}

static void test_truncated_tables(void **state)
{
	(void)state;
	each_fixture(check_prefixes);
	print_message("pyline: %zu lookups in truncated tables\n", checked_prefix);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rand64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random bytes, and real tables with random bytes flipped: -1 or a line, no crash, no overread. */
static void check_mutations(struct fixture *f)
{
	size_t i, k, pos;
	unsigned char *buf;
	int got;

	for (i = 0; i < f->ncodes; i++) {
		struct fx_code *c = &f->codes[i];

		if (!c->len)
			continue;
		buf = malloc(c->len);
		assert_non_null(buf);
		for (k = 0; k < 64; k++) {
			memcpy(buf, c->table, c->len);
			pos = rand64() % c->len;
			buf[pos] = rand64();
			got = pyline_addr2line(f->minor, buf, c->len, c->firstlineno,
					       c->offsets[rand64() % c->n]);
			assert_true(got >= -1);
		}
		free(buf);
	}
}

static void test_garbage(void **state)
{
	static const int minors[] = { 8, 9, 10, 11, 12, 13 };
	unsigned char *buf;
	size_t len, i, m, k;
	int got;

	(void)state;
	for (i = 0; i < 20000; i++) {
		len = rand64() % 80;
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		for (k = 0; k < len; k++)
			buf[k] = rand64();
		for (m = 0; m < sizeof(minors) / sizeof(minors[0]); m++) {
			got = pyline_addr2line(minors[m], buf, len, rand64() % 100000,
					       rand64() % 4096);
			assert_true(got >= -1);
			got = pyline_addr2line(minors[m], buf, len, INT_MAX, LONG_MAX);
			assert_true(got >= -1);
		}
		free(buf);
	}
	each_fixture(check_mutations);
}

/* Line deltas that push past INT_MAX or below 0 are garbage, not a line. */
static void test_overflow(void **state)
{
	static const unsigned char up8[] = { 0, 127, 0, 127 };
	static const unsigned char down8[] = { 0, 0x80, 2, 1 };
	static const unsigned char up10[] = { 2, 127 };
	/* 3.11 no-column entry, delta +2^31 as svarint (2^32: six chunks) */
	static const unsigned char up11[] = { 0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x04 };
	/* seven varint chunks: longer than any 32-bit value needs */
	static const unsigned char long11[] = { 0xe8, 0x42, 0x40, 0x40, 0x40, 0x40, 0x40, 0x00 };

	(void)state;
	assert_int_equal(pyline_addr2line(8, up8, sizeof(up8), INT_MAX - 200, 0), -1);
	assert_int_equal(pyline_addr2line(8, down8, sizeof(down8), 5, 0), -1);
	assert_int_equal(pyline_addr2line(10, up10, sizeof(up10), INT_MAX - 100, 0), -1);
	assert_int_equal(pyline_addr2line(11, up11, sizeof(up11), 1, 0), -1);
	assert_int_equal(pyline_addr2line(12, long11, sizeof(long11), 1, 0), -1);
}

/* The worked example of Objects/lnotab_notes.txt (3.8/3.9): lines 1, 2, 7, 207, 208. */
static void test_lnotab_example(void **state)
{
	static const unsigned char t[] = { 6, 1, 44, 5, 255, 0, 45, 127, 0, 73, 11, 1 };
	static const struct {
		long off;
		int line;
	} want[] = { { 0, 1 },	 { 5, 1 },     { 6, 2 },     { 49, 2 },	   { 50, 7 },	 { 304, 7 },
		     { 349, 7 }, { 350, 207 }, { 360, 207 }, { 361, 208 }, { 5000, 208 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(pyline_addr2line(8, t, sizeof(t), 1, want[i].off), want[i].line);
		assert_int_equal(pyline_addr2line(9, t, sizeof(t), 1, want[i].off), want[i].line);
	}
	/* an empty co_lnotab: every instruction is on the first line */
	assert_int_equal(pyline_addr2line(8, NULL, 0, 42, 0), 42);
	assert_int_equal(pyline_addr2line(9, (const unsigned char *)"", 0, 42, 100), 42);
	/* an odd length is a torn read */
	assert_int_equal(pyline_addr2line(8, t, 3, 1, 0), -1);
}

/* The final-form example of the 3.10 notes, including "no line" and an empty range. */
static void test_linetable310_example(void **state)
{
	static const unsigned char t[] = { 6,  1,    44, 1, 254, 5,   46, 0,
					   10, 0x80, 16, 1, 0,	 127, 4,  73 };
	static const unsigned char ended[] = { 6, 1, 255, 0, 10, 1 };
	static const struct {
		long off;
		int line;
	} want[] = { { 0, 1 },	   { 5, 1 },	 { 6, 2 },    { 49, 2 },     { 50, 7 },	 { 303, 7 },
		     { 304, 7 },   { 349, 7 },	 { 350, 0 },  { 359, 0 },    { 360, 8 }, { 375, 8 },
		     { 376, 208 }, { 379, 208 }, { 380, -1 }, { 100000, -1 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(pyline_addr2line(10, t, sizeof(t), 0, want[i].off), want[i].line);
	/* a start delta of 255 ends the table */
	assert_int_equal(pyline_addr2line(10, ended, sizeof(ended), 3, 5), 4);
	assert_int_equal(pyline_addr2line(10, ended, sizeof(ended), 3, 6), -1);
	assert_int_equal(pyline_addr2line(10, NULL, 0, 3, 0), -1);
}

/* One 3.11+ entry of each kind, varints from Objects/locations.md (200 = 0x48 0x03). */
static void test_loctable_kinds(void **state)
{
	static const unsigned char t[] = {
		0x80, 0x00, /* short form, 1 unit: line 10 */
		0xd9, 4,    9, /* one-line form, +1, 2 units: line 11 */
		0xe8, 0x50, 0x06, /* no columns, +200 (svarint 400), 1 unit: line 211 */
		0xf2, 0x6d, 0x04, 2, 5, 7, /* long form, -150 (svarint 301), 3 units: line 61 */
		0xf8, /* no location, 1 unit */
		0xd7, 1,    2, /* one-line form, +0, 8 units: line 61 */
		0x8f, 0x48, /* short form, 8 units: line 61 */
		0x03 /* not an entry start (bit 7 clear): garbage from unit 24 on */
	};
	static const struct {
		long off;
		int line;
	} want[] = { { 0, 10 },	 { 1, 10 },  { 2, 11 },	 { 3, 11 },  { 5, 11 },
		     { 6, 211 }, { 8, 61 },  { 12, 61 }, { 13, 61 }, { 14, 0 },
		     { 15, 0 },	 { 16, 61 }, { 30, 61 }, { 31, 61 }, { 32, 10 + 1 + 200 - 150 },
		     { 46, 61 }, { 48, -1 } };
	size_t i;
	int minor;

	(void)state;
	for (minor = 11; minor <= 13; minor++)
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (pyline_addr2line(minor, t, sizeof(t), 10, want[i].off) != want[i].line)
				fail_msg("3.%d offset %ld: got %d, want %d", minor, want[i].off,
					 pyline_addr2line(minor, t, sizeof(t), 10, want[i].off),
					 want[i].line);
}

/* Entries that start with a continuation byte, or have a header byte inside them, are garbage. */
static void test_loctable_malformed(void **state)
{
	static const unsigned char no_header[] = { 0x00, 0x80, 0x00 };
	static const unsigned char header_in_entry[] = { 0xd9, 0x84, 9 };
	static const unsigned char cut_varint[] = { 0x80, 0x00, 0xe8, 0x50 };
	static const unsigned char cut_long[] = { 0xf2, 0x6d, 0x04, 2, 5 };

	(void)state;
	assert_int_equal(pyline_addr2line(11, no_header, sizeof(no_header), 1, 0), -1);
	assert_int_equal(pyline_addr2line(11, header_in_entry, sizeof(header_in_entry), 1, 0), -1);
	/* the entry before the cut one is complete and answers; the cut one does not */
	assert_int_equal(pyline_addr2line(12, cut_varint, sizeof(cut_varint), 7, 0), 7);
	assert_int_equal(pyline_addr2line(12, cut_varint, sizeof(cut_varint), 7, 2), -1);
	assert_int_equal(pyline_addr2line(13, cut_long, sizeof(cut_long), 200, 0), -1);
	assert_int_equal(pyline_addr2line(13, NULL, 0, 1, 0), -1);
}

static void test_bad_arguments(void **state)
{
	static const unsigned char t[] = { 0x80, 0x00 };

	(void)state;
	assert_int_equal(pyline_addr2line(11, t, sizeof(t), 1, 0), 1);
	assert_int_equal(pyline_addr2line(7, t, sizeof(t), 1, 0), -1);
	assert_int_equal(pyline_addr2line(14, t, sizeof(t), 1, 0), -1);
	assert_int_equal(pyline_addr2line(-1, t, sizeof(t), 1, 0), -1);
	assert_int_equal(pyline_addr2line(11, t, sizeof(t), 1, -2), -1);
	assert_int_equal(pyline_addr2line(8, t, sizeof(t), 1, -1), -1);
	assert_int_equal(pyline_addr2line(11, t, sizeof(t), -5, 0), -1);
	assert_int_equal(pyline_addr2line(11, NULL, 2, 1, 0), -1);
	assert_int_equal(pyline_addr2line(11, t, sizeof(t), 1, LONG_MAX), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_tables),
		cmocka_unit_test(test_live_frames),
		cmocka_unit_test(test_truncated_tables),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_lnotab_example),
		cmocka_unit_test(test_linetable310_example),
		cmocka_unit_test(test_loctable_kinds),
		cmocka_unit_test(test_loctable_malformed),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
