/* Similar-query groups of a record (plugins_data.SQL.groups) and the N+1 patterns among them. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "util/hash.h"
#include "util/hashmap.h"
#include "groups.h"
#include "util/jsonw.h"

const struct frame *stack__call_site(const struct stack *s)
{
	size_t i;

	if (!s || !s->frames)
		return NULL;
	/* a shared stack's frames never change: its call site is worked out once */
	if (s->share && s->share->site)
		return s->share->site > 0 ? &s->frames[s->share->site - 1] : NULL;
	for (i = 0; i < s->nframes && !frame__is_app(&s->frames[i]); i++)
		;
	if (s->share)
		s->share->site = i < s->nframes ? (int)i + 1 : -1;
	return i < s->nframes ? &s->frames[i] : NULL;
}

/* Per-query facts, indexed like the list's queries; every array in one allocation. */
struct grouping {
	const struct query *qs;
	size_t n;
	const char **fp; /* fingerprints: the cache's, or owned (see fp_owned) */
	bool *fp_owned;
	uint64_t *fp_hash, *text_hash;
	const struct frame **site; /* call sites, NULL when none */
	size_t *group; /* the group number of each query */
	size_t *next; /* the next query of the same group, or SIZE_MAX */
	size_t *site_count; /* for a query first at its (group, call site): how many there */
	size_t *first; /* per group: its first query */
	size_t *last;
	size_t *dups; /* per group: queries repeating an earlier one's text */
	size_t ngroups;
	size_t *slots; /* the three qtables' slots */
	size_t cap;
};

/*
 * An open-addressing set of query indexes, one table per kind of key: each
 * query is added once, in order, and finds the first query with its key.
 * Slots hold index + 1 (0: empty); the table is at least twice the number of
 * queries, so it never fills.
 */
struct qtable {
	size_t *slots;
	size_t mask;
};

/* Table k (0..2) of g's slots. */
static struct qtable grouping__table(const struct grouping *g, int k)
{
	struct qtable t = { .slots = g->slots + k * g->cap, .mask = g->cap - 1 };

	return t;
}

/* Returns the first query added whose key equals q's (by eq), adding q when there is none. */
static size_t qtable__find_or_add(struct qtable *t, uint64_t hash, size_t q,
				  bool (*eq)(const struct grouping *g, size_t a, size_t b),
				  const struct grouping *g)
{
	size_t i;

	for (i = hash & t->mask; t->slots[i]; i = (i + 1) & t->mask)
		if (eq(g, t->slots[i] - 1, q))
			return t->slots[i] - 1;
	t->slots[i] = q + 1;
	return q;
}

/* A hash of (a text's hash, a small number): a key made of both. */
static uint64_t hash__mix(uint64_t h, uint64_t v)
{
	return (h ^ (v * 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
}

static const char *query__sql(const struct query *q)
{
	return q->sql ? q->sql : "";
}

static bool eq_fingerprint(const struct grouping *g, size_t a, size_t b)
{
	return g->qs[a].db == g->qs[b].db && !strcmp(g->fp[a], g->fp[b]);
}

static bool eq_text(const struct grouping *g, size_t a, size_t b)
{
	return g->group[a] == g->group[b] && !strcmp(query__sql(&g->qs[a]), query__sql(&g->qs[b]));
}

static bool eq_site(const struct grouping *g, size_t a, size_t b)
{
	return g->group[a] == g->group[b] && g->site[a]->lineno == g->site[b]->lineno &&
	       !strcmp(g->site[a]->filename, g->site[b]->filename);
}

/*
 * Writes the fingerprint of a Redis or memcached command into out (cap >= 2 * len + 16
 * of its text): the command, its key with every run of digits as ?, and one ? per
 * argument ("GET user:?", "SET session:? ?"), so that a loop over ids is one group.
 */
static void kv_fingerprint(const struct query *q, char *out, size_t cap)
{
	const char *k = q->key ? q->key : "";
	size_t n = 0;
	uint32_t i;

	n += snprintf(out, cap, "%s", q->command ? q->command : "?");
	if (*k && n + 1 < cap)
		out[n++] = ' ';
	for (; *k && n + 2 < cap; k++) {
		if (*k >= '0' && *k <= '9') {
			while (k[1] >= '0' && k[1] <= '9')
				k++;
			out[n++] = '?';
		} else {
			out[n++] = *k;
		}
	}
	for (i = 0; i < q->nargs && n + 3 < cap; i++) {
		out[n++] = ' ';
		out[n++] = '?';
	}
	out[n < cap ? n : cap - 1] = 0;
}

/* Bound of the SQL fingerprint cache (distinct texts), and of the texts it keeps: past
 * either, a fingerprint is computed afresh. Full, the cache is emptied and refilled, never
 * while a list is being grouped (its queries point into it). Only the main thread builds
 * groups. At most FP_CACHE_MAX * 3 * FP_CACHE_TEXT_MAX bytes. */
#define FP_CACHE_MAX 1024
#define FP_CACHE_TEXT_MAX 2048

/* Fingerprints per distinct SQL text; emptied when full */
static struct hashmap_table fp_texts = HASHMAP_TABLE("SQL fingerprints", 256, FP_CACHE_MAX);

/* A SQL text, its fingerprint and the fingerprint's hash. */
struct fp_cached {
	char *sql;
	char *fp;
	uint64_t fp_hash;
};

static struct hashmap *fp_cache; /* text hash -> struct fp_cached */

static int fp_cached_drop(uint64_t key, void *val, void *ctx)
{
	struct fp_cached *fc = val;

	free(fc->sql);
	free(fc->fp);
	free(fc);
	return 1;
}

/* Sets query i's fingerprint (and its hash) from SQL text sql (len bytes, hash h): the
 * cached one when this text was seen, else a new one, cached when there is room. Returns
 * 0, or -1 on ENOMEM. */
static int sql_fingerprint_cached(struct grouping *g, size_t i, const char *sql, size_t len,
				  uint64_t h)
{
	struct fp_cached *fc = fp_cache ? hashmap__get(fp_cache, h) : NULL;
	char *fp;

	if (fc && strcmp(fc->sql, sql) == 0) {
		g->fp[i] = fc->fp;
		g->fp_hash[i] = fc->fp_hash;
		return 0;
	}
	fp = malloc(2 * len + 16);
	if (!fp)
		return -1;
	sql_fingerprint(sql, len, fp, 2 * len + 16);
	g->fp_hash[i] = hash__str(HASH_SEED, fp);
	/* another text of the same hash stays: an earlier query of this list may use it */
	if (fc || len > FP_CACHE_TEXT_MAX || !fp_cache || hashmap__size(fp_cache) >= FP_CACHE_MAX)
		goto owned;
	fc = calloc(1, sizeof(*fc));
	if (fc && (fc->sql = strdup(sql)) && !hashmap__set(fp_cache, h, fc, NULL)) {
		fc->fp = fp;
		fc->fp_hash = g->fp_hash[i];
		g->fp[i] = fp;
		return 0;
	}
	if (fc)
		free(fc->sql);
	free(fc);
owned:
	g->fp[i] = fp;
	g->fp_owned[i] = true;
	return 0;
}

/* Fills fp, the hashes and site for every query. Returns 0, or -1 on ENOMEM. */
static int grouping__fingerprints(struct grouping *g)
{
	const struct query *q;
	size_t i, len;
	char *fp;

	if (!fp_cache)
		fp_cache = hashmap__new_in(&fp_texts); /* NULL: every fingerprint afresh */
	/* emptied now if this list could fill it: never while its queries point into it */
	if (fp_cache && hashmap__size(fp_cache) + g->n > FP_CACHE_MAX)
		hashmap__sweep(fp_cache, fp_cached_drop, NULL);
	for (i = 0; i < g->n; i++) {
		q = &g->qs[i];
		len = strlen(query__sql(q));
		g->text_hash[i] = hash__bytes(HASH_SEED, query__sql(q), len);
		/* a loop's queries come from one stack: the last query's site is found again */
		if (i && q->stack.nframes && q->stack.nframes == q[-1].stack.nframes &&
		    !memcmp(q->stack.frames, q[-1].stack.frames,
			    q->stack.nframes * sizeof(*q->stack.frames)))
			g->site[i] = g->site[i - 1];
		else
			g->site[i] = stack__call_site(&q->stack);
		if (db__is_sql(q->db)) {
			if (sql_fingerprint_cached(g, i, query__sql(q), len, g->text_hash[i]))
				return -1;
			continue;
		}
		/* the bound kv_fingerprint promises: never cut */
		fp = malloc(2 * len + 16);
		if (!fp)
			return -1;
		kv_fingerprint(q, fp, 2 * len + 16);
		g->fp[i] = fp;
		g->fp_owned[i] = true;
		g->fp_hash[i] = hash__str(HASH_SEED, fp);
	}
	return 0;
}

/* Assigns every query its group and links each group's queries. */
static void grouping__assign(struct grouping *g)
{
	struct qtable t = grouping__table(g, 0);
	size_t i, rep;

	for (i = 0; i < g->n; i++) {
		rep = qtable__find_or_add(&t, hash__mix(g->fp_hash[i], (uintptr_t)g->qs[i].db), i,
					  eq_fingerprint, g);
		g->next[i] = SIZE_MAX;
		if (rep == i) {
			g->group[i] = g->ngroups;
			g->first[g->ngroups] = g->last[g->ngroups] = i;
			g->ngroups++;
		} else {
			g->group[i] = g->group[rep];
			g->next[g->last[g->group[i]]] = i;
			g->last[g->group[i]] = i;
		}
	}
}

/*
 * Counts, per group, the queries whose text repeats an earlier one's into
 * dups[], and per (group, call site) the queries there into site_count[] of
 * the first query at it.
 */
static void grouping__count(struct grouping *g)
{
	struct qtable text = grouping__table(g, 1), sites = grouping__table(g, 2);
	size_t i, rep;
	uint64_t h;

	for (i = 0; i < g->n; i++) {
		h = hash__mix(g->text_hash[i], g->group[i]);
		if (qtable__find_or_add(&text, h, i, eq_text, g) != i)
			g->dups[g->group[i]]++;
		if (!g->site[i])
			continue;
		h = hash__str(HASH_SEED ^ g->group[i], g->site[i]->filename);
		h = hash__bytes(h, &g->site[i]->lineno, sizeof(g->site[i]->lineno));
		rep = qtable__find_or_add(&sites, h, i, eq_site, g);
		g->site_count[rep]++;
	}
}

/* Writes a call site's "filename:lineno" string. */
static void put_site(struct jsonw *w, const struct frame *f)
{
	char buf[512], *site = NULL;
	int n = snprintf(buf, sizeof(buf), "%s:%d", f->filename, f->lineno);

	if (n >= 0 && (size_t)n < sizeof(buf)) {
		jsonw__str(w, buf);
		return;
	}
	if (asprintf(&site, "%s:%d", f->filename, f->lineno) < 0) {
		w->oom = true;
		return;
	}
	jsonw__str(w, site);
	free(site);
}

/* Writes group gi's object; returns true when it is an N+1. */
static bool grouping__emit(const struct grouping *g, size_t gi, struct jsonw *w)
{
	const struct query *qs = g->qs;
	size_t i, count = 0;
	uint64_t ns = 0;
	bool n_plus_one = false;

	for (i = g->first[gi]; i != SIZE_MAX; i = g->next[i]) {
		count++;
		ns += qs[i].busy_ns;
		if (g->site_count[i] >= GROUPS_N_PLUS_ONE_MIN)
			n_plus_one = true;
	}
	i = g->first[gi];
	jsonw__open(w, '{');
	jsonw__mstr(w, "fingerprint", g->fp[i]);
	jsonw__mstr(w, "db", db__name(qs[i].db));
	jsonw__mnum(w, "count", count);
	jsonw__mnum(w, "total_time", round(ns / 1e3) / 1e3);
	jsonw__name(w, "call_sites");
	jsonw__open(w, '[');
	/* a call site is listed where it first appears: its counter lives there */
	for (; i != SIZE_MAX; i = g->next[i])
		if (g->site_count[i])
			put_site(w, g->site[i]);
	jsonw__close(w, ']');
	jsonw__mnum(w, "duplicates", g->dups[gi]);
	jsonw__mbool(w, "n_plus_one", n_plus_one);
	jsonw__name(w, "queries");
	jsonw__open(w, '[');
	for (i = g->first[gi]; i != SIZE_MAX; i = g->next[i])
		jsonw__num(w, i);
	jsonw__close(w, ']');
	jsonw__close(w, '}');
	return n_plus_one;
}

/* Points g's arrays into one zeroed allocation for n queries; returns 0 or -1 (ENOMEM). */
static int grouping__alloc(struct grouping *g, size_t n)
{
	size_t m = n + 1, words;
	char *p;

	g->cap = 16;
	while (g->cap < 2 * n)
		g->cap *= 2;
	/* 8 size_t arrays, 2 hash arrays, 2 pointer arrays, 3 tables, the flags */
	words = 12 * m + 3 * g->cap;
	p = calloc(1, words * sizeof(size_t) + m * sizeof(bool));
	if (!p)
		return -1;
	g->group = (size_t *)p;
	g->next = g->group + m;
	g->site_count = g->next + m;
	g->first = g->site_count + m;
	g->last = g->first + m;
	g->dups = g->last + m;
	g->fp_hash = (uint64_t *)(g->dups + m);
	g->text_hash = g->fp_hash + m;
	g->fp = (const char **)(g->text_hash + m);
	g->site = (const struct frame **)(g->fp + m);
	g->slots = (size_t *)(g->site + m);
	g->fp_owned = (bool *)(g->slots + 3 * g->cap);
	return 0;
}

static void grouping__free(struct grouping *g)
{
	size_t i;

	for (i = 0; g->fp && i < g->n; i++)
		if (g->fp_owned[i])
			free((char *)g->fp[i]);
	free(g->group);
}

int groups__write(struct jsonw *w, const struct query *qs, size_t n)
{
	struct grouping g = { .qs = qs, .n = n };
	int n_plus_one = 0;
	size_t i;

	if (grouping__alloc(&g, n) || grouping__fingerprints(&g)) {
		grouping__free(&g);
		w->oom = true;
		return -ENOMEM;
	}
	grouping__assign(&g);
	grouping__count(&g);
	jsonw__open(w, '[');
	for (i = 0; i < g.ngroups; i++)
		n_plus_one += grouping__emit(&g, i, w);
	jsonw__close(w, ']');
	grouping__free(&g);
	return w->oom ? -ENOMEM : n_plus_one;
}

cJSON *groups__build_list(const struct query *qs, size_t n)
{
	struct jsonw w = {};
	cJSON *arr = NULL;

	if (groups__write(&w, qs, n) >= 0)
		arr = cJSON_Parse(w.buf);
	jsonw__free(&w);
	return arr;
}

cJSON *groups__build(const struct record *r)
{
	return groups__build_list(r->queries, r->nqueries);
}

int groups__build_all(const struct record *r, struct record_groups *g)
{
	g->sql = groups__build(r);
	g->redis = groups__build_list(r->redis.q, r->redis.n);
	g->memcache = groups__build_list(r->memcache.q, r->memcache.n);
	if (g->sql && g->redis && g->memcache)
		return 0;
	cJSON_Delete(g->sql);
	cJSON_Delete(g->redis);
	cJSON_Delete(g->memcache);
	memset(g, 0, sizeof(*g));
	return -ENOMEM;
}

int groups__n_plus_one(const cJSON *groups)
{
	const cJSON *group;
	int n = 0;

	cJSON_ArrayForEach(group, groups)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(group, "n_plus_one")))
			n++;
	return n;
}
