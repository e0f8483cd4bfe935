/* One request's CPU profile written out: folded stacks, the top functions, its JSON (docs/FORMAT.md). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "profile_int.h"
#include "util/hashmap.h"
#include "util/jsonw.h"

/* Bound of the label cache: folded-stack labels of distinct (function, line) frames. Past
 * it the cache is emptied, between two requests' folds. Only the main thread folds. */
#define PROFILE_LABELS_MAX 16384

/* A frame's label, kept by what it shows: a function's names are interned (struct frame),
 * so the same file, name, line and kind are the same label whatever the request. */
struct label_text {
	const char *file, *name;
	int line;
	bool native;
	char *text;
	size_t len;
};

static struct hashmap_table label_texts = HASHMAP_TABLE("profile labels", 256, PROFILE_LABELS_MAX);
static struct hashmap *labels; /* struct pframe.hash -> struct label_text */

static void label_text_free(void *v)
{
	struct label_text *l = v;

	if (l)
		free(l->text);
	free(l);
}

static int label_text_drop(uint64_t key, void *val, void *ctx)
{
	label_text_free(val);
	return 1;
}

/* Off-CPU time as the samples it would have taken, rounded. */
static uint64_t profile__offcpu_samples(const struct profile *p)
{
	return (uint64_t)llround((double)p->offcpu_ns * p->hz / 1e9);
}

/* Returns frame id's label for folded stacks (malloc'd), or NULL on ENOMEM. */
static char *profile__label(const struct profile *p, uint32_t id)
{
	const struct pframe *fr = &p->frames[id];
	const struct pfunc *fn = &p->funcs[fr->func];
	char *s = NULL, *c;
	int n;

	if (!fn->file && !fn->name)
		n = asprintf(&s, "%s", UNRESOLVED);
	else if (fn->native)
		n = asprintf(&s, "%s (%s)", fn->name ? fn->name : UNRESOLVED,
			     fn->file ? fn->file : "?");
	else if (fr->line)
		n = asprintf(&s, "%s (%s:%d)", fn->name ? fn->name : "?", fn->file ? fn->file : "?",
			     fr->line);
	else
		n = asprintf(&s, "%s (%s)", fn->name ? fn->name : "?", fn->file ? fn->file : "?");
	if (n < 0)
		return NULL;
	for (c = s; *c; c++)
		if (*c == ';' || *c == '\n' || *c == '\r')
			*c = '_';
	return s;
}

/*
 * Returns frame id's label and its length: the cache's (written once per distinct frame),
 * or, when the cache is full or another label holds its hash, a fresh one put in *owned
 * for the caller to free. NULL on ENOMEM. The cache only grows here: what it returned stays
 * valid until profile_labels__trim.
 */
static const char *profile__label_cached(const struct profile *p, uint32_t id, size_t *len,
					 char **owned)
{
	const struct pframe *fr = &p->frames[id];
	const struct pfunc *fn = &p->funcs[fr->func];
	uint64_t h = fr->hash; /* of its function (names, kind) and line: profile.c's */
	struct label_text *l;
	char *s;

	*owned = NULL;
	if (!labels && !(labels = hashmap__new_in(&label_texts)))
		return NULL;
	l = hashmap__get(labels, h);
	if (l && l->file == fn->file && l->name == fn->name && l->line == fr->line &&
	    l->native == fn->native) {
		*len = l->len;
		return l->text;
	}
	s = profile__label(p, id);
	if (!s)
		return NULL;
	*len = strlen(s);
	if (l || hashmap__size(labels) >= PROFILE_LABELS_MAX || !(l = calloc(1, sizeof(*l)))) {
		*owned = s;
		return s;
	}
	*l = (struct label_text){ .file = fn->file,
				  .name = fn->name,
				  .line = fr->line,
				  .native = fn->native,
				  .text = s,
				  .len = *len };
	if (hashmap__set(labels, h, l, NULL)) {
		free(l);
		*owned = s;
	}
	return s;
}

/* Empties the label cache when a fold of nframes more could not fit in it. */
static void profile_labels__trim(size_t nframes)
{
	if (labels && hashmap__size(labels) + nframes > PROFILE_LABELS_MAX)
		hashmap__sweep(labels, label_text_drop, NULL);
}

/* Returns stack s folded from the frame labels (lens: their lengths), outermost first
 * (malloc'd), or NULL. */
static char *pstack__fold(const struct pstack *s, const char **labels, const size_t *lens)
{
	size_t len = 0, i, l;
	char *out, *w;

	for (i = 0; i < s->depth; i++)
		len += lens[s->ids[i]] + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	w = out;
	for (i = s->depth; i-- > 0;) {
		l = lens[s->ids[i]];
		memcpy(w, labels[s->ids[i]], l);
		w += l;
		*w++ = i ? ';' : '\0';
	}
	return out;
}

/* What the fold's comparisons need: the stacks and their frames' labels. */
struct fold_ctx {
	const struct profile *p;
	const char **labels;
	const size_t *lens;
};

/* One folded line before its text is built: a stack standing for every stack whose text
 * is the same, and their samples together. */
struct fold_line {
	uint32_t stack;
	uint64_t samples;
};

/*
 * Orders stacks s and t as strcmp orders their folded texts, without building them: from
 * the outermost frame, a frame both share is the same label and is passed over; at the
 * first two frames that differ their labels are compared, each followed by its separator
 * (';' when frames follow, the end otherwise; a label holds neither). Folded stacks share
 * most of their outer frames: strcmp on the texts went over those bytes at every compare.
 */
static int fold_cmp(const struct fold_ctx *c, uint32_t si, uint32_t ti)
{
	const struct pstack *s = &c->p->stacks[si], *t = &c->p->stacks[ti];
	size_t i = s->depth, j = t->depth, la, lb, m;
	unsigned char ca, cb;
	uint32_t a, b;
	int r;

	while (i && j) {
		a = s->ids[--i];
		b = t->ids[--j];
		if (a == b)
			continue;
		la = c->lens[a];
		lb = c->lens[b];
		m = la < lb ? la : lb;
		r = memcmp(c->labels[a], c->labels[b], m);
		if (r)
			return r;
		if (la != lb) {
			ca = la > m ? (unsigned char)c->labels[a][m] : i ? ';' : 0;
			cb = lb > m ? (unsigned char)c->labels[b][m] : j ? ';' : 0;
			return ca < cb ? -1 : 1;
		}
		/* two frames labelled alike: the texts go on equal */
	}
	if (i == j) /* both ended */
		return 0;
	return i ? 1 : -1; /* the one that ended first is a prefix, followed by its end */
}

static int fold_cmp_stack(const void *a, const void *b, void *ctx)
{
	return fold_cmp(ctx, ((const struct fold_line *)a)->stack,
			((const struct fold_line *)b)->stack);
}

static int fold_cmp_samples(const void *a, const void *b, void *ctx)
{
	const struct fold_line *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples > y->samples ? -1 : 1;
	return fold_cmp(ctx, x->stack, y->stack);
}

/* The kept stacks folded: each frame's label, and the stacks standing for each distinct
 * folded text, merged and sorted by samples. */
struct fold {
	struct fold_ctx c;
	char **owned; /* labels the cache could not keep */
	struct fold_line *line;
	size_t n;
};

static void fold__free(struct fold *f)
{
	size_t i;

	for (i = 0; f->owned && i < f->c.p->nframes; i++)
		free(f->owned[i]);
	free(f->owned);
	free((void *)f->c.labels);
	free((void *)f->c.lens);
	free(f->line);
}

/*
 * Fills f for p: sorted and merged by text, then by samples, on the stacks' frame ids (no
 * folded text is built). Returns 0 or -ENOMEM (f is then freed).
 */
static int fold__build(struct fold *f, const struct profile *p)
{
	size_t nf = p->nframes ? p->nframes : 1, i, k = 0;
	const char **label = calloc(nf, sizeof(*label));
	size_t *lens = malloc(nf * sizeof(*lens));

	*f = (struct fold){ .c = { .p = p, .labels = label, .lens = lens } };
	f->owned = calloc(nf, sizeof(*f->owned));
	f->line = malloc((p->nstacks ? p->nstacks : 1) * sizeof(*f->line));
	if (!label || !lens || !f->owned || !f->line)
		goto nomem;
	profile_labels__trim(p->nframes);
	for (i = 0; i < p->nframes; i++)
		if (!(label[i] = profile__label_cached(p, i, &lens[i], &f->owned[i])))
			goto nomem;
	for (i = 0; i < p->nstacks; i++)
		f->line[i] = (struct fold_line){ .stack = i, .samples = p->stacks[i].samples };
	qsort_r(f->line, p->nstacks, sizeof(*f->line), fold_cmp_stack, &f->c);
	for (i = 0; i < p->nstacks; i++) {
		if (k && !fold_cmp(&f->c, f->line[k - 1].stack, f->line[i].stack))
			f->line[k - 1].samples += f->line[i].samples;
		else
			f->line[k++] = f->line[i];
	}
	qsort_r(f->line, k, sizeof(*f->line), fold_cmp_samples, &f->c);
	f->n = k;
	return 0;
nomem:
	fold__free(f);
	return -ENOMEM;
}

/* Returns line i's folded text (malloc'd), or NULL on ENOMEM. */
static char *fold__text(const struct fold *f, size_t i)
{
	return pstack__fold(&f->c.p->stacks[f->line[i].stack], f->c.labels, f->c.lens);
}

/*
 * Folds the kept stacks into *out (room for extra more entries), merged and sorted by
 * samples. Sets *n; returns 0 or -ENOMEM.
 */
static int profile__fold_stacks(const struct profile *p, size_t extra, struct profile_folded **out,
				size_t *n)
{
	struct profile_folded *f = calloc(p->nstacks + extra, sizeof(*f));
	struct fold fold;
	int err = -ENOMEM;

	*n = 0;
	if (!f || fold__build(&fold, p)) {
		free(f);
		return -ENOMEM;
	}
	for (*n = 0; *n < fold.n; (*n)++) {
		f[*n].samples = fold.line[*n].samples;
		f[*n].stack = fold__text(&fold, *n);
		if (!f[*n].stack)
			goto cleanup;
	}
	*out = f;
	f = NULL;
	err = 0;
cleanup:
	fold__free(&fold);
	profile_folded__free(f, *n);
	if (err)
		*n = 0;
	return err;
}

/* Appends {name, samples} to f[*n] when samples is not 0. Returns 0 or -ENOMEM. */
static int folded__append(struct profile_folded *f, size_t *n, const char *name, uint64_t samples)
{
	if (!samples)
		return 0;
	f[*n].stack = strdup(name);
	if (!f[*n].stack)
		return -ENOMEM;
	f[(*n)++].samples = samples;
	return 0;
}

int profile__folded(const struct profile *p, struct profile_folded **out, size_t *n)
{
	int err;

	*out = NULL;
	err = profile__fold_stacks(p, 2, out, n);
	if (!err)
		err = folded__append(*out, n, "[other]", p->other);
	if (!err)
		err = folded__append(*out, n, "[off-CPU]", profile__offcpu_samples(p));
	if (err) {
		profile_folded__free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return err;
}

void profile_folded__free(struct profile_folded *f, size_t n)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < n; i++)
		free(f[i].stack);
	free(f);
}

/* A profile's frames as the stored form's frame table has them, each looked up once. */
struct frame_refs {
	const struct profile_frame_refs *refs; /* NULL: the full form */
	const struct profile *p;
	int64_t *idx; /* per frame id: its index, -1 (written in full), -2 (not asked yet) */
};

/* Sets r up for p (refs NULL: the full form). Returns 0 or -ENOMEM. */
static int frame_refs__init(struct frame_refs *r, const struct profile *p,
			    const struct profile_frame_refs *refs)
{
	size_t i;

	*r = (struct frame_refs){ .refs = refs, .p = p };
	if (!refs)
		return 0;
	r->idx = malloc((p->nframes ? p->nframes : 1) * sizeof(*r->idx));
	if (!r->idx)
		return -ENOMEM;
	for (i = 0; i < p->nframes; i++)
		r->idx[i] = -2;
	return 0;
}

/* Whether frame id can be a reference: a Python frame whose file and function are known
 * (what the table's frames are; its label is then "function (file:line)"). */
static bool frame_refs__can(const struct frame_refs *r, uint32_t id)
{
	const struct pfunc *fn = &r->p->funcs[r->p->frames[id].func];

	return r->idx && !fn->native && fn->file && fn->name;
}

/* Returns frame id's index in the record's frame table, adding it, or -1 when it is
 * written in full. */
static int64_t frame_refs__get(struct frame_refs *r, uint32_t id)
{
	const struct pframe *fr = &r->p->frames[id];
	const struct pfunc *fn = &r->p->funcs[fr->func];

	if (!frame_refs__can(r, id))
		return -1;
	if (r->idx[id] == -2)
		r->idx[id] = r->refs->index(r->refs->ctx, fn->file, fn->name, fr->line);
	return r->idx[id];
}

/* Per-frame and per-function self and inclusive samples, for the top lists. */
struct tops {
	uint64_t *frame_self, *frame_total, *func_self, *func_total;
	uint32_t *frame_seen, *func_seen; /* the last stack (+ 1) that counted it */
	uint32_t *best_self, *best_total; /* per function: its frame with the most samples */
	const struct profile *p;
	const uint64_t *by; /* the sort key: func_self or func_total */
};

static void tops__free(struct tops *t)
{
	free(t->frame_self);
	free(t->frame_total);
	free(t->func_self);
	free(t->func_total);
	free(t->frame_seen);
	free(t->func_seen);
	free(t->best_self);
	free(t->best_total);
}

/* Counts one stack's samples: self for its innermost frame, inclusive once per frame and
 * function however often recursion repeats them. */
static void tops__count(struct tops *t, uint32_t si)
{
	const struct pstack *s = &t->p->stacks[si];
	uint32_t id, fn;
	size_t i;

	t->frame_self[s->ids[0]] += s->samples;
	t->func_self[t->p->frames[s->ids[0]].func] += s->samples;
	for (i = 0; i < s->depth; i++) {
		id = s->ids[i];
		fn = t->p->frames[id].func;
		if (t->frame_seen[id] != si + 1) {
			t->frame_seen[id] = si + 1;
			t->frame_total[id] += s->samples;
		}
		if (t->func_seen[fn] != si + 1) {
			t->func_seen[fn] = si + 1;
			t->func_total[fn] += s->samples;
		}
	}
}

/* Keeps frame id as its function's best in best[] when it beats the one there. */
static void tops__best(const struct tops *t, uint32_t *best, const uint64_t *count, uint32_t id)
{
	uint32_t fn = t->p->frames[id].func, cur = best[fn];

	if (cur == NONE || count[id] > count[cur] ||
	    (count[id] == count[cur] && t->p->frames[id].line < t->p->frames[cur].line))
		best[fn] = id;
}

/* Fills t for p. Returns 0 or -ENOMEM. */
static int tops__build(struct tops *t, const struct profile *p)
{
	size_t nf = p->nframes ? p->nframes : 1, nu = p->nfuncs ? p->nfuncs : 1, i;

	memset(t, 0, sizeof(*t));
	t->p = p;
	t->frame_self = calloc(nf, sizeof(uint64_t));
	t->frame_total = calloc(nf, sizeof(uint64_t));
	t->func_self = calloc(nu, sizeof(uint64_t));
	t->func_total = calloc(nu, sizeof(uint64_t));
	t->frame_seen = calloc(nf, sizeof(uint32_t));
	t->func_seen = calloc(nu, sizeof(uint32_t));
	t->best_self = malloc(nu * sizeof(uint32_t));
	t->best_total = malloc(nu * sizeof(uint32_t));
	if (!t->frame_self || !t->frame_total || !t->func_self || !t->func_total ||
	    !t->frame_seen || !t->func_seen || !t->best_self || !t->best_total)
		return -ENOMEM;
	for (i = 0; i < p->nstacks; i++)
		tops__count(t, i);
	memset(t->best_self, 0xff, nu * sizeof(uint32_t));
	memset(t->best_total, 0xff, nu * sizeof(uint32_t));
	for (i = 0; i < p->nframes; i++) {
		tops__best(t, t->best_self, t->frame_self, i);
		tops__best(t, t->best_total, t->frame_total, i);
	}
	return 0;
}

static int str_cmp_null(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* Orders function ids by t->by descending, then by name and file. */
static int tops_cmp(const void *a, const void *b, void *ctx)
{
	const struct tops *t = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const struct pfunc *fx = &t->p->funcs[x], *fy = &t->p->funcs[y];
	int c;

	if (t->by[x] != t->by[y])
		return t->by[x] > t->by[y] ? -1 : 1;
	if (fx->name_key != fy->name_key)
		return fx->name_key < fy->name_key ? -1 : 1;
	c = str_cmp_null(fx->name ? fx->name : UNRESOLVED, fy->name ? fy->name : UNRESOLVED);
	if (!c)
		c = str_cmp_null(fx->file, fy->file);
	return c ? c : (x > y) - (x < y);
}

/*
 * Puts function fn among the PROFILE_JSON_TOP first of ids[0..n) (in tops_cmp order), the
 * last one out if it does not make the list; returns the new n. Only the top is written, and
 * a request's sampled functions are mostly ties of a sample or two: sorting them all cost
 * --profile's writer ~6 us a request, most of it in strcmp.
 */
static size_t top_insert(uint32_t *ids, size_t n, uint32_t fn, const struct tops *t)
{
	size_t i = n < PROFILE_JSON_TOP ? n : PROFILE_JSON_TOP - 1;

	if (n == PROFILE_JSON_TOP && tops_cmp(&fn, &ids[i], (void *)t) > 0)
		return n;
	for (; i > 0 && tops_cmp(&fn, &ids[i - 1], (void *)t) < 0; i--)
		ids[i] = ids[i - 1];
	ids[i] = fn;
	return n < PROFILE_JSON_TOP ? n + 1 : n;
}

/* Writes one top entry for function fn (its line: frame best), in the stored form a
 * reference to that frame when it can be one. */
static void put_top(struct jsonw *w, struct frame_refs *refs, uint32_t fn, uint32_t best,
		    uint64_t samples)
{
	const struct pfunc *f = &refs->p->funcs[fn];
	int line = refs->p->frames[best].line;
	int64_t ref = frame_refs__get(refs, best);

	jsonw__open(w, '{');
	if (ref >= 0) {
		jsonw__mnum(w, "frame", ref);
	} else {
		jsonw__mstr(w, "function", f->name ? f->name : UNRESOLVED);
		jsonw__mstr(w, "filename", f->file);
		jsonw__name(w, "lineno");
		if (line)
			jsonw__num(w, line);
		else
			jsonw__null(w);
	}
	jsonw__mnum(w, "samples", samples);
	jsonw__close(w, '}');
}

/* Writes key: the top functions by by (t->func_self or t->func_total). */
static void put_tops(struct jsonw *w, const char *key, struct tops *t, const uint64_t *by,
		     const uint32_t *best, struct frame_refs *refs)
{
	uint32_t ids[PROFILE_JSON_TOP];
	size_t i, n = 0;

	t->by = by;
	for (i = 0; i < t->p->nfuncs; i++)
		if (by[i])
			n = top_insert(ids, n, i, t);
	jsonw__name(w, key);
	jsonw__open(w, '[');
	for (i = 0; i < n; i++)
		put_top(w, refs, ids[i], best[ids[i]], by[ids[i]]);
	jsonw__close(w, ']');
}

/* Writes {"stack": stack, "samples": samples}. */
static void put_folded(struct jsonw *w, const char *stack, uint64_t samples)
{
	jsonw__open(w, '{');
	jsonw__mstr(w, "stack", stack);
	jsonw__mnum(w, "samples", samples);
	jsonw__close(w, '}');
}

/*
 * Writes folded line i: in the stored form, when each of its frames can be a reference,
 * {"fold": their indices outermost first, "samples"} (ids: room for its depth), otherwise
 * its text. Returns 0 or -ENOMEM.
 */
static int put_fold_line(struct jsonw *w, const struct fold *f, size_t i, struct frame_refs *refs,
			 uint32_t *ids)
{
	const struct pstack *s = &f->c.p->stacks[f->line[i].stack];
	size_t j;
	char *text;

	for (j = 0; j < s->depth && frame_refs__can(refs, s->ids[j]); j++)
		;
	if (s->depth && j == s->depth) {
		for (j = 0; j < s->depth; j++)
			ids[j] = frame_refs__get(refs, s->ids[s->depth - 1 - j]);
		jsonw__open(w, '{');
		jsonw__name(w, "fold");
		jsonw__uints(w, ids, s->depth);
		jsonw__mnum(w, "samples", f->line[i].samples);
		jsonw__close(w, '}');
		return 0;
	}
	text = fold__text(f, i);
	if (!text)
		return -ENOMEM;
	put_folded(w, text, f->line[i].samples);
	free(text);
	return 0;
}

/* Writes "folded": the first PROFILE_JSON_FOLDED stacks, [other] and [off-CPU]. Returns 0
 * or -ENOMEM. */
static int put_folded_list(struct jsonw *w, const struct profile *p, struct frame_refs *refs)
{
	uint64_t rest = p->other, off = profile__offcpu_samples(p);
	size_t i, depth = 1;
	uint32_t *ids = NULL;
	struct fold f;
	int err = 0;

	if (fold__build(&f, p))
		return -ENOMEM;
	if (refs->idx) { /* the stored form: room for one line's indices */
		for (i = 0; i < p->nstacks; i++)
			if (p->stacks[i].depth > depth)
				depth = p->stacks[i].depth;
		ids = malloc(depth * sizeof(*ids));
		if (!ids) {
			fold__free(&f);
			return -ENOMEM;
		}
	}
	jsonw__name(w, "folded");
	jsonw__open(w, '[');
	for (i = 0; !err && i < f.n; i++) {
		if (i < PROFILE_JSON_FOLDED)
			err = put_fold_line(w, &f, i, refs, ids);
		else
			rest += f.line[i].samples;
	}
	if (!err && rest)
		put_folded(w, "[other]", rest);
	if (!err && off)
		put_folded(w, "[off-CPU]", off);
	if (!err)
		jsonw__close(w, ']');
	free(ids);
	fold__free(&f);
	return err;
}

/* Writes the counts and times. */
static void put_totals(struct jsonw *w, const struct profile *p, double duration_ms)
{
	double cpu_ms = round(p->samples * 1e6 / p->hz) / 1e3;
	double off_ms = round(p->offcpu_ns / 1e3) / 1e3;
	double share = duration_ms > 0 ? fmin(1.0, off_ms / duration_ms) : 0;

	jsonw__mnum(w, "samples", p->samples);
	jsonw__mnum(w, "hz", p->hz);
	jsonw__mnum(w, "cpu_ms", cpu_ms);
	jsonw__mnum(w, "offcpu_ms", off_ms);
	jsonw__name(w, "offcpu_share");
	if (duration_ms > 0)
		jsonw__num(w, round(share * 1e3) / 1e3);
	else
		jsonw__null(w);
}

int profile__write_json(const struct profile *p, double duration_ms, struct jsonw *w,
			const struct profile_frame_refs *refs)
{
	struct frame_refs r;
	struct tops t = {};
	int err;

	err = frame_refs__init(&r, p, refs);
	if (!err)
		err = tops__build(&t, p);
	if (!err) {
		jsonw__open(w, '{');
		put_totals(w, p, duration_ms);
		put_tops(w, "top_self", &t, t.func_self, t.best_self, &r);
		put_tops(w, "top_total", &t, t.func_total, t.best_total, &r);
		err = put_folded_list(w, p, &r);
	}
	if (!err)
		jsonw__close(w, '}');
	tops__free(&t);
	free(r.idx);
	return err ? err : w->oom ? -ENOMEM : 0;
}

cJSON *profile__to_json(const struct profile *p, double duration_ms)
{
	struct jsonw w = { 0 };
	cJSON *o = NULL;

	if (!profile__write_json(p, duration_ms, &w, NULL))
		o = cJSON_Parse(w.buf);
	jsonw__free(&w);
	return o;
}
