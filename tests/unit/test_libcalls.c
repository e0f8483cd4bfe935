/* Unit tests for the MySQL, hiredis, libmemcached and SQLite trackers: synthetic events in, queries out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "native/elfsym.h"
#include "stores/redis/hiredis.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/sqlite/sqlite.h"

#define PID 4242
#define TID 4243
#define MS 1000000ULL

/* The records the correlator hands out: the background record of PID, at the end. */
static struct record *got;

static void collect(struct record *r, void *ctx)
{
	if (got || r->pid != PID) {
		record__free(r);
		return;
	}
	got = r;
}

static struct correlator *corr_new(void)
{
	struct correlator_opts o = { .background_period_ns = 1000 * MS,
				     .request_timeout_ns = 60000 * MS };

	got = NULL;
	return correlator__new(&o, collect, NULL);
}

/* Frees the correlator, which publishes PID's background record into got. */
static struct record *corr_done(struct correlator *c)
{
	correlator__free(c);
	assert_non_null(got);
	return got;
}

/* A record header of PID's thread TID. */
static struct sc_hdr hdr(uint32_t kind, uint64_t ts)
{
	return (struct sc_hdr){ .kind = kind, .pid = PID, .tid = TID, .ts = ts };
}

static struct sc_call_event *call_ev(uint32_t kind, uint32_t client, uint32_t func, uint64_t handle,
				     uint64_t ts, const char *text, size_t len)
{
	static struct sc_call_event e;

	memset(&e, 0, offsetof(struct sc_call_event, text));
	e.hdr = hdr(kind, ts);
	e.client = client;
	e.func = func;
	e.handle = handle;
	if (text)
		memcpy(e.text, text, len);
	e.len = len;
	e.full_len = len;
	return &e;
}

static struct sc_call_ret_event *ret_ev(uint32_t client, uint64_t handle, uint64_t ts, int64_t rc,
					int64_t status, const char *err)
{
	static struct sc_call_ret_event e;

	memset(&e, 0, sizeof(e));
	e.hdr = hdr(SC_EV_CALL_RET, ts);
	e.client = client;
	e.handle = handle;
	e.rc = rc;
	e.status = status;
	if (err) {
		e.err_len = strlen(err);
		memcpy(e.err, err, e.err_len);
	}
	return &e;
}

#define TXT(s) s, sizeof(s) - 1

static void my_call(struct mysql_tracker *t, uint32_t func, uint64_t h, uint64_t ts,
		    const char *sql)
{
	mysql_tracker__call(
		t, call_ev(SC_EV_CALL, SC_CL_MYSQL, func, h, ts, sql, sql ? strlen(sql) : 0));
}

static void test_mysql_queries(void **state)
{
	struct correlator *c = corr_new();
	struct mysql_tracker *t = mysql_tracker__new(c, NULL);
	struct record *r;

	assert_non_null(t);
	my_call(t, SC_MY_REAL_QUERY, 1, 10 * MS, "SELECT 1");
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 1, 12 * MS, 0, -1, NULL));
	my_call(t, SC_MY_REAL_QUERY, 1, 20 * MS, "SELECT * FROM nope");
	mysql_tracker__ret(
		t, ret_ev(SC_CL_MYSQL, 1, 21 * MS, 1, 1146, "Table 'db.nope' doesn't exist"));
	my_call(t, SC_MY_REAL_QUERY, 1, 30 * MS, "SELECT 2");
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 1, 31 * MS, 1, 1146, NULL));
	/* send + read: one query, the time inside both calls */
	my_call(t, SC_MY_SEND_QUERY, 1, 40 * MS, "SELECT 3");
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 1, 41 * MS, 0, -1, NULL));
	my_call(t, SC_MY_READ_RESULT, 1, 50 * MS, NULL);
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 1, 53 * MS, 0, -1, NULL));
	/* a read with no send seen: nothing */
	my_call(t, SC_MY_READ_RESULT, 1, 60 * MS, NULL);
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 1, 61 * MS, 0, -1, NULL));
	mysql_tracker__free(t);
	r = corr_done(c);
	assert_int_equal(r->nqueries, 4);
	assert_string_equal(r->queries[0].sql, "SELECT 1");
	assert_null(r->queries[0].error);
	assert_int_equal(r->queries[0].db, DB_MYSQL);
	assert_int_equal(r->queries[0].busy_ns, 2 * MS);
	assert_string_equal(r->queries[1].error, "Table 'db.nope' doesn't exist");
	assert_string_equal(r->queries[2].error, "MySQL error 1146 ER_NO_SUCH_TABLE");
	assert_string_equal(r->queries[3].sql, "SELECT 3");
	assert_int_equal(r->queries[3].start_ns, 40 * MS);
	assert_int_equal(r->queries[3].end_ns, 53 * MS);
	assert_int_equal(r->queries[3].busy_ns, 4 * MS);
	record__free(r);
}

static void test_mysql_statements(void **state)
{
	struct correlator *c = corr_new();
	struct mysql_tracker *t = mysql_tracker__new(c, NULL);
	struct record *r;

	my_call(t, SC_MY_STMT_PREPARE, 7, 10 * MS, "SELECT ?");
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 7, 11 * MS, 0, -1, NULL));
	my_call(t, SC_MY_STMT_EXECUTE, 7, 12 * MS, NULL);
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 7, 13 * MS, 0, -1, NULL));
	my_call(t, SC_MY_STMT_CLOSE, 7, 14 * MS, NULL);
	my_call(t, SC_MY_STMT_EXECUTE, 7, 15 * MS, NULL);
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 7, 16 * MS, 1, 2030, NULL));
	/* a failed prepare is a query with its error, and names no statement */
	my_call(t, SC_MY_STMT_PREPARE, 8, 20 * MS, "SELEC");
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 8, 21 * MS, 1, 1064, "You have an error"));
	my_call(t, SC_MY_STMT_EXECUTE, 8, 22 * MS, NULL);
	mysql_tracker__ret(t, ret_ev(SC_CL_MYSQL, 8, 23 * MS, 1, -1, NULL));
	mysql_tracker__free(t);
	r = corr_done(c);
	assert_int_equal(r->nqueries, 5);
	assert_string_equal(r->queries[0].sql, "SELECT ?");
	assert_string_equal(r->queries[1].sql, "SELECT ?");
	assert_null(r->queries[1].error);
	assert_string_equal(r->queries[2].sql, "EXECUTE (statement prepared before attach)");
	assert_string_equal(r->queries[2].error, "MySQL error 2030 CR_NO_PREPARE_STMT");
	assert_string_equal(r->queries[3].error, "You have an error");
	assert_string_equal(r->queries[4].sql, "EXECUTE (statement prepared before attach)");
	assert_string_equal(r->queries[4].error, "MySQL error");
	record__free(r);
}

/* RESP of a command with its arguments. */
#define RESP_GET "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
#define RESP_SET "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
#define RESP_INCR "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n"

static void rd_call(struct hiredis_tracker *t, uint32_t func, uint64_t ctx, uint64_t ts,
		    const char *resp)
{
	hiredis_tracker__call(t, call_ev(SC_EV_CALL, SC_CL_REDIS, func, ctx, ts, NULL, 0));
	if (resp)
		hiredis_tracker__call(t, call_ev(SC_EV_CALL_TEXT, SC_CL_REDIS, SC_RD_TEXT, ctx,
						 ts + 1, resp, strlen(resp)));
}

static void test_hiredis_commands_and_pipeline(void **state)
{
	struct correlator *c = corr_new();
	struct hiredis_tracker *t = hiredis_tracker__new(c, NULL, 4096);
	struct query_list *l;
	struct record *r;

	assert_non_null(t);
	rd_call(t, SC_RD_COMMAND, 5, 10 * MS, RESP_GET);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 11 * MS, 0x1000, 4 /* NIL */, NULL));
	rd_call(t, SC_RD_COMMAND, 5, 20 * MS, RESP_INCR);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 21 * MS, 0x1000, 6, "ERR not an integer"));
	rd_call(t, SC_RD_COMMAND, 5, 30 * MS, RESP_GET);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 31 * MS, 0, -1, "Connection reset by peer"));
	/* a pipeline: two appends, two replies, in order */
	rd_call(t, SC_RD_APPEND, 5, 40 * MS, RESP_SET);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 41 * MS, 0, -1, NULL));
	rd_call(t, SC_RD_APPEND, 5, 42 * MS, RESP_INCR);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 43 * MS, 0, -1, NULL));
	rd_call(t, SC_RD_GET_REPLY, 5, 50 * MS, NULL);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 52 * MS, 0, 5 /* STATUS */, NULL));
	rd_call(t, SC_RD_GET_REPLY, 5, 53 * MS, NULL);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 54 * MS, 0, 6, "ERR wrong type"));
	/* a reply nothing was appended for (before attach): nothing */
	rd_call(t, SC_RD_GET_REPLY, 5, 60 * MS, NULL);
	hiredis_tracker__ret(t, ret_ev(SC_CL_REDIS, 5, 61 * MS, 0, 3, NULL));
	hiredis_tracker__free(t);
	r = corr_done(c);
	l = &r->redis;
	assert_int_equal(l->n, 5);
	assert_string_equal(l->q[0].command, "GET");
	assert_string_equal(l->q[0].key, "k");
	assert_null(l->q[0].error);
	assert_int_equal(l->q[0].busy_ns, 1 * MS);
	assert_string_equal(l->q[1].error, "ERR not an integer");
	assert_string_equal(l->q[2].error, "Connection reset by peer");
	assert_string_equal(l->q[3].command, "SET");
	assert_int_equal(l->q[3].nargs, 1);
	assert_string_equal(l->q[3].args[0], "v");
	assert_null(l->q[3].error);
	assert_int_equal(l->q[3].start_ns, 40 * MS);
	assert_int_equal(l->q[3].end_ns, 52 * MS);
	assert_int_equal(l->q[3].busy_ns, 3 * MS); /* 1 in its append, 2 in its reply */
	assert_string_equal(l->q[4].command, "INCR");
	assert_string_equal(l->q[4].error, "ERR wrong type");
	assert_int_equal(l->q[4].busy_ns, 2 * MS);
	record__free(r);
}

static void mc_call(struct memcached_tracker *t, uint32_t func, uint64_t ts, const char *keys)
{
	memcached_tracker__call(
		t, call_ev(SC_EV_CALL, SC_CL_MEMCACHE, func, 9, ts, keys, keys ? strlen(keys) : 0));
}

static void test_memcached_ops(void **state)
{
	struct correlator *c = corr_new();
	struct memcached_tracker *t = memcached_tracker__new(c, NULL);
	struct query_list *l;
	struct record *r;

	assert_non_null(t);
	mc_call(t, SC_MC_SET, 10 * MS, "k");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 11 * MS, 0, 0, NULL));
	mc_call(t, SC_MC_GET, 20 * MS, "missing");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 21 * MS, 0, 16 /* NOTFOUND */, NULL));
	mc_call(t, SC_MC_INCR, 30 * MS, "n");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 31 * MS, 3, 3, NULL));
	/* a multi-get and its fetches: one entry */
	mc_call(t, SC_MC_MGET, 40 * MS, "a b c");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 41 * MS, 0, 0, NULL));
	mc_call(t, SC_MC_FETCH, 42 * MS, NULL);
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 43 * MS, 0x2000, 0, NULL));
	mc_call(t, SC_MC_FETCH, 44 * MS, NULL);
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 46 * MS, 0, 21 /* END */, NULL));
	/* a multi-get the client stops fetching ends when the next call starts */
	mc_call(t, SC_MC_MGET, 50 * MS, "d");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 51 * MS, 0, 0, NULL));
	mc_call(t, SC_MC_DELETE, 60 * MS, "k");
	memcached_tracker__ret(t, ret_ev(SC_CL_MEMCACHE, 9, 61 * MS, 22, 22, NULL));
	memcached_tracker__free(t);
	r = corr_done(c);
	l = &r->memcache;
	assert_int_equal(l->n, 6);
	assert_string_equal(l->q[0].command, "set");
	assert_string_equal(l->q[0].key, "k");
	assert_string_equal(l->q[0].sql, "set k");
	assert_null(l->q[0].error);
	assert_string_equal(l->q[1].command, "get");
	assert_null(l->q[1].error); /* a miss is no error */
	assert_string_equal(l->q[2].command, "incr");
	assert_string_equal(l->q[2].error, "MEMCACHED_CONNECTION_FAILURE");
	assert_string_equal(l->q[3].command, "get_multi");
	assert_string_equal(l->q[3].key, "a b c");
	assert_int_equal(l->q[3].start_ns, 40 * MS);
	assert_int_equal(l->q[3].end_ns, 46 * MS);
	assert_int_equal(l->q[3].busy_ns, 4 * MS);
	assert_null(l->q[3].error);
	assert_string_equal(l->q[4].key, "d");
	assert_int_equal(l->q[4].end_ns, 51 * MS);
	assert_string_equal(l->q[5].command, "delete");
	record__free(r);
}

static void sq_text(struct sqlite_tracker *t, uint64_t stmt, uint64_t ts, const char *sql)
{
	static struct sc_sql_text_event e;

	memset(&e, 0, offsetof(struct sc_sql_text_event, text));
	e.hdr = hdr(SC_EV_SQL_TEXT, ts);
	e.stmt = stmt;
	e.t_enter = ts - 1000;
	e.t_exit = ts;
	e.flags = SC_SQL_F_PREPARE;
	e.len = e.full_len = strlen(sql);
	memcpy(e.text, sql, e.len);
	sqlite_tracker__text(t, &e);
}

static void sq_exec(struct sqlite_tracker *t, uint64_t stmt, uint64_t ts)
{
	struct sc_sql_exec_event e = { .hdr = hdr(SC_EV_SQL_EXEC, ts + 1000),
				       .stmt = stmt,
				       .t_first = ts,
				       .busy_ns = 1000,
				       .nsteps = 1,
				       .rc = 101, /* SQLITE_DONE */
				       .end = SC_SQL_END_STEP };

	sqlite_tracker__exec(t, &e);
}

/* With no finalize seen, statements at new addresses fill the table of texts: at its bound
 * the least lately used go, the one just executed stays, and a new one still gets in. */
static void test_sqlite_texts_make_room(void **state)
{
	const uint64_t n = 262144; /* the table's bound (src/stores/sqlite/sqlite.c) */
	struct correlator *c = corr_new();
	struct sqlite_tracker *t = sqlite_tracker__new(c, NULL);
	struct record *r;
	char sql[64];
	uint64_t i;

	assert_non_null(t);
	for (i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "SELECT %llu", (unsigned long long)i);
		sq_text(t, 0x10000 + i * 64, (i + 1) * MS, sql);
	}
	sq_exec(t, 0x10000 + 5 * 64, (n + 1) * MS); /* used lately: kept */
	sq_text(t, 0x10000 + n * 64, (n + 2) * MS, "SELECT new");
	sq_exec(t, 0x10000 + n * 64, (n + 3) * MS);
	sq_exec(t, 0x10000 + 5 * 64, (n + 4) * MS);
	sq_exec(t, 0x10000 + 6 * 64, (n + 5) * MS); /* among the oldest: dropped */
	sq_exec(t, 0x10000 + (n - 1) * 64, (n + 6) * MS); /* the newest before: kept */
	sqlite_tracker__free(t);
	r = corr_done(c);
	assert_int_equal(r->nqueries, 5);
	assert_string_equal(r->queries[0].sql, "SELECT 5");
	assert_string_equal(r->queries[1].sql, "SELECT new");
	assert_string_equal(r->queries[2].sql, "SELECT 5");
	assert_string_equal(r->queries[3].sql, "(statement text lost)");
	assert_string_equal(r->queries[4].sql, "SELECT 262143");
	record__free(r);
}

static void test_status_names(void **state)
{
	assert_string_equal(memcached_status_name(0), "MEMCACHED_SUCCESS");
	assert_string_equal(memcached_status_name(48),
			    "MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE");
	assert_string_equal(memcached_status_name(49), "MEMCACHED_UNKNOWN_STATUS");
	assert_true(memcached_status_ok(16));
	assert_true(memcached_status_ok(14));
	assert_false(memcached_status_ok(3));
	assert_string_equal(mysql_errno_name(1146), "ER_NO_SUCH_TABLE");
	assert_null(mysql_errno_name(1));
}

static void test_lea_decoder(void **state)
{
	/* libmariadb 3.3's mysql_error: lea 0x97(%rdi),%rax; test %rdi,%rdi ... */
	static const unsigned char my_error[] = { 0x48, 0x8d, 0x87, 0x97, 0x00,
						  0x00, 0x00, 0x48, 0x85, 0xff };
	/* lea 0x10(%rdi),%rax (disp8) */
	static const unsigned char disp8[] = { 0x48, 0x8d, 0x47, 0x10, 0xc3 };
	/* lea 0x10(%r15),%rax: REX.B makes rm=111 r15, not rdi */
	static const unsigned char r15[] = { 0x49, 0x8d, 0x47, 0x10, 0xc3 };

	assert_int_equal(x86_first_rdi_lea_disp(my_error, sizeof(my_error)), 0x97);
	assert_int_equal(x86_first_rdi_lea_disp(disp8, sizeof(disp8)), 0x10);
	assert_int_equal(x86_first_rdi_lea_disp(r15, sizeof(r15)), -1);
	assert_int_equal(x86_first_rdi_lea_disp(my_error, 3), -1);
	assert_int_equal(x86_first_rdi_load_disp(my_error, sizeof(my_error)), -1);
}

static void test_emulated_and_callee_decoders(void **state)
{
	/* Debian 12's sqlite3_prepare_v2 at 0xbdcb0: sub $0x10,%rsp; mov %rcx,%r9;
	 * mov $0x80,%ecx; push %r8; xor %r8d,%r8d; call 0xbd810 */
	static const unsigned char prep[] = { 0x48, 0x83, 0xec, 0x10, 0x49, 0x89, 0xc9, 0xb9,
					      0x80, 0x00, 0x00, 0x00, 0x41, 0x50, 0x45, 0x31,
					      0xc0, 0xe8, 0x4a, 0xfb, 0xff, 0xff, 0x48, 0x83 };
	static const unsigned char push_r15[] = { 0x41, 0x57 }, push_rbp[] = { 0x55 };
	static const unsigned char mov[] = { 0x48, 0x8b, 0x2f }, jmp8[] = { 0xeb, 0x10 };

	assert_false(x86_uprobe_emulated(prep, sizeof(prep)));
	assert_false(x86_uprobe_emulated(mov, sizeof(mov)));
	assert_true(x86_uprobe_emulated(push_r15, sizeof(push_r15)));
	assert_true(x86_uprobe_emulated(push_rbp, sizeof(push_rbp)));
	assert_true(x86_uprobe_emulated(jmp8, sizeof(jmp8)));
	assert_false(x86_uprobe_emulated(push_r15, 1)); /* a REX prefix alone */
	assert_int_equal(x86_first_call_target(prep, sizeof(prep), 0xbdcb0), 0xbd810);
	assert_int_equal(x86_first_call_target(prep, 21, 0xbdcb0), -1); /* cut in the call */
	assert_int_equal(x86_first_call_target(mov, sizeof(mov), 0), -1);
}

static void test_wrapper_decoder(void **state)
{
	/* Debian 12's sqlite3_prepare_v2 at 0xbdcb0 through its call to 0xbd810, then
	 * add $0x18,%rsp; ret */
	static const unsigned char prep[] = {
		0x48, 0x83, 0xec, 0x10, 0x49, 0x89, 0xc9, 0xb9, 0x80, 0x00, 0x00, 0x00, 0x41, 0x50,
		0x45, 0x31, 0xc0, 0xe8, 0x4a, 0xfb, 0xff, 0xff, 0x48, 0x83, 0xc4, 0x18, 0xc3
	};
	/* the same call followed by something else than the frame's release */
	static const unsigned char other[] = { 0xe8, 0x4a, 0xfb, 0xff, 0xff,
					       0x48, 0x89, 0xc7, 0xc3, 0x90 };
	unsigned ret_at = 0, frame = 0;

	assert_int_equal(x86_wrapper_call(prep, sizeof(prep), 0xbdcb0, &ret_at, &frame), 0xbd810);
	assert_int_equal(ret_at, 0x16);
	assert_int_equal(frame, 0x18);
	assert_int_equal(x86_wrapper_call(prep, sizeof(prep) - 1, 0xbdcb0, &ret_at, &frame), -1);
	assert_int_equal(x86_wrapper_call(other, sizeof(other), 0, &ret_at, &frame), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mysql_queries),
		cmocka_unit_test(test_mysql_statements),
		cmocka_unit_test(test_hiredis_commands_and_pipeline),
		cmocka_unit_test(test_memcached_ops),
		cmocka_unit_test(test_sqlite_texts_make_room),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_lea_decoder),
		cmocka_unit_test(test_emulated_and_callee_decoders),
		cmocka_unit_test(test_wrapper_decoder),
	};

	clock_ref__init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
