/* Maps, settings and helpers every scooby-bpf BPF program shares. */
#ifndef SCOOBY_COMMON_BPF_H
#define SCOOBY_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "scooby/events.h"

/*
 * Every feature file includes this header; the definitions are __weak so that
 * `bpftool gen object` merges them into one map / one variable.
 */

/* 4 MiB: 0.75 s of a full-capture web app's events (23 records, 6.9 KB a request: 5.5 MB/s
 * at 800 requests/s), where the reader drains every 50 ms. Not more: the producer writes
 * ever-new lines of the ring, and on these VMs a 16 MiB ring's lines and pages are cold each
 * time (a probe sending a 1 KiB stack cost ~10 % more than in a 4 MiB ring, measured
 * against a probe that sends none). */
#define SC_RING_SIZE (4 << 20)

const volatile __u32 trace_all __weak = 0; /* system-wide: every process but self */
const volatile __u32 self_tgid __weak = 0;
const volatile __u32 max_query __weak = 4096; /* --max-query, <= SC_SQL_CAP */

/* tgids being traced (the target and its descendants) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SC_RING_SIZE);
} events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps") __weak;

/* per attached library: struct offsets, indexed by the uprobe's cookie */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SC_MAX_LIBS);
	__type(key, __u32);
	__type(value, struct sc_lib_cfg);
} lib_cfg SEC(".maps") __weak;

/* one large scratch record per CPU: events too big for the BPF stack are built here */
#define SC_SCRATCH_SIZE (sizeof(struct sc_sql_text_event) + 64)
struct sc_scratch {
	char buf[SC_SCRATCH_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_scratch);
} scratch SEC(".maps") __weak;

static __always_inline void sc_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* Returns true when the calling process is one we trace. */
static __always_inline bool sc_traced(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (trace_all)
		return true;
	return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

static __always_inline void *sc_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void sc_hdr_fill(struct sc_hdr *h, __u32 kind, __u32 size, __u64 pid_tgid,
					__u64 ts)
{
	h->kind = kind;
	h->size = size;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ts = ts;
}

/* when the reader was last woken early, so that a filling ring wakes it once per
 * millisecond at most instead of once per record */
__u64 last_wakeup __weak = 0;

#define SC_WAKEUP_GAP_NS 1000000

/* Sends size bytes of a scratch-built record; counts it lost when the ring is full.
 * The reader is not woken per record (a wakeup costs the traced thread microseconds):
 * it drains the ring on a short timer, and is woken early only when the ring fills up. */
static __always_inline __u64 sc_wakeup_flags(void)
{
	__u64 flags = BPF_RB_NO_WAKEUP, now;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > SC_RING_SIZE / 4) {
		now = bpf_ktime_get_ns();
		if (now - last_wakeup > SC_WAKEUP_GAP_NS) {
			last_wakeup = now;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	return flags;
}

/* records lost, as SC_CNT_LOST counts them, where userspace reads it without a syscall
 * (on every tick; the adds contend only while the ring is full) */
__u64 lost_total __weak = 0;

/* Counts a record of kind that the full ring could not take. */
static __always_inline void sc_count_lost(__u32 kind)
{
	sc_count(SC_CNT_LOST);
	__sync_fetch_and_add(&lost_total, 1);
	/* per kind too: a test (or a user) can tell lost queries from lost stacks */
	sc_count(SC_CNT_LOST_KIND + (kind & 31));
}

static __always_inline void sc_output(void *rec, __u64 size)
{
	if (size > SC_SCRATCH_SIZE)
		size = SC_SCRATCH_SIZE;
	if (bpf_ringbuf_output(&events, rec, size, sc_wakeup_flags()))
		sc_count_lost(((struct sc_hdr *)rec)->kind);
}

/* Copies the NUL-terminated text at src, at most cap bytes of it, into dst (SC_SQL_CAP
 * bytes). Returns the bytes copied; *cut tells that the text went on past cap. It reads
 * one byte more than it keeps: a text of exactly cap bytes is not marked cut. */
static __always_inline __u32 sc_read_text(char *dst, const char *src, __u64 cap, bool *cut)
{
	__u64 size;
	long n;

	*cut = false;
	if (cap > SC_SQL_CAP - 2)
		cap = SC_SQL_CAP - 2;
	size = cap + 2;
	if (size > SC_SQL_CAP)
		size = SC_SQL_CAP;
	n = bpf_probe_read_user_str(dst, size, src);
	if (n <= 0) {
		sc_count(SC_CNT_TRUNC_READ);
		return 0;
	}
	n--; /* the NUL */
	*cut = n > cap;
	return n > cap ? cap : n;
}

/* Sends a fixed-size record from the stack. */
#define sc_emit(rec) sc_output(&(rec), sizeof(rec))

/* The attached library's settings: the cookie's low 16 bits are its slot (the high
 * bits may carry a per-probe value, such as the libpq entry point). */
static __always_inline struct sc_lib_cfg *sc_lib(void *ctx)
{
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx) & 0xffff;

	return bpf_map_lookup_elem(&lib_cfg, &idx);
}

/*
 * Per thread, one task storage value for everything the programs keep about a thread, so
 * that a syscall or a probe looks it up once:
 * - how deep the thread is inside each client library's probed calls: only the outermost
 *   call of a family makes an entry (ruling 1), and wire capture leaves alone a socket
 *   that a library writes to from inside a probed call (one call, one entry);
 * - the socket syscall in flight and the request the thread serves (bpf/http.bpf.c).
 * Only threads of traced processes get one: its presence is the cheap "traced" test.
 */
struct sc_thread {
	__u32 depth[SC_CL_MAX];
	__u32 sys; /* enum http_sys of the syscall in flight, 0 when none */
	__u32 fd;
	__u64 buf; /* buffer, or iovec array */
	__u64 iovcnt;
	__u32 req_fd1; /* socket of the request in flight on this thread + 1, 0 when none */
	__u32 view_seen; /* its dispatcher was seen calling the view (pyview.bpf.c) */
	__u64 resp_bytes; /* response bytes written so far */
	__u32 await_fd1; /* data store socket + 1 whose reply's first bytes the thread awaits */
	__u32 await_proto; /* its enum sc_client */
	__u32 await_port;
	/* an event loop's thread: it read a second socket's request before the first one's
	 * response began, so its responses are counted per socket (http_fds) */
	__u32 loop;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sc_thread);
} sc_threads SEC(".maps") __weak;

/* Returns the calling thread's state when its process is traced (created on first use
 * when create), else NULL. A thread that has state is traced: the map lookup of the
 * tgid is made only for a thread seen for the first time. */
static __always_inline struct sc_thread *sc_thread_get(bool create)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct sc_thread *t = bpf_task_storage_get(&sc_threads, task, 0, 0);

	if (t || !create || !sc_traced(bpf_get_current_pid_tgid() >> 32))
		return t;
	return bpf_task_storage_get(&sc_threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* Enters a probed call of client family cl. Returns the depth now (1: the outermost
 * call), 0 when the thread's state cannot be had. */
static __always_inline __u32 sc_client_enter(__u32 cl)
{
	struct sc_thread *t = sc_thread_get(true);

	if (!t || cl >= SC_CL_MAX)
		return 0;
	return ++t->depth[cl];
}

/* Leaves a probed call of cl. Returns the depth left (0: the outermost call returned),
 * or -1 when no call was entered (a uretprobe of a call made before attach). */
static __always_inline int sc_client_exit(__u32 cl)
{
	struct sc_thread *t = bpf_task_storage_get(&sc_threads, bpf_get_current_task_btf(), 0, 0);

	if (!t || cl >= SC_CL_MAX || t->depth[cl] == 0)
		return -1;
	return --t->depth[cl];
}

/* True when the thread t is inside any probed client library call. */
static __always_inline bool sc_in_client(const struct sc_thread *t)
{
	__u32 i, any = 0;

	for (i = 0; i < SC_CL_MAX; i++)
		any |= t->depth[i];
	return any != 0;
}

#endif /* SCOOBY_COMMON_BPF_H */
