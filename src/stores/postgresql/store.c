/* PostgreSQL as a store: libpq's symbols, probes and struct offsets, and its tracker behind the store interface. */
#include "stores/store.h"
#include "pq.h"

#define PQ(sym, func)                     \
	{ sym, "pq_enter", false, func }, \
	{                                 \
		sym, "pq_ret", true, func \
	}

static const struct probe_spec pq_probes[] = {
	PQ("PQexec", SC_PQ_EXEC),
	PQ("PQexecParams", SC_PQ_EXEC_PARAMS),
	PQ("PQprepare", SC_PQ_PREPARE),
	PQ("PQexecPrepared", SC_PQ_EXEC_PREPARED),
	PQ("PQsendQuery", SC_PQ_SEND_QUERY),
	PQ("PQsendQueryParams", SC_PQ_SEND_QUERY_PARAMS),
	PQ("PQsendPrepare", SC_PQ_SEND_PREPARE),
	PQ("PQsendQueryPrepared", SC_PQ_SEND_QUERY_PREPARED),
	PQ("PQgetResult", SC_PQ_GET_RESULT),
};

/* PQresultStatus() and PQresultErrorMessage() are accessors of PGresult. */
static int pq_configure(const char *path, struct sc_lib_cfg *cfg)
{
	int err = store__accessor_offset(path, "PQresultStatus", &cfg->pq_status_off);

	if (err)
		return err;
	return store__accessor_offset(path, "PQresultErrorMessage", &cfg->pq_errmsg_off);
}

/* the functions of a first query, armed ahead (struct target_lib.early) */
static const char *const pq_early[] = { "PQexec", "PQsendQuery", "PQgetResult", NULL };

static const struct target_lib postgresql_libs[] = {
	STORE_LIB("libpq", "libpq.so", pq_probes, pq_configure, pq_early),
};

static void *pg_new(const struct store_env *env)
{
	return pq_tracker__new(env->corr, env->ps);
}

static void pg_free(void *t)
{
	pq_tracker__free(t);
}

static void pg_proc_gone(void *t, uint32_t pid)
{
	pq_tracker__proc_gone(t, pid);
}

/* A call record's text fits in what arrived. */
static bool pg_call_fits(const struct sc_hdr *h, size_t size)
{
	const struct sc_pq_call_event *e = (const void *)h;

	return e->len < SC_SQL_CAP && offsetof(struct sc_pq_call_event, text) + e->len <= size;
}

static const struct store_kind pg_kinds[] = {
	{ SC_EV_PQ_CALL, offsetof(struct sc_pq_call_event, text), pg_call_fits },
	{ SC_EV_PQ_RET, sizeof(struct sc_pq_ret_event), NULL },
};

/* libpq's own records: SC_EV_PQ_CALL, SC_EV_PQ_RET. */
static void pg_event(void *t, const struct sc_hdr *h)
{
	if (h->kind == SC_EV_PQ_CALL)
		pq_tracker__call(t, (const void *)h);
	else
		pq_tracker__ret(t, (const void *)h);
}

const struct store postgresql_store = {
	.name = "postgresql",
	.db = &postgresql_db,
	.libs = postgresql_libs,
	.nlibs = sizeof(postgresql_libs) / sizeof(postgresql_libs[0]),
	.end_kind = SC_EV_PQ_RET,
	.new = pg_new,
	.free = pg_free,
	.proc_gone = pg_proc_gone,
	.kinds = pg_kinds,
	.nkinds = sizeof(pg_kinds) / sizeof(pg_kinds[0]),
	.event = pg_event,
};
