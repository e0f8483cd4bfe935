/* Helpers shared by the libFuzzer harnesses: checks that abort, input splitting, a UTF-8 validator. */
#ifndef SCOOBY_FUZZ_UTIL_H
#define SCOOBY_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failed property is a crash for libFuzzer: it saves the input as a reproducer. */
#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* Returns a malloc'd copy of exactly len bytes (at least 1 allocated) so that ASan
 * reports any read past the end. */
static inline char *fuzz_copy(const void *data, size_t len)
{
	char *p = malloc(len ? len : 1);

	if (!p)
		abort();
	memcpy(p, data, len);
	return p;
}

/* Returns a malloc'd NUL-terminated copy of len bytes (embedded NULs kept). */
static inline char *fuzz_strndup(const void *data, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		abort();
	memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

/* Consumes the input from the front: numbers, then length-prefixed byte strings. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

/* A span of at most max bytes whose length is the next input byte (or two when max > 255). */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t max, size_t *len)
{
	const uint8_t *p;
	size_t n = max > 255 ? fuzz_u64(in, 2) : fuzz_u8(in);

	if (n > max)
		n %= max + 1;
	if (n > in->n)
		n = in->n;
	p = in->p;
	in->p += n;
	in->n -= n;
	*len = n;
	return p;
}

/*
 * Strict UTF-8 check written independently of src/utf8.c: shortest form only,
 * no surrogates, nothing above U+10FFFF. NUL bytes are allowed here.
 */
static inline bool fuzz_utf8_valid(const void *buf, size_t len)
{
	const unsigned char *s = buf;
	size_t i = 0, need, k;
	uint32_t cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* True when the NUL-terminated field of size bytes holds its NUL inside the array. */
#define FUZZ_TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

#endif /* SCOOBY_FUZZ_UTIL_H */
