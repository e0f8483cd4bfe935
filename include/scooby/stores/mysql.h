/* MySQL/MariaDB client calls: the entry points of their SC_EV_CALL records, and the protocol value. */
#ifndef SCOOBY_STORES_MYSQL_H
#define SCOOBY_STORES_MYSQL_H

/* Included by scooby/events.h (through the build's list of this folder), after struct sc_hdr. */

/* MySQL/MariaDB client/server protocol (enum sc_client) */
enum { SC_CL_MYSQL = 2 };

/* Entry points of its SC_EV_CALL* records, in sc_call_event.func (the cookie's high half). */
enum sc_mysql_func {
	SC_MY_REAL_QUERY = 1, /* mysql_real_query(MYSQL *, const char *, unsigned long) */
	SC_MY_SEND_QUERY, /* mysql_send_query: same arguments; ended by ... */
	SC_MY_READ_RESULT, /* ... mysql_read_query_result(MYSQL *) */
	SC_MY_STMT_PREPARE, /* mysql_stmt_prepare(MYSQL_STMT *, const char *, unsigned long) */
	SC_MY_STMT_EXECUTE, /* mysql_stmt_execute(MYSQL_STMT *) */
	SC_MY_STMT_CLOSE, /* mysql_stmt_close(MYSQL_STMT *): entry only, not a query */
};

#endif /* SCOOBY_STORES_MYSQL_H */
