/* The client libraries scooby-bpf probes, the symbols each probe needs, and their struct offsets. */
#include <errno.h>
#include <string.h>
#include "native/elfsym.h"
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
	{ "sqlite3_finalize", "sqlite_finalize", .past_null = true },
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

/* An outermost-call entry probe and the family's return probe on the same symbol. */
#define CALL_PROBES(sym, enter, ret, func) \
	{ sym, enter, false, func },       \
	{                                  \
		sym, ret, true, func       \
	}

static const struct probe_spec mysql_probes[] = {
	CALL_PROBES("mysql_real_query", "mysql_text_enter", "mysql_ret", SC_MY_REAL_QUERY),
	CALL_PROBES("mysql_send_query", "mysql_text_enter", "mysql_ret", SC_MY_SEND_QUERY),
	CALL_PROBES("mysql_read_query_result", "mysql_handle_enter", "mysql_ret",
		    SC_MY_READ_RESULT),
	CALL_PROBES("mysql_stmt_prepare", "mysql_text_enter", "mysql_ret", SC_MY_STMT_PREPARE),
	CALL_PROBES("mysql_stmt_execute", "mysql_handle_enter", "mysql_ret", SC_MY_STMT_EXECUTE),
	{ "mysql_stmt_close", "mysql_stmt_close_enter", false, SC_MY_STMT_CLOSE },
};

/* Reads the offset of the embedded array an accessor returns the address of
 * (`return p->field;` for a char field[N]: an lea). */
static int accessor_lea_offset(const char *path, const char *func, __u32 *off)
{
	unsigned char code[48];
	int n = elfsym_func_bytes(path, func, code, sizeof(code));
	long disp;

	if (n < 0)
		return n;
	disp = x86_first_rdi_lea_disp(code, n);
	if (disp <= 0 || disp > 65536)
		return -ENOENT;
	*off = disp;
	return 0;
}

/* mysql_error() is `return mysql->net.last_error` and mysql_errno() `return
 * mysql->net.last_errno`, likewise mysql_stmt_error()/mysql_stmt_errno() for a statement:
 * their code gives the offsets for this very build (libmariadb or libmysqlclient). Each
 * one missing only costs the message or the code of an error. */
static int mysql_configure(const char *path, struct sc_lib_cfg *cfg)
{
	int err = accessor_lea_offset(path, "mysql_error", &cfg->mysql_err_off);

	if (accessor_offset(path, "mysql_errno", &cfg->mysql_errno_off))
		err = -ENOENT;
	if (accessor_lea_offset(path, "mysql_stmt_error", &cfg->mysql_stmt_err_off))
		err = -ENOENT;
	if (accessor_offset(path, "mysql_stmt_errno", &cfg->mysql_stmt_errno_off))
		err = -ENOENT;
	return err;
}

static const struct probe_spec hiredis_probes[] = {
	CALL_PROBES("redisCommand", "hiredis_enter", "hiredis_ret", SC_RD_COMMAND),
	CALL_PROBES("redisvCommand", "hiredis_enter", "hiredis_ret", SC_RD_COMMAND),
	CALL_PROBES("redisCommandArgv", "hiredis_enter", "hiredis_ret", SC_RD_COMMAND),
	CALL_PROBES("redisAppendCommand", "hiredis_enter", "hiredis_ret", SC_RD_APPEND),
	CALL_PROBES("redisvAppendCommand", "hiredis_enter", "hiredis_ret", SC_RD_APPEND),
	CALL_PROBES("redisAppendCommandArgv", "hiredis_enter", "hiredis_ret", SC_RD_APPEND),
	CALL_PROBES("redisAppendFormattedCommand", "hiredis_enter", "hiredis_ret", SC_RD_APPEND),
	CALL_PROBES("redisGetReply", "hiredis_enter", "hiredis_ret", SC_RD_GET_REPLY),
	{ "__redisAppendCommand", "hiredis_text", false, SC_RD_TEXT },
};

/* struct redisReply and redisContext are public but changed at 1.0: redisReply gained
 * `double dval` before len (len 16 -> 24, str 24 -> 32) and redisContext a leading funcs
 * pointer (errstr 4 -> 12). The soname tells which: libhiredis.so.0.x or .so.1.x. */
static int hiredis_configure(const char *path, struct sc_lib_cfg *cfg)
{
	const char *base = strrchr(path, '/');
	const char *ver;

	base = base ? base + 1 : path;
	ver = base + strlen("libhiredis.so");
	cfg->reply_type_off = 0;
	if (ver[0] == '.' && ver[1] == '0' && (ver[2] == '.' || ver[2] == 0)) {
		cfg->reply_len_off = 16;
		cfg->reply_str_off = 24;
		cfg->ctx_errstr_off = 4;
	} else {
		cfg->reply_len_off = 24;
		cfg->reply_str_off = 32;
		cfg->ctx_errstr_off = 12;
	}
	return 0;
}

static const struct probe_spec memcached_probes[] = {
	CALL_PROBES("memcached_get", "mc_key_enter", "mc_ret", SC_MC_GET),
	CALL_PROBES("memcached_mget", "mc_mget_enter", "mc_ret", SC_MC_MGET),
	CALL_PROBES("memcached_fetch_result", "mc_fetch_enter", "mc_ret", SC_MC_FETCH),
	CALL_PROBES("memcached_set", "mc_key_enter", "mc_ret", SC_MC_SET),
	CALL_PROBES("memcached_add", "mc_key_enter", "mc_ret", SC_MC_ADD),
	CALL_PROBES("memcached_replace", "mc_key_enter", "mc_ret", SC_MC_REPLACE),
	CALL_PROBES("memcached_append", "mc_key_enter", "mc_ret", SC_MC_APPEND),
	CALL_PROBES("memcached_prepend", "mc_key_enter", "mc_ret", SC_MC_PREPEND),
	CALL_PROBES("memcached_cas", "mc_key_enter", "mc_ret", SC_MC_CAS),
	CALL_PROBES("memcached_delete", "mc_key_enter", "mc_ret", SC_MC_DELETE),
	CALL_PROBES("memcached_increment", "mc_key_enter", "mc_ret", SC_MC_INCR),
	CALL_PROBES("memcached_decrement", "mc_key_enter", "mc_ret", SC_MC_DECR),
	{ "memcached_touch", "mc_key_enter", false, SC_MC_TOUCH, true },
	{ "memcached_touch", "mc_ret", true, SC_MC_TOUCH, true },
};

/* libmemcached's arguments carry everything the probes read: no offsets. */
static int memcached_configure(const char *path, struct sc_lib_cfg *cfg)
{
	return 0;
}

/* The interpreter: where the framework's dispatcher hands a request to its view
 * (bpf/pyview.bpf.c). A pyenv python3.X executable only starts libpython, which holds
 * the symbol: optional, so the one without it is skipped quietly. */
static const struct probe_spec python_probes[] = {
	/* the eval loop's own calls only: PyObject_Call's entry runs ~100 times a Django
	 * request (C code calling back), a trap each; the loop's 4 sites far fewer */
	{ "PyObject_Call", "py_call", false, 0, true, .inside = "_PyEval_EvalFrameDefault" },
};

/* 3.12 and 3.13 push the view's frame in the eval loop (a local symbol in 3.12) */
static const struct probe_spec python312_probes[] = {
	{ "_PyEvalFramePushAndInit", "py_push", false, 0, true },
};

/* The probe reads the interpreter through py_procs (src/pystack.c): no offsets here. */
static int python_configure(const char *path, struct sc_lib_cfg *cfg)
{
	return 0;
}

#define PYTHON(name, prefix, probes)                                                             \
	{                                                                                        \
		name, prefix, probes, sizeof(probes) / sizeof(probes[0]), python_configure, true \
	}

#define TARGET(name, prefix, probes, configure)                                     \
	{                                                                           \
		name, prefix, probes, sizeof(probes) / sizeof(probes[0]), configure \
	}

static const struct target_lib targets[] = {
	{ "libsqlite3", "libsqlite3.so", sqlite_probes,
	  sizeof(sqlite_probes) / sizeof(sqlite_probes[0]), sqlite_configure },
	{ "libpq", "libpq.so", pq_probes, sizeof(pq_probes) / sizeof(pq_probes[0]), pq_configure },
	TARGET("libmariadb", "libmariadb.so", mysql_probes, mysql_configure),
	TARGET("libmysqlclient", "libmysqlclient.so", mysql_probes, mysql_configure),
	TARGET("libhiredis", "libhiredis.so", hiredis_probes, hiredis_configure),
	TARGET("libmemcached", "libmemcached.so", memcached_probes, memcached_configure),
	/* first match wins: the versions that push frames before the others */
	PYTHON("libpython", "libpython3.12", python312_probes),
	PYTHON("libpython", "libpython3.13", python312_probes),
	PYTHON("python", "python3.12", python312_probes),
	PYTHON("python", "python3.13", python312_probes),
	PYTHON("libpython", "libpython3.", python_probes),
	PYTHON("python", "python3.", python_probes),
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
