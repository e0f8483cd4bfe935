/* memcached as a store: libmemcached's symbols and probes, and its tracker behind the store interface. */
#include <string.h>
#include "stores/store.h"
#include "memcached.h"

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

/* the functions of a first query, armed ahead (struct target_lib.early) */
static const char *const memcached_early[] = { "memcached_get", "memcached_set", NULL };

static const struct target_lib memcached_libs[] = {
	STORE_LIB("libmemcached", "libmemcached.so", memcached_probes, memcached_configure,
		  memcached_early),
};

static void *mc_new(const struct store_env *env)
{
	return memcached_tracker__new(env->corr, env->ps);
}

static void mc_free(void *t)
{
	memcached_tracker__free(t);
}

static void mc_proc_gone(void *t, uint32_t pid)
{
	memcached_tracker__proc_gone(t, pid);
}

static void mc_call(void *t, const struct sc_call_event *e)
{
	memcached_tracker__call(t, e);
}

static void mc_ret(void *t, const struct sc_call_ret_event *e)
{
	memcached_tracker__ret(t, e);
}

const struct store memcached_store = {
	.name = "memcached",
	.db = &memcached_db,
	.libs = memcached_libs,
	.nlibs = sizeof(memcached_libs) / sizeof(memcached_libs[0]),
	.end_kind = SC_EV_CALL_RET,
	.new = mc_new,
	.free = mc_free,
	.proc_gone = mc_proc_gone,
	.client = SC_CL_MEMCACHE,
	.call = mc_call,
	.ret = mc_ret,
};
