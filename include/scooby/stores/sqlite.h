/* SQLite's records: statement texts, executions, error messages. */
#ifndef SCOOBY_STORES_SQLITE_H
#define SCOOBY_STORES_SQLITE_H

/* Included by scooby/events.h (through the build's list of this folder), after struct sc_hdr. */

/* SQLite's record kinds (enum sc_event_kind's numbers: unique among every kind) */
enum sc_sqlite_kind {
	SC_EV_SQL_TEXT = 4, /* a SQLite statement's text (prepare, or first step seen) */
	SC_EV_SQL_EXEC = 5, /* one SQLite statement execution ended */
	SC_EV_SQL_ERRMSG = 11, /* sqlite3_errmsg() text after a failed call (sc_sql_text_event) */
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
	SC_SQL_END_RESET = 2, /* reset, or left open: ts is its last step's return */
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

#endif /* SCOOBY_STORES_SQLITE_H */
