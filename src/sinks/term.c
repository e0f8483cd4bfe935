/* Terminal sink: one scannable line per request on stdout. */
#include <string.h>
#include <time.h>
#include "sinks/term.h"

/* Writes " | redis N q T ms | mc N q T ms | log N" for the stores the request used. */
static void term_sink__stores(const struct record *r, char *buf, size_t len)
{
	size_t redis = r->redis.n + r->redis.omitted, mc = r->memcache.n + r->memcache.omitted;
	size_t used = 0, logs = r->nlogs + r->logs_omitted;

	if (redis)
		used += snprintf(buf + used, len - used, " | redis %zu q %.2f ms", redis,
				 query_list__total_ms(&r->redis));
	if (mc && used < len)
		used += snprintf(buf + used, len - used, " | mc %zu q %.2f ms", mc,
				 query_list__total_ms(&r->memcache));
	if (logs && used < len)
		snprintf(buf + used, len - used, " | log %zu", logs);
}

void term_sink__print(FILE *out, const struct record *r)
{
	int64_t unix_ns = mono_to_unix_ns(r->start_ns);
	time_t secs = unix_ns / 1000000000;
	const char *path = r->path ? r->path : "-";
	char when[16], status[8], nplus1[24] = "", stores[96] = "";
	struct tm tm;
	int plen = strlen(path);

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (r->status)
		snprintf(status, sizeof(status), "%d", r->status);
	else
		snprintf(status, sizeof(status), "-");
	/* long paths are cut in the middle of the line only, never in the record */
	if (r->n_plus_one)
		snprintf(nplus1, sizeof(nplus1), " N+1 x%d", r->n_plus_one);
	term_sink__stores(r, stores, sizeof(stores));
	fprintf(out, "%s.%03d %-7s %-40.*s%s %-3s %9.2f ms %4zu q %9.2f ms db%s%s%s  %s\n", when,
		(int)(unix_ns / 1000000 % 1000), r->background ? "(bg)" : r->method,
		plen > 40 ? 39 : 40, path, plen > 40 ? "~" : "", status,
		(r->end_ns - r->start_ns) / 1e6, r->nqueries + r->omitted, record__total_db_ms(r),
		stores, nplus1, r->incomplete ? " incomplete" : "", r->uuid);
	fflush(out);
}
