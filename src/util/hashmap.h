/* A small chained hash table from 64-bit keys to pointers, for per-thread and per-object state. */
#ifndef SCOOBY_HASHMAP_H
#define SCOOBY_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap;

/*
 * What one kind of table may hold, shared by every map made in it (one per traced process,
 * say): its buckets are sized for `expect` entries from the start, so that a normal load does
 * not double them mid-run, and a new key past `bound` entries in all is refused. The counts
 * are what `-v` and the exit warnings report.
 */
struct hashmap_table {
	const char *name; /* as the report says it, e.g. "open requests" */
	size_t expect; /* entries a busy process holds per map */
	size_t bound; /* entries all maps of the table may hold together */
	size_t n; /* entries held now, over every map */
	size_t peak; /* the most ever held at once */
	uint64_t refused; /* new keys refused at the bound */
	struct hashmap_table *next; /* the registry, in order of first use */
	int registered;
};

#define HASHMAP_TABLE(nm, ex, bd)                           \
	{                                                   \
		.name = (nm), .expect = (ex), .bound = (bd) \
	}

/* Returns an empty map with no bound, or NULL on ENOMEM. */
struct hashmap *hashmap__new(void);
/* Returns an empty map counted in and bounded by table (registered on first use), or NULL on
 * ENOMEM. */
struct hashmap *hashmap__new_in(struct hashmap_table *table);
/* Calls fn on every table made so far, in order of first use. */
void hashmap_tables__foreach(void (*fn)(const struct hashmap_table *t, void *ctx), void *ctx);
/* Frees the map; free_val (may be NULL) is called on every value. NULL map ok. */
void hashmap__free(struct hashmap *m, void (*free_val)(void *));
/* Returns the value for key, or NULL. */
void *hashmap__get(const struct hashmap *m, uint64_t key);
/* Sets key to val. Returns 0, -ENOMEM, or -ENOSPC for a new key when the map's table is at
 * its bound (counted in its refusals); *old (may be NULL) gets the value replaced. */
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
