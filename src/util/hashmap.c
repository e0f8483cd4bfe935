/* A small chained hash table from 64-bit keys to pointers (see hashmap.h). */
#include <errno.h>
#include <stdlib.h>
#include "hashmap.h"

struct entry {
	uint64_t key;
	void *val;
	struct entry *next;
};

struct hashmap {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t size;
	struct hashmap_table *table; /* NULL: not counted, no bound */
};

/* entries per bucket before the bucket array doubles */
#define LOAD 2

static struct hashmap_table *tables, **tables_tail = &tables;

static size_t slot(const struct hashmap *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return key & (m->nbuckets - 1);
}

/* Returns an empty map with buckets for `expect` entries (64 at least), or NULL on ENOMEM. */
static struct hashmap *map_new(size_t expect)
{
	struct hashmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nbuckets = 64;
	while (m->nbuckets * LOAD < expect)
		m->nbuckets *= 2;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

struct hashmap *hashmap__new(void)
{
	return map_new(0);
}

struct hashmap *hashmap__new_in(struct hashmap_table *table)
{
	struct hashmap *m = map_new(table->expect);

	if (!m)
		return NULL;
	m->table = table;
	if (!table->registered) {
		table->registered = 1;
		*tables_tail = table;
		tables_tail = &table->next;
	}
	return m;
}

void hashmap_tables__foreach(void (*fn)(const struct hashmap_table *t, void *ctx), void *ctx)
{
	struct hashmap_table *t;

	for (t = tables; t; t = t->next)
		fn(t, ctx);
}

/* Counts n entries leaving m. */
static void count_out(struct hashmap *m, size_t n)
{
	m->size -= n;
	if (m->table)
		m->table->n -= n;
}

void hashmap__free(struct hashmap *m, void (*free_val)(void *))
{
	struct entry *e, *next;
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			if (free_val)
				free_val(e->val);
			free(e);
		}
	}
	count_out(m, m->size);
	free(m->buckets);
	free(m);
}

void *hashmap__get(const struct hashmap *m, uint64_t key)
{
	struct entry *e;

	for (e = m->buckets[slot(m, key)]; e; e = e->next)
		if (e->key == key)
			return e->val;
	return NULL;
}

/* Doubles the bucket array; on ENOMEM the map keeps working, only slower. */
static void grow(struct hashmap *m)
{
	struct hashmap n = { .nbuckets = m->nbuckets * 2 };
	struct entry *e, *next;
	size_t i, s;

	n.buckets = calloc(n.nbuckets, sizeof(*n.buckets));
	if (!n.buckets)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			s = slot(&n, e->key);
			e->next = n.buckets[s];
			n.buckets[s] = e;
		}
	}
	free(m->buckets);
	m->buckets = n.buckets;
	m->nbuckets = n.nbuckets;
}

int hashmap__set(struct hashmap *m, uint64_t key, void *val, void **old)
{
	struct entry *e;
	size_t s = slot(m, key);

	if (old)
		*old = NULL;
	for (e = m->buckets[s]; e; e = e->next) {
		if (e->key == key) {
			if (old)
				*old = e->val;
			e->val = val;
			return 0;
		}
	}
	if (m->table && m->table->n >= m->table->bound) {
		m->table->refused++;
		return -ENOSPC;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = key;
	e->val = val;
	e->next = m->buckets[s];
	m->buckets[s] = e;
	if (m->table && ++m->table->n > m->table->peak)
		m->table->peak = m->table->n;
	if (++m->size > m->nbuckets * LOAD)
		grow(m);
	return 0;
}

void *hashmap__del(struct hashmap *m, uint64_t key)
{
	struct entry **pp, *e;
	void *val;

	for (pp = &m->buckets[slot(m, key)]; (e = *pp); pp = &e->next) {
		if (e->key == key) {
			*pp = e->next;
			val = e->val;
			free(e);
			count_out(m, 1);
			return val;
		}
	}
	return NULL;
}

size_t hashmap__size(const struct hashmap *m)
{
	return m->size;
}

void hashmap__sweep(struct hashmap *m, int (*fn)(uint64_t key, void *val, void *ctx), void *ctx)
{
	struct entry **pp, *e;
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		pp = &m->buckets[i];
		while ((e = *pp)) {
			if (fn(e->key, e->val, ctx)) {
				*pp = e->next;
				free(e);
				count_out(m, 1);
			} else {
				pp = &e->next;
			}
		}
	}
}
