/* SQLite as a store: libsqlite3's symbols, probes and struct offsets, and its tracker behind the store interface. */
#include "native/elfsym.h"
#include "stores/store.h"
#include "sqlite.h"

/* Every sqlite3_prepare*() is a thin wrapper of sqlite3LockAndPrepare(db, zSql, nBytes,
 * prepFlags, pOld, ppStmt, pzTail), whose entry is a push the kernel emulates where theirs
 * (`sub $16,%rsp`) is single-stepped: a debug exception per call (probe_sites__callee finds
 * the worker). A native stack taken there is framed as the wrapper's (sc_lib_cfg's
 * sqlite_wrappers, from sqlite_configure), so that it names the wrapper and its caller. */
static const char *const sqlite_prepare_wrappers[] = { "sqlite3_prepare_v2", "sqlite3_prepare_v3",
						       "sqlite3_prepare", NULL };

static const struct probe_spec sqlite_probes[] = {
	{ "sqlite3_prepare_v2", "sqlite_lock_and_prepare", .callee_of = sqlite_prepare_wrappers },
	{ "sqlite3_prepare_v2", "sqlite_prepare_ret", true, .callee_of = sqlite_prepare_wrappers },
	{ "sqlite3_prepare_v2", "sqlite_prepare_v2", .unless_callee = true },
	{ "sqlite3_prepare_v2", "sqlite_prepare_ret", true, .unless_callee = true },
	{ "sqlite3_prepare", "sqlite_prepare_v2", .unless_callee = true },
	{ "sqlite3_prepare", "sqlite_prepare_ret", true, .unless_callee = true },
	{ "sqlite3_prepare_v3", "sqlite_prepare_v3", false, 0, true, .unless_callee = true },
	{ "sqlite3_prepare_v3", "sqlite_prepare_ret", true, 0, true, .unless_callee = true },
	{ "sqlite3_step", "sqlite_step" },
	{ "sqlite3_step", "sqlite_step_ret", true },
	{ "sqlite3_reset", "sqlite_reset", .unless_state = true },
	{ "sqlite3_errmsg", "sqlite_errmsg_ret", true },
};

/* The text of a statement prepared before we attached lives in the Vdbe; sqlite3_sql()
 * is `return p->zSql`, so its code names the offset for this very build. Likewise
 * sqlite3_stmt_busy() is `return p->eVdbeState == VDBE_RUN_STATE` from SQLite 3.40:
 * where it is, a step can tell that its statement was reset since the last one. */
/* Fills cfg's table of the prepare wrappers' frames (see struct sc_wrapper): each wrapper
 * decoded as probe_sites__callee decodes it, so the table is whole when the worker is
 * probed. */
static void sqlite_wrappers(const char *path, struct sc_lib_cfg *cfg)
{
	unsigned long long woff;
	unsigned char code[32];
	unsigned ret_at, frame;
	long long target;
	size_t i, k = 0;
	int n;

	for (i = 0; sqlite_prepare_wrappers[i] && k < SC_SQLITE_WRAPPERS; i++) {
		if (elfsym_func_offset(path, sqlite_prepare_wrappers[i], &woff))
			continue;
		n = elfsym_func_bytes(path, sqlite_prepare_wrappers[i], code, sizeof(code));
		target = n > 0 ? x86_wrapper_call(code, n, woff, &ret_at, &frame) : -1;
		if (target <= 0)
			continue;
		cfg->sqlite_wrappers[k].ra_delta = (long long)(woff + ret_at) - target;
		cfg->sqlite_wrappers[k].back = ret_at;
		cfg->sqlite_wrappers[k].frame = frame;
		k++;
	}
}

static int sqlite_configure(const char *path, struct sc_lib_cfg *cfg)
{
	unsigned char code[48], imm;
	long disp;
	int n;

	sqlite_wrappers(path, cfg);

	n = elfsym_func_bytes(path, "sqlite3_stmt_busy", code, sizeof(code));
	if (n > 0 && x86_first_rdi_cmpb(code, n, &disp, &imm) == 0 && disp > 0 && disp < 4096) {
		cfg->sqlite_state_off = disp;
		cfg->sqlite_run_state = imm;
	}
	return store__accessor_offset(path, "sqlite3_sql", &cfg->sqlite_zsql_off);
}

/* the functions of a first query, armed ahead (struct target_lib.early) */
static const char *const sqlite_early[] = { "sqlite3_prepare_v2", "sqlite3_step", "sqlite3_reset",
					    NULL };

/* From SQLite 3.40 a step tells a reset statement by its state: sqlite3_reset needs no probe. */
static bool sqlite_state_readable(const struct sc_lib_cfg *cfg)
{
	return cfg->sqlite_state_off != 0;
}

static const struct target_lib sqlite_libs[] = {
	{
		.name = "libsqlite3",
		.prefix = "libsqlite3.so",
		.probes = sqlite_probes,
		.nprobes = sizeof(sqlite_probes) / sizeof(sqlite_probes[0]),
		.configure = sqlite_configure,
		.early = sqlite_early,
		.state_readable = sqlite_state_readable,
	},
};

static void *sq_new(const struct store_env *env)
{
	return sqlite_tracker__new(env->corr, env->ps);
}

static void sq_free(void *t)
{
	sqlite_tracker__free(t);
}

static void sq_proc_gone(void *t, uint32_t pid)
{
	sqlite_tracker__proc_gone(t, pid);
}

/* A text record's text fits in what arrived. */
static bool sq_text_fits(const struct sc_hdr *h, size_t size)
{
	const struct sc_sql_text_event *e = (const void *)h;

	return e->len < SC_SQL_CAP && offsetof(struct sc_sql_text_event, text) + e->len <= size;
}

static const struct store_kind sq_kinds[] = {
	{ SC_EV_SQL_TEXT, offsetof(struct sc_sql_text_event, text), sq_text_fits },
	{ SC_EV_SQL_ERRMSG, offsetof(struct sc_sql_text_event, text), sq_text_fits },
	{ SC_EV_SQL_EXEC, sizeof(struct sc_sql_exec_event), NULL },
};

/* libsqlite3's own records: statement texts, error messages, executions. */
static void sq_event(void *t, const struct sc_hdr *h)
{
	switch (h->kind) {
	case SC_EV_SQL_TEXT:
		sqlite_tracker__text(t, (const void *)h);
		break;
	case SC_EV_SQL_ERRMSG:
		sqlite_tracker__errmsg(t, (const void *)h);
		break;
	case SC_EV_SQL_EXEC:
		sqlite_tracker__exec(t, (const void *)h);
		break;
	}
}

const struct store sqlite_store = {
	.name = "sqlite",
	.db = &sqlite_db,
	.libs = sqlite_libs,
	.nlibs = sizeof(sqlite_libs) / sizeof(sqlite_libs[0]),
	.end_kind = SC_EV_SQL_EXEC,
	.new = sq_new,
	.free = sq_free,
	.proc_gone = sq_proc_gone,
	.kinds = sq_kinds,
	.nkinds = sizeof(sq_kinds) / sizeof(sq_kinds[0]),
	.event = sq_event,
};
