/* Similar-query groups of a record (plugins_data.SQL.groups) and the N+1 patterns among them. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "hashmap.h"
#include "groups.h"
#include "utf8.h"

const struct frame *stack__call_site(const struct stack *s)
{
	size_t i;

	if (!s || !s->frames)
		return NULL;
	for (i = 0; i < s->nframes; i++)
		if (frame__is_app(&s->frames[i]))
			return &s->frames[i];
	return NULL;
}

/* Per-query facts, indexed like the list's queries. */
struct grouping {
	const struct query *qs;
	size_t n;
	char **fp; /* fingerprints */
	const struct frame **site; /* call sites, NULL when none */
	size_t *group; /* the group number of each query */
	size_t *next; /* the next query of the same group, or SIZE_MAX */
	size_t *site_count; /* for a query first at its (group, call site): how many there */
	size_t *first; /* per group: its first query */
	size_t *last;
	size_t ngroups;
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

static int qtable__init(struct qtable *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->mask = cap - 1;
	return t->slots ? 0 : -1;
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

static uint64_t hash__bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	/* FNV-1a: the keys are short texts, nothing adversarial is gained by colliding them */
	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash__str(uint64_t h, const char *s)
{
	return hash__bytes(h, s, strlen(s));
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
 * either, a fingerprint is computed afresh. Full, the cache is emptied and refilled. Only
 * the main thread builds groups. At most FP_CACHE_MAX * 3 * FP_CACHE_TEXT_MAX bytes. */
#define FP_CACHE_MAX 1024
#define FP_CACHE_TEXT_MAX 2048

/* Fingerprints per distinct SQL text; emptied when full */
static struct hashmap_table fp_texts = HASHMAP_TABLE("SQL fingerprints", 256, FP_CACHE_MAX);

/* A SQL text and its fingerprint. */
struct fp_cached {
	char *sql;
	char *fp;
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

/* Returns a malloc'd fingerprint of SQL text sql (len bytes), the cached one when this
 * text was seen; NULL on ENOMEM. */
static char *sql_fingerprint_cached(const char *sql, size_t len)
{
	uint64_t h = hash__bytes(0xcbf29ce484222325ULL, sql, len);
	struct fp_cached *fc;
	char *fp = malloc(2 * len + 16);

	if (!fp)
		return NULL;
	if (len > FP_CACHE_TEXT_MAX || (!fp_cache && !(fp_cache = hashmap__new_in(&fp_texts)))) {
		sql_fingerprint(sql, len, fp, 2 * len + 16);
		return fp;
	}
	fc = hashmap__get(fp_cache, h);
	if (fc && strcmp(fc->sql, sql) == 0) {
		strcpy(fp, fc->fp);
		return fp;
	}
	sql_fingerprint(sql, len, fp, 2 * len + 16);
	if (fc) /* another text of the same hash: the newest wins */
		fp_cached_drop(h, hashmap__del(fp_cache, h), NULL);
	if (hashmap__size(fp_cache) >= FP_CACHE_MAX)
		hashmap__sweep(fp_cache, fp_cached_drop, NULL);
	fc = calloc(1, sizeof(*fc));
	if (fc && (fc->sql = strdup(sql)) && (fc->fp = strdup(fp)) &&
	    !hashmap__set(fp_cache, h, fc, NULL))
		return fp;
	if (fc) {
		free(fc->sql);
		free(fc->fp);
	}
	free(fc);
	return fp;
}

/* Fills fp and site for every query. Returns 0, or -1 on ENOMEM. */
static int grouping__fingerprints(struct grouping *g)
{
	const struct query *q;
	size_t i, len;

	for (i = 0; i < g->n; i++) {
		q = &g->qs[i];
		len = strlen(query__sql(q));
		if (db__is_sql(q->db)) {
			g->fp[i] = sql_fingerprint_cached(query__sql(q), len);
		} else {
			/* the bound kv_fingerprint promises: never cut */
			g->fp[i] = malloc(2 * len + 16);
			if (g->fp[i])
				kv_fingerprint(q, g->fp[i], 2 * len + 16);
		}
		if (!g->fp[i])
			return -1;
		g->site[i] = stack__call_site(&q->stack);
	}
	return 0;
}

/* Assigns every query its group and links each group's queries. Returns 0, or -1 on ENOMEM. */
static int grouping__assign(struct grouping *g)
{
	struct qtable t;
	size_t i, rep;
	uint64_t h;

	if (qtable__init(&t, g->n))
		return -1;
	for (i = 0; i < g->n; i++) {
		h = hash__str(0xcbf29ce484222325ULL ^ g->qs[i].db, g->fp[i]);
		rep = qtable__find_or_add(&t, h, i, eq_fingerprint, g);
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
	free(t.slots);
	return 0;
}

/*
 * Counts, per group, the queries whose text repeats an earlier one's into
 * dups[], and per (group, call site) the queries there into site_count[] of
 * the first query at it. Returns 0, or -1 on ENOMEM.
 */
static int grouping__count(struct grouping *g, size_t *dups)
{
	struct qtable text, sites;
	size_t i, rep;
	uint64_t h;
	int err = -1;

	sites.slots = NULL;
	if (qtable__init(&text, g->n) || qtable__init(&sites, g->n))
		goto out;
	for (i = 0; i < g->n; i++) {
		h = hash__str(0xcbf29ce484222325ULL ^ g->group[i], query__sql(&g->qs[i]));
		if (qtable__find_or_add(&text, h, i, eq_text, g) != i)
			dups[g->group[i]]++;
		if (!g->site[i])
			continue;
		h = hash__str(0xcbf29ce484222325ULL ^ g->group[i], g->site[i]->filename);
		h = hash__bytes(h, &g->site[i]->lineno, sizeof(g->site[i]->lineno));
		rep = qtable__find_or_add(&sites, h, i, eq_site, g);
		g->site_count[rep]++;
	}
	err = 0;
out:
	free(text.slots);
	free(sites.slots);
	return err;
}

/* Adds a string member made valid UTF-8; returns false on ENOMEM. */
static bool json__add_str(cJSON *obj, const char *name, const char *s)
{
	char *clean = utf8_sanitize(s, strlen(s));
	bool ok;

	if (!clean)
		return false;
	ok = cJSON_AddStringToObject(obj, name, clean) != NULL;
	free(clean);
	return ok;
}

/* Adds a string item made valid UTF-8 to an array; returns false on ENOMEM. */
static bool json__append_str(cJSON *arr, const char *s)
{
	char *clean = utf8_sanitize(s, strlen(s));
	cJSON *item;

	if (!clean)
		return false;
	item = cJSON_CreateString(clean);
	free(clean);
	if (!item || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static bool json__append_num(cJSON *arr, double v)
{
	cJSON *item = cJSON_CreateNumber(v);

	if (!item || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* Builds group gi's object into arr; returns false on ENOMEM. */
static bool grouping__emit(const struct grouping *g, size_t gi, size_t dups, cJSON *arr)
{
	const struct query *qs = g->qs;
	cJSON *o = cJSON_CreateObject(), *sites, *idx;
	size_t i, count = 0;
	uint64_t ns = 0;
	bool n_plus_one = false;
	char *site;
	int n;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	for (i = g->first[gi]; i != SIZE_MAX; i = g->next[i]) {
		count++;
		ns += qs[i].busy_ns;
		if (g->site_count[i] >= GROUPS_N_PLUS_ONE_MIN)
			n_plus_one = true;
	}
	i = g->first[gi];
	if (!json__add_str(o, "fingerprint", g->fp[i]) ||
	    !json__add_str(o, "db", db__name(qs[i].db)) ||
	    !cJSON_AddNumberToObject(o, "count", count) ||
	    !cJSON_AddNumberToObject(o, "total_time", round(ns / 1e3) / 1e3))
		return false;
	sites = cJSON_AddArrayToObject(o, "call_sites");
	if (!sites)
		return false;
	for (; i != SIZE_MAX; i = g->next[i]) {
		/* a call site is listed where it first appears: its counter lives there */
		if (!g->site_count[i])
			continue;
		n = asprintf(&site, "%s:%d", g->site[i]->filename, g->site[i]->lineno);
		if (n < 0)
			return false;
		if (!json__append_str(sites, site)) {
			free(site);
			return false;
		}
		free(site);
	}
	if (!cJSON_AddNumberToObject(o, "duplicates", dups) ||
	    !cJSON_AddBoolToObject(o, "n_plus_one", n_plus_one))
		return false;
	idx = cJSON_AddArrayToObject(o, "queries");
	if (!idx)
		return false;
	for (i = g->first[gi]; i != SIZE_MAX; i = g->next[i])
		if (!json__append_num(idx, i))
			return false;
	return true;
}

cJSON *groups__build_list(const struct query *qs, size_t n)
{
	struct grouping g = { .qs = qs, .n = n };
	size_t i, *dups = NULL;
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	/* calloc(0) may return NULL: size everything for at least one query */
	g.fp = calloc(n + 1, sizeof(*g.fp));
	g.site = calloc(n + 1, sizeof(*g.site));
	g.group = calloc(n + 1, sizeof(*g.group));
	g.next = calloc(n + 1, sizeof(*g.next));
	g.site_count = calloc(n + 1, sizeof(*g.site_count));
	g.first = calloc(n + 1, sizeof(*g.first));
	g.last = calloc(n + 1, sizeof(*g.last));
	dups = calloc(n + 1, sizeof(*dups));
	if (!g.fp || !g.site || !g.group || !g.next || !g.site_count || !g.first || !g.last ||
	    !dups || grouping__fingerprints(&g) || grouping__assign(&g) ||
	    grouping__count(&g, dups))
		goto fail;
	for (i = 0; i < g.ngroups; i++)
		if (!grouping__emit(&g, i, dups[i], arr))
			goto fail;
	goto out;
fail:
	cJSON_Delete(arr);
	arr = NULL;
out:
	for (i = 0; g.fp && i < n; i++)
		free(g.fp[i]);
	free(g.fp);
	free(g.site);
	free(g.group);
	free(g.next);
	free(g.site_count);
	free(g.first);
	free(g.last);
	free(dups);
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
