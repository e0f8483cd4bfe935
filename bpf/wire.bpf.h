/* Wire capture: bytes a traced thread exchanges with a data store, and its stdout/stderr writes. */
#ifndef SCOOBY_WIRE_BPF_H
#define SCOOBY_WIRE_BPF_H

#include "vmlinux.h"
#include "common.bpf.h"
#include <bpf/bpf_endian.h>
#include "pystack.bpf.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_UNIX 1

const volatile __u32 wire_enabled __weak = 1; /* --no-wire clears it */
const volatile __u32 logs_enabled __weak = 1; /* --no-logs clears it */

struct fd_key {
	__u32 tgid;
	__u32 fd;
};

/* What is known of one file descriptor of a traced process, learned at its first write. */
enum wire_fd_kind {
	WFD_OTHER = 1, /* not a socket (a file, a pipe): never looked at again */
	WFD_SOCKET = 2,
};
struct wire_fd {
	__u8 kind; /* enum wire_fd_kind */
	__u8 proto; /* enum sc_client; SC_CL_NONE until the port or the bytes tell */
	__u8 lib; /* a client library writes here from inside a probed call: its probes report */
	__u8 pad;
	__u32 port; /* the peer's TCP port; 0 for a unix socket */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct wire_fd);
} wire_fds SEC(".maps") __weak;

/* well-known and --port-proto ports: TCP port -> enum sc_client */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} wire_ports SEC(".maps") __weak;

/* Returns the struct file of the current task's fd, or NULL. */
static __always_inline struct file *wire_fd_file(__u32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *f = NULL;
	unsigned int max;

	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (fd >= max)
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

static __always_inline bool file_is_socket(struct file *f)
{
	return f && (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) == S_IFSOCK;
}

/* Returns true when fd of the current task is a socket. */
static __always_inline bool is_socket(__u32 fd)
{
	return file_is_socket(wire_fd_file(fd));
}

/* Learns what fd is: a socket or not, its peer's port, and the protocol the port names. */
static __always_inline void wire_fd_learn(__u32 fd, struct wire_fd *w)
{
	struct file *f = wire_fd_file(fd);
	struct socket *sock;
	__u32 port, *proto;
	__u16 family;

	w->kind = WFD_OTHER;
	if (!file_is_socket(f))
		return;
	w->kind = WFD_SOCKET;
	sock = BPF_CORE_READ(f, private_data);
	family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
	if (family == AF_UNIX)
		return;
	port = bpf_ntohs(BPF_CORE_READ(sock, sk, __sk_common.skc_dport));
	w->port = port;
	proto = bpf_map_lookup_elem(&wire_ports, &port);
	if (proto)
		w->proto = *proto;
}

/* Each store's guess: NAME_wire_guess8() of every bpf/wire_NAME.bpf.h (the build lists them). */
#include "wire_stores.bpf.h"
#include "src/stores/registry.h"

#define WIRE_GUESS_ONE(name)                              \
	do {                                              \
		__u32 proto = name##_wire_guess8(p, len); \
		if (proto != SC_CL_NONE)                  \
			return proto;                     \
	} while (0);

/*
 * Returns the protocol whose client messages the 8 bytes p of a send of len bytes start
 * like, SC_CL_NONE otherwise: the stores' guesses in the registry's order
 * (SCOOBY_WIRE_PARSERS), the same test as wire_guess() in src/wire/wire_proto.c. HTTP
 * request lines match none of them.
 */
static __always_inline __u32 wire_guess8(const __u8 *p, __u64 len)
{
	SCOOBY_WIRE_PARSERS(WIRE_GUESS_ONE)
	return SC_CL_NONE;
}

/* Most commands and reply heads are short: they are read straight into a ring buffer slot
 * of this many data bytes (no scratch copy); longer ones go through the scratch record. */
#define WIRE_SMALL 256

/* Fills a wire record's fixed part (cap_len 0: no data yet). */
static __always_inline void wire_fill(struct sc_wire_event *e, __u32 kind, __u64 pid_tgid, __u32 fd,
				      __u32 proto, __u32 port, __u64 now, __u64 moved, __u32 size)
{
	e->t_start = now;
	e->len = moved;
	e->fd = fd;
	e->proto = proto;
	e->port = port;
	e->cap_len = 0;
	sc_hdr_fill(&e->hdr, kind, size, pid_tgid, now);
}

/* wire_send for n <= WIRE_SMALL bytes of buf. */
static __always_inline void wire_send_small(__u32 kind, __u64 pid_tgid, __u32 fd, __u32 proto,
					    __u32 port, __u64 now, __u64 buf, __u64 n, __u64 moved)
{
	const __u64 size = offsetof(struct sc_wire_event, data) + WIRE_SMALL;
	struct sc_wire_event *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		sc_count_lost(kind);
		return;
	}
	wire_fill(e, kind, pid_tgid, fd, proto, port, now, moved, size);
	if (n > WIRE_SMALL)
		n = WIRE_SMALL;
	if (buf && n && bpf_probe_read_user(e->data, n, (void *)buf) == 0)
		e->cap_len = n;
	bpf_ringbuf_submit(e, sc_wakeup_flags());
}

/* Copies up to cap bytes of buf (avail readable) into a record of kind and sends it,
 * stamped now (hdr.ts and t_start alike). */
static __always_inline void wire_send(__u32 kind, __u64 pid_tgid, __u32 fd, __u32 proto, __u32 port,
				      __u64 now, __u64 buf, __u64 avail, __u64 moved, __u64 cap)
{
	__u64 n = avail < cap ? avail : cap;
	struct sc_wire_event *e;

	if (n <= WIRE_SMALL) {
		wire_send_small(kind, pid_tgid, fd, proto, port, now, buf, n, moved);
		return;
	}
	e = sc_scratch();
	if (!e)
		return;
	wire_fill(e, kind, pid_tgid, fd, proto, port, now, moved, 0);
	if (n > SC_SQL_CAP)
		n = SC_SQL_CAP;
	if (buf && n && bpf_probe_read_user(e->data, n & (SC_SQL_CAP * 2 - 1), (void *)buf) == 0)
		e->cap_len = n;
	e->hdr.size = offsetof(struct sc_wire_event, data) + (e->cap_len & (SC_SQL_CAP * 2 - 1));
	sc_output(e, e->hdr.size);
}

/* Thread t wrote moved bytes (buf: the first avail of them) to its fd t->fd: a command to
 * a data store is sent with the thread's stack. Its start is the send's return, when the
 * bytes have left (on loopback, have arrived). */
static __always_inline void wire_out(void *ctx, struct sc_thread *t, __u64 buf, __u64 avail,
				     __u64 moved)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;
	struct fd_key key = { .tgid = pid_tgid >> 32, .fd = t->fd };
	struct wire_fd *w, fresh = {};
	__u32 fd = t->fd;
	__u8 head[8] = {};

	if (!wire_enabled)
		return;
	w = bpf_map_lookup_elem(&wire_fds, &key);
	if (!w) {
		wire_fd_learn(fd, &fresh);
		bpf_map_update_elem(&wire_fds, &key, &fresh, BPF_NOEXIST);
		w = bpf_map_lookup_elem(&wire_fds, &key);
		if (!w)
			return;
	}
	if (w->kind != WFD_SOCKET || w->lib)
		return;
	if (sc_in_client(t)) {
		w->lib = 1; /* a library's socket: its probes see each call whole */
		return;
	}
	if (!buf || avail < 1)
		return;
	if (!w->proto) {
		if (avail < 8 || bpf_probe_read_user(head, sizeof(head), (void *)buf))
			return;
		w->proto = wire_guess8(head, avail);
		if (!w->proto)
			return;
	}
	/* the reply is awaited by this thread (a pool lends a connection to one thread at a
	 * time): its read finds that out without a map lookup */
	t->await_fd1 = fd + 1;
	t->await_proto = w->proto;
	t->await_port = w->port;
	now = bpf_ktime_get_ns();
	/* the stack first: userspace has it when the send's record arrives */
	py_capture_at(ctx, pid_tgid, now, false);
	wire_send(SC_EV_WIRE_OUT, pid_tgid, fd, w->proto, w->port, now, buf, avail, moved,
		  max_query + 64);
}

/* Thread t read moved bytes (buf: the first avail of them) from the data store socket
 * whose reply it awaited: the reply's first bytes are sent on. */
static __always_inline void wire_in(struct sc_thread *t, __u64 buf, __u64 avail, __u64 moved)
{
	t->await_fd1 = 0;
	wire_send(SC_EV_WIRE_IN, bpf_get_current_pid_tgid(), t->fd, t->await_proto, t->await_port,
		  bpf_ktime_get_ns(), buf, avail, moved, SC_WIRE_IN_CAP);
}

/* True when fd is a data store's connection (captured or a client library's): its bytes
 * are replies, never a request, whatever they look like ("GET /" in a value). */
static __always_inline bool wire_is_store(__u32 fd)
{
	struct fd_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd };
	struct wire_fd *w = bpf_map_lookup_elem(&wire_fds, &key);

	return w && w->kind == WFD_SOCKET && (w->proto || w->lib);
}

/* fd is being closed: forgets it, and tells userspace when it was a data store's. */
static __always_inline void wire_close(__u64 pid_tgid, __u32 fd)
{
	struct fd_key key = { .tgid = pid_tgid >> 32, .fd = fd };
	struct sc_small_event e = {};
	struct wire_fd *w;
	bool store;

	w = bpf_map_lookup_elem(&wire_fds, &key);
	if (!w)
		return;
	store = w->proto && !w->lib;
	bpf_map_delete_elem(&wire_fds, &key);
	if (!store)
		return;
	sc_hdr_fill(&e.hdr, SC_EV_WIRE_CLOSE, sizeof(e), pid_tgid, bpf_ktime_get_ns());
	e.arg = fd;
	sc_emit(e);
}

/* A request's thread wrote to its stdout or stderr: the bytes go out with its stack. */
static __always_inline void log_out(void *ctx, __u32 fd, __u64 buf, __u64 avail, __u64 moved)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now;

	if (!logs_enabled || !buf)
		return;
	now = bpf_ktime_get_ns();
	py_capture_at(ctx, pid_tgid, now, false);
	wire_send(SC_EV_LOG, pid_tgid, fd, 0, 0, now, buf, avail, moved, SC_LOG_CAP);
}

#endif /* SCOOBY_WIRE_BPF_H */
