// SPDX-License-Identifier: GPL-2.0
/* MySQL/MariaDB client probes (libmariadb, libmysqlclient): statement text at an outermost call, error at its return. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "libcall.bpf.h"
#include "pystack.bpf.h"

/* mysql_real_query, mysql_send_query, mysql_stmt_prepare: (handle, text, length). */
SEC("uprobe")
int BPF_KPROBE(mysql_text_enter, void *handle, const char *text, unsigned long len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 func = lc_func(ctx);
	__u64 ts;

	if (!lc_enter(pid_tgid, SC_CL_MYSQL, func, (__u64)handle, 0))
		return 0;
	ts = bpf_ktime_get_ns();
	lc_emit_call(pid_tgid, ts, SC_CL_MYSQL, func, (__u64)handle, len, text, len);
	py_capture(ctx, pid_tgid, ts);
	return 0;
}

/* mysql_read_query_result(MYSQL *), mysql_stmt_execute(MYSQL_STMT *): no text. The read
 * continues a query whose stack was taken at its send. */
SEC("uprobe")
int BPF_KPROBE(mysql_handle_enter, void *handle)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 func = lc_func(ctx);
	__u64 ts;

	if (!lc_enter(pid_tgid, SC_CL_MYSQL, func, (__u64)handle, 0))
		return 0;
	ts = bpf_ktime_get_ns();
	lc_emit_call(pid_tgid, ts, SC_CL_MYSQL, func, (__u64)handle, 0, NULL, 0);
	if (func != SC_MY_READ_RESULT)
		py_capture(ctx, pid_tgid, ts);
	return 0;
}

/* mysql_stmt_close(MYSQL_STMT *): the statement's SQL can be forgotten. Not a query, and
 * not counted in the depth (it has no return probe). */
SEC("uprobe")
int BPF_KPROBE(mysql_stmt_close_enter, void *stmt)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!sc_traced(pid_tgid >> 32))
		return 0;
	lc_emit_call(pid_tgid, bpf_ktime_get_ns(), SC_CL_MYSQL, SC_MY_STMT_CLOSE, (__u64)stmt, 0,
		     NULL, 0);
	return 0;
}

/* Reads the error of a failed call: the statement's for the mysql_stmt_* calls, else the
 * connection's (net.last_errno / net.last_error, at offsets read from this build). */
static __always_inline void mysql_read_error(struct sc_call_ret_event *e, struct sc_lib_cfg *cfg,
					     bool stmt)
{
	__u32 err_off = stmt ? cfg->mysql_stmt_err_off : cfg->mysql_err_off;
	__u32 errno_off = stmt ? cfg->mysql_stmt_errno_off : cfg->mysql_errno_off;
	__u32 code = 0;

	if (errno_off &&
	    bpf_probe_read_user(&code, sizeof(code), (void *)e->handle + errno_off) == 0)
		e->status = code;
	if (err_off)
		lc_ret_err_str(e, (void *)e->handle + err_off);
}

SEC("uretprobe")
int BPF_KRETPROBE(mysql_ret, long rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sc_call_ret_event *e;
	struct lc_state *s = lc_exit(SC_CL_MYSQL);
	struct sc_lib_cfg *cfg;
	long ret;

	if (!s)
		return 0;
	/* mysql_read_query_result returns a my_bool (al only); the others an int */
	ret = s->func == SC_MY_READ_RESULT ? (long)(__u8)rc : (long)(int)rc;
	e = lc_ret_begin(s, SC_CL_MYSQL, ret);
	if (!e)
		return 0;
	cfg = sc_lib(ctx);
	if (ret && cfg)
		mysql_read_error(e, cfg,
				 s->func == SC_MY_STMT_PREPARE || s->func == SC_MY_STMT_EXECUTE);
	lc_ret_send(e, pid_tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
