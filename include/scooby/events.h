/* Event records the BPF programs write to the ring buffer and the loader reads. */
#ifndef SCOOBY_EVENTS_H
#define SCOOBY_EVENTS_H

/*
 * Only fixed-size __u32/__u64 fields: the includer provides them (vmlinux.h in
 * BPF, <linux/types.h> in userspace). Every record starts with struct sc_hdr;
 * variable-length records carry their payload last and are emitted with only
 * the bytes used, so `hdr.size` is the record's real length.
 */

#define SC_SQL_CAP 16384 /* most SQL bytes the kernel side ever copies */
#define SC_HTTP_CAP 4096 /* head of a request or response copied for parsing */
#define SC_HTTP_TAIL 8 /* tail of later response writes (chunked terminator) */
#define SC_MAX_LIBS 64 /* attached library slots (uprobe cookie indexes) */

/*
 * The kinds every store shares. A store's own kinds are in its header,
 * include/scooby/stores/NAME.h, numbered apart from every other kind (the event loop
 * refuses to start when two claim one number).
 */
enum sc_event_kind {
	SC_EV_HTTP_IN = 1, /* bytes read on a socket that begin with an HTTP method */
	SC_EV_HTTP_OUT = 2, /* bytes written on the socket of a request in flight */
	SC_EV_HTTP_CLOSE = 3, /* that socket was closed */
	SC_EV_PROC_FORK = 9, /* a traced process forked a new process */
	SC_EV_PROC_EXIT = 10, /* a traced process exited */
	SC_EV_PYSTACK = 12, /* a Python stack, taken when a query started */
	SC_EV_NATSTACK = 13, /* a native (frame-pointer) user stack, taken likewise */
	SC_EV_PYSAMPLE = 14, /* --profile: a CPU sample's Python stack (sc_pystack_event) */
	SC_EV_NATSAMPLE = 15, /* --profile: a CPU sample's native stack (sc_natstack_event) */
	SC_EV_PROFCOUNT = 16, /* --profile: samples counted in BPF, and off-CPU time, of a thread */
	SC_EV_CALL = 17, /* outermost call of a client library (the shared call family) */
	SC_EV_CALL_TEXT = 18, /* text produced inside that call (a formatted command) */
	SC_EV_CALL_RET = 19, /* that outermost call returned */
	SC_EV_WIRE_OUT = 20, /* bytes a traced thread sent to a data store (wire capture) */
	SC_EV_WIRE_IN = 21, /* the first bytes of the store's reply after a send */
	SC_EV_WIRE_CLOSE = 22, /* a data store connection was closed (sc_small_event: fd) */
	SC_EV_LOG = 23, /* a request's thread wrote to its stdout or stderr (sc_wire_event) */
	SC_EV_PYCALL = 24, /* a request's thread called PyObject_Call (sc_pycall_event) */
	SC_EV_PROC_MMAP =
		25, /* a traced process mapped a file executable (sc_small_event: address) */
	SC_EV_PYVIEW = 26, /* a request's first response write found its view (sc_pyview_event) */
	SC_EV_HTTP_TASK = 27, /* an asyncio task asked to write on a request's socket */
};

struct sc_hdr {
	__u32 kind; /* enum sc_event_kind */
	__u32 size; /* bytes of the whole record */
	__u32 pid; /* tgid, in the initial pid namespace */
	__u32 tid;
	__u64 ts; /* CLOCK_MONOTONIC ns of the moment the record describes */
};

/* SC_EV_HTTP_IN / SC_EV_HTTP_OUT: ts is the syscall's return. */
#define SC_HTTP_F_HEAD 1 /* data[] is the head of the buffer (else its tail) */
struct sc_http_event {
	struct sc_hdr hdr;
	__u32 fd;
	__u32 flags;
	__u64 len; /* bytes the syscall moved */
	__u32 cap_len; /* bytes in data[] */
	__u32 pad;
	/* SC_EV_HTTP_OUT of an event-loop thread's response's first write: the coroutine
	 * of the outermost generator frame on the stack (the asyncio task's coroutine when
	 * the task writes it), 0 when none or not looked for */
	__u64 coro;
	__u64 idle_ns; /* --profile: the thread's off-CPU clock at ts (prof_idle_ns), else 0 */
	char data[SC_HTTP_CAP];
};

/* SC_EV_HTTP_TASK: before a request's response began, a thread asked its event loop to
 * watch the request's socket fd for writing (epoll_ctl with EPOLLOUT) from inside an asyncio
 * task: coro is the outermost generator frame's coroutine on its stack, the task's. */
struct sc_http_task_event {
	struct sc_hdr hdr;
	__u32 fd;
	__u32 pad;
	__u64 coro;
};

/* SC_EV_HTTP_CLOSE: a request's socket was closed; idle_ns as in sc_http_event. */
struct sc_http_close_event {
	struct sc_hdr hdr;
	__u32 fd;
	__u32 pad;
	__u64 idle_ns;
};

/* SC_EV_WIRE_CLOSE, SC_EV_PROC_*: a small fixed record. */
struct sc_small_event {
	struct sc_hdr hdr;
	__u64 arg; /* fd, statement pointer, or child pid */
};

/* Data store families, for library calls (sc_call_event.client) and connections
 * (sc_wire_event.proto). Each store's value is in its header, include/scooby/stores/NAME.h:
 * one no other store has, below SC_CL_MAX. */
enum sc_client {
	SC_CL_NONE = 0,
	SC_CL_MAX = 8,
};

/* SC_EV_CALL / SC_EV_CALL_TEXT: handle is the library's connection or statement object
 * (its connection, context or statement pointer); func is the probe's entry point (the
 * uprobe cookie's high half, the store's enum); text is SQL, a command, or key bytes. */
struct sc_call_event {
	struct sc_hdr hdr;
	__u64 handle;
	__u32 client; /* enum sc_client */
	__u32 func;
	__u64 arg; /* a per-function value: a length, a key count, a statement id */
	__u32 full_len; /* text length in the target, may exceed len */
	__u32 len; /* bytes in text[] */
	char text[SC_SQL_CAP];
};

/* SC_EV_CALL_RET: rc is the function's return value (a status code, or a pointer);
 * err is an error text the probe could read (a reply's message), err_len 0 when none. */
#define SC_CALL_ERR_CAP 256
struct sc_call_ret_event {
	struct sc_hdr hdr;
	__u64 handle;
	__u32 client;
	__u32 func;
	__s64 rc;
	__s64 status; /* a status the probe read besides rc (an error out-argument), or -1 */
	__u32 err_len;
	__u32 pad;
	char err[SC_CALL_ERR_CAP];
};

/* SC_EV_WIRE_OUT / SC_EV_WIRE_IN / SC_EV_LOG: bytes moved on fd by one syscall. For
 * WIRE_OUT and LOG, t_start is the key of the stack taken with it (the syscall's return,
 * as ts: when the request bytes had left). */
#define SC_WIRE_IN_CAP 512 /* reply head bytes copied */
#define SC_LOG_CAP 1024 /* bytes of one stdout/stderr write copied */
struct sc_wire_event {
	struct sc_hdr hdr;
	__u64 t_start;
	__u64 len; /* bytes the syscall moved */
	__u32 fd;
	__u32 proto; /* enum sc_client; for SC_EV_LOG: 0 */
	__u32 port; /* the peer's TCP port, 0 for a unix socket */
	__u32 cap_len; /* bytes in data[] */
	char data[SC_SQL_CAP];
};

/* Per attached library: what the probes need to read the library's structs. */
#define SC_SQLITE_WRAPPERS 4
struct sc_lib_cfg {
	__u32 sqlite_zsql_off; /* offsetof(Vdbe, zSql), 0 if unknown */
	__u32 pq_status_off; /* offsetof(PGresult, resultStatus) */
	__u32 pq_errmsg_off; /* offsetof(PGresult, errMsg) */
	__u16 sqlite_state_off; /* offsetof(Vdbe, eVdbeState), 0 if unknown (< 3.40) */
	__u8 sqlite_run_state; /* its value while a statement runs */
	__u8 pad;
	__u16 reply_type_off; /* hiredis: offsetof(redisReply, type) */
	__u16 reply_str_off; /* hiredis: offsetof(redisReply, str) */
	__u16 reply_len_off; /* hiredis: offsetof(redisReply, len) */
	__u16 ctx_errstr_off; /* hiredis: offsetof(redisContext, errstr) */
	__u32 mysql_err_off; /* MySQL: offsetof(MYSQL, net.last_error), 0 if unknown */
	__u32 mysql_errno_off; /* MySQL: offsetof(MYSQL, net.last_errno), 0 if unknown */
	__u32 mysql_stmt_err_off; /* MySQL: offsetof(MYSQL_STMT, last_error), 0 if unknown */
	__u32 mysql_stmt_errno_off; /* MySQL: offsetof(MYSQL_STMT, last_errno), 0 if unknown */
	/* SQLite's sqlite3_prepare*() wrappers, when probed at the worker they all call: per
	 * wrapper, its return address's distance from the worker's entry, the distance back
	 * from it to the wrapper's entry, and the bytes the wrapper pushed or reserved before
	 * the call (its caller's return address is above them), so that a native stack taken
	 * at the worker reads as taken at the wrapper the application called */
	struct sc_wrapper {
		__s32 ra_delta;
		__u16 back; /* 0: no wrapper in this slot */
		__u16 frame;
	} sqlite_wrappers[SC_SQLITE_WRAPPERS];
};

/* SC_EV_PYSTACK: the calling thread's Python frames, innermost first. key_ts is the
 * timestamp of the query start it belongs to (same thread). */
#define SC_PY_MAX_FRAMES 128
#define SC_PY_F_TRUNCATED 1 /* deeper than the stack depth setting */
#define SC_PY_F_NO_THREAD 2 /* the thread's PyThreadState was not found */
#define SC_PY_F_PARTIAL 4 /* a frame could not be read: the walk stopped there */
/* SC_EV_PYSAMPLE: BPF keeps this stack under the hash in key_ts; its later samples on a
 * thread come as counts of that hash (SC_EV_PROFCOUNT) until it is sent whole again */
#define SC_PY_F_KNOWN 8
struct sc_py_frame {
	__u64 code; /* PyCodeObject * */
	__u64 instr; /* 3.11+: instruction pointer; older: f_lasti */
	__u64 ctx; /* 3.11+: the function object; older: the globals dict */
};
struct sc_pystack_event {
	struct sc_hdr hdr;
	__u64 key_ts;
	__u32 nframes;
	__u32 flags;
	/* the outermost frame whose code is in py_task_codes: that local (asgiref's
	 * thread_handler's source_task, an asyncio Task), and the Task's coroutine; 0: none */
	__u64 task;
	__u64 task_coro;
	struct sc_py_frame frames[SC_PY_MAX_FRAMES];
};

/* SC_EV_NATSTACK: return addresses, innermost first (the probed function's own address
 * first), as a frame-pointer walk finds them. */
#define SC_NAT_MAX_FRAMES 64
struct sc_natstack_event {
	struct sc_hdr hdr;
	__u64 key_ts;
	__u32 nframes;
	__u32 flags; /* SC_PY_F_TRUNCATED when the walk filled the array */
	__u64 ips[SC_NAT_MAX_FRAMES];
};

/* SC_EV_PROFCOUNT: what BPF counted for the thread (hdr.tid) since its last such record,
 * sent before its next HTTP record (so that ring order tells the request, as it would per
 * sample), when its slots are full or old, and when it exits. */
#define SC_PROF_SLOTS 8
#define SC_PROF_KNOWN_MAX 4096 /* distinct stacks BPF keeps (SC_PY_F_KNOWN) */
struct sc_prof_slot {
	__u64 hash; /* key_ts of the SC_PY_F_KNOWN sample that sent the stack whole */
	__u64 first_ts; /* when the first of these samples was taken */
	__u32 count;
	__u32 pad;
};
struct sc_profcount_event {
	struct sc_hdr hdr;
	__u32 nslots;
	__u32 pad;
	struct sc_prof_slot slots[SC_PROF_SLOTS];
};

/* Per traced Python process: where its runtime is and how its structs are laid out.
 * Offsets are from each version's headers (or its _Py_DebugOffsets); SC_PY_NONE: absent. */
#define SC_PY_NONE 0xffff
struct sc_py_cfg {
	__u64 runtime; /* address of _PyRuntime */
	__u32 minor; /* 3.<minor> */
	__u16 runtime_interp_head;
	__u16 interp_tstate_head;
	__u16 tstate_next;
	__u16 tstate_thread_id; /* pthread_self(): the TLS base on x86-64 glibc */
	__u16 tstate_native_thread_id; /* the kernel tid (3.11+) */
	__u16 tstate_frame; /* frame, cframe or current_frame */
	__u16 cframe_current_frame; /* when tstate_frame points to a _PyCFrame */
	__u16 frame_back;
	__u16 frame_code;
	__u16 frame_instr;
	__u16 frame_owner;
	__u16 frame_ctx;
	__u16 owner_cstack; /* owner value of C-stack shim frames, skipped */
	__u16 frame_read; /* bytes of a frame that hold every field above */
	__u16 tstate_datastack_chunk; /* 3.11+: frames live in this chunk ... */
	__u16 tstate_datastack_top; /* ... up to here, so one read copies most of them */
	__u16 stackchunk_data;
	__u16 frame_localsplus; /* a frame's first local */
	__u16 frame_gen; /* 3.8-3.10: PyFrameObject.f_gen */
	__u16 gen_iframe; /* 3.11+: offsetof(PyGenObject, gi_iframe) */
	__u16 task_coro; /* _asyncio's TaskObj.task_coro */
	__u16 pad2;
	__u32 ntask_codes; /* entries of py_task_codes for this process: 0 skips the lookup */
	__u32 pad3;
	/* a Django response's objects, read at its first write (bpf/pyresp.bpf.h); resp_minor
	 * is 0 where the version's object layouts are not known to it (all but 3.11, 3.12) */
	__u16 resp_minor;
	__u16 type_flags; /* PyTypeObject.tp_flags */
	__u16 type_cached_keys; /* PyHeapTypeObject.ht_cached_keys: instances' shared keys */
	__u16 type_name; /* PyTypeObject.tp_name */
	__u16 list_size;
	__u16 list_items;
	__u16 method_self; /* PyMethodObject.im_self */
	__u16 code_nlocalsplus; /* PyCodeObject.co_nlocalsplus: a frame's locals */
	__u16 unicode_length;
	__u16 unicode_state;
	__u16 unicode_ascii_data;
	__u16 pad4;
};

/* SC_EV_PYCALL: PyObject_Call(callable, ...) entered on a request's thread before its
 * response began, with the calling Python frame: when that frame is a framework's
 * dispatcher (Django's _get_response), callable is the view it dispatches to. */
struct sc_pycall_event {
	struct sc_hdr hdr;
	__u64 callable;
	__u64 code; /* the calling frame's code object, 0 when unreadable */
	__u64 instr; /* its instruction (pointer from 3.11, f_lasti before) */
};

/* SC_EV_PYVIEW: what a request's thread held at its response's first write (bpf/pyresp.bpf.h) */
enum sc_pyview_status {
	SC_PYV_FUNC = 0, /* func is the callable Django resolved the request to */
	SC_PYV_NO_MATCH = 1, /* the request's resolver_match is None: no URL matched */
	SC_PYV_UNREADABLE = 2, /* a Django response was held, its request's view not readable */
};

struct sc_pyview_event {
	struct sc_hdr hdr;
	__u64 func; /* request.resolver_match.func, 0 unless SC_PYV_FUNC */
	__u32 status; /* enum sc_pyview_status */
	__u32 pad;
};

/* A code object of a traced process, in the dispatcher map (py_dispatchers). */
struct sc_code_key {
	__u32 tgid;
	__u32 pad;
	__u64 code;
};

/* Value of py_task_codes: the local of a frame of that code to read as a task. */
struct sc_task_code {
	__u32 local; /* index in the frame's localsplus */
	__u32 pad;
};

/* Indexes of the per-CPU counters the loader reports. */
enum sc_counter {
	SC_CNT_LOST = 0, /* ring buffer full: records dropped */
	SC_CNT_TRUNC_READ, /* a user memory read failed */
	SC_CNT_LOST_KIND, /* + kind: records of that kind dropped (SC_CNT_LOST_KIND + 1 ...) */
	SC_NCOUNTERS = SC_CNT_LOST_KIND + 32,
};

/* Each store's own record kinds and structs, entry point ids and protocol value: every
 * include/scooby/stores/NAME.h, listed by the build ($(BUILD)/scooby_stores.h). */
#include "scooby_stores.h"

#endif /* SCOOBY_EVENTS_H */
