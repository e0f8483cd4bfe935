/* A record as Redis holds it (the stored form, docs/FORMAT.md) back in its full form. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "serve/stored.h"

/* Replaces each index of stack with a copy of the frame it names. Returns 0 or -1. */
static int expand_stack(cJSON *stack, cJSON *const *frames, int nframes)
{
	cJSON *item, *next, *frame;
	double d;

	for (item = stack->child; item; item = next) {
		next = item->next;
		if (!cJSON_IsNumber(item))
			return -1;
		d = item->valuedouble;
		if (d < 0 || d >= nframes || d != (double)(int)d)
			return -1;
		frame = cJSON_Duplicate(frames[(int)d], true);
		if (!frame || !cJSON_ReplaceItemViaPointer(stack, item, frame)) {
			cJSON_Delete(frame);
			return -1;
		}
	}
	return 0;
}

/* Expands every "stack" array under v (cJSON's nesting limit bounds the recursion). */
static int expand_under(cJSON *v, cJSON *const *frames, int nframes)
{
	cJSON *c;

	for (c = v->child; c; c = c->next) {
		if (cJSON_IsObject(v) && c->string && !strcmp(c->string, "stack") &&
		    cJSON_IsArray(c)) {
			if (expand_stack(c, frames, nframes))
				return -1;
		} else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) &&
			   expand_under(c, frames, nframes)) {
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
	if (expand_under(rec, frames, n))
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
