/* libFuzzer harness for sql_fingerprint: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_fingerprint.c src/fingerprint.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/fingerprint.h"

/*
 * Checks the bounds (length returned = strlen < outlen) and that a
 * fingerprint is its own fingerprint: normalizing twice changes nothing.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen = 2 * size + 16;
	char *sql, *out, *again;
	int n, m;

	/* an exact-size copy so that any read past len is caught */
	sql = malloc(size ? size : 1);
	out = malloc(outlen);
	again = malloc(outlen);
	if (!sql || !out || !again)
		abort();
	memcpy(sql, data, size);
	n = sql_fingerprint(sql, size, out, outlen);
	if (n < 0 || (size_t)n >= outlen || strlen(out) != (size_t)n)
		abort();
	m = sql_fingerprint(out, n, again, outlen);
	if (m != n || memcmp(out, again, n))
		abort();
	/* and a small buffer: a prefix of the whole */
	m = sql_fingerprint(sql, size, again, 1 + size % 32);
	if (m < 0 || (size_t)m > 31 || memcmp(out, again, m))
		abort();
	free(sql);
	free(out);
	free(again);
	return 0;
}
