/* The viewer's read-only JSON API over the records in Redis. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serve/api.h"
#include "serve/stored.h"

#define API_BATCH 100 /* sorted-set entries read, and records fetched, per round trip */
#define API_SCAN_MAX 5000 /* entries examined per list call, filters or not */
#define API_TIE_MAX 10000 /* entries sharing the last timestamp, read to finish a page */

/* A list call in progress. */
struct api_list {
	struct store *store;
	const struct api_list_args *args;
	cJSON *items;
	long n_items;
	long scanned;
	double last_score; /* of the last entry examined */
	long seen_at_last; /* entries examined with that score */
	char reason[160]; /* why Redis failed */
};

void api__error(struct api_reply *out, unsigned status, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->status = status;
	out->body = NULL;
	if (o && cJSON_AddStringToObject(o, "error", msg))
		out->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
}

/* Sets out to 200 with json printed; 500 with an error body on ENOMEM. Frees json. */
static void api__ok(struct api_reply *out, cJSON *json)
{
	out->status = 200;
	out->body = json ? cJSON_PrintUnformatted(json) : NULL;
	cJSON_Delete(json);
	if (!out->body)
		api__error(out, 500, "out of memory");
}

/*
 * ZREVRANGEBYSCORE over the sorted set from max down to min, WITHSCORES,
 * LIMIT off count. Returns the reply (an array of uuid, score pairs), or
 * NULL with l->reason.
 */
static redisReply *api_list__range(struct api_list *l, const char *max, const char *min, long off,
				   long count)
{
	char soff[24], scount[24];
	const char *argv[] = { "ZREVRANGEBYSCORE", STORE_ZSET_KEY, max,	 min,
			       "WITHSCORES",	   "LIMIT",	   soff, scount };
	redisReply *r;

	snprintf(soff, sizeof(soff), "%ld", off);
	snprintf(scount, sizeof(scount), "%ld", count);
	r = store__command(l->store, 8, argv, NULL, l->reason, sizeof(l->reason));
	if (r && (r->type != REDIS_REPLY_ARRAY || r->elements % 2)) {
		snprintf(l->reason, sizeof(l->reason), "unexpected reply to ZREVRANGEBYSCORE");
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* MGETs the records of a range reply's uuids. Returns the reply, or NULL with l->reason. */
static redisReply *api_list__fetch(struct api_list *l, const redisReply *range)
{
	size_t n = range->elements / 2, i;
	const char **argv = calloc(n + 1, sizeof(*argv));
	char(*keys)[sizeof(STORE_KEY_PREFIX) + 64] = calloc(n, sizeof(*keys));
	redisReply *r = NULL;

	if (!argv || !keys) {
		snprintf(l->reason, sizeof(l->reason), "out of memory");
		goto cleanup;
	}
	argv[0] = "MGET";
	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), STORE_KEY_PREFIX "%.64s",
			 range->element[2 * i]->str ? range->element[2 * i]->str : "");
		argv[i + 1] = keys[i];
	}
	r = store__command(l->store, n + 1, argv, NULL, l->reason, sizeof(l->reason));
	if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != n)) {
		snprintf(l->reason, sizeof(l->reason), "unexpected reply to MGET");
		freeReplyObject(r);
		r = NULL;
	}
cleanup:
	free(argv);
	free(keys);
	return r;
}

/* Adds the record's summary when it passes the filters; an unreadable record is skipped. */
static void api_list__consider(struct api_list *l, const redisReply *value)
{
	cJSON *rec, *sum;

	if (value->type != REDIS_REPLY_STRING)
		return; /* expired: its key went before its sorted-set entry */
	rec = cJSON_ParseWithLength(value->str, value->len);
	sum = summary__new(rec);
	cJSON_Delete(rec);
	if (sum && summary__matches(sum, &l->args->filter) && cJSON_AddItemToArray(l->items, sum)) {
		l->n_items++;
		return;
	}
	cJSON_Delete(sum);
}

/*
 * Examines a range reply's entries in order. With stop_when_full, stops at
 * the first entry past a full page whose score differs from the last one (so
 * a page never splits a timestamp). Returns the entries examined, or -1 with
 * l->reason.
 */
static long api_list__examine(struct api_list *l, const redisReply *range, bool stop_when_full)
{
	redisReply *values = api_list__fetch(l, range);
	size_t i, n = range->elements / 2;
	double score;

	if (!values)
		return -1;
	for (i = 0; i < n; i++) {
		score = strtod(range->element[2 * i + 1]->str ? range->element[2 * i + 1]->str :
								"0",
			       NULL);
		if (stop_when_full && l->n_items >= l->args->limit && score != l->last_score)
			break;
		if (l->scanned && score == l->last_score) {
			l->seen_at_last++;
		} else {
			l->last_score = score;
			l->seen_at_last = 1;
		}
		l->scanned++;
		api_list__consider(l, values->element[i]);
	}
	freeReplyObject(values);
	return i;
}

/*
 * Examines the entries sharing the last examined score that were not
 * examined yet. Returns 0, or -1 with l->reason.
 */
static int api_list__finish_tie(struct api_list *l)
{
	char score[40];
	redisReply *r;
	long n;

	snprintf(score, sizeof(score), "%.0f", l->last_score);
	r = api_list__range(l, score, score, l->seen_at_last, API_TIE_MAX);
	if (!r)
		return -1;
	n = r->elements ? api_list__examine(l, r, false) : 0;
	freeReplyObject(r);
	return n < 0 ? -1 : 0;
}

/*
 * Pages through the sorted set newest first until the page is full, the scan
 * budget is spent or the set is exhausted. Returns 1 when exhausted, 0 when
 * more may follow l->last_score, -1 with l->reason.
 */
static int api_list__scan(struct api_list *l)
{
	char max[40];
	long off = 0, done;
	redisReply *r;
	size_t got;

	if (l->args->has_before)
		snprintf(max, sizeof(max), "(%.3f", l->args->before);
	else
		snprintf(max, sizeof(max), "+inf");
	while (l->n_items < l->args->limit && l->scanned < API_SCAN_MAX) {
		r = api_list__range(l, max, "-inf", off, API_BATCH);
		if (!r)
			return -1;
		got = r->elements / 2;
		done = got ? api_list__examine(l, r, true) : 0;
		freeReplyObject(r);
		if (done < 0)
			return -1;
		if ((size_t)done < got)
			return 0; /* stopped inside the batch: a full page, timestamp finished */
		if (got < API_BATCH)
			return 1;
		off += got;
	}
	return api_list__finish_tie(l) ? -1 : 0;
}

void api__list(struct store *s, const struct api_list_args *args, struct api_reply *out)
{
	struct api_list l = { .store = s, .args = args };
	cJSON *resp = cJSON_CreateObject();
	int rc;

	l.items = cJSON_AddArrayToObject(resp, "items");
	if (!l.items) {
		cJSON_Delete(resp);
		api__error(out, 500, "out of memory");
		return;
	}
	rc = api_list__scan(&l);
	if (rc < 0) {
		cJSON_Delete(resp);
		api__error(out, 503, "redis unavailable: %s", l.reason);
		return;
	}
	if (rc == 1 || !l.scanned)
		cJSON_AddNullToObject(resp, "next_before");
	else
		cJSON_AddNumberToObject(resp, "next_before", l.last_score);
	cJSON_AddNumberToObject(resp, "scanned", l.scanned);
	api__ok(out, resp);
}

/*
 * GETs the record of uuid. Returns the string reply, or NULL with out set to
 * 404 (no such key) or 503.
 */
static redisReply *api__fetch(struct store *s, const char *uuid, struct api_reply *out)
{
	char key[sizeof(STORE_KEY_PREFIX) + 32], reason[160];
	const char *argv[2] = { "GET", key };
	redisReply *r;

	snprintf(key, sizeof(key), STORE_KEY_PREFIX "%s", uuid);
	r = store__command(s, 2, argv, NULL, reason, sizeof(reason));
	if (!r) {
		api__error(out, 503, "redis unavailable: %s", reason);
		return NULL;
	}
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		api__error(out, 404, "no record %s (expired, trimmed, or never stored)", uuid);
		return NULL;
	}
	return r;
}

void api__get(struct store *s, const char *uuid, struct api_reply *out)
{
	redisReply *r = api__fetch(s, uuid, out);
	size_t len;

	if (!r)
		return;
	/* the record in its full form; another value as it is stored */
	out->body = stored_record__full_text(r->str, r->len, &len);
	if (out->body)
		out->status = 200;
	else
		api__error(out, 502,
			   "the stored value of %s could not be read back in full "
			   "(a malformed frame table, or out of memory)",
			   uuid);
	freeReplyObject(r);
}

void api__scooby(struct store *s, const char *uuid, struct api_reply *out)
{
	redisReply *r = api__fetch(s, uuid, out);
	cJSON *rec, *layout;

	if (!r)
		return;
	rec = cJSON_ParseWithLength(r->str, r->len);
	freeReplyObject(r);
	layout = stored_record__expand(rec) >= 0 ? scooby_layout__new(rec) : NULL;
	cJSON_Delete(rec);
	if (!layout) {
		api__error(out, 502, "the stored value of %s is not a scooby-bpf record", uuid);
		return;
	}
	api__ok(out, layout);
}

void api__status(struct store *s, struct api_reply *out)
{
	const char *argv[1] = { "PING" };
	char reason[160];
	redisReply *r = store__command(s, 1, argv, NULL, reason, sizeof(reason));
	cJSON *o;

	if (!r) {
		api__error(out, 503, "redis unavailable: %s", reason);
		return;
	}
	freeReplyObject(r);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "redis", "ok");
	api__ok(out, o);
}
