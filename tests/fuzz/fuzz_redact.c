/* libFuzzer harness for sql_redact (src/fingerprint.h): bounds, prefixes when cut, idempotence, same fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/fingerprint.h"
#include "fuzz_util.h"

/* Input: one flags byte (bit 0: literals too), then the SQL text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen, small;
	char *sql, *out, *again, *cut, *fp1, *fp2;
	bool literals;
	int n, m, k;

	if (size < 1)
		return 0;
	literals = data[0] & 1;
	data++;
	size--;
	outlen = 2 * size + 16;
	/* exact-size buffers so that any read past len or write past outlen is caught */
	sql = fuzz_copy(data, size);
	out = malloc(outlen);
	again = malloc(outlen);
	if (!out || !again)
		abort();
	n = sql_redact(sql, size, literals, out, outlen);
	FUZZ_CHECK(n >= 0 && (size_t)n < outlen && out[n] == '\0');
	/* text from the correlator has no NUL (it is strlen'd); bytes given are kept */
	FUZZ_CHECK(memchr(sql, '\0', size) || strlen(out) == (size_t)n);

	/* redacting redacted text changes nothing */
	m = sql_redact(out, n, literals, again, outlen);
	FUZZ_CHECK(m == n && !memcmp(out, again, n));

	/* a buffer too small keeps a prefix of the whole */
	small = 1 + size * 7 % 40;
	cut = malloc(small);
	if (!cut)
		abort();
	k = sql_redact(sql, size, literals, cut, small);
	FUZZ_CHECK(k >= 0 && (size_t)k < small && cut[k] == '\0' && k <= n && !memcmp(cut, out, k));
	free(cut);

	/* the text keeps its shape: the same fingerprint as the original */
	fp1 = malloc(2 * size + 16);
	fp2 = malloc(2 * (size_t)n + 16);
	if (!fp1 || !fp2)
		abort();
	sql_fingerprint(sql, size, fp1, 2 * size + 16);
	sql_fingerprint(out, n, fp2, 2 * (size_t)n + 16);
	if (strcmp(fp1, fp2)) {
		fprintf(stderr,
			"fingerprint of the text:     %s\nfingerprint of its redaction: %s\n", fp1,
			fp2);
		FUZZ_CHECK(!"redaction keeps the fingerprint");
	}
	free(fp1);
	free(fp2);
	free(sql);
	free(out);
	free(again);
	return 0;
}
