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
#define SC_PQ_ERR_CAP 256 /* PGresult error message bytes */
#define SC_PQ_NAME_CAP 64 /* prepared statement name bytes */
#define SC_MAX_LIBS 64 /* attached library slots (uprobe cookie indexes) */

enum sc_event_kind {
	SC_EV_HTTP_IN = 1, /* bytes read on a socket that begin with an HTTP method */
	SC_EV_HTTP_OUT = 2, /* bytes written on the socket of a request in flight */
	SC_EV_HTTP_CLOSE = 3, /* that socket was closed */
	SC_EV_SQL_TEXT = 4, /* a SQLite statement's text (prepare, or first step seen) */
	SC_EV_SQL_EXEC = 5, /* one SQLite statement execution ended */
	SC_EV_SQL_FINALIZE = 6, /* a SQLite statement was finalized */
	SC_EV_PQ_CALL = 7, /* outermost libpq call entered (query text or statement name) */
	SC_EV_PQ_RET = 8, /* outermost libpq call returned */
	SC_EV_PROC_FORK = 9, /* a traced process forked a new process */
	SC_EV_PROC_EXIT = 10, /* a traced process exited */
	SC_EV_SQL_ERRMSG = 11, /* sqlite3_errmsg() text after a failed call (sc_sql_text_event) */
	SC_EV_PYSTACK = 12, /* a Python stack, taken when a query started */
	SC_EV_NATSTACK = 13, /* a native (frame-pointer) user stack, taken likewise */
	SC_EV_PYSAMPLE = 14, /* --profile: a CPU sample's Python stack (sc_pystack_event) */
	SC_EV_NATSAMPLE = 15, /* --profile: a CPU sample's native stack (sc_natstack_event) */
	SC_EV_PROFCOUNT = 16, /* --profile: samples counted in BPF, and off-CPU time, of a thread */
	SC_EV_CALL = 17, /* outermost call of a client library (MySQL, hiredis, libmemcached) */
	SC_EV_CALL_TEXT = 18, /* text produced inside that call (hiredis's formatted command) */
	SC_EV_CALL_RET = 19, /* that outermost call returned */
	SC_EV_WIRE_OUT = 20, /* bytes a traced thread sent to a data store (wire capture) */
	SC_EV_WIRE_IN = 21, /* the first bytes of the store's reply after a send */
	SC_EV_WIRE_CLOSE = 22, /* a data store connection was closed (sc_small_event: fd) */
	SC_EV_LOG = 23, /* a request's thread wrote to its stdout or stderr (sc_wire_event) */
	SC_EV_PYCALL = 24, /* a request's thread called PyObject_Call (sc_pycall_event) */
	SC_EV_PROC_MMAP =
		25, /* a traced process mapped a file executable (sc_small_event: address) */
	SC_EV_HTTP_TASK = 26, /* an asyncio task asked to write on a request's socket */
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

/* SC_EV_HTTP_CLOSE, SC_EV_SQL_FINALIZE, SC_EV_PROC_*: a small fixed record. */
struct sc_small_event {
	struct sc_hdr hdr;
	__u64 arg; /* fd, statement pointer, or child pid */
};

/* SC_EV_SQL_TEXT */
#define SC_SQL_F_PREPARE 1 /* seen at prepare: t_enter/t_exit/rc are the prepare's */
#define SC_SQL_F_NO_TEXT 2 /* prepared before attach and text unreachable */
struct sc_sql_text_event {
	struct sc_hdr hdr;
	__u64 stmt; /* sqlite3_stmt * (0 when prepare failed) */
	__u64 t_enter;
	__u64 t_exit;
	__s32 rc; /* prepare's return code */
	__u32 flags;
	__u32 full_len; /* statement length in the target, may exceed len */
	__u32 len; /* bytes in text[] */
	char text[SC_SQL_CAP];
};

/* SC_EV_SQL_EXEC: ts is the return of the call that ended the execution. */
enum sc_sql_end {
	SC_SQL_END_STEP = 1, /* a step returned something other than SQLITE_ROW */
	SC_SQL_END_RESET = 2,
	SC_SQL_END_FINALIZE = 3,
};
struct sc_sql_exec_event {
	struct sc_hdr hdr;
	__u64 stmt;
	__u64 t_first; /* entry of the execution's first step */
	__u64 busy_ns; /* summed time inside sqlite3_step */
	__u32 nsteps;
	__s32 rc; /* last step's return code */
	__u32 end; /* enum sc_sql_end */
	__u32 pad;
	__u64 stack_ts; /* key of the stack taken at its prepare instead of its first step; 0: none */
};

/* libpq entry points, in the cookie's low byte for SC_EV_PQ_* */
enum sc_pq_func {
	SC_PQ_EXEC = 1,
	SC_PQ_EXEC_PARAMS,
	SC_PQ_PREPARE,
	SC_PQ_EXEC_PREPARED,
	SC_PQ_SEND_QUERY,
	SC_PQ_SEND_QUERY_PARAMS,
	SC_PQ_SEND_PREPARE,
	SC_PQ_SEND_QUERY_PREPARED,
	SC_PQ_GET_RESULT,
	SC_PQ_NFUNCS,
};

/* SC_EV_PQ_CALL: text is the query, or for *Prepared the statement name. */
struct sc_pq_call_event {
	struct sc_hdr hdr;
	__u64 conn;
	__u32 func; /* enum sc_pq_func */
	__u32 full_len;
	char name[SC_PQ_NAME_CAP]; /* statement name for PQprepare/PQsendPrepare */
	__u32 len;
	__u32 pad;
	char text[SC_SQL_CAP];
};

/* SC_EV_PQ_RET: status is the PGresult's ExecStatusType, -1 for a NULL result,
 * or for PQsend* the int they returned. */
struct sc_pq_ret_event {
	struct sc_hdr hdr;
	__u64 conn;
	__u32 func;
	__s32 status;
	__u32 err_len;
	__u32 pad;
	char err[SC_PQ_ERR_CAP];
};

/* Data store families, for library calls (sc_call_event.client) and connections
 * (sc_wire_event.proto). */
enum sc_client {
	SC_CL_NONE = 0,
	SC_CL_PG = 1, /* PostgreSQL frontend/backend protocol v3 */
	SC_CL_MYSQL = 2, /* MySQL/MariaDB client/server protocol */
	SC_CL_REDIS = 3, /* RESP */
	SC_CL_MEMCACHE = 4, /* memcached text protocol */
	SC_CL_MAX = 8,
};

/* Entry points of the generic call events, in sc_call_event.func (the cookie's high half). */
enum sc_mysql_func {
	SC_MY_REAL_QUERY = 1, /* mysql_real_query(MYSQL *, const char *, unsigned long) */
	SC_MY_SEND_QUERY, /* mysql_send_query: same arguments; ended by ... */
	SC_MY_READ_RESULT, /* ... mysql_read_query_result(MYSQL *) */
	SC_MY_STMT_PREPARE, /* mysql_stmt_prepare(MYSQL_STMT *, const char *, unsigned long) */
	SC_MY_STMT_EXECUTE, /* mysql_stmt_execute(MYSQL_STMT *) */
	SC_MY_STMT_CLOSE, /* mysql_stmt_close(MYSQL_STMT *): entry only, not a query */
};
enum sc_redis_func {
	SC_RD_COMMAND = 1, /* redisCommand, redisvCommand, redisCommandArgv: append + reply */
	SC_RD_APPEND, /* redis*AppendCommand*: queue a command on the context */
	SC_RD_GET_REPLY, /* redisGetReply(redisContext *, void **): the oldest one's reply */
	SC_RD_TEXT, /* __redisAppendCommand(c, cmd, len): SC_EV_CALL_TEXT with the RESP bytes */
};
enum sc_mc_func {
	SC_MC_GET = 1, /* memcached_get: status in its 6th argument (memcached_return_t *) */
	SC_MC_MGET, /* memcached_mget(memc, keys, key_lengths, n): text = keys, arg = n */
	SC_MC_FETCH, /* memcached_fetch_result(memc, result, error *): part of the mget */
	SC_MC_SET,
	SC_MC_ADD,
	SC_MC_REPLACE,
	SC_MC_APPEND,
	SC_MC_PREPEND,
	SC_MC_CAS,
	SC_MC_DELETE,
	SC_MC_INCR,
	SC_MC_DECR,
	SC_MC_TOUCH,
	SC_MC_NFUNCS,
};

/* SC_EV_CALL / SC_EV_CALL_TEXT: handle is the library's connection or statement object
 * (MYSQL *, MYSQL_STMT *, redisContext *, memcached_st *); func is the probe's entry
 * point (the uprobe cookie's high half); text is SQL, a RESP command, or key bytes. */
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
	__s64 status; /* a status the probe read besides rc (libmemcached's *error), or -1 */
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
	__u64 off_ns; /* off-CPU time of the intervals that ended since the last record */
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

#endif /* SCOOBY_EVENTS_H */
