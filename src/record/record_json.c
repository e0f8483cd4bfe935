/* A record's JSON text (docs/FORMAT.md), written straight into one reused buffer. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "groups.h"
#include "util/hashmap.h"
#include "util/jsonw.h"
#include "profile.h"
#include "record.h"

/* Bound of the stack-JSON cache: distinct frame lists kept serialized. Past it the
 * cache is emptied and refilled. Only the main thread builds records. */
#define STACK_JSON_MAX 1024

/* Stack JSON per distinct frame list; emptied when full */
static struct hashmap_table stack_json_texts = HASHMAP_TABLE("stack JSON", 256, STACK_JSON_MAX);

/* Milliseconds with microsecond precision, as the format promises. */
static double ms(uint64_t ns)
{
	return round(ns / 1e3) / 1e3;
}

static double unix_ms(uint64_t mono_ns)
{
	return round(mono_to_unix_ns(mono_ns) / 1e3) / 1e3;
}

/* Milliseconds from the record's start to t (negative before it). */
static double offset_ms(const struct record *r, uint64_t t)
{
	return t >= r->start_ns ? ms(t - r->start_ns) : -ms(r->start_ns - t);
}

static void put_iso(struct jsonw *w, const char *name, uint64_t mono_ns)
{
	char buf[40];

	iso8601_utc(mono_to_unix_ns(mono_ns), buf, sizeof(buf));
	jsonw__mstr(w, name, buf);
}

/* A frame in Scooby's form ({filename, lineno, function}) or a native one. */
static void put_frame(struct jsonw *w, const struct frame *f)
{
	jsonw__open(w, '{');
	if (f->native) {
		jsonw__mstr(w, "module", f->module);
		jsonw__mstr(w, "symbol", f->symbol);
		jsonw__mnum(w, "offset", f->offset);
	} else if (f->unresolved) {
		jsonw__mstr(w, "filename", NULL);
		jsonw__mstr(w, "lineno", NULL);
		jsonw__mstr(w, "function", NULL);
		jsonw__mbool(w, "unresolved", true);
	} else {
		jsonw__mstr(w, "filename", f->filename);
		jsonw__mnum_or_null(w, "lineno", f->lineno);
		jsonw__mstr(w, "function", f->function);
	}
	jsonw__close(w, '}');
}

/* A frame list serialized once: its frames (to confirm a hash match), its JSON array, and
 * where each frame's object lies in it (span[2 * i] to span[2 * i + 1]). */
struct stack_json {
	size_t nframes;
	struct frame *frames;
	char *json;
	uint32_t *span;
	uint64_t serial; /* never the same for two: a record's frame table remembers it */
};

static uint64_t stack_json_serials;
/* moves on whenever the cache frees an entry: a shared stack's memo of its entry
 * (struct frames_share.json) holds while its json_gen is this */
static uint64_t stack_json_gen = 1;

static struct hashmap *stack_jsons; /* frame-list hash -> struct stack_json */

static void stack_json_free(void *v)
{
	struct stack_json *sj = v;

	if (!sj)
		return;
	free(sj->frames);
	free(sj->json);
	free(sj->span);
	free(sj);
}

static int stack_json_drop(uint64_t key, void *val, void *ctx)
{
	stack_json_free(val);
	return 1;
}

static bool frame_eq(const struct frame *a, const struct frame *b)
{
	/* strings are interned: the same text is the same pointer */
	return a->filename == b->filename && a->lineno == b->lineno && a->function == b->function &&
	       a->module == b->module && a->symbol == b->symbol && a->offset == b->offset &&
	       a->native == b->native && a->unresolved == b->unresolved;
}

static uint64_t frames_hash(const struct frame *f, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;
	size_t i;

	/* two steps a frame, over what tells frames apart (frame_eq confirms a match) */
	for (i = 0; i < n; i++) {
		if (f[i].native)
			h ^= ((uintptr_t)f[i].module + f[i].offset) ^ (uintptr_t)f[i].symbol ^ 1;
		else
			h ^= (uintptr_t)f[i].filename ^ ((uint64_t)f[i].lineno << 48) ^
			     ((uint64_t)f[i].unresolved << 1);
		h *= 0x100000001b3ULL;
		h = (h ^ (uintptr_t)f[i].function) * 0x100000001b3ULL;
	}
	return h;
}

/* Serializes a frame list as a JSON array afresh, with each frame's span in span (2 n);
 * malloc'd, NULL on ENOMEM. */
static char *frames_json(const struct frame *frames, size_t n, uint32_t *span)
{
	struct jsonw w = {};
	size_t i;

	jsonw__open(&w, '[');
	for (i = 0; i < n; i++) {
		span[2 * i] = w.len + (i > 0); /* past the comma */
		put_frame(&w, &frames[i]);
		span[2 * i + 1] = w.len;
	}
	jsonw__close(&w, ']');
	if (w.oom) {
		jsonw__free(&w);
		return NULL;
	}
	return w.buf;
}

/* stack_json's lookup by the frames themselves: their hash, then each compared. */
static const struct stack_json *stack_json_lookup(const struct stack *s)
{
	uint64_t h = frames_hash(s->frames, s->nframes);
	struct stack_json *sj;
	size_t i;

	if (!stack_jsons && !(stack_jsons = hashmap__new_in(&stack_json_texts)))
		return NULL;
	sj = hashmap__get(stack_jsons, h);
	if (sj && sj->nframes == s->nframes) {
		for (i = 0; i < s->nframes && frame_eq(&sj->frames[i], &s->frames[i]); i++)
			;
		if (i == s->nframes)
			return sj;
	}
	sj = hashmap__del(stack_jsons, h);
	if (sj)
		stack_json_gen++;
	stack_json_free(sj);
	if (hashmap__size(stack_jsons) >= STACK_JSON_MAX) {
		stack_json_gen++;
		hashmap__sweep(stack_jsons, stack_json_drop, NULL);
	}
	sj = calloc(1, sizeof(*sj));
	if (!sj)
		return NULL;
	sj->nframes = s->nframes;
	sj->serial = ++stack_json_serials;
	sj->frames = malloc((s->nframes ? s->nframes : 1) * sizeof(*sj->frames));
	sj->span = malloc((s->nframes ? s->nframes : 1) * 2 * sizeof(*sj->span));
	if (sj->span)
		sj->json = frames_json(s->frames, s->nframes, sj->span);
	if (sj->frames && s->nframes)
		memcpy(sj->frames, s->frames, s->nframes * sizeof(*sj->frames));
	if (!sj->frames || !sj->json || hashmap__set(stack_jsons, h, sj, NULL)) {
		stack_json_free(sj);
		return NULL;
	}
	return sj;
}

/* Returns a stack's frame list serialized once per distinct frame list (owned by the
 * cache, valid until the next call), or NULL on ENOMEM. A shared stack (every query's of
 * a resolved call path) finds its entry without hashing and comparing its frames again. */
static const struct stack_json *stack_json(const struct stack *s)
{
	struct frames_share *sh = s->share;
	const struct stack_json *sj;

	if (sh && sh->json && sh->json_gen == stack_json_gen)
		return sh->json;
	sj = stack_json_lookup(s);
	if (sh && sj) {
		sh->json = sj;
		sh->json_gen = stack_json_gen;
	}
	return sj;
}

/*
 * The stored form (docs/FORMAT.md, "The stored form"): every distinct frame of a record
 * once, in its "frames", and each stack as the indices of its frames there. A request's
 * stacks repeat (an N+1 loop's queries share all their frames, the others most of the outer
 * ones), and Redis's cost per record grows with its bytes: on the N+1 page this writes
 * ~3x fewer (9.4 KiB for 28.4).
 */
#define FRAME_TABLE_RECENT 8

struct frame_table {
	const struct frame **frames; /* the record's distinct frames, in first-use order */
	size_t n, cap;
	uint32_t *slots; /* open addressing: index in frames + 1, 0 for an empty slot */
	size_t mask; /* this record's slots - 1: sized for it, not for the largest record */
	size_t slots_cap;
	struct jsonw text; /* the frames' objects, copied from the stack cache at first use */
	struct frame *own; /* the profile's frames no stack had: written, and kept to compare */
	size_t nown, capown;
	uint32_t *idx; /* the record's stacks' indices, one after another: cap of them */
	size_t nidx;
	/* the last stacks indexed (struct stack_json.serial) and where their indices are in
	 * idx: a request's queries repeat whole stacks (on the N+1 page 7 stacks, 3 distinct) */
	struct {
		uint64_t serial;
		size_t at;
	} recent[FRAME_TABLE_RECENT];
	size_t nrecent;
};

/* The table of the record being written in the stored form; NULL for the full form. */
static struct frame_table *frame_table;

/* Empties t for a record of up to nframes frames, nown of them its profile's. Returns 0, or
 * -ENOMEM. */
static int frame_table__reset(struct frame_table *t, size_t nframes, size_t nown)
{
	size_t nslots = 64;
	void *p;

	nframes += nown;
	while (nslots < 2 * nframes)
		nslots *= 2;
	if (nown > t->capown || !t->own) {
		p = realloc(t->own, (nown + 1) * sizeof(*t->own));
		if (!p)
			return -ENOMEM;
		t->own = p;
		t->capown = nown;
	}
	if (nframes > t->cap || !t->frames) {
		p = realloc(t->frames, (nframes + 1) * sizeof(*t->frames));
		if (!p)
			return -ENOMEM;
		t->frames = p;
		p = realloc(t->idx, (nframes + 1) * sizeof(*t->idx));
		if (!p)
			return -ENOMEM;
		t->idx = p;
		t->cap = nframes;
	}
	if (nslots > t->slots_cap) {
		p = realloc(t->slots, nslots * sizeof(*t->slots));
		if (!p)
			return -ENOMEM;
		t->slots = p;
		t->slots_cap = nslots;
	}
	t->mask = nslots - 1;
	memset(t->slots, 0, nslots * sizeof(*t->slots));
	t->n = 0;
	t->nidx = 0;
	t->nown = 0;
	t->nrecent = 0;
	jsonw__reset(&t->text);
	return 0;
}

/* Returns the slot of f in t: its index + 1 when t has it, 0 (to fill) when not. */
static uint32_t *frame_table__slot(struct frame_table *t, const struct frame *f)
{
	uint64_t h = frames_hash(f, 1);
	size_t i;

	/* the product's low bits see only the pointers' low bits, which alignment zeroes */
	h ^= h >> 32;
	h *= 0x9e3779b97f4a7c15ULL;
	i = (h >> 32) & t->mask;

	while (t->slots[i]) {
		if (frame_eq(t->frames[t->slots[i] - 1], f))
			break;
		i = (i + 1) & t->mask;
	}
	return &t->slots[i];
}

/* Returns f's index in t, adding it (and its object's JSON, json of len bytes) when new;
 * the caller sized t for every frame. */
static uint32_t frame_table__index(struct frame_table *t, const struct frame *f, const char *json,
				   size_t len)
{
	uint32_t *slot = frame_table__slot(t, f);

	if (!*slot) {
		t->frames[t->n] = f;
		*slot = ++t->n;
		jsonw__raw_n(&t->text, json, len);
	}
	return *slot - 1;
}

/* The profile's frame_refs index (profile.h): the Python frame (file, name, line)'s index
 * in the frame table, added when no stack had it; -1 past the room the profile was given. */
static int64_t frame_table__python(void *ctx, const char *file, const char *name, int line)
{
	struct frame_table *t = ctx;
	struct frame f = { .filename = file, .lineno = line, .function = name };
	uint32_t *slot = frame_table__slot(t, &f);

	if (*slot)
		return *slot - 1;
	if (t->nown >= t->capown)
		return -1;
	t->own[t->nown] = f;
	t->frames[t->n] = &t->own[t->nown++];
	*slot = ++t->n;
	put_frame(&t->text, &f);
	return t->n - 1;
}

/* Returns stack s's indices in t (sj: its cached JSON), adding its new frames; a stack the
 * record had lately is not looked up again. The caller sized t for every frame. */
static const uint32_t *frame_table__stack(struct frame_table *t, const struct stack *s,
					  const struct stack_json *sj)
{
	uint32_t *idx;
	size_t i;

	for (i = 0; i < t->nrecent && i < FRAME_TABLE_RECENT; i++)
		if (t->recent[i].serial == sj->serial)
			return t->idx + t->recent[i].at;
	if (t->nidx + s->nframes > t->cap) { /* a stack record_nframes did not count */
		t->nidx = 0;
		t->nrecent = 0;
	}
	idx = t->idx + t->nidx;
	for (i = 0; i < s->nframes; i++)
		idx[i] = frame_table__index(t, &s->frames[i], sj->json + sj->span[2 * i],
					    sj->span[2 * i + 1] - sj->span[2 * i]);
	i = t->nrecent++ % FRAME_TABLE_RECENT;
	t->recent[i].serial = sj->serial;
	t->recent[i].at = t->nidx;
	t->nidx += s->nframes;
	return idx;
}

/* The number of frames in r's stacks: what its frame table may have to hold. */
static size_t record_nframes(const struct record *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nqueries; i++)
		n += r->queries[i].stack.nframes;
	for (i = 0; i < r->redis.n; i++)
		n += r->redis.q[i].stack.nframes;
	for (i = 0; i < r->memcache.n; i++)
		n += r->memcache.q[i].stack.nframes;
	for (i = 0; i < r->nlogs; i++)
		n += r->logs[i].stack.nframes;
	return n;
}

/* stack, stack_truncated, stack_partial; a cache miss out of memory sets oom. */
static void put_stack(struct jsonw *w, const struct stack *s)
{
	const struct stack_json *sj = stack_json(s);
	struct frame_table *t = frame_table;

	if (!sj) {
		w->oom = true;
		return;
	}
	jsonw__name(w, "stack");
	if (t) {
		jsonw__uints(w, frame_table__stack(t, s, sj), s->nframes);
	} else {
		jsonw__raw(w, sj->json);
	}
	jsonw__mbool(w, "stack_truncated", s->truncated);
	jsonw__mbool(w, "stack_partial", s->partial);
}

/* The members every store's entry has: timing, error, origin, stack. */
static void put_query_common(struct jsonw *w, const struct record *r, const struct query *q)
{
	put_iso(w, "start", q->start_ns);
	put_iso(w, "end", q->end_ns);
	jsonw__mnum(w, "start_offset_ms", offset_ms(r, q->start_ns));
	jsonw__mnum(w, "time_taken", ms(q->busy_ns));
	jsonw__mstr(w, "error", q->error);
	jsonw__mbool(w, "truncated", q->truncated);
	jsonw__mnum(w, "tid", q->tid);
	jsonw__mstr(w, "via", q->wire ? "wire" : "library");
	jsonw__mstr(w, "attributed_by", q->attributed_by);
	if (q->attribution_reason)
		jsonw__mstr(w, "attribution_reason", q->attribution_reason);
	put_stack(w, &q->stack);
}

static void put_query(struct jsonw *w, const struct record *r, const struct query *q)
{
	jsonw__mstr(w, "db", db__name(q->db));
	jsonw__mstr(w, "query", q->sql ? q->sql : "");
	put_query_common(w, r, q);
}

/* A Redis command: command, key, args, and the common members. */
static void put_redis(struct jsonw *w, const struct record *r, const struct query *q)
{
	uint32_t i;

	jsonw__mstr(w, "command", q->command);
	jsonw__mstr(w, "key", q->key);
	jsonw__name(w, "args");
	jsonw__open(w, '[');
	for (i = 0; i < q->nargs; i++)
		jsonw__str(w, q->args[i]);
	jsonw__close(w, ']');
	jsonw__mbool(w, "args_truncated", q->args_truncated);
	jsonw__mstr(w, "query", q->sql ? q->sql : "");
	put_query_common(w, r, q);
}

/* A memcached command in Scooby's Memcache form: func_name and arg. */
static void put_memcache(struct jsonw *w, const struct record *r, const struct query *q)
{
	jsonw__mstr(w, "func_name", q->command);
	jsonw__mstr(w, "arg", q->key);
	jsonw__mstr(w, "query", q->sql ? q->sql : "");
	put_query_common(w, r, q);
}

/* Writes a cJSON value as cJSON_PrintUnformatted would (jsonw prints numbers and strings
 * as cJSON does), without cJSON's own growing print buffer. */
static void put_value(struct jsonw *w, const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		jsonw__open(w, cJSON_IsObject(v) ? '{' : '[');
		for (c = v->child; c; c = c->next) {
			if (cJSON_IsObject(v))
				jsonw__name(w, c->string ? c->string : "");
			put_value(w, c);
		}
		jsonw__close(w, cJSON_IsObject(v) ? '}' : ']');
	} else if (cJSON_IsString(v)) {
		jsonw__str_as_is(w, v->valuestring ? v->valuestring : "");
	} else if (cJSON_IsNumber(v)) {
		jsonw__num(w, v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		jsonw__bool(w, cJSON_IsTrue(v));
	} else if (cJSON_IsRaw(v) && v->valuestring) {
		jsonw__raw(w, v->valuestring);
	} else {
		jsonw__null(w);
	}
}

/* Writes a member holding a cJSON tree (groups, a profile); NULL writes nothing. */
static void put_tree(struct jsonw *w, const char *name, const cJSON *tree)
{
	if (!tree)
		return;
	jsonw__name(w, name);
	put_value(w, tree);
}

/* One store family's object: count, omitted, total_time, queries, groups (the tree given,
 * or written from the queries when g->write). */
static void put_family(struct jsonw *w, const char *name, const struct record *r,
		       const struct query *qs, size_t n, size_t omitted, double total_ms,
		       struct record_groups *g, const cJSON *groups,
		       void (*put)(struct jsonw *, const struct record *, const struct query *))
{
	int n_plus_one;

	size_t i;

	jsonw__name(w, name);
	jsonw__open(w, '{');
	jsonw__mnum(w, "count", n + omitted);
	jsonw__mnum(w, "omitted", omitted);
	jsonw__mnum(w, "total_time", round(total_ms * 1e3) / 1e3);
	jsonw__name(w, "queries");
	jsonw__open(w, '[');
	for (i = 0; i < n; i++) {
		jsonw__open(w, '{');
		put(w, r, &qs[i]);
		jsonw__close(w, '}');
	}
	jsonw__close(w, ']');
	if (g->write) {
		jsonw__name(w, "groups");
		n_plus_one = groups__write(w, qs, n);
		if (n_plus_one > 0)
			g->n_plus_one += n_plus_one;
	} else {
		put_tree(w, "groups", groups);
	}
	jsonw__close(w, '}');
}

/* plugins_data.CustomLog: the request thread's stdout/stderr writes. */
static void put_logs(struct jsonw *w, const struct record *r)
{
	const struct log_entry *l;
	size_t i;

	jsonw__name(w, "CustomLog");
	jsonw__open(w, '{');
	jsonw__mnum(w, "count", r->nlogs + r->logs_omitted);
	jsonw__mnum(w, "omitted", r->logs_omitted);
	jsonw__name(w, "logs");
	jsonw__open(w, '[');
	for (i = 0; i < r->nlogs; i++) {
		l = &r->logs[i];
		jsonw__open(w, '{');
		jsonw__mstr(w, "s", l->s);
		jsonw__mstr(w, "stream", l->fd == 1 ? "stdout" : "stderr");
		put_iso(w, "time", l->ts);
		jsonw__mnum(w, "start_offset_ms", offset_ms(r, l->ts));
		jsonw__mbool(w, "truncated", l->truncated);
		jsonw__mnum(w, "tid", l->tid);
		put_stack(w, &l->stack);
		jsonw__close(w, '}');
	}
	jsonw__close(w, ']');
	jsonw__close(w, '}');
}

/* The request object. */
static void put_request(struct jsonw *w, const struct record *r)
{
	jsonw__name(w, "request");
	jsonw__open(w, '{');
	jsonw__mstr(w, "method", r->background ? "background" : r->method);
	jsonw__mstr(w, "path", r->path);
	jsonw__mnum_or_null(w, "status", r->status);
	jsonw__mnum(w, "start_unix_ms", unix_ms(r->start_ns));
	jsonw__mnum(w, "duration_ms", ms(r->end_ns - r->start_ns));
	jsonw__mnum(w, "pid", r->pid);
	jsonw__mnum_or_null(w, "tid", r->tid);
	jsonw__mstr(w, "comm", r->comm);
	jsonw__mstr(w, "host", r->host);
	jsonw__mstr(w, "request_id", r->request_id);
	jsonw__mbool(w, "incomplete", r->incomplete);
	jsonw__close(w, '}');
}

/* Why a record has no view name; NULL when it has one. */
static const char *view_reason(const struct record *r)
{
	if (r->view_name)
		return NULL;
	if (r->background)
		return "a background record has no view";
	if (r->view_reason)
		return r->view_reason;
	return "no Python stack was captured during the request and no dispatcher call was seen (--view-probe names every view)";
}

/* plugins_data: ViewName, ProcessTime, SQL, Redis, Memcache, CustomLog, Profile. */
static void put_plugins(struct jsonw *w, const struct record *r, struct record_groups *g)
{
	struct profile_frame_refs refs = { .index = frame_table__python, .ctx = frame_table };

	jsonw__name(w, "plugins_data");
	jsonw__open(w, '{');
	jsonw__name(w, "ViewName");
	jsonw__open(w, '{');
	jsonw__mstr(w, "view_name", r->view_name);
	jsonw__mstr(w, "scooby_view_name", r->scooby_view_name);
	jsonw__mstr(w, "view_reason", view_reason(r));
	jsonw__close(w, '}');
	jsonw__name(w, "ProcessTime");
	jsonw__open(w, '{');
	put_iso(w, "start", r->start_ns);
	put_iso(w, "end", r->end_ns);
	jsonw__mnum(w, "process_time", ms(r->end_ns - r->start_ns));
	jsonw__close(w, '}');
	put_family(w, "SQL", r, r->queries, r->nqueries, r->omitted, record__total_db_ms(r), g,
		   g->sql, put_query);
	put_family(w, "Redis", r, r->redis.q, r->redis.n, r->redis.omitted,
		   query_list__total_ms(&r->redis), g, g->redis, put_redis);
	put_family(w, "Memcache", r, r->memcache.q, r->memcache.n, r->memcache.omitted,
		   query_list__total_ms(&r->memcache), g, g->memcache, put_memcache);
	put_logs(w, r);
	if (r->profile) {
		jsonw__name(w, "Profile");
		if (profile__write_json(r->profile, (r->end_ns - r->start_ns) / 1e6, w,
					frame_table ? &refs : NULL))
			w->oom = true;
	}
	jsonw__close(w, '}');
}

/* The record's JSON in the full form, or in the stored form when table (its frame table). */
static char *record_json(const struct record *r, struct record_groups *g, struct frame_table *table,
			 size_t *len)
{
	static struct jsonw w; /* reused: records are built on the main thread only */
	struct record_groups none = {}, *groups = g ? g : &none;
	char *out = NULL;

	jsonw__reset(&w);
	if (table && frame_table__reset(table, record_nframes(r),
					r->profile ? profile__nframes(r->profile) : 0))
		goto cleanup;
	frame_table = table;
	jsonw__open(&w, '{');
	jsonw__mstr(&w, "uuid", r->uuid);
	jsonw__mnum(&w, "version", 1);
	put_request(&w, r);
	put_plugins(&w, r, groups);
	jsonw__mnum(&w, "lost_events", r->lost_events);
	if (table) {
		jsonw__name(&w, "frames");
		jsonw__open(&w, '[');
		if (table->n)
			jsonw__raw_n(&w, table->text.buf, table->text.len);
		jsonw__close(&w, ']');
		w.oom = w.oom || table->text.oom;
	}
	jsonw__close(&w, '}');
	frame_table = NULL;
	out = jsonw__take(&w, len);
cleanup:
	cJSON_Delete(groups->sql);
	cJSON_Delete(groups->redis);
	cJSON_Delete(groups->memcache);
	groups->sql = groups->redis = groups->memcache = NULL;
	return out;
}

char *record__to_json(const struct record *r, struct record_groups *g)
{
	size_t len;

	return record_json(r, g, NULL, &len);
}

char *record__to_json_len(const struct record *r, struct record_groups *g, size_t *len)
{
	return record_json(r, g, NULL, len);
}

char *record__to_stored_json(const struct record *r, struct record_groups *g, size_t *len)
{
	static struct frame_table table; /* reused, as the writer is */

	return record_json(r, g, &table, len);
}
