/* MySQL as a store: libmariadb's and libmysqlclient's symbols, probes and struct offsets, and its tracker behind the store interface. */
#include <errno.h>
#include "stores/store.h"
#include "mysql.h"

static const struct probe_spec mysql_probes[] = {
	CALL_PROBES("mysql_real_query", "mysql_text_enter", "mysql_ret", SC_MY_REAL_QUERY),
	CALL_PROBES("mysql_send_query", "mysql_text_enter", "mysql_ret", SC_MY_SEND_QUERY),
	CALL_PROBES("mysql_read_query_result", "mysql_handle_enter", "mysql_ret",
		    SC_MY_READ_RESULT),
	CALL_PROBES("mysql_stmt_prepare", "mysql_text_enter", "mysql_ret", SC_MY_STMT_PREPARE),
	CALL_PROBES("mysql_stmt_execute", "mysql_handle_enter", "mysql_ret", SC_MY_STMT_EXECUTE),
	{ "mysql_stmt_close", "mysql_stmt_close_enter", false, SC_MY_STMT_CLOSE },
};

/* mysql_error() is `return mysql->net.last_error` and mysql_errno() `return
 * mysql->net.last_errno`, likewise mysql_stmt_error()/mysql_stmt_errno() for a statement:
 * their code gives the offsets for this very build (libmariadb or libmysqlclient). Each
 * one missing only costs the message or the code of an error. */
static int mysql_configure(const char *path, struct sc_lib_cfg *cfg)
{
	int err = store__accessor_lea_offset(path, "mysql_error", &cfg->mysql_err_off);

	if (store__accessor_offset(path, "mysql_errno", &cfg->mysql_errno_off))
		err = -ENOENT;
	if (store__accessor_lea_offset(path, "mysql_stmt_error", &cfg->mysql_stmt_err_off))
		err = -ENOENT;
	if (store__accessor_offset(path, "mysql_stmt_errno", &cfg->mysql_stmt_errno_off))
		err = -ENOENT;
	return err;
}

/* the functions of a first query, armed ahead (struct target_lib.early) */
static const char *const mysql_early[] = { "mysql_real_query", NULL };

static const struct target_lib mysql_libs[] = {
	STORE_LIB("libmariadb", "libmariadb.so", mysql_probes, mysql_configure, mysql_early),
	STORE_LIB("libmysqlclient", "libmysqlclient.so", mysql_probes, mysql_configure,
		  mysql_early),
};

static void *my_new(const struct store_env *env)
{
	return mysql_tracker__new(env->corr, env->ps);
}

static void my_free(void *t)
{
	mysql_tracker__free(t);
}

static void my_proc_gone(void *t, uint32_t pid)
{
	mysql_tracker__proc_gone(t, pid);
}

static void my_call(void *t, const struct sc_call_event *e)
{
	mysql_tracker__call(t, e);
}

static void my_ret(void *t, const struct sc_call_ret_event *e)
{
	mysql_tracker__ret(t, e);
}

const struct store mysql_store = {
	.name = "mysql",
	.db = &mysql_db,
	.libs = mysql_libs,
	.nlibs = sizeof(mysql_libs) / sizeof(mysql_libs[0]),
	.end_kind = SC_EV_CALL_RET,
	.new = my_new,
	.free = my_free,
	.proc_gone = my_proc_gone,
	.client = SC_CL_MYSQL,
	.call = my_call,
	.ret = my_ret,
};
