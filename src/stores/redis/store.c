/* Redis as a store: hiredis's symbols, probes and struct offsets, and its tracker behind the store interface. */
#include <string.h>
#include "stores/store.h"
#include "hiredis.h"

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

/* the functions of a first query, armed ahead (struct target_lib.early) */
static const char *const hiredis_early[] = { "redisCommand", NULL };

static const struct target_lib redis_libs[] = {
	STORE_LIB("libhiredis", "libhiredis.so", hiredis_probes, hiredis_configure, hiredis_early),
};

static void *rd_new(const struct store_env *env)
{
	return hiredis_tracker__new(env->corr, env->ps, env->max_text);
}

static void rd_free(void *t)
{
	hiredis_tracker__free(t);
}

static void rd_proc_gone(void *t, uint32_t pid)
{
	hiredis_tracker__proc_gone(t, pid);
}

static void rd_call(void *t, const struct sc_call_event *e)
{
	hiredis_tracker__call(t, e);
}

static void rd_ret(void *t, const struct sc_call_ret_event *e)
{
	hiredis_tracker__ret(t, e);
}

const struct store redis_store = {
	.name = "redis",
	.db = &redis_db,
	.libs = redis_libs,
	.nlibs = sizeof(redis_libs) / sizeof(redis_libs[0]),
	.end_kind = SC_EV_CALL_RET,
	.new = rd_new,
	.free = rd_free,
	.proc_gone = rd_proc_gone,
	.client = SC_CL_REDIS,
	.call = rd_call,
	.ret = rd_ret,
};
