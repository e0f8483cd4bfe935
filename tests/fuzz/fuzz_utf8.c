/* libFuzzer harness for utf8_sanitize and utf8_cut (src/utf8.h): valid output, idempotence, safe cuts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "util/utf8.h"

/* The byte offset of the last character boundary at or before k in valid UTF-8 s. */
static size_t boundary_before(const char *s, size_t k)
{
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/*
 * Checks the cut of the first k bytes of s (len bytes): it never grows and
 * drops at most one incomplete character (3 bytes), and the repaired cut text
 * is a prefix of the repaired whole: cutting never turns the end of a
 * character that the whole text has into a U+FFFD. full is
 * utf8_sanitize(s, len); valid says s is valid UTF-8 without NULs, where the
 * cut must land on the last character boundary at or before k.
 */
static void check_cut(const char *s, size_t len, size_t k, const char *full, bool valid)
{
	char *pre = fuzz_copy(s, k), *rep;
	size_t c = utf8_cut(pre, k);

	free(pre);
	FUZZ_CHECK(c <= k && c + 3 >= k);
	if (valid)
		FUZZ_CHECK(c == (k == len ? len : boundary_before(s, k)));
	rep = utf8_sanitize(s, c);
	FUZZ_CHECK(rep && !strncmp(rep, full, strlen(rep)));
	free(rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size), *out, *again;
	size_t n, k, step;
	bool valid;

	out = utf8_sanitize(in, size);
	FUZZ_CHECK(out);
	n = strlen(out);
	/* no NUL inside, at most U+FFFD (3 bytes) for every input byte, valid */
	FUZZ_CHECK(n <= 3 * size && fuzz_utf8_valid(out, n));
	valid = !memchr(in, '\0', size) && fuzz_utf8_valid(in, size);
	/* valid text without NULs is kept as is; anything else changes */
	FUZZ_CHECK(valid == (n == size && !memcmp(out, in, size)));
	/* repairing repaired text changes nothing */
	again = utf8_sanitize(out, n);
	FUZZ_CHECK(again && !strcmp(again, out));
	free(again);
	FUZZ_CHECK(utf8_cut(in, 0) == 0);

	/* every cut of short inputs, some 40 spread over long ones */
	step = size <= 80 ? 1 : size / 37 + 1;
	for (k = 0; k <= size; k += step)
		check_cut(in, size, k, out, valid);
	check_cut(in, size, size, out, valid);
	/* cuts of the repaired (valid) text land on character boundaries: valid prefixes */
	for (k = 0; k <= n; k += step)
		FUZZ_CHECK(utf8_cut(out, k) == boundary_before(out, k));
	free(out);
	free(in);
	return 0;
}
