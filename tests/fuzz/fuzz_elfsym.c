/* libFuzzer harness for the ELF symbolizer (src/elfsym.h) fed corrupt ELF files, and its x86 accessor decoders. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "native/elfsym.h"
#include "fuzz_util.h"

/* Symbols of the seed files (tests/fuzz/gen_seeds.py), and one that is absent. */
static const char *const names[] = { "acc_load", "acc_cmp", "acc_far", "_start", "absent" };

static int fd = -1;
static char path[64];

/* The input as a file: a memfd, rewritten for each input, opened by its /proc path. */
static void put_file(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("fuzz_elfsym", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
}

/* The decoders on exactly len bytes of code: a result must come from inside them. */
static void check_decoders(const unsigned char *code, size_t len)
{
	unsigned char *c = (unsigned char *)fuzz_copy(code, len), imm = 0;
	long d, disp = -2;
	int rc;

	d = x86_first_rdi_load_disp(c, len);
	FUZZ_CHECK(d == -1 || (d >= 0 && d <= 0xffffffffL));
	FUZZ_CHECK(d == -1 || len >= 3);
	rc = x86_first_rdi_cmpb(c, len, &disp, &imm);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(rc == -1 || (len >= 4 && disp >= 0 && disp <= 0xffffffffL));
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf;
	unsigned long long value;
	long long delta;
	size_t i, len;
	int n, rc;

	put_file(data, size);
	/* the buffer size varies so that short copies are exercised too */
	len = size ? 1 + data[size - 1] % 64 : 16;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		buf = malloc(len);
		if (!buf)
			abort();
		n = elfsym_func_bytes(path, names[i], buf, len);
		FUZZ_CHECK(n <= (int)len && n > -4096);
		if (n > 0)
			check_decoders(buf, n);
		free(buf);

		value = 0;
		delta = 0;
		rc = elfsym_find(path, names[i], &value, &delta);
		FUZZ_CHECK(rc <= 0 && rc > -4096);
		FUZZ_CHECK(rc || value);
		/* a function whose bytes were read is a symbol that can be found */
		FUZZ_CHECK(n < 0 || rc == 0);
	}
	/* the decoders straight on the input as code */
	check_decoders(data, size);
	return 0;
}
