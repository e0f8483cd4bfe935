// SPDX-License-Identifier: GPL-2.0
/* hiredis probes: outermost command/append/reply calls, the RESP text every path formats, reply errors. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "libcall.bpf.h"
#include "pystack.bpf.h"

#define REDIS_REPLY_ERROR 6

/* redisCommand*, redis*AppendCommand*, redisGetReply: (redisContext *, second argument).
 * redisGetReply's second argument is where it stores the reply, read at its return. */
SEC("uprobe")
int BPF_KPROBE(hiredis_enter, void *c, void *arg2)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 func = lc_func(ctx);
	__u64 ts;

	if (!lc_enter(pid_tgid, SC_CL_REDIS, func, (__u64)c,
		      func == SC_RD_GET_REPLY ? (__u64)arg2 : 0))
		return 0;
	ts = bpf_ktime_get_ns();
	lc_emit_call(pid_tgid, ts, SC_CL_REDIS, func, (__u64)c, 0, NULL, 0);
	/* a reply belongs to a command appended earlier, whose stack was taken then */
	if (func != SC_RD_GET_REPLY)
		py_capture(ctx, pid_tgid, ts);
	return 0;
}

/* __redisAppendCommand(redisContext *, const char *cmd, size_t len): every command path
 * ends here with the command formatted as RESP; it belongs to the outermost call. */
SEC("uprobe")
int BPF_KPROBE(hiredis_text, void *c, const char *cmd, __u64 len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sc_call_event *e;

	if (!sc_traced(pid_tgid >> 32) || !lc_inside(SC_CL_REDIS))
		return 0;
	e = lc_call_begin(SC_EV_CALL_TEXT, pid_tgid, bpf_ktime_get_ns(), SC_CL_REDIS, SC_RD_TEXT,
			  (__u64)c, len);
	if (!e)
		return 0;
	lc_text(e, cmd, len);
	lc_call_send(e);
	return 0;
}

/* Fills status (the reply's type) and, for an error reply, its message. */
static __always_inline void hiredis_read_reply(struct sc_call_ret_event *e, struct sc_lib_cfg *cfg,
					       __u64 reply)
{
	__s32 type = -1;
	__u64 str = 0, len = 0;

	if (bpf_probe_read_user(&type, sizeof(type), (void *)reply + cfg->reply_type_off))
		return;
	e->status = type;
	if (type != REDIS_REPLY_ERROR)
		return;
	bpf_probe_read_user(&str, sizeof(str), (void *)reply + cfg->reply_str_off);
	bpf_probe_read_user(&len, sizeof(len), (void *)reply + cfg->reply_len_off);
	if (str)
		lc_ret_err_bytes(e, (void *)str, len);
}

SEC("uretprobe")
int BPF_KRETPROBE(hiredis_ret, long rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lc_state *s = lc_exit(SC_CL_REDIS);
	struct sc_call_ret_event *e;
	struct sc_lib_cfg *cfg;
	__u64 reply = 0;

	if (!s)
		return 0;
	e = lc_ret_begin(s, SC_CL_REDIS, rc);
	cfg = sc_lib(ctx);
	if (!e || !cfg)
		return 0;
	if (s->func == SC_RD_COMMAND)
		reply = rc;
	else if (s->func == SC_RD_GET_REPLY && (int)rc == 0 && s->aux)
		bpf_probe_read_user(&reply, sizeof(reply), (void *)s->aux);
	if (reply) {
		hiredis_read_reply(e, cfg, reply);
	} else if ((s->func != SC_RD_APPEND || (int)rc != 0) && cfg->ctx_errstr_off) {
		/* no reply (or a failed append): the context says why, "" when it does not */
		lc_ret_err_str(e, (void *)s->handle + cfg->ctx_errstr_off);
	}
	lc_ret_send(e, pid_tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
