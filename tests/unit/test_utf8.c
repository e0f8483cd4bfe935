/* Unit tests for utf8_sanitize: well-formed input kept, each ill-formed subpart and NUL replaced. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#define R "\xef\xbf\xbd" /* U+FFFD */

struct utf8_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *out;
};

static const struct utf8_case cases[] = {
	{ "empty", "", 0, "" },
	{ "ascii", "SELECT * FROM t WHERE a = 'x'", 0, "SELECT * FROM t WHERE a = 'x'" },
	{ "2-byte", "caf\xc3\xa9", 0, "caf\xc3\xa9" },
	{ "3-byte euro", "\xe2\x82\xac", 0, "\xe2\x82\xac" },
	{ "4-byte emoji", "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80" },
	{ "U+0080", "\xc2\x80", 0, "\xc2\x80" },
	{ "U+07FF", "\xdf\xbf", 0, "\xdf\xbf" },
	{ "U+0800", "\xe0\xa0\x80", 0, "\xe0\xa0\x80" },
	{ "U+D7FF", "\xed\x9f\xbf", 0, "\xed\x9f\xbf" },
	{ "U+E000", "\xee\x80\x80", 0, "\xee\x80\x80" },
	{ "U+FFFF", "\xef\xbf\xbf", 0, "\xef\xbf\xbf" },
	{ "U+10000", "\xf0\x90\x80\x80", 0, "\xf0\x90\x80\x80" },
	{ "U+10FFFF", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf" },
	{ "NUL alone", "\0", 1, R },
	{ "NUL inside", "a\0b", 3, "a" R "b" },
	{ "two NULs", "\0\0", 2, R R },
	{ "lone continuation", "\x80", 0, R },
	{ "continuations", "\x80\xbf\x80", 0, R R R },
	{ "overlong NUL C0 80", "\xc0\x80", 0, R R },
	{ "C1 BF", "\xc1\xbf", 0, R R },
	{ "overlong 3-byte", "\xe0\x80\x80", 0, R R R },
	{ "overlong 3-byte max", "\xe0\x9f\xbf", 0, R R R },
	{ "surrogate D800", "\xed\xa0\x80", 0, R R R },
	{ "surrogate DFFF", "\xed\xbf\xbf", 0, R R R },
	{ "overlong 4-byte", "\xf0\x80\x80\x80", 0, R R R R },
	{ "overlong 4-byte max", "\xf0\x8f\xbf\xbf", 0, R R R R },
	{ "above U+10FFFF", "\xf4\x90\x80\x80", 0, R R R R },
	{ "F5 lead", "\xf5\x80\x80\x80", 0, R R R R },
	{ "FE", "\xfe", 0, R },
	{ "FF", "\xff", 0, R },
	{ "truncated 2 at end", "ab\xc3", 0, "ab" R },
	{ "truncated 3 at end", "\xe2\x82", 0, R },
	{ "truncated 4 at end", "\xf0\x9f\x98", 0, R },
	{ "truncated 3 then ascii",
	  "\xe2\x82"
	  "A",
	  0, R "A" },
	{ "truncated 4 then ascii",
	  "\xf0\x9f\x98"
	  "x",
	  0, R "x" },
	{ "bad second byte", "\xe2\x28\xa1", 0, R "(" R },
	{ "bad third byte", "\xe2\x82\x28", 0, R "(" },
	{ "bad fourth byte", "\xf0\x9f\x98\x28", 0, R "(" },
	{ "lead then lead", "\xc3\xc3\xa9", 0, R "\xc3\xa9" },
	{ "truncated then NUL", "\xe2\x82\0", 3, R R },
	{ "latin-1 text", "na\xefve caf\xe9", 0, "na" R "ve caf" R },
	{ "mixed", "\x41\xce\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x5a", 0,
	  "\x41\xce\xa9\xe2\x82\xac\xf0\x9f\x98\x80" R "\x5a" },
};

static void test_table(void **state)
{
	size_t i, len;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		out = utf8_sanitize(cases[i].in, len);
		assert_non_null(out);
		if (strcmp(out, cases[i].out))
			fail_msg("case '%s': unexpected output", cases[i].name);
		free(out);
	}
}

static void test_null_input(void **state)
{
	char *out;

	(void)state;
	out = utf8_sanitize(NULL, 0);
	assert_non_null(out);
	assert_string_equal(out, "");
	free(out);
	/* documented: NULL reads as empty whatever len says */
	out = utf8_sanitize(NULL, 10);
	assert_non_null(out);
	assert_string_equal(out, "");
	free(out);
}

static void test_not_nul_terminated(void **state)
{
	/* exactly len bytes are read: no terminator needed (ASan checks the bound) */
	char *in = malloc(3), *out;

	(void)state;
	assert_non_null(in);
	memcpy(in, "\xe2\x82\xac", 3);
	out = utf8_sanitize(in, 3);
	assert_string_equal(out, "\xe2\x82\xac");
	free(out);
	out = utf8_sanitize(in, 2);
	assert_string_equal(out, R);
	free(out);
	free(in);
}

static void test_all_bytes(void **state)
{
	char in[1], *out;
	int b;

	(void)state;
	for (b = 0; b < 256; b++) {
		in[0] = (char)b;
		out = utf8_sanitize(in, 1);
		assert_non_null(out);
		if (b >= 1 && b < 0x80) {
			assert_int_equal(strlen(out), 1);
			assert_int_equal((unsigned char)out[0], b);
		} else {
			assert_string_equal(out, R);
		}
		free(out);
	}
}

/* Independent check by decoding code points: the shape and range rules spelled out. */
static int is_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned long cp;

	while (i < len) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = s[i] & 0x07;
		} else {
			return 0;
		}
		if (i + n > len)
			return 0;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_random(void **state)
{
	/* biased towards bytes that form or almost form sequences */
	static const unsigned char pool[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
					      0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1,
					      0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff };
	unsigned char buf[64];
	size_t i, len, outlen;
	char *out, *again;
	int iter;

	(void)state;
	for (iter = 0; iter < 200000; iter++) {
		len = rng() % sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = iter & 1 ? pool[rng() % sizeof(pool)] : (unsigned char)rng();
		out = utf8_sanitize((const char *)buf, len);
		assert_non_null(out);
		outlen = strlen(out);
		assert_true(outlen <= 3 * len);
		assert_true(is_valid_utf8((const unsigned char *)out, outlen));
		/* valid input comes back unchanged */
		if (is_valid_utf8(buf, len)) {
			assert_int_equal(outlen, len);
			assert_memory_equal(out, buf, len);
		}
		/* repairing a repaired string changes nothing */
		again = utf8_sanitize(out, outlen);
		assert_string_equal(again, out);
		free(again);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_null_input),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_all_bytes),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
