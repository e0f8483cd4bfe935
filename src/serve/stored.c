/* A record as Redis holds it (the stored form, docs/FORMAT.md) back in its full form. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/stored.h"

/* The frame table: its frames, in order. */
struct frames {
	cJSON *const *f;
	int n;
};

/* Returns the frame index v names, or NULL when v is not an index into t. */
static const cJSON *frame_at(const struct frames *t, const cJSON *v)
{
	double d;

	if (!cJSON_IsNumber(v))
		return NULL;
	d = v->valuedouble;
	if (d < 0 || d >= t->n || d != (double)(int)d)
		return NULL;
	return t->f[(int)d];
}

/* Returns Python frame f's member name when it is a string (lineno: a number or null). */
static const cJSON *python_member(const cJSON *f, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(f, name);

	if (!strcmp(name, "lineno"))
		return cJSON_IsNumber(m) || cJSON_IsNull(m) ? m : NULL;
	return cJSON_IsString(m) ? m : NULL;
}

/* Replaces each index of stack with a copy of the frame it names. Returns 0 or -1. */
static int expand_stack(cJSON *stack, const struct frames *t)
{
	cJSON *item, *next, *frame;
	const cJSON *f;

	for (item = stack->child; item; item = next) {
		next = item->next;
		if (!(f = frame_at(t, item)))
			return -1;
		frame = cJSON_Duplicate(f, true);
		if (!frame || !cJSON_ReplaceItemViaPointer(stack, item, frame)) {
			cJSON_Delete(frame);
			return -1;
		}
	}
	return 0;
}

/* Links n into obj's members after a (cJSON's list: the first member's prev is the last). */
static void insert_after(cJSON *obj, cJSON *a, cJSON *n)
{
	n->prev = a;
	n->next = a->next;
	if (a->next)
		a->next->prev = n;
	else
		obj->child->prev = n;
	a->next = n;
}

/*
 * Replaces a top entry's "frame" member (item) with the function, filename and lineno of
 * the Python frame it names. Returns the last member put in, or NULL when item names no
 * Python frame or on ENOMEM.
 */
static cJSON *expand_frame_ref(cJSON *obj, cJSON *item, const struct frames *t)
{
	static const char *const names[] = { "function", "filename", "lineno" };
	const cJSON *f = frame_at(t, item), *m;
	cJSON *put[3] = {};
	size_t i;

	for (i = 0; f && i < 3; i++)
		if (!(m = python_member(f, names[i])) || !(put[i] = cJSON_Duplicate(m, true)))
			break;
	if (i < 3 || !cJSON_ReplaceItemViaPointer(obj, item, put[0])) {
		for (i = 0; i < 3; i++)
			cJSON_Delete(put[i]);
		return NULL;
	}
	insert_after(obj, put[0], put[1]);
	insert_after(obj, put[1], put[2]);
	return put[2];
}

/* Appends Python frame f's folded label ("function (file:line)", ';' and line breaks as
 * '_', as profile_json.c writes it), after a ';' when sep, to *buf (*len bytes, *cap
 * allocated). Returns 0 or -1. */
static int put_label(char **buf, size_t *len, size_t *cap, const cJSON *f, bool sep)
{
	const cJSON *fn = python_member(f, "function"), *file = python_member(f, "filename"),
		    *line = python_member(f, "lineno");
	size_t need, i;
	char *p;
	int n;

	if (!fn || !file || !line)
		return -1;
	need = strlen(fn->valuestring) + strlen(file->valuestring) + 32;
	if (*len + need > *cap) {
		p = realloc(*buf, 2 * (*len + need));
		if (!p)
			return -1;
		*buf = p;
		*cap = 2 * (*len + need);
	}
	if (sep)
		(*buf)[(*len)++] = ';';
	if (cJSON_IsNumber(line))
		n = snprintf(*buf + *len, *cap - *len, "%s (%s:%d)", fn->valuestring,
			     file->valuestring, line->valueint);
	else
		n = snprintf(*buf + *len, *cap - *len, "%s (%s)", fn->valuestring,
			     file->valuestring);
	if (n < 0 || (size_t)n >= *cap - *len)
		return -1;
	for (i = *len; i < *len + n; i++)
		if ((*buf)[i] == ';' || (*buf)[i] == '\n' || (*buf)[i] == '\r')
			(*buf)[i] = '_';
	*len += n;
	return 0;
}

/*
 * Replaces a folded stack's "fold" member (item: frame indices, outermost first) with its
 * "stack" text. Returns the member put in, or NULL when an index names no Python frame or
 * on ENOMEM.
 */
static cJSON *expand_fold(cJSON *obj, cJSON *item, const struct frames *t)
{
	cJSON *text = NULL, *holder = NULL, *c;
	size_t len = 0, cap = 0;
	const cJSON *f;
	char *buf = NULL;

	if (!cJSON_IsArray(item) || !item->child)
		return NULL;
	for (c = item->child; c; c = c->next)
		if (!(f = frame_at(t, c)) || put_label(&buf, &len, &cap, f, c != item->child))
			goto cleanup;
	/* an object gives the member its name with cJSON's own allocator */
	holder = cJSON_CreateObject();
	if (!holder || !cJSON_AddStringToObject(holder, "stack", buf))
		goto cleanup;
	text = cJSON_DetachItemViaPointer(holder, holder->child);
	if (!cJSON_ReplaceItemViaPointer(obj, item, text)) {
		cJSON_Delete(text);
		text = NULL;
	}
cleanup:
	cJSON_Delete(holder);
	free(buf);
	return text;
}

/* Expands every "stack" array, "frame" and "fold" under v (cJSON's nesting limit bounds
 * the recursion). Returns 0 or -1. */
static int expand_under(cJSON *v, const struct frames *t)
{
	bool obj = cJSON_IsObject(v);
	cJSON *c, *next;

	for (c = v->child; c; c = next) {
		next = c->next;
		if (obj && c->string && !strcmp(c->string, "stack") && cJSON_IsArray(c)) {
			if (expand_stack(c, t))
				return -1;
		} else if (obj && c->string && !strcmp(c->string, "frame")) {
			if (!expand_frame_ref(v, c, t))
				return -1;
		} else if (obj && c->string && !strcmp(c->string, "fold")) {
			if (!expand_fold(v, c, t))
				return -1;
		} else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && expand_under(c, t)) {
			return -1;
		}
	}
	return 0;
}

int stored_record__expand(cJSON *rec)
{
	cJSON *table = cJSON_GetObjectItemCaseSensitive(rec, "frames"), *f, **frames = NULL;
	int n = 0, err = -1;

	if (!cJSON_IsObject(rec) || !cJSON_IsArray(table))
		return 0;
	cJSON_DetachItemViaPointer(rec, table);
	frames = malloc((cJSON_GetArraySize(table) + 1) * sizeof(*frames));
	if (!frames)
		goto cleanup;
	for (f = table->child; f; f = f->next)
		frames[n++] = f;
	if (expand_under(rec, &(struct frames){ .f = frames, .n = n }))
		goto cleanup;
	err = 1;
cleanup:
	free(frames);
	cJSON_Delete(table);
	return err;
}

char *stored_record__full_text(const char *text, size_t len, size_t *out_len)
{
	cJSON *rec = cJSON_ParseWithLength(text, len);
	char *out = NULL;
	int rc;

	rc = rec ? stored_record__expand(rec) : 0;
	if (rc == 1) {
		out = cJSON_PrintUnformatted(rec);
		if (out)
			*out_len = strlen(out);
	} else if (rc == 0) {
		out = malloc(len + 1);
		if (out) {
			memcpy(out, text, len);
			out[len] = '\0';
			*out_len = len;
		}
	}
	cJSON_Delete(rec);
	return out;
}
