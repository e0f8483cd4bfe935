// SPDX-License-Identifier: GPL-2.0
/* libmemcached probes: operation and key(s) at an outermost call, its memcached_return_t at the return. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "libcall.bpf.h"
#include "pystack.bpf.h"

#define MC_MGET_KEYS 8 /* keys of a multi-get copied */
#define MC_KEY_MAX 250 /* memcached's own key length limit */

/* memcached_get/set/add/replace/append/prepend/cas/delete/increment/decrement/touch: every
 * one takes (memcached_st *, const char *key, size_t key_length, ...). memcached_get also
 * stores its status through its 6th argument (memcached_return_t *error), read at return. */
SEC("uprobe")
int BPF_KPROBE(mc_key_enter, void *memc, const char *key, __u64 key_len)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 func = lc_func(ctx);
	__u64 ts;

	/* PT_REGS_PARM6 is not in this libbpf: the 6th argument is in r9 */
	if (!lc_enter(pid_tgid, SC_CL_MEMCACHE, func, (__u64)memc, func == SC_MC_GET ? ctx->r9 : 0))
		return 0;
	ts = bpf_ktime_get_ns();
	lc_emit_call(pid_tgid, ts, SC_CL_MEMCACHE, func, (__u64)memc, 1, key, key_len);
	py_capture(ctx, pid_tgid, ts);
	return 0;
}

struct mc_keys_ctx {
	struct sc_call_event *e;
	const char *const *keys;
	const __u64 *lens;
	__u32 n;
	__u32 off;
};

/* Appends key i (and a space before it) to the text: one bpf_loop step. */
static long mc_copy_key(__u32 i, void *p)
{
	struct mc_keys_ctx *c = p;
	const char *key = NULL;
	__u64 len = 0;
	__u32 off = c->off;

	if (i >= c->n || off >= max_query)
		return 1;
	if (bpf_probe_read_user(&key, sizeof(key), &c->keys[i]) ||
	    bpf_probe_read_user(&len, sizeof(len), &c->lens[i]) || !key)
		return 1;
	if (len > MC_KEY_MAX)
		len = MC_KEY_MAX;
	if (off + 1 + len > max_query)
		len = max_query > off + 1 ? max_query - off - 1 : 0;
	if (i > 0) {
		c->e->text[off & (SC_SQL_CAP - 1)] = ' ';
		off++;
	}
	/* off < MC_MGET_KEYS * (MC_KEY_MAX + 1) and len <= MC_KEY_MAX: in bounds */
	off &= 4095;
	len &= 255;
	if (len && bpf_probe_read_user(c->e->text + off, len, key))
		return 1;
	c->off = off + len;
	return 0;
}

/* memcached_mget(memc, const char * const *keys, const size_t *key_length, size_t n):
 * the first MC_MGET_KEYS keys, space-separated; arg is n. */
SEC("uprobe")
int BPF_KPROBE(mc_mget_enter, void *memc, const char *const *keys, const __u64 *lens, __u64 n)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mc_keys_ctx c = { .keys = keys, .lens = lens };
	__u64 ts;

	if (!lc_enter(pid_tgid, SC_CL_MEMCACHE, SC_MC_MGET, (__u64)memc, 0))
		return 0;
	ts = bpf_ktime_get_ns();
	c.e = lc_call_begin(SC_EV_CALL, pid_tgid, ts, SC_CL_MEMCACHE, SC_MC_MGET, (__u64)memc, n);
	if (!c.e)
		goto out;
	c.n = n < MC_MGET_KEYS ? n : MC_MGET_KEYS;
	bpf_loop(MC_MGET_KEYS, mc_copy_key, &c, 0);
	c.e->len = c.off;
	/* more keys than copied: the text is marked cut */
	c.e->full_len = c.off + (n > MC_MGET_KEYS);
	lc_call_send(c.e);
out:
	py_capture(ctx, pid_tgid, ts);
	return 0;
}

/* memcached_fetch_result(memc, result, memcached_return_t *error): each one fetches a value
 * of the multi-get before it, which it belongs to; its status is read at its return. */
SEC("uprobe")
int BPF_KPROBE(mc_fetch_enter, void *memc, void *result, void *error)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!lc_enter(pid_tgid, SC_CL_MEMCACHE, SC_MC_FETCH, (__u64)memc, (__u64)error))
		return 0;
	lc_emit_call(pid_tgid, bpf_ktime_get_ns(), SC_CL_MEMCACHE, SC_MC_FETCH, (__u64)memc, 0,
		     NULL, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(mc_ret, long rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lc_state *s = lc_exit(SC_CL_MEMCACHE);
	struct sc_call_ret_event *e;
	__s32 status = -1;

	if (!s)
		return 0;
	e = lc_ret_begin(s, SC_CL_MEMCACHE, rc);
	if (!e)
		return 0;
	/* get and fetch return a pointer and leave the status in *error; the others return it */
	if (s->func == SC_MC_GET || s->func == SC_MC_FETCH) {
		if (s->aux)
			bpf_probe_read_user(&status, sizeof(status), (void *)s->aux);
	} else {
		status = (int)rc;
	}
	e->status = status;
	lc_ret_send(e, pid_tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
