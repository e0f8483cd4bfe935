/* libFuzzer harness for pyline_addr2line: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_pyline.c src/pyline.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyline.h"

/* Input: minor selector, 4 bytes firstlineno, 4 bytes offset, then the table. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *table;
	uint32_t first, lasti;
	int minor, line;

	if (size < 9)
		return 0;
	minor = PYLINE_MIN_MINOR + data[0] % (PYLINE_MAX_MINOR - PYLINE_MIN_MINOR + 2);
	memcpy(&first, data + 1, 4);
	memcpy(&lasti, data + 5, 4);
	size -= 9;
	/* an exact-size copy so that any read past the table is caught */
	table = malloc(size ? size : 1);
	if (!table)
		return 0;
	memcpy(table, data + 9, size);
	line = pyline_addr2line(minor, table, size, (int)(first >> 1), (long)(lasti % 100000));
	if (line < -1)
		abort();
	free(table);
	return 0;
}
