/* One non-cryptographic hash for the tables of this process's own texts and ids. */
#ifndef SCOOBY_UTIL_HASH_H
#define SCOOBY_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_SEED 0xcbf29ce484222325ULL

/*
 * FNV-1a over 8-byte words (a shift folds each word's high bits down), then bytes: one
 * dependent multiply per 8 bytes, where byte-wise FNV took 8 (SQL texts are hashed per
 * query). The keys are the traced process's texts; equality is always checked, and
 * nothing is gained by colliding them.
 */
static inline uint64_t hash__bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t x;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&x, b, 8);
		h = (h ^ x) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static inline uint64_t hash__str(uint64_t h, const char *s)
{
	return hash__bytes(h, s, strlen(s));
}

#endif /* SCOOBY_UTIL_HASH_H */
