/* A small chained hash table from 64-bit keys to pointers, for per-thread and per-object state. */
#ifndef SCOOBY_HASHMAP_H
#define SCOOBY_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap;

/* Returns an empty map, or NULL on ENOMEM. */
struct hashmap *hashmap__new(void);
/* Frees the map; free_val (may be NULL) is called on every value. NULL map ok. */
void hashmap__free(struct hashmap *m, void (*free_val)(void *));
/* Returns the value for key, or NULL. */
void *hashmap__get(const struct hashmap *m, uint64_t key);
/* Sets key to val. Returns 0, or -ENOMEM; *old (may be NULL) gets the value replaced. */
int hashmap__set(struct hashmap *m, uint64_t key, void *val, void **old);
/* Removes key and returns its value, or NULL when absent. */
void *hashmap__del(struct hashmap *m, uint64_t key);
size_t hashmap__size(const struct hashmap *m);
/* Calls fn on each entry; fn returning nonzero removes the entry (after which the
 * caller owns the value). Safe against removal of the visited entry only. */
void hashmap__sweep(struct hashmap *m, int (*fn)(uint64_t key, void *val, void *ctx), void *ctx);

/* Mixes two 32-bit ids, or an id and a pointer, into one key. */
static inline uint64_t hashmap_key2(uint32_t a, uint64_t b)
{
	return ((uint64_t)a << 48) ^ b ^ ((uint64_t)a * 0x9e3779b97f4a7c15ULL);
}

#endif /* SCOOBY_HASHMAP_H */
