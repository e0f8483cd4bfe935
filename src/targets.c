/* The client libraries scooby-bpf probes, the symbols each probe needs, and their struct offsets. */
#include <errno.h>
#include <string.h>
#include "elfsym.h"
#include "targets.h"

/* Reads the field offset a one-line accessor loads; -ENOENT when it cannot be found. */
static int accessor_offset(const char *path, const char *func, __u32 *off)
{
	unsigned char code[48];
	int n = elfsym_func_bytes(path, func, code, sizeof(code));
	long disp;

	if (n < 0)
		return n;
	disp = x86_first_rdi_load_disp(code, n);
	if (disp <= 0 || disp > 4096)
		return -ENOENT;
	*off = disp;
	return 0;
}

static const struct probe_spec sqlite_probes[] = {
	{ "sqlite3_prepare_v2", "sqlite_prepare_v2" },
	{ "sqlite3_prepare_v2", "sqlite_prepare_ret", true },
	{ "sqlite3_prepare", "sqlite_prepare_v2" },
	{ "sqlite3_prepare", "sqlite_prepare_ret", true },
	{ "sqlite3_prepare_v3", "sqlite_prepare_v3", false, 0, true },
	{ "sqlite3_prepare_v3", "sqlite_prepare_ret", true, 0, true },
	{ "sqlite3_step", "sqlite_step" },
	{ "sqlite3_step", "sqlite_step_ret", true },
	{ "sqlite3_reset", "sqlite_reset", .unless_state = true },
	{ "sqlite3_finalize", "sqlite_finalize" },
	{ "sqlite3_errmsg", "sqlite_errmsg_ret", true },
};

/* The text of a statement prepared before we attached lives in the Vdbe; sqlite3_sql()
 * is `return p->zSql`, so its code names the offset for this very build. Likewise
 * sqlite3_stmt_busy() is `return p->eVdbeState == VDBE_RUN_STATE` from SQLite 3.40:
 * where it is, a step can tell that its statement was reset since the last one. */
static int sqlite_configure(const char *path, struct sc_lib_cfg *cfg)
{
	unsigned char code[48], imm;
	long disp;
	int n;

	n = elfsym_func_bytes(path, "sqlite3_stmt_busy", code, sizeof(code));
	if (n > 0 && x86_first_rdi_cmpb(code, n, &disp, &imm) == 0 && disp > 0 && disp < 4096) {
		cfg->sqlite_state_off = disp;
		cfg->sqlite_run_state = imm;
	}
	return accessor_offset(path, "sqlite3_sql", &cfg->sqlite_zsql_off);
}

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
	int err = accessor_offset(path, "PQresultStatus", &cfg->pq_status_off);

	if (err)
		return err;
	return accessor_offset(path, "PQresultErrorMessage", &cfg->pq_errmsg_off);
}

static const struct target_lib targets[] = {
	{ "libsqlite3", "libsqlite3.so", sqlite_probes,
	  sizeof(sqlite_probes) / sizeof(sqlite_probes[0]), sqlite_configure },
	{ "libpq", "libpq.so", pq_probes, sizeof(pq_probes) / sizeof(pq_probes[0]), pq_configure },
};

const struct target_lib *targets__match(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strncmp(base, targets[i].prefix, strlen(targets[i].prefix)) == 0)
			return &targets[i];
	return NULL;
}
