/* One request's CPU profile: distinct stacks of distinct frames, and the samples they took. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile_int.h"
#include "util/hash.h"

/* What an equality test of a table entry against a key needs. */
typedef bool (*itab_eq)(const struct profile *p, uint32_t idx, const void *key);
typedef uint64_t (*itab_hash)(const struct profile *p, uint32_t idx);

/* A name (NULL apart from every text), its end included: "ab" + "c" is not "a" + "bc". */
static uint64_t hash__name(uint64_t h, const char *s)
{
	return s ? hash__bytes(h, s, strlen(s) + 1) : h + 1;
}

/* Returns s's first 8 bytes as a big-endian number, zero after its end (see pfunc). */
static uint64_t name_key(const char *s)
{
	uint64_t k = 0;
	int i;

	for (i = 0; i < 8 && s[i]; i++)
		k |= (uint64_t)(unsigned char)s[i] << (56 - 8 * i);
	return k;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Returns the slot where the entry equal to key is, or the empty slot where it would go. */
static uint32_t *itab__find(const struct profile *p, const struct itab *t, uint64_t hash,
			    itab_eq eq, const void *key)
{
	size_t i;

	for (i = hash & t->mask; t->slots[i]; i = (i + 1) & t->mask)
		if (eq(p, t->slots[i] - 1, key))
			return &t->slots[i];
	return &t->slots[i];
}

/* Makes room for one more entry (the table stays at most half full): call it before adding.
 * Returns 0 or -ENOMEM. */
static int itab__reserve(const struct profile *p, struct itab *t, itab_hash hash_of)
{
	size_t cap = t->slots ? 2 * (t->mask + 1) : 64, i, j;
	uint32_t *slots;

	if (t->slots && 2 * (t->n + 1) <= t->mask + 1)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; t->slots && i <= t->mask; i++) {
		if (!t->slots[i])
			continue;
		for (j = hash_of(p, t->slots[i] - 1) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

/* Grows *arr (of *cap elements of size sz) to hold n + 1. Returns 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap = *cap ? 2 * *cap : 16;
	void *a;

	if (n < *cap)
		return 0;
	a = realloc(*arr, ncap * sz);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = ncap;
	return 0;
}

static uint64_t func_hash(const struct profile *p, uint32_t i)
{
	return p->funcs[i].hash;
}

static uint64_t frame_hash(const struct profile *p, uint32_t i)
{
	return p->frames[i].hash;
}

static uint64_t stack_hash(const struct profile *p, uint32_t i)
{
	return p->stacks[i].hash;
}

static bool func_eq(const struct profile *p, uint32_t i, const void *key)
{
	const struct pfunc *a = &p->funcs[i], *b = key;

	return a->hash == b->hash && a->native == b->native && str_eq(a->file, b->file) &&
	       str_eq(a->name, b->name);
}

static bool frame_eq(const struct profile *p, uint32_t i, const void *key)
{
	const struct pframe *a = &p->frames[i], *b = key;

	return a->func == b->func && a->line == b->line;
}

static bool stack_eq(const struct profile *p, uint32_t i, const void *key)
{
	const struct pstack *a = &p->stacks[i], *b = key;

	return a->hash == b->hash && a->depth == b->depth &&
	       !memcmp(a->ids, b->ids, a->depth * sizeof(*a->ids));
}

/* The function and line a frame counts under; unresolved frames all share one function. */
static void frame__key(const struct frame *f, struct pfunc *fn, int *line)
{
	memset(fn, 0, sizeof(*fn));
	*line = 0;
	if (f->native) {
		fn->native = true;
		fn->file = f->module;
		fn->name = f->symbol;
	} else if (!f->unresolved) {
		fn->file = f->filename;
		fn->name = f->function;
		*line = f->lineno > 0 ? f->lineno : 0;
	}
	if (fn->native) {
		fn->hash = hash__name(hash__name(HASH_SEED ^ 1, fn->file), fn->name);
		return;
	}
	/* a Python frame's names are interned (struct frame): one address per text, so the
	 * addresses tell functions apart as the texts would, without a pass over them */
	fn->hash = hash__bytes(HASH_SEED, &fn->file, sizeof(fn->file));
	fn->hash = hash__bytes(fn->hash, &fn->name, sizeof(fn->name));
}

/*
 * Returns the id of f's frame in *id, adding the frame (and its function) unless !add.
 * Returns 0, 1 when !add and the frame is new, or -ENOMEM.
 */
static int profile__frame_id(struct profile *p, const struct frame *f, bool add, uint32_t *id)
{
	struct pframe fr = { 0 };
	struct pfunc fn;
	uint32_t *slot;

	frame__key(f, &fn, &fr.line);
	slot = itab__find(p, &p->func_tab, fn.hash, func_eq, &fn);
	if (!*slot) {
		if (!add)
			return 1;
		if (grow((void **)&p->funcs, &p->capfuncs, p->nfuncs, sizeof(*p->funcs)) ||
		    itab__reserve(p, &p->func_tab, func_hash))
			return -ENOMEM;
		fn.name_key = name_key(fn.name ? fn.name : UNRESOLVED);
		p->funcs[p->nfuncs] = fn;
		slot = itab__find(p, &p->func_tab, fn.hash, func_eq, &fn);
		*slot = ++p->nfuncs;
		p->func_tab.n++;
	}
	fr.func = *slot - 1;
	fr.hash = hash__bytes(fn.hash, &fr.line, sizeof(fr.line));
	slot = itab__find(p, &p->frame_tab, fr.hash, frame_eq, &fr);
	if (!*slot) {
		if (!add)
			return 1;
		if (grow((void **)&p->frames, &p->capframes, p->nframes, sizeof(*p->frames)) ||
		    itab__reserve(p, &p->frame_tab, frame_hash))
			return -ENOMEM;
		p->frames[p->nframes] = fr;
		slot = itab__find(p, &p->frame_tab, fr.hash, frame_eq, &fr);
		*slot = ++p->nframes;
		p->frame_tab.n++;
	}
	*id = *slot - 1;
	return 0;
}

struct profile *profile__new(unsigned hz)
{
	struct profile *p;

	if (!hz)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->hz = hz;
	if (itab__reserve(p, &p->func_tab, func_hash) ||
	    itab__reserve(p, &p->frame_tab, frame_hash) ||
	    itab__reserve(p, &p->stack_tab, stack_hash)) {
		profile__free(p);
		return NULL;
	}
	return p;
}

void profile__free(struct profile *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nstacks; i++)
		free(p->stacks[i].ids);
	free(p->stacks);
	free(p->frames);
	free(p->funcs);
	free(p->func_tab.slots);
	free(p->frame_tab.slots);
	free(p->stack_tab.slots);
	free(p->scratch);
	free(p);
}

/* Adds key (its ids are the scratch list) as a new stack of count samples. Returns 0 or -ENOMEM. */
static int profile__new_stack(struct profile *p, struct pstack *key, uint64_t count)
{
	struct pstack *s;

	if (grow((void **)&p->stacks, &p->capstacks, p->nstacks, sizeof(*p->stacks)) ||
	    itab__reserve(p, &p->stack_tab, stack_hash))
		return -ENOMEM;
	s = &p->stacks[p->nstacks];
	*s = *key;
	s->ids = malloc(key->depth * sizeof(*s->ids));
	if (!s->ids)
		return -ENOMEM;
	memcpy(s->ids, key->ids, key->depth * sizeof(*s->ids));
	s->samples = count;
	*itab__find(p, &p->stack_tab, key->hash, stack_eq, key) = ++p->nstacks;
	p->stack_tab.n++;
	return 0;
}

int profile__add_sample(struct profile *p, const struct frame *frames, size_t n)
{
	return profile__add_samples(p, frames, n, 1);
}

int profile__add_samples(struct profile *p, const struct frame *frames, size_t n, uint64_t count)
{
	static const struct frame unresolved = { .unresolved = true };
	bool full = p->nstacks >= PROFILE_MAX_STACKS;
	struct pstack key = { 0 };
	uint32_t *slot;
	size_t i;
	int err;

	if (!n) {
		frames = &unresolved;
		n = 1;
	}
	if (n > p->capscratch) {
		free(p->scratch);
		p->capscratch = 0;
		p->scratch = malloc(n * sizeof(*p->scratch));
		if (!p->scratch)
			return -ENOMEM;
		p->capscratch = n;
	}
	key.hash = 0xcbf29ce484222325ULL;
	for (i = 0; i < n; i++) {
		err = profile__frame_id(p, &frames[i], !full, &p->scratch[i]);
		if (err < 0)
			return err;
		if (err)
			break; /* a frame never seen makes a stack never seen */
		key.hash = hash__bytes(key.hash, &p->scratch[i], sizeof(p->scratch[i]));
	}
	key.ids = p->scratch;
	key.depth = n;
	slot = i < n ? NULL : itab__find(p, &p->stack_tab, key.hash, stack_eq, &key);
	if (slot && *slot) {
		p->stacks[*slot - 1].samples += count;
	} else if (full) {
		p->other += count;
	} else {
		err = profile__new_stack(p, &key, count);
		if (err)
			return err;
	}
	p->samples += count;
	return 0;
}

void profile__add_offcpu(struct profile *p, uint64_t ns)
{
	if (p)
		p->offcpu_ns += ns;
}

unsigned profile__hz(const struct profile *p)
{
	return p->hz;
}

uint64_t profile__samples(const struct profile *p)
{
	return p->samples;
}

uint64_t profile__other_samples(const struct profile *p)
{
	return p->other;
}

uint64_t profile__offcpu_ns(const struct profile *p)
{
	return p->offcpu_ns;
}

size_t profile__nstacks(const struct profile *p)
{
	return p->nstacks;
}

uint64_t profile__stack(const struct profile *p, size_t i, const uint32_t **ids, size_t *depth)
{
	*ids = p->stacks[i].ids;
	*depth = p->stacks[i].depth;
	return p->stacks[i].samples;
}

size_t profile__nframes(const struct profile *p)
{
	return p->nframes;
}

int profile__frame(const struct profile *p, uint32_t id, uint32_t *func)
{
	*func = p->frames[id].func;
	return p->frames[id].line;
}

size_t profile__nfuncs(const struct profile *p)
{
	return p->nfuncs;
}

const char *profile__func(const struct profile *p, uint32_t id, const char **file)
{
	*file = p->funcs[id].file ? p->funcs[id].file : UNRESOLVED;
	return p->funcs[id].name ? p->funcs[id].name : UNRESOLVED;
}
