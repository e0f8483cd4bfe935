// SPDX-License-Identifier: GPL-2.0
/* Socket syscall tracepoints: HTTP request heads read, response bytes written, sockets closed;
 * and through wire.bpf.h, data store traffic and a request's stdout/stderr writes. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "sqlite.bpf.h"
#include "wire.bpf.h"
#include "profile.bpf.h"
#include "pyresp.bpf.h"

enum http_sys {
	SYS_READ = 1,
	SYS_READV,
	SYS_RECVMSG,
	SYS_WRITE,
	SYS_WRITEV,
	SYS_SENDMSG,
	SYS_SENDFILE
};

/* A socket that carried a request: its response bytes since its latest request line
 * (an event loop's thread keeps many requests open, each counted on its own socket). */
struct http_conn {
	__u64 resp_bytes;
};

/* sockets that carried a request, so their close is reported */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct http_conn);
} http_fds SEC(".maps");

/* Remembers a read's arguments; any traced thread may be about to read a request. */
static __always_inline int read_enter(__u32 sys, __u64 fd, __u64 buf, __u64 iovcnt)
{
	struct sc_thread *t = sc_thread_get(true);

	if (!t)
		return 0;
	t->sys = sys;
	t->fd = fd;
	t->buf = buf;
	t->iovcnt = iovcnt;
	return 0;
}

/* Remembers a write's arguments: the request's socket, a data store's, stdout/stderr. */
static __always_inline int write_enter(__u32 sys, __u64 fd, __u64 buf, __u64 iovcnt)
{
	struct sc_thread *t = sc_thread_get(wire_enabled != 0);

	if (!t)
		return 0;
	if (t->req_fd1 != fd + 1) {
		/* stdout/stderr only count inside a request; other fds may be a store's, or
		 * on an event loop's thread another request's socket */
		if (fd <= 2 ? !t->req_fd1 || !logs_enabled : !wire_enabled && !t->loop)
			return 0;
	}
	t->sys = sys;
	t->fd = fd;
	t->buf = buf;
	t->iovcnt = iovcnt;
	/* the response's first write, before its bytes leave (so its view's record comes
	 * before them, while the request is open): what the server holds names the view */
	if (t->req_fd1 == fd + 1 && !t->resp_bytes && !t->view_seen && !t->loop) {
		t->view_seen = 1;
		py_resp_view();
	}
	return 0;
}

/* Returns the first buffer and its length of the syscall in flight. */
static __always_inline __u64 first_buf(struct sc_thread *t, __u64 *len)
{
	struct iovec iov = {};
	struct user_msghdr msg = {};

	switch (t->sys) {
	case SYS_READ:
	case SYS_WRITE:
		return t->buf;
	case SYS_READV:
	case SYS_WRITEV:
		if (t->iovcnt < 1 || bpf_probe_read_user(&iov, sizeof(iov), (void *)t->buf))
			return 0;
		break;
	case SYS_RECVMSG:
	case SYS_SENDMSG:
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)t->buf) || msg.msg_iovlen < 1 ||
		    bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov))
			return 0;
		break;
	default:
		return 0;
	}
	if (iov.iov_len < *len)
		*len = iov.iov_len;
	return (__u64)iov.iov_base;
}

static __always_inline bool is_var_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

/* True when the 8 bytes start like an HTTP/1.x request line, or like a uwsgi protocol
 * request (nginx's uwsgi_pass to uWSGI): modifier1 0, a vars size, modifier2 0, then the
 * first var's key length (1..64) and the start of an upper-case CGI variable name. */
static __always_inline bool looks_like_request(const char *p)
{
	switch (p[0]) {
	case 0:
		return (p[1] || p[2]) && p[3] == 0 && p[4] > 0 && p[4] <= 64 && p[5] == 0 &&
		       is_var_char(p[6]) && is_var_char(p[7]);
	case 'G':
		return p[1] == 'E' && p[2] == 'T' && p[3] == ' ';
	case 'P':
		return (p[1] == 'O' && p[2] == 'S' && p[3] == 'T' && p[4] == ' ') ||
		       (p[1] == 'U' && p[2] == 'T' && p[3] == ' ') ||
		       (p[1] == 'A' && p[2] == 'T' && p[3] == 'C' && p[4] == 'H' && p[5] == ' ');
	case 'H':
		return p[1] == 'E' && p[2] == 'A' && p[3] == 'D' && p[4] == ' ';
	case 'D':
		/* the space too: memcached answers a delete with "DELETED" */
		return p[1] == 'E' && p[2] == 'L' && p[3] == 'E' && p[4] == 'T' && p[5] == 'E' &&
		       p[6] == ' ';
	case 'O':
		return p[1] == 'P' && p[2] == 'T' && p[3] == 'I' && p[4] == 'O' && p[5] == 'N';
	case 'C':
		return p[1] == 'O' && p[2] == 'N' && p[3] == 'N' && p[4] == 'E' && p[5] == 'C';
	case 'T':
		return p[1] == 'R' && p[2] == 'A' && p[3] == 'C' && p[4] == 'E' && p[5] == ' ';
	}
	return false;
}

/* Copies the head (or the tail) of buf into a record and sends it. */
static __always_inline void send_data(__u32 kind, struct sc_thread *t, __u64 buf, __u64 avail,
				      __u64 moved, bool head, __u64 coro)
{
	struct sc_http_event *e = sc_scratch();
	__u64 n = avail;

	if (!e)
		return;
	e->fd = t->fd;
	e->len = moved;
	e->flags = head ? SC_HTTP_F_HEAD : 0;
	e->coro = coro;
	e->cap_len = 0;
	if (buf) {
		if (head) {
			if (n > SC_HTTP_CAP)
				n = SC_HTTP_CAP;
		} else {
			if (n > SC_HTTP_TAIL)
				n = SC_HTTP_TAIL;
			buf += avail - n;
		}
		n &= SC_HTTP_CAP * 2 - 1;
		if (n > SC_HTTP_CAP)
			n = SC_HTTP_CAP;
		if (bpf_probe_read_user(e->data, n, (void *)buf) == 0)
			e->cap_len = n;
	}
	prof_flush_self();
	/* its off-CPU clock next to its timestamp: the request's off-CPU time is taken between
	 * the same two events as its duration */
	e->idle_ns = prof_idle_ns();
	sc_hdr_fill(&e->hdr, kind, 0, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	e->hdr.size = offsetof(struct sc_http_event, data) + (e->cap_len & (SC_HTTP_CAP * 2 - 1));
	sc_output(e, e->hdr.size);
}

static __always_inline int read_exit(long ret)
{
	struct sc_thread *t = sc_thread_get(false);
	__u64 len = ret, buf;
	struct http_conn fresh = {};
	char head[8] = {};
	struct fd_key key;

	if (!t || !t->sys)
		return 0;
	if (ret <= 0 || t->sys > SYS_RECVMSG)
		goto out;
	buf = first_buf(t, &len);
	if (!buf)
		goto out;
	if (t->await_fd1 == t->fd + 1) {
		wire_in(t, buf, len, ret); /* the first bytes of a data store's reply */
		goto out;
	}
	if (len < 8 || bpf_probe_read_user(head, sizeof(head), (void *)buf) ||
	    !looks_like_request(head) || !is_socket(t->fd) || wire_is_store(t->fd))
		goto out;
	send_data(SC_EV_HTTP_IN, t, buf, len, ret, true, 0);
	/* a second socket's request before the first one's response: an event loop */
	if (t->req_fd1 && t->req_fd1 != t->fd + 1 && !t->resp_bytes && !t->loop) {
		t->loop = 1;
		py_loop_threads = 1;
	}
	t->req_fd1 = t->fd + 1;
	t->resp_bytes = 0;
	t->view_seen = 0;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.fd = t->fd;
	bpf_map_update_elem(&http_fds, &key, &fresh, BPF_ANY);
out:
	t->sys = 0;
	return 0;
}

/* An event loop's thread wrote on request socket conn: sent as its response's bytes, the
 * first write with the coroutine of the task writing it (which names the request's task). */
static __always_inline void loop_out(struct sc_thread *t, struct http_conn *conn, __u64 buf,
				     __u64 len, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), coro = 0;

	/* no statement is flushed here: those open on the thread may be other tasks' */
	if (conn->resp_bytes == 0)
		coro = py_outer_coro(pid_tgid >> 32, true);
	send_data(SC_EV_HTTP_OUT, t, buf, len, ret, conn->resp_bytes < SC_HTTP_CAP, coro);
	conn->resp_bytes += ret;
	if (t->req_fd1 == t->fd + 1)
		t->resp_bytes += ret;
}

static __always_inline int write_exit(void *ctx, long ret)
{
	struct sc_thread *t = sc_thread_get(false);
	__u64 len = ret, buf = 0, coro = 0;
	struct http_conn *conn;
	struct fd_key key;

	if (!t || !t->sys)
		return 0;
	if (ret <= 0 || t->sys < SYS_WRITE)
		goto out;
	if (t->sys != SYS_SENDFILE)
		buf = first_buf(t, &len);
	if (t->loop && t->fd > 2) {
		key.tgid = bpf_get_current_pid_tgid() >> 32;
		key.fd = t->fd;
		conn = bpf_map_lookup_elem(&http_fds, &key);
		if (conn) {
			loop_out(t, conn, buf, len, ret);
			goto out;
		}
	}
	if (t->fd + 1 != t->req_fd1) {
		if (t->fd <= 2)
			log_out(ctx, t->fd, buf, len, ret);
		else if (wire_enabled)
			wire_out(ctx, t, buf, len, ret);
		goto out;
	}
	/* the response has begun: what the request's queries left open ends here; an
	 * asyncio task that writes it names the request of its executor's queries */
	if (t->resp_bytes == 0) {
		sq_flush_thread(bpf_get_current_pid_tgid());
		coro = py_outer_coro(bpf_get_current_pid_tgid() >> 32, false);
	}
	/* head bytes until the response head has surely been seen, tails after */
	send_data(SC_EV_HTTP_OUT, t, buf, len, ret, t->resp_bytes < SC_HTTP_CAP, coro);
	t->resp_bytes += ret;
out:
	t->sys = 0;
	return 0;
}

SEC("tp/syscalls/sys_enter_read")
int http_read(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(SYS_READ, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_recvfrom")
int http_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(SYS_READ, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_readv")
int http_readv(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(SYS_READV, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int http_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(SYS_RECVMSG, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_exit_read")
int http_read_ret(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_recvfrom")
int http_recvfrom_ret(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_readv")
int http_readv_ret(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_recvmsg")
int http_recvmsg_ret(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_enter_write")
int http_write(struct trace_event_raw_sys_enter *ctx)
{
	return write_enter(SYS_WRITE, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_sendto")
int http_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return write_enter(SYS_WRITE, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_writev")
int http_writev(struct trace_event_raw_sys_enter *ctx)
{
	return write_enter(SYS_WRITEV, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int http_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return write_enter(SYS_SENDMSG, ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_sendfile64")
int http_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	return write_enter(SYS_SENDFILE, ctx->args[0], 0, 0);
}

/* Every write-like call's exit: the loader attaches this one program to sys_exit_sendto,
 * _writev, _sendmsg and _sendfile64 too (attach.c's shared_exits). Their contexts are alike
 * and the entry told the thread which call it made; one program is verified once, where one
 * per call made the verifier take ~0.45 s each at attach. */
SEC("tp/syscalls/sys_exit_write")
int http_write_ret(struct trace_event_raw_sys_exit *ctx)
{
	return write_exit(ctx, ctx->ret);
}

#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_MOD 3
#define EPOLLOUT 0x004

/* A thread asking its event loop to watch a request's socket for writing, before the
 * response began: a server whose reactor buffers the response and writes it later from the
 * loop, outside the request's task (Twisted under daphne: Request.write -> startWriting ->
 * add_writer), asks from inside that task, whose coroutine names the request's task. */
SEC("tp/syscalls/sys_enter_epoll_ctl")
int http_epoll_ctl(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fd_key key = { .tgid = pid_tgid >> 32, .fd = ctx->args[2] };
	struct sc_http_task_event e = {};
	struct http_conn *conn;
	struct sc_thread *t;
	__u32 events = 0;
	__u64 coro;

	/* a sync server's process has no task to name: nothing to do */
	if (!py_task_procs && !py_loop_threads)
		return 0;
	if (ctx->args[1] != EPOLL_CTL_ADD && ctx->args[1] != EPOLL_CTL_MOD)
		return 0;
	t = sc_thread_get(false);
	if (!t || key.fd <= 2)
		return 0;
	if (t->loop) {
		conn = bpf_map_lookup_elem(&http_fds, &key);
		if (!conn || conn->resp_bytes)
			return 0;
	} else if (t->req_fd1 != key.fd + 1 || t->resp_bytes) {
		return 0;
	}
	if (bpf_probe_read_user(&events, sizeof(events), (void *)ctx->args[3]) ||
	    !(events & EPOLLOUT))
		return 0;
	coro = py_outer_coro(key.tgid, t->loop);
	if (!coro)
		return 0;
	sc_hdr_fill(&e.hdr, SC_EV_HTTP_TASK, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	e.fd = key.fd;
	e.coro = coro;
	sc_emit(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_close")
int http_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fd_key key = { .tgid = pid_tgid >> 32, .fd = ctx->args[0] };
	struct sc_http_close_event e = {};
	struct sc_thread *t;

	t = sc_thread_get(false);
	/* any thread of a traced process may close a socket, one with no state too */
	if (!t && !sc_traced(key.tgid))
		return 0;
	/* a reply still awaited on it will not come: the fd number may next be anything */
	if (t && t->await_fd1 == key.fd + 1)
		t->await_fd1 = 0;
	wire_close(pid_tgid, key.fd);
	if (bpf_map_delete_elem(&http_fds, &key))
		return 0;
	if (t && t->req_fd1 == key.fd + 1)
		t->req_fd1 = 0;
	prof_flush_self();
	sc_hdr_fill(&e.hdr, SC_EV_HTTP_CLOSE, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	e.fd = key.fd;
	e.idle_ns = prof_idle_ns();
	sc_emit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
