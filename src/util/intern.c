/* Interned strings: file and function names shared by every frame that shows them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "intern.h"

/* Names interned, for the life of the process */
static struct hashmap_table interned = HASHMAP_TABLE("interned names", 4096, 1 << 20);

struct istr {
	struct istr *next; /* same hash */
	char s[];
};

static struct hashmap *strings;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

const char *intern(const char *s)
{
	struct istr *head, *e;
	uint64_t h;
	size_t len;

	if (!s)
		return NULL;
	if (!strings && !(strings = hashmap__new_in(&interned)))
		return NULL;
	h = fnv1a(s);
	head = hashmap__get(strings, h);
	for (e = head; e; e = e->next)
		if (strcmp(e->s, s) == 0)
			return e->s;
	len = strlen(s) + 1;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	memcpy(e->s, s, len);
	e->next = head;
	if (hashmap__set(strings, h, e, NULL)) {
		free(e);
		return NULL;
	}
	return e->s;
}
