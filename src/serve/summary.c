/* The viewer's views of a stored record: list summaries, filters, and Scooby's layout. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/summary.h"

#define N_PLUS_ONE_MIN 3 /* same text this many times: an N+1 candidate (issue 3) */

bool record_uuid__valid(const char *s)
{
	int i;

	if (!s)
		return false;
	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[32] == '\0';
}

static int strptr__cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct texts among queries[] run N_PLUS_ONE_MIN times or more; 0 on ENOMEM. */
static int summary__repeated_texts(const cJSON *queries)
{
	const char **texts = NULL;
	const cJSON *q, *text;
	int n = 0, i, run, found = 0;

	texts = calloc(cJSON_GetArraySize(queries) + 1, sizeof(*texts));
	if (!texts)
		return 0;
	cJSON_ArrayForEach(q, queries) {
		text = cJSON_GetObjectItemCaseSensitive(q, "query");
		if (cJSON_IsString(text))
			texts[n++] = text->valuestring;
	}
	qsort(texts, n, sizeof(*texts), strptr__cmp);
	for (i = 0; i < n; i += run) {
		for (run = 1; i + run < n && !strcmp(texts[i], texts[i + run]); run++)
			;
		if (run >= N_PLUS_ONE_MIN)
			found++;
	}
	free(texts);
	return found;
}

int summary__n_plus_one(const cJSON *sql)
{
	const cJSON *groups, *g;
	int n = 0;

	if (!cJSON_IsObject(sql))
		return 0;
	groups = cJSON_GetObjectItemCaseSensitive(sql, "groups");
	if (cJSON_IsArray(groups)) {
		cJSON_ArrayForEach(g, groups)
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "n_plus_one")))
				n++;
		return n;
	}
	return summary__repeated_texts(cJSON_GetObjectItemCaseSensitive(sql, "queries"));
}

/* Copies src's member name into dst (null when absent); false on ENOMEM. */
static bool summary__copy(cJSON *dst, const char *as, const cJSON *src, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, name);
	cJSON *copy = v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();

	return copy && cJSON_AddItemToObject(dst, as, copy);
}

/* The number at src.name, or 0 when absent or not a number. */
static double summary__number(const cJSON *src, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, name);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Queries whose error is set. */
static int summary__errors(const cJSON *queries)
{
	const cJSON *q, *e;
	int n = 0;

	cJSON_ArrayForEach(q, queries) {
		e = cJSON_GetObjectItemCaseSensitive(q, "error");
		if (e && !cJSON_IsNull(e))
			n++;
	}
	return n;
}

/*
 * A plugin's count: its own `count` (which includes the entries past the
 * per-record limit), else the length of its list, as older records may lack
 * the count; 0 when the plugin or both are absent.
 */
static double summary__count(const cJSON *plugin, const char *list)
{
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(plugin, "count");

	if (cJSON_IsNumber(count))
		return count->valuedouble;
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(plugin, list));
}

/* A plugin's total_time, else the sum of its listed entries' time_taken. */
static double summary__time(const cJSON *plugin)
{
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(plugin, "total_time"), *q;
	double sum = 0;

	if (cJSON_IsNumber(total))
		return total->valuedouble;
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(plugin, "queries"))
		sum += summary__number(q, "time_taken");
	return sum;
}

/*
 * Adds one store's count, time and errors to the summary under the names
 * given (SQL keeps its original query_count/db_time_ms/errors so that older
 * pages and scripts still read it). False on ENOMEM.
 */
static bool summary__add_store(cJSON *s, const cJSON *plugin, const char *count_as,
			       const char *time_as, const char *errors_as)
{
	const cJSON *queries = cJSON_GetObjectItemCaseSensitive(plugin, "queries");

	return cJSON_AddNumberToObject(s, count_as, summary__count(plugin, "queries")) &&
	       cJSON_AddNumberToObject(s, time_as, summary__time(plugin)) &&
	       cJSON_AddNumberToObject(s, errors_as, summary__errors(queries));
}

/* The request's own fields: identity, line, status and timing. False on ENOMEM. */
static bool summary__add_request(cJSON *s, const char *uuid, const cJSON *req)
{
	return cJSON_AddStringToObject(s, "uuid", uuid) &&
	       summary__copy(s, "method", req, "method") && summary__copy(s, "path", req, "path") &&
	       summary__copy(s, "status", req, "status") &&
	       cJSON_AddNumberToObject(s, "duration_ms", summary__number(req, "duration_ms")) &&
	       cJSON_AddNumberToObject(s, "start_unix_ms", summary__number(req, "start_unix_ms"));
}

cJSON *summary__new(const cJSON *rec)
{
	const cJSON *uuid = cJSON_GetObjectItemCaseSensitive(rec, "uuid");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(rec, "request");
	const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(rec, "plugins_data");
	const cJSON *sql = cJSON_GetObjectItemCaseSensitive(plugins, "SQL");
	cJSON *s;

	if (!cJSON_IsString(uuid))
		return NULL;
	s = cJSON_CreateObject();
	if (!s)
		return NULL;
	/* a record without Redis, Memcache or CustomLog (older versions) counts them as empty */
	if (summary__add_request(s, uuid->valuestring, req) &&
	    summary__add_store(s, sql, "query_count", "db_time_ms", "errors") &&
	    cJSON_AddNumberToObject(s, "n_plus_one", summary__n_plus_one(sql)) &&
	    summary__add_store(s, cJSON_GetObjectItemCaseSensitive(plugins, "Redis"), "redis_count",
			       "redis_time_ms", "redis_errors") &&
	    summary__add_store(s, cJSON_GetObjectItemCaseSensitive(plugins, "Memcache"),
			       "memcache_count", "memcache_time_ms", "memcache_errors") &&
	    cJSON_AddNumberToObject(
		    s, "log_count",
		    summary__count(cJSON_GetObjectItemCaseSensitive(plugins, "CustomLog"),
				   "logs")) &&
	    cJSON_AddBoolToObject(
		    s, "incomplete",
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "incomplete"))))
		return s;
	cJSON_Delete(s);
	return NULL;
}

bool summary__matches(const cJSON *sum, const struct summary_filter *f)
{
	const cJSON *path, *status;
	int cls;

	if (!f)
		return true;
	if (f->path && f->path[0]) {
		path = cJSON_GetObjectItemCaseSensitive(sum, "path");
		if (!cJSON_IsString(path) || !strcasestr(path->valuestring, f->path))
			return false;
	}
	if (f->min_ms > 0 && summary__number(sum, "duration_ms") < f->min_ms)
		return false;
	if (f->n_plus_one && summary__number(sum, "n_plus_one") < 1)
		return false;
	if (f->status_class) {
		status = cJSON_GetObjectItemCaseSensitive(sum, "status");
		cls = cJSON_IsNumber(status) ? status->valueint / 100 : -1;
		if (cls != f->status_class)
			return false;
	}
	return true;
}

int summary__parse_status_class(const char *s, int *out)
{
	if (!s || !s[0] || !strcmp(s, "any") || !strcmp(s, "all")) {
		*out = 0;
		return 0;
	}
	if (!strcmp(s, "none")) {
		*out = -1;
		return 0;
	}
	if (s[0] >= '1' && s[0] <= '5' && (s[1] == '\0' || (!strcasecmp(s + 1, "xx")))) {
		*out = s[0] - '0';
		return 0;
	}
	return -1;
}

/* Scooby's form of one query: its names first, then db and error. Returns NULL on ENOMEM. */
static cJSON *scooby_layout__query(const cJSON *q)
{
	static const char *const always[] = { "query", "start", "end", "time_taken" };
	static const char *const when_present[] = {
		"query_template",  "params",	      "using",	       "db", "via", "error",
		"start_offset_ms", "stack_truncated", "stack_partial",
	};
	const cJSON *stack = cJSON_GetObjectItemCaseSensitive(q, "stack");
	cJSON *out = cJSON_CreateObject(), *copy = NULL;
	int err = -1;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (!summary__copy(out, always[i], q, always[i]))
			goto cleanup;
	for (i = 0; i < sizeof(when_present) / sizeof(when_present[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(q, when_present[i]) &&
		    !summary__copy(out, when_present[i], q, when_present[i]))
			goto cleanup;
	/* Scooby's frames are {filename, lineno, function, ...}, innermost first, as ours */
	copy = cJSON_IsArray(stack) ? cJSON_Duplicate(stack, true) : cJSON_CreateArray();
	if (!copy || !cJSON_AddItemToObject(out, "stack", copy))
		goto cleanup;
	copy = NULL;
	err = 0;
cleanup:
	cJSON_Delete(copy);
	if (err) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/* Scooby's SQL plugin: its queries, and the record's count, total_time and groups. NULL on ENOMEM. */
static cJSON *scooby_layout__sql(const cJSON *sql)
{
	static const char *const extra[] = { "count", "omitted", "total_time", "groups" };
	const cJSON *q, *queries = cJSON_GetObjectItemCaseSensitive(sql, "queries");
	cJSON *out = cJSON_CreateObject(), *list, *item = NULL;
	int err = -1;
	size_t i;

	list = cJSON_AddArrayToObject(out, "queries");
	if (!list)
		goto cleanup;
	cJSON_ArrayForEach(q, queries) {
		item = scooby_layout__query(q);
		if (!item || !cJSON_AddItemToArray(list, item))
			goto cleanup;
		item = NULL;
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(sql, extra[i]) &&
		    !summary__copy(out, extra[i], sql, extra[i]))
			goto cleanup;
	err = 0;
cleanup:
	cJSON_Delete(item);
	if (err) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/*
 * Scooby's ViewName: {view_name, args, kwargs}. Its view_name is the record's
 * scooby_view_name where there is one (Scooby showed view.__module__ + '.' +
 * view.__name__), else the record's view_name (null when none); args [] and
 * kwargs {} (scooby-bpf cannot see them) unless the record has them. NULL on ENOMEM.
 */
static cJSON *scooby_layout__view(const cJSON *plugins)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(plugins, "ViewName");
	cJSON *out = cJSON_IsObject(v) ? cJSON_Duplicate(v, true) : cJSON_CreateObject();
	cJSON *scooby;

	if (!out)
		return NULL;
	scooby = cJSON_DetachItemFromObjectCaseSensitive(out, "scooby_view_name");
	cJSON_DeleteItemFromObjectCaseSensitive(out, "view_reason");
	if (cJSON_IsString(scooby)) {
		cJSON_DeleteItemFromObjectCaseSensitive(out, "view_name");
		cJSON_AddItemToObject(out, "view_name", scooby);
		scooby = NULL;
	}
	cJSON_Delete(scooby);
	if ((cJSON_HasObjectItem(out, "view_name") || cJSON_AddNullToObject(out, "view_name")) &&
	    (cJSON_HasObjectItem(out, "args") || cJSON_AddArrayToObject(out, "args")) &&
	    (cJSON_HasObjectItem(out, "kwargs") || cJSON_AddObjectToObject(out, "kwargs")))
		return out;
	cJSON_Delete(out);
	return NULL;
}

cJSON *scooby_layout__new(const cJSON *rec)
{
	const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(rec, "plugins_data"), *p;
	cJSON *out = NULL, *pd, *item = NULL;
	int err = -1;

	if (!cJSON_IsObject(plugins))
		return NULL;
	out = cJSON_CreateObject();
	pd = cJSON_AddObjectToObject(out, "plugins_data");
	if (!pd)
		goto cleanup;
	item = scooby_layout__view(plugins);
	if (!item || !cJSON_AddItemToObject(pd, "ViewName", item))
		goto cleanup;
	item = NULL;
	cJSON_ArrayForEach(p, plugins) {
		if (!p->string || !strcmp(p->string, "ViewName"))
			continue;
		/*
		 * Memcache (func_name, arg, time_taken, stack) and CustomLog
		 * (logs[].s, stack) are recorded under Scooby's own names, and
		 * Redis in the same form: their fields beyond Scooby's (via,
		 * error...) are kept, as its panel ignores what it does not know.
		 */
		if (!strcmp(p->string, "SQL"))
			item = scooby_layout__sql(p);
		else
			item = cJSON_Duplicate(p, true);
		if (!item || !cJSON_AddItemToObject(pd, p->string, item))
			goto cleanup;
		item = NULL;
	}
	err = 0;
cleanup:
	cJSON_Delete(item);
	if (err) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}
