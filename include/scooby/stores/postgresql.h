/* libpq's records (outermost calls and their returns) and PostgreSQL's wire protocol value. */
#ifndef SCOOBY_STORES_POSTGRESQL_H
#define SCOOBY_STORES_POSTGRESQL_H

/* Included by scooby/events.h (through the build's list of this folder), after struct sc_hdr. */

/* PostgreSQL frontend/backend protocol v3 (enum sc_client) */
enum { SC_CL_PG = 1 };

#define SC_PQ_ERR_CAP 256 /* PGresult error message bytes */
#define SC_PQ_NAME_CAP 64 /* prepared statement name bytes */

/* libpq's record kinds (enum sc_event_kind's numbers: unique among every kind) */
enum sc_pq_kind {
	SC_EV_PQ_CALL = 7, /* outermost libpq call entered (query text or statement name) */
	SC_EV_PQ_RET = 8, /* outermost libpq call returned */
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

#endif /* SCOOBY_STORES_POSTGRESQL_H */
