/* Unit tests for the wire protocol parsers: PostgreSQL, MySQL, RESP and memcached commands, errors, framing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_proto.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/postgresql/pq.h"
#include "stores/redis/hiredis.h"

/* A string literal's bytes and length, embedded NULs included. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* Commands found so far on one connection. */
struct tconn {
	struct wire_conn *c;
	struct wire_cmd *cmds;
	size_t n;
};

static void tconn_init(struct tconn *t, uint32_t proto, size_t max_text)
{
	memset(t, 0, sizeof(*t));
	t->c = wire_conn__new(proto, max_text);
	assert_non_null(t->c);
}

static void tconn_reset_cmds(struct tconn *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		wire_cmd__clear(&t->cmds[i]);
	free(t->cmds);
	t->cmds = NULL;
	t->n = 0;
}

static void tconn_free(struct tconn *t)
{
	tconn_reset_cmds(t);
	wire_conn__free(t->c);
}

/* Feeds one send of full bytes of which the first cap were captured (copied into an
 * exactly sized block, so that ASan sees any read past the capture); returns what the
 * parser returned. */
static int tsend_cap(struct tconn *t, const uint8_t *b, size_t full, size_t cap)
{
	uint8_t *p = malloc(cap ? cap : 1);
	int rc;

	assert_non_null(p);
	memcpy(p, b, cap);
	rc = wire_conn__client(t->c, p, cap, full, &t->cmds, &t->n);
	free(p);
	assert_true(rc >= 0);
	return rc;
}

static int tsend(struct tconn *t, const uint8_t *b, size_t len)
{
	return tsend_cap(t, b, len, len);
}

/* Feeds a reply head for npending commands; errs must hold npending entries. */
static void treply(struct tconn *t, const uint8_t *b, size_t len, size_t npending, char **errs)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, b, len);
	assert_int_equal(wire_conn__server(t->c, p, len, npending, errs), 0);
	free(p);
}

static void free_errs(char **errs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(errs[i]);
		errs[i] = NULL;
	}
}

/* A byte buffer messages are built in. */
struct bb {
	uint8_t b[65536];
	size_t n;
};

static void bb_add(struct bb *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void bb_str(struct bb *b, const char *s)
{
	bb_add(b, s, strlen(s) + 1);
}

static void bb_be32(struct bb *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	bb_add(b, x, 4);
}

static void bb_be16(struct bb *b, uint16_t v)
{
	uint8_t x[2] = { v >> 8, v };

	bb_add(b, x, 2);
}

/* Starts a PostgreSQL message: returns where its length goes. */
static size_t pg_begin(struct bb *b, char type)
{
	size_t at;

	bb_add(b, &type, 1);
	at = b->n;
	bb_be32(b, 0);
	return at;
}

static void pg_end(struct bb *b, size_t at)
{
	uint32_t len = (uint32_t)(b->n - at);

	b->b[at] = len >> 24;
	b->b[at + 1] = len >> 16;
	b->b[at + 2] = len >> 8;
	b->b[at + 3] = len;
}

static void pg_q(struct bb *b, const char *sql)
{
	size_t at = pg_begin(b, 'Q');

	bb_str(b, sql);
	pg_end(b, at);
}

static void pg_parse(struct bb *b, const char *name, const char *sql)
{
	size_t at = pg_begin(b, 'P');

	bb_str(b, name);
	bb_str(b, sql);
	bb_be16(b, 0);
	pg_end(b, at);
}

static void pg_bind(struct bb *b, const char *portal, const char *stmt)
{
	size_t at = pg_begin(b, 'B');

	bb_str(b, portal);
	bb_str(b, stmt);
	bb_be16(b, 0);
	bb_be16(b, 1);
	bb_be32(b, 2);
	bb_add(b, "42", 2);
	bb_be16(b, 0);
	pg_end(b, at);
}

static void pg_exec(struct bb *b, const char *portal)
{
	size_t at = pg_begin(b, 'E');

	bb_str(b, portal);
	bb_be32(b, 0);
	pg_end(b, at);
}

static void pg_bare(struct bb *b, char type)
{
	pg_end(b, pg_begin(b, type));
}

static void pg_close(struct bb *b, char what, const char *name)
{
	size_t at = pg_begin(b, 'C');

	bb_add(b, &what, 1);
	bb_str(b, name);
	pg_end(b, at);
}

/* Backend: CommandComplete, ReadyForQuery, ParseComplete..., ErrorResponse. */
static void pg_tag(struct bb *b, char type, const char *tag)
{
	size_t at = pg_begin(b, type);

	if (tag)
		bb_str(b, tag);
	pg_end(b, at);
}

static void pg_ready(struct bb *b)
{
	size_t at = pg_begin(b, 'Z');

	bb_add(b, "I", 1);
	pg_end(b, at);
}

static void pg_error(struct bb *b, const char *sev, const char *msg)
{
	size_t at = pg_begin(b, 'E');

	bb_add(b, "S", 1);
	bb_str(b, sev);
	bb_add(b, "V", 1);
	bb_str(b, sev);
	bb_add(b, "C42P01", 7);
	bb_add(b, "M", 1);
	bb_str(b, msg);
	bb_add(b, "", 1);
	pg_end(b, at);
}

/* ---------------------------------------------------------------- PostgreSQL --- */

/* What psycopg2 sent and received (captured with strace against PostgreSQL 15). */
static void test_pg_psycopg2(void **state)
{
	static const uint8_t err_reply[] =
		"E\x00\x00\x00gSERROR\x00VERROR\x00"
		"C42P01\x00Mrelation \"nope\" does not exist\x00"
		"P15\x00"
		"Fparse_relation.c\x00L1392\x00RparserOpenTable\x00\x00Z\x00\x00\x00\x05"
		"E";
	struct tconn t;
	char *errs[2] = { NULL };

	tconn_init(&t, SC_CL_PG, 4096);
	assert_int_equal(tsend(&t, B("\x00\x00\x00\x08\x04\xd2\x16/")), 0);
	assert_int_equal(tsend(&t, B("\x00\x00\x00)\x00\x03\x00\x00user\x00postgres\x00"
				     "database\x00postgres\x00\x00")),
			 0);
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\nBEGIN\x00")), 1);
	treply(&t, B("C\x00\x00\x00\nBEGIN\x00Z\x00\x00\x00\x05T"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\x16SELECT 1, 'it''s'\x00")), 1);
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\x17SELECT * FROM nope\x00")), 1);
	treply(&t, err_reply, sizeof(err_reply) - 1, 1, errs);
	assert_string_equal(errs[0], "ERROR:  relation \"nope\" does not exist");
	free_errs(errs, 1);
	assert_int_equal(tsend(&t, B("X\x00\x00\x00\x04")), 0);

	assert_int_equal(t.n, 3);
	assert_string_equal(t.cmds[0].sql, "BEGIN");
	assert_string_equal(t.cmds[1].sql, "SELECT 1, 'it''s'");
	assert_string_equal(t.cmds[2].sql, "SELECT * FROM nope");
	assert_int_equal(t.cmds[2].db, DB_POSTGRESQL);
	assert_false(t.cmds[2].truncated);
	assert_null(t.cmds[2].command);
	assert_null(t.cmds[2].key);
	tconn_free(&t);
}

/* libpq's PQprepare, PQexecPrepared, PQexecParams (captured). */
static void test_pg_libpq_prepared(void **state)
{
	static const uint8_t bind_exec[] =
		"B\x00\x00\x00\x16\x00s1\x00\x00\x00\x00\x01\x00\x00\x00\x02"
		"41\x00\x01\x00\x00"
		"D\x00\x00\x00\x06P\x00"
		"E\x00\x00\x00\t\x00\x00\x00\x00\x00"
		"S\x00\x00\x00\x04";
	static const uint8_t params[] =
		"P\x00\x00\x00'\x00SELECT * FROM nope WHERE a = $1\x00\x00\x00"
		"B\x00\x00\x00\x14\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02"
		"41\x00\x01\x00\x00"
		"D\x00\x00\x00\x06P\x00"
		"E\x00\x00\x00\t\x00\x00\x00\x00\x00"
		"S\x00\x00\x00\x04";
	static const uint8_t err_reply[] =
		"E\x00\x00\x00gSERROR\x00VERROR\x00"
		"C42P01\x00Mrelation \"nope\" does not exist\x00"
		"P15\x00"
		"Fparse_relation.c\x00L1392\x00RparserOpenTable\x00\x00Z\x00\x00\x00\x05"
		"I";
	struct tconn t;
	char *errs[1] = { NULL };

	tconn_init(&t, SC_CL_PG, 4096);
	/* PQprepare: a Parse and a Sync, a round trip of its own */
	assert_int_equal(tsend(&t, B("P\x00\x00\x00\x1cs1\x00SELECT $1::int + 1\x00\x00\x00"
				     "S\x00\x00\x00\x04")),
			 1);
	treply(&t, B("1\x00\x00\x00\x04Z\x00\x00\x00\x05I"), 1, errs);
	assert_null(errs[0]);
	/* PQexecPrepared: Bind, Describe, Execute, Sync */
	assert_int_equal(tsend(&t, bind_exec, sizeof(bind_exec) - 1), 1);
	treply(&t,
	       B("2\x00\x00\x00\x04T\x00\x00\x00!\x00\x01?column?\x00\x00\x00\x00\x00\x00"
		 "\x00\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00"
		 "D\x00\x00\x00\x0c\x00\x01\x00\x00\x00\x02"
		 "42C\x00\x00\x00\rSELECT 1\x00Z\x00\x00\x00\x05I"),
	       1, errs);
	assert_null(errs[0]);
	/* PQexecParams: the unnamed statement, one command */
	assert_int_equal(tsend(&t, params, sizeof(params) - 1), 1);
	treply(&t, err_reply, sizeof(err_reply) - 1, 1, errs);
	assert_string_equal(errs[0], "ERROR:  relation \"nope\" does not exist");
	free_errs(errs, 1);

	assert_int_equal(t.n, 3);
	assert_string_equal(t.cmds[0].sql, "SELECT $1::int + 1");
	assert_string_equal(t.cmds[1].sql, "SELECT $1::int + 1");
	assert_string_equal(t.cmds[2].sql, "SELECT * FROM nope WHERE a = $1");
	tconn_free(&t);
}

/* Executions of statements and portals the parser never saw prepared. */
static void test_pg_execute_unknown(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 };

	tconn_init(&t, SC_CL_PG, 4096);
	pg_bind(&b, "", "q7");
	pg_exec(&b, "");
	pg_exec(&b, "p1");
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	assert_int_equal(tsend(&t, b.b, b.n), 3);
	assert_string_equal(t.cmds[0].sql, "EXECUTE q7");
	assert_string_equal(t.cmds[1].sql, "EXECUTE p1");
	assert_string_equal(t.cmds[2].sql, "EXECUTE (unnamed)");
	tconn_free(&t);
	tconn_init(&t, SC_CL_PG, 5);
	assert_int_equal(tsend(&t, b.b, b.n), 3);
	assert_string_equal(t.cmds[0].sql, "EXECU");
	assert_true(t.cmds[0].truncated);
	tconn_free(&t);
}

/* The unnamed statement is replaced by the next unnamed Parse; Close forgets a name. */
static void test_pg_statements(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 };

	tconn_init(&t, SC_CL_PG, 4096);
	pg_parse(&b, "", "SELECT 1");
	pg_parse(&b, "", "SELECT 2");
	pg_parse(&b, "named", "SELECT 3");
	pg_bare(&b, 'S');
	/* three round trips of their own */
	assert_int_equal(tsend(&t, b.b, b.n), 3);
	tconn_reset_cmds(&t);
	b.n = 0;
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bind(&b, "", "named");
	pg_exec(&b, "");
	pg_close(&b, 'S', "named");
	pg_bind(&b, "", "named");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	assert_int_equal(tsend(&t, b.b, b.n), 3);
	assert_string_equal(t.cmds[0].sql, "SELECT 2");
	assert_string_equal(t.cmds[1].sql, "SELECT 3");
	assert_string_equal(t.cmds[2].sql, "EXECUTE named");
	tconn_free(&t);
}

/* Several commands in one send; errors go to the command that failed. */
static void test_pg_pipelines(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 }, r = { .n = 0 };
	char *errs[3] = { NULL };

	tconn_init(&t, SC_CL_PG, 4096);
	pg_q(&b, "SELECT 1");
	pg_q(&b, "SELECT x");
	assert_int_equal(tsend(&t, b.b, b.n), 2);
	pg_tag(&r, 'C', "SELECT 1");
	pg_ready(&r);
	pg_error(&r, "ERROR", "column \"x\" does not exist");
	pg_ready(&r);
	treply(&t, r.b, r.n, 2, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1], "ERROR:  column \"x\" does not exist");
	free_errs(errs, 2);

	/* two Sync batches: the first fails */
	b.n = r.n = 0;
	pg_parse(&b, "", "SELECT bad");
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	pg_parse(&b, "", "SELECT 2");
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	assert_int_equal(tsend(&t, b.b, b.n), 2);
	pg_error(&r, "ERROR", "column \"bad\" does not exist");
	pg_ready(&r);
	pg_tag(&r, '1', NULL);
	pg_tag(&r, '2', NULL);
	pg_tag(&r, 'C', "SELECT 1");
	pg_ready(&r);
	treply(&t, r.b, r.n, 2, errs);
	assert_string_equal(errs[0], "ERROR:  column \"bad\" does not exist");
	assert_null(errs[1]);
	free_errs(errs, 2);

	/* one batch, three Executes: the second fails, the third is skipped by the server */
	b.n = r.n = 0;
	pg_parse(&b, "s", "INSERT INTO t VALUES ($1)");
	pg_bind(&b, "", "s");
	pg_exec(&b, "");
	pg_bind(&b, "", "s");
	pg_exec(&b, "");
	pg_bind(&b, "", "s");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	assert_int_equal(tsend(&t, b.b, b.n), 3);
	pg_tag(&r, '1', NULL);
	pg_tag(&r, '2', NULL);
	pg_tag(&r, 'C', "INSERT 0 1");
	pg_tag(&r, '2', NULL);
	pg_error(&r, "ERROR", "duplicate key value violates unique constraint \"t_pkey\"");
	pg_ready(&r);
	treply(&t, r.b, r.n, 3, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1],
			    "ERROR:  duplicate key value violates unique constraint \"t_pkey\"");
	assert_null(errs[2]);
	free_errs(errs, 3);

	assert_int_equal(t.n, 7);
	assert_string_equal(t.cmds[2].sql, "SELECT bad");
	assert_string_equal(t.cmds[3].sql, "SELECT 2");
	assert_string_equal(t.cmds[6].sql, "INSERT INTO t VALUES ($1)");
	tconn_free(&t);
}

/* A command-less batch (Close + Sync) before a command in the same send. */
static void test_pg_empty_batch(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 }, r = { .n = 0 };
	char *errs[1] = { NULL };

	tconn_init(&t, SC_CL_PG, 4096);
	pg_close(&b, 'S', "old");
	pg_bare(&b, 'S');
	pg_parse(&b, "", "SELECT nope");
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	assert_int_equal(tsend(&t, b.b, b.n), 1);
	pg_tag(&r, '3', NULL);
	pg_ready(&r);
	pg_error(&r, "ERROR", "column \"nope\" does not exist");
	pg_ready(&r);
	treply(&t, r.b, r.n, 1, errs);
	assert_string_equal(errs[0], "ERROR:  column \"nope\" does not exist");
	free_errs(errs, 1);
	tconn_free(&t);
}

/* Password messages never make a command. */
static void test_pg_password(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 };
	size_t at;

	tconn_init(&t, SC_CL_PG, 4096);
	at = pg_begin(&b, 'p');
	bb_str(&b, "md5a3556571e93b0d20722ba62be61e8c2d");
	pg_end(&b, at);
	assert_int_equal(tsend(&t, b.b, b.n), 0);
	assert_int_equal(t.n, 0);
	tconn_free(&t);
}

/* A query bigger than the capture, sent in two parts: the continuation is skipped. */
static void test_pg_split_query(void **state)
{
	static struct bb b;
	struct tconn t;
	char *sql = malloc(20001);
	struct bb n = { .n = 0 };

	assert_non_null(sql);
	memcpy(sql, "SELECT '", 8);
	memset(sql + 8, 'a', 19990);
	strcpy(sql + 19998, "'");
	b.n = 0;
	pg_q(&b, sql);
	free(sql);
	tconn_init(&t, SC_CL_PG, 4096);
	/* 16384 bytes sent, 4096 captured */
	assert_int_equal(tsend_cap(&t, b.b, 16384, 4096), 1);
	assert_true(t.cmds[0].truncated);
	assert_int_equal(strlen(t.cmds[0].sql), 4091);
	assert_memory_equal(t.cmds[0].sql, "SELECT 'aaa", 11);
	/* the rest: no command */
	assert_int_equal(tsend(&t, b.b + 16384, b.n - 16384), 0);
	pg_q(&n, "SELECT 2");
	assert_int_equal(tsend(&t, n.b, n.n), 1);
	assert_string_equal(t.cmds[1].sql, "SELECT 2");
	assert_false(t.cmds[1].truncated);
	/* --max-query cuts too */
	tconn_free(&t);
	tconn_init(&t, SC_CL_PG, 10);
	assert_int_equal(tsend(&t, n.b, n.n), 1);
	assert_string_equal(t.cmds[0].sql, "SELECT 2");
	n.n = 0;
	pg_q(&n, "SELECT 1234567890");
	assert_int_equal(tsend(&t, n.b, n.n), 1);
	assert_string_equal(t.cmds[1].sql, "SELECT 123");
	assert_true(t.cmds[1].truncated);
	tconn_free(&t);
}

/* Parse, Bind, Execute, Sync split in the middle of a long Parse: one command. */
static void test_pg_split_parse(void **state)
{
	static struct bb b;
	struct tconn t;
	char *sql = malloc(9001);
	char *errs[1] = { NULL };
	struct bb r = { .n = 0 };

	assert_non_null(sql);
	memcpy(sql, "SELECT ", 7);
	memset(sql + 7, '1', 8993);
	sql[9000] = '\0';
	b.n = 0;
	pg_parse(&b, "", sql);
	pg_bind(&b, "", "");
	pg_exec(&b, "");
	pg_bare(&b, 'S');
	free(sql);
	tconn_init(&t, SC_CL_PG, 100);
	assert_int_equal(tsend(&t, b.b, 8192), 0);
	assert_int_equal(tsend(&t, b.b + 8192, b.n - 8192), 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(strlen(t.cmds[0].sql), 100);
	assert_true(t.cmds[0].truncated);
	pg_error(&r, "ERROR", "syntax error");
	pg_ready(&r);
	treply(&t, r.b, r.n, 1, errs);
	assert_string_equal(errs[0], "ERROR:  syntax error");
	free_errs(errs, 1);
	tconn_free(&t);
}

/* A capture cut inside a message: the command is kept cut, the next send parses. */
static void test_pg_cap_cut(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 };

	tconn_init(&t, SC_CL_PG, 4096);
	pg_q(&b, "SELECT 'a long query that the capture cuts'");
	pg_q(&b, "SELECT 'never seen'");
	assert_int_equal(tsend_cap(&t, b.b, b.n, 20), 1);
	assert_string_equal(t.cmds[0].sql, "SELECT 'a long ");
	assert_true(t.cmds[0].truncated);
	/* a header cut by the capture: nothing */
	assert_int_equal(tsend_cap(&t, b.b, b.n, 3), 0);
	b.n = 0;
	pg_q(&b, "SELECT 3");
	assert_int_equal(tsend(&t, b.b, b.n), 1);
	assert_string_equal(t.cmds[1].sql, "SELECT 3");
	tconn_free(&t);
}

/* Error texts: the severity from S (else V), a message cut by the capture. */
static void test_pg_error_texts(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 }, r = { .n = 0 };
	char *errs[2] = { NULL };
	size_t at;

	tconn_init(&t, SC_CL_PG, 4096);
	pg_q(&b, "SELECT 1");
	pg_q(&b, "SELECT 2");
	assert_int_equal(tsend(&t, b.b, b.n), 2);
	at = pg_begin(&r, 'E');
	bb_add(&r, "VFATAL", 7);
	bb_add(&r, "Mterminating connection due to administrator command", 53);
	bb_add(&r, "", 1);
	pg_end(&r, at);
	pg_ready(&r);
	pg_error(&r, "ERROR", "canceling statement due to user request");
	pg_ready(&r);
	treply(&t, r.b, r.n, 2, errs);
	assert_string_equal(errs[0], "FATAL:  terminating connection due to administrator command");
	assert_string_equal(errs[1], "ERROR:  canceling statement due to user request");
	free_errs(errs, 2);
	/* cut by the capture: what was seen */
	assert_int_equal(tsend(&t, b.b, b.n), 2);
	treply(&t, r.b, 30, 2, errs);
	assert_string_equal(errs[0], "FATAL:  terminating conne");
	assert_null(errs[1]);
	free_errs(errs, 2);
	tconn_free(&t);
}

/* Garbage, HTTP and implausible lengths never make a command. */
static void test_pg_garbage(void **state)
{
	struct tconn t;
	struct bb b = { .n = 0 };
	uint8_t rnd[512];
	unsigned seed = 12345, i, k;

	tconn_init(&t, SC_CL_PG, 4096);
	assert_int_equal(tsend(&t, B("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), 0);
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\x02")), 0);
	assert_int_equal(tsend(&t, B("Q\x7f\xff\xff\xffSELECT 1\x00")), 0);
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\x0cSELECT 1\x00\x00")), 0); /* NUL inside */
	assert_int_equal(tsend(&t, B("Q\x00\x00\x00\x0cSELECT 12")), 0); /* no NUL */
	assert_int_equal(tsend(&t, B("S\x00\x00\x00\x05x")), 0);
	assert_int_equal(tsend(&t, B("E\x00\x00\x00\x06\x00\x00")), 0);
	assert_int_equal(tsend(&t, B("\x00\x00\x00\x08\x00\x00\x00\x00")), 0);
	/* a good message followed by garbage: the whole send is void */
	pg_q(&b, "SELECT 1");
	bb_add(&b, "\x01\x02\x03\x04\x05\x06", 6);
	assert_int_equal(tsend(&t, b.b, b.n), 0);
	for (k = 0; k < 2000; k++) {
		for (i = 0; i < sizeof(rnd); i++) {
			seed = seed * 1103515245 + 12345;
			rnd[i] = (uint8_t)(seed >> 16);
		}
		tsend(&t, rnd, sizeof(rnd));
	}
	assert_int_equal(t.n, 0);
	tconn_free(&t);
}

/* ---------------------------------------------------------------------- MySQL --- */

/* What pymysql sent and received (captured against MariaDB 10.11). */
static void test_mysql_pymysql(void **state)
{
	struct tconn t;
	char *errs[1] = { NULL };

	tconn_init(&t, SC_CL_MYSQL, 4096);
	assert_int_equal(tsend(&t, B("v\x00\x00\x01\r\xa2:\x00\xff\xff\xff\x00-\x00\x00\x00\x00\x00"
				     "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				     "\x00\x00\x00root\x00\x00test\x00mysql_native_password\x00"
				     "4\x0c_client_name\x07pymysql\x04_pid\x03"
				     "702\x0f_client_version\x05"
				     "1.0.2")),
			 0);
	assert_int_equal(tsend(&t, B("\x13\x00\x00\x00\x03SET AUTOCOMMIT = 0")), 1);
	treply(&t, B("\x07\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("\x12\x00\x00\x00\x03SELECT 1, 'it\\'s'")), 1);
	treply(&t,
	       B("\x01\x00\x00\x01\x02\x17\x00\x00\x02\x03"
		 "def\x00\x00\x00\x01"
		 "1\x00\x0c?\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00"),
	       1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("\x13\x00\x00\x00\x03SELECT * FROM nope")), 1);
	treply(&t, B("(\x00\x00\x01\xffz\x04#42S02Table 'test.nope' doesn't exist"), 1, errs);
	assert_string_equal(errs[0], "Table 'test.nope' doesn't exist");
	free_errs(errs, 1);
	assert_int_equal(tsend(&t, B("\x01\x00\x00\x00\x01")), 0); /* COM_QUIT */

	assert_int_equal(t.n, 3);
	assert_string_equal(t.cmds[0].sql, "SET AUTOCOMMIT = 0");
	assert_string_equal(t.cmds[1].sql, "SELECT 1, 'it\\'s'");
	assert_string_equal(t.cmds[2].sql, "SELECT * FROM nope");
	assert_int_equal(t.cmds[2].db, DB_MYSQL);
	tconn_free(&t);
}

/* libmariadb's mysql_stmt_prepare/execute/close (captured): the id comes from the reply. */
static void test_mysql_prepared(void **state)
{
	struct tconn t;
	char *errs[2] = { NULL };

	tconn_init(&t, SC_CL_MYSQL, 4096);
	assert_int_equal(tsend(&t, B("\r\x00\x00\x00\x16SELECT ? + 1")), 1);
	treply(&t,
	       B("\x0c\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00\x18\x00\x00"
		 "\x02\x03"
		 "def\x00\x00\x00\x01?\x00\x00\x0c?\x00\x00\x00\x00\x00\x06\x80\x00\x00\x00\x00"),
	       1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("\x12\x00\x00\x00\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00"
				     "\x01\x03\x00)\x00\x00\x00")),
			 1);
	treply(&t, B("\x02\x00\x00\x01\x01\x01"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("\x05\x00\x00\x00\x19\x01\x00\x00\x00")), 0); /* close */
	assert_int_equal(tsend(&t, B("\x12\x00\x00\x00\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00"
				     "\x01\x03\x00)\x00\x00\x00")),
			 1);
	/* unknown ids, and MariaDB's -1: the statement prepared last */
	assert_int_equal(tsend(&t, B("\x0a\x00\x00\x00\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00")),
			 1);
	assert_int_equal(tsend(&t, B("\x0a\x00\x00\x00\x17\xff\xff\xff\xff\x00\x01\x00\x00\x00")),
			 1);

	assert_int_equal(t.n, 5);
	assert_string_equal(t.cmds[0].sql, "SELECT ? + 1");
	assert_string_equal(t.cmds[1].sql, "SELECT ? + 1");
	assert_string_equal(t.cmds[2].sql, "EXECUTE 1");
	assert_string_equal(t.cmds[3].sql, "EXECUTE 7");
	assert_string_equal(t.cmds[4].sql, "SELECT ? + 1");

	/* a prepare that fails */
	assert_int_equal(tsend(&t, B("\x15\x00\x00\x00\x16SELECT * FROM nope ?")), 1);
	treply(&t, B("\x2e\x00\x00\x01\xff\x28\x04#42000You have an error in your SQL syntax"), 1,
	       errs);
	assert_string_equal(errs[0], "You have an error in your SQL syntax");
	free_errs(errs, 1);
	tconn_free(&t);
}

/* COM_QUERY with query attributes (MySQL 8 clients), TLS, several commands at once. */
static void test_mysql_variants(void **state)
{
	struct tconn t;
	char *errs[2] = { NULL };

	tconn_init(&t, SC_CL_MYSQL, 4096);
	assert_int_equal(tsend(&t, B("\x0b\x00\x00\x00\x03\x00\x01SELECT 1")), 1);
	assert_string_equal(t.cmds[0].sql, "SELECT 1");
	/* two commands pipelined: OK then ERR */
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x03SELECT 2"
				     "\x09\x00\x00\x00\x03SELECT x")),
			 2);
	treply(&t,
	       B("\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00"
		 "\x1d\x00\x00\x01\xff\x16\x04#42S22Unknown column 'x'"),
	       2, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1], "Unknown column 'x'");
	free_errs(errs, 2);
	/* an ERR cut right after its code */
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x03SELECT 3")), 1);
	treply(&t, B("\x1d\x00\x00\x01\xff\x16\x04"), 1, errs);
	assert_string_equal(errs[0], "MySQL error 1046");
	free_errs(errs, 1);
	tconn_free(&t);
	/* an SSLRequest: what follows is ciphertext */
	tconn_init(&t, SC_CL_MYSQL, 4096);
	assert_int_equal(tsend(&t, B("\x20\x00\x00\x01\x0d\xaa\x00\x00\x00\x00\x00\x01\x21\x00\x00"
				     "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				     "\x00\x00\x00\x00\x00\x00")),
			 0);
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x03SELECT 4")), 0);
	assert_int_equal(t.n, 0);
	tconn_free(&t);
}

/* Query attributes announced in the handshake; a non-command packet once commands flow. */
static void test_mysql_attributes(void **state)
{
	struct tconn t;

	tconn_init(&t, SC_CL_MYSQL, 4096);
	/* handshake response: CLIENT_PROTOCOL_41 | CLIENT_QUERY_ATTRIBUTES */
	assert_int_equal(tsend(&t, B("\x22\x00\x00\x01\x00\x02\x00\x08\x00\x00\x00\x01\x21\x00"
				     "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				     "\x00\x00\x00\x00\x00\x00\x00\x00u\x00")),
			 0);
	assert_int_equal(tsend(&t, B("\x0b\x00\x00\x00\x03\x00\x01SELECT 1")), 1);
	assert_string_equal(t.cmds[0].sql, "SELECT 1");
	/* attributes with values: not read, no command rather than a wrong one */
	assert_int_equal(tsend(&t, B("\x12\x00\x00\x00\x03\x01\x01\x00\x01\xfe\x00\x01"
				     "a\x01xSELECT 2")),
			 0);
	/* a packet that neither starts a command nor continues one: garbage */
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x05SELECT 99")), 0);
	assert_int_equal(tsend(&t, B("\x0b\x00\x00\x00\x03\x00\x01SELECT 3")), 1);
	assert_string_equal(t.cmds[1].sql, "SELECT 3");
	tconn_free(&t);
}

/* A query longer than the send and the capture; garbage. */
static void test_mysql_split_garbage(void **state)
{
	static uint8_t big[20004];
	struct tconn t;

	memcpy(big, "\x20\x4e\x00\x00\x03", 5); /* 20000 bytes of payload */
	memcpy(big + 5, "INSERT INTO t VALUES ", 21);
	memset(big + 26, '7', sizeof(big) - 26);
	tconn_init(&t, SC_CL_MYSQL, 4096);
	assert_int_equal(tsend_cap(&t, big, 16384, 4096), 1);
	assert_true(t.cmds[0].truncated);
	assert_int_equal(strlen(t.cmds[0].sql), 4091);
	assert_int_equal(tsend(&t, big + 16384, sizeof(big) - 16384), 0);
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x03SELECT 5")), 1);
	assert_string_equal(t.cmds[1].sql, "SELECT 5");

	assert_int_equal(tsend(&t, B("GET / HTTP/1.1\r\n\r\n")), 0);
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x42SELECT 5")), 0); /* no such command */
	assert_int_equal(tsend(&t, B("\x02\x00\x00\x00\x0e\x00")), 0); /* a ping is 1 byte */
	assert_int_equal(tsend(&t, B("\x09\x00\x00\x00\x03SELECT 5\x05\x00\x00\x00\x77\x01")), 0);
	assert_int_equal(t.n, 2);
	tconn_free(&t);
}

/* ---------------------------------------------------------------------- Redis --- */

/* What redis-py sent and received (captured against Redis 7). */
static void test_redis_py(void **state)
{
	struct tconn t;
	char *errs[4] = { NULL };

	tconn_init(&t, SC_CL_REDIS, 4096);
	assert_int_equal(tsend(&t, B("*2\r\n$4\r\nAUTH\r\n$6\r\nsekrit\r\n")), 1);
	treply(&t, B("+OK\r\n"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$5\r\nalice\r\n")), 1);
	assert_int_equal(
		tsend(&t, B("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$6\r\nINCRBY\r\n"
			    "$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*4\r\n$4\r\n"
			    "HSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n")),
		4);
	treply(&t, B("+OK\r\n:2\r\n$-1\r\n:1\r\n"), 4, errs);
	assert_null(errs[0]);
	assert_null(errs[3]);
	assert_int_equal(tsend(&t, B("*3\r\n$5\r\nLPUSH\r\n$6\r\nuser:1\r\n$1\r\nx\r\n")), 1);
	treply(&t, B("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"), 1,
	       errs);
	assert_string_equal(errs[0],
			    "WRONGTYPE Operation against a key holding the wrong kind of value");
	free_errs(errs, 1);

	assert_int_equal(t.n, 7);
	assert_string_equal(t.cmds[0].command, "AUTH");
	assert_null(t.cmds[0].key);
	assert_int_equal(t.cmds[0].nargs, 1);
	assert_string_equal(t.cmds[0].args[0], "***");
	assert_string_equal(t.cmds[0].sql, "AUTH ***");
	assert_int_equal(t.cmds[0].db, DB_REDIS);
	assert_string_equal(t.cmds[1].command, "SET");
	assert_string_equal(t.cmds[1].key, "user:1");
	assert_int_equal(t.cmds[1].nargs, 1);
	assert_string_equal(t.cmds[1].args[0], "alice");
	assert_string_equal(t.cmds[1].sql, "SET user:1 alice");
	assert_false(t.cmds[1].truncated || t.cmds[1].args_truncated);
	assert_string_equal(t.cmds[3].sql, "INCRBY a 1");
	assert_string_equal(t.cmds[4].command, "GET");
	assert_string_equal(t.cmds[4].key, "b");
	assert_int_equal(t.cmds[4].nargs, 0);
	assert_null(t.cmds[4].args);
	assert_string_equal(t.cmds[5].sql, "HSET h f v");
	assert_string_equal(t.cmds[6].command, "LPUSH");
	tconn_free(&t);
}

/* redis-py sends a big argument on its own: header, value, rest of the command. */
static void test_redis_split(void **state)
{
	static uint8_t val[10000];
	struct tconn t;

	memset(val, 'x', sizeof(val));
	tconn_init(&t, SC_CL_REDIS, 4096);
	assert_int_equal(tsend(&t, B("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$10000\r\n")), 1);
	assert_string_equal(t.cmds[0].sql, "SET big ");
	assert_true(t.cmds[0].truncated);
	assert_true(t.cmds[0].args_truncated);
	assert_int_equal(tsend(&t, val, sizeof(val)), 0);
	assert_int_equal(tsend(&t, B("\r\n")), 0);
	assert_int_equal(tsend(&t, B("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")), 1);
	assert_string_equal(t.cmds[1].sql, "GET big");

	/* a big argument in the middle: the bulk strings after it come in a later send */
	assert_int_equal(tsend(&t, B("*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$7000\r\n")), 1);
	assert_int_equal(tsend(&t, val, 7000), 0);
	assert_int_equal(tsend(&t, B("\r\n$1\r\nv\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\r\n$4\r\nPING\r\n")), 1);
	assert_string_equal(t.cmds[3].sql, "PING");
	assert_null(t.cmds[3].key);

	/* one send the capture cuts inside the value: skip from the declared lengths */
	tconn_reset_cmds(&t);
	{
		static struct bb b;

		b.n = 0;
		bb_str(&b, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000\r\n");
		b.n--;
		bb_add(&b, val, sizeof(val));
		bb_add(&b, "\r\n", 2);
		assert_int_equal(tsend_cap(&t, b.b, 8000, 100), 1);
		assert_string_equal(t.cmds[0].key, "k");
		assert_int_equal(strlen(t.cmds[0].args[0]), 64);
		assert_true(t.cmds[0].args_truncated);
		assert_true(t.cmds[0].truncated);
		assert_int_equal(tsend(&t, b.b + 8000, b.n - 8000), 0);
		assert_int_equal(tsend(&t, B("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")), 1);
		assert_string_equal(t.cmds[1].sql, "GET k");
	}
	tconn_free(&t);
}

/* AUTH, HELLO ... AUTH, MIGRATE ... AUTH/AUTH2: credentials become "***". */
static void test_redis_masking(void **state)
{
	struct tconn t;

	tconn_init(&t, SC_CL_REDIS, 4096);
	assert_int_equal(tsend(&t, B("*3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$6\r\nsekrit\r\n")), 1);
	assert_int_equal(tsend(&t, B("*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n"
				     "$6\r\nsekrit\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n")),
			 1);
	assert_int_equal(
		tsend(&t, B("*11\r\n$7\r\nMIGRATE\r\n$4\r\nhost\r\n$4\r\n6379\r\n$0\r\n\r\n"
			    "$1\r\n0\r\n$4\r\n5000\r\n$5\r\nAUTH2\r\n$1\r\nu\r\n$2\r\npw\r\n"
			    "$4\r\nKEYS\r\n$1\r\na\r\n")),
		1);
	assert_int_equal(tsend(&t, B("AUTH sekrit\r\n")), 1);
	/* cut by the capture inside the password */
	assert_int_equal(tsend_cap(&t, B("*2\r\n$4\r\nAUTH\r\n$6\r\nsekrit\r\n"), 18), 1);

	assert_string_equal(t.cmds[0].sql, "AUTH *** ***");
	assert_int_equal(t.cmds[0].nargs, 2);
	assert_string_equal(t.cmds[1].sql, "HELLO 3 AUTH *** *** SETNAME app");
	assert_null(t.cmds[1].key);
	assert_string_equal(t.cmds[1].args[3], "***");
	assert_string_equal(t.cmds[2].sql, "MIGRATE host 6379  0 5000 AUTH2 *** *** KEYS a");
	assert_string_equal(t.cmds[2].key, "host");
	assert_string_equal(t.cmds[3].sql, "AUTH ***");
	assert_string_equal(t.cmds[4].sql, "AUTH ***");
	assert_true(t.cmds[4].truncated);
	tconn_free(&t);
}

/* Inline commands, keyless commands, the argument limits. */
static void test_redis_forms(void **state)
{
	static struct bb b;
	char num[32];
	struct tconn t;
	int i;

	tconn_init(&t, SC_CL_REDIS, 4096);
	assert_int_equal(tsend(&t, B("PING\r\nset  k v\r\n")), 2);
	assert_string_equal(t.cmds[0].command, "PING");
	assert_null(t.cmds[0].key);
	assert_string_equal(t.cmds[1].command, "SET");
	assert_string_equal(t.cmds[1].key, "k");
	assert_string_equal(t.cmds[1].sql, "SET k v");
	tconn_reset_cmds(&t);

	assert_int_equal(tsend(&t, B("*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n"
				     "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n"
				     "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n")),
			 3);
	assert_null(t.cmds[0].key);
	assert_string_equal(t.cmds[0].args[0], "return 1");
	assert_string_equal(t.cmds[1].key, "news");
	assert_null(t.cmds[2].key);
	assert_string_equal(t.cmds[2].sql, "SELECT 2");
	tconn_reset_cmds(&t);

	/* RPUSH list v0 .. v19, v3 of 100 bytes: 16 arguments kept, each cut at 64 */
	b.n = 0;
	bb_str(&b, "*22\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n");
	b.n--;
	for (i = 0; i < 20; i++) {
		if (i == 3) {
			bb_add(&b, "$100\r\n", 6);
			memset(b.b + b.n, 'z', 100);
			b.n += 100;
			bb_add(&b, "\r\n", 2);
			continue;
		}
		snprintf(num, sizeof(num), "$%d\r\nv%d\r\n", i < 10 ? 2 : 3, i);
		bb_add(&b, num, strlen(num));
	}
	assert_int_equal(tsend(&t, b.b, b.n), 1);
	assert_string_equal(t.cmds[0].key, "list");
	assert_int_equal(t.cmds[0].nargs, QUERY_MAX_ARGS);
	assert_true(t.cmds[0].args_truncated);
	assert_false(t.cmds[0].truncated);
	assert_string_equal(t.cmds[0].args[0], "v0");
	assert_int_equal(strlen(t.cmds[0].args[3]), QUERY_ARG_MAX);
	assert_string_equal(t.cmds[0].args[15], "v15");
	assert_memory_equal(t.cmds[0].sql, "RPUSH list v0 v1 v2 zzz", 23);
	tconn_free(&t);
}

/* Reply values: RESP2 and RESP3 types, nested, blob errors, a cut capture. */
static void test_redis_replies(void **state)
{
	struct tconn t;
	char *errs[6] = { NULL };

	tconn_init(&t, SC_CL_REDIS, 4096);
	treply(&t,
	       B("%1\r\n+a\r\n*2\r\n:1\r\n$3\r\nfoo\r\n_\r\n-ERR unknown command 'FOO'\r\n"
		 "!21\r\nSYNTAX invalid syntax\r\n*-1\r\n~1\r\n,1.5\r\n"),
	       6, errs);
	assert_null(errs[0]);
	assert_null(errs[1]);
	assert_string_equal(errs[2], "ERR unknown command 'FOO'");
	assert_string_equal(errs[3], "SYNTAX invalid syntax");
	assert_null(errs[4]);
	assert_null(errs[5]);
	free_errs(errs, 6);
	/* errors nested in an EXEC reply are not the command's */
	treply(&t, B("*2\r\n-ERR a\r\n+OK\r\n-ERR b\r\n"), 2, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1], "ERR b");
	free_errs(errs, 2);
	/* a value past the capture stops the walk; an error cut there is kept as seen */
	treply(&t, B("$100\r\nabc-ERR x\r\n"), 2, errs);
	assert_null(errs[0]);
	assert_null(errs[1]);
	treply(&t, B("+OK\r\n-ERR this one is cut"), 2, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1], "ERR this one is cut");
	free_errs(errs, 2);
	/* not RESP */
	treply(&t, B("HTTP/1.1 200 OK\r\n\r\n"), 1, errs);
	assert_null(errs[0]);
	tconn_free(&t);
}

/* Garbage, bad lengths, bad names never make a command. */
static void test_redis_garbage(void **state)
{
	struct tconn t;
	uint8_t rnd[300];
	unsigned seed = 777, i, k;

	tconn_init(&t, SC_CL_REDIS, 4096);
	assert_int_equal(tsend(&t, B("$3\r\nfoo\r\n")), 0);
	assert_int_equal(tsend(&t, B("*2\r\n$3\r\nGET\r\n$99999999999\r\n")), 0);
	assert_int_equal(tsend(&t, B("*2\r\n$3\r\nGET\r\n$-1\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\r\n$3\r\nG T\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\r\n$3\r\nGETxx\r\n")), 0);
	assert_int_equal(tsend(&t, B("*0\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\n$4\nPING\n")), 0);
	assert_int_equal(tsend(&t, B("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), 0);
	assert_int_equal(tsend(&t, B("P1NG\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\r\n$4\r\n\0\0TH\r\n")), 0);
	assert_int_equal(tsend(&t, B("*1\r\n$4\r\nPING\r\n\x16\x03\x01")), 0);
	for (k = 0; k < 2000; k++) {
		for (i = 0; i < sizeof(rnd); i++) {
			seed = seed * 1103515245 + 12345;
			rnd[i] = (uint8_t)(seed >> 16);
		}
		rnd[0] = '*';
		tsend(&t, rnd, sizeof(rnd));
	}
	assert_int_equal(t.n, 0);
	tconn_free(&t);
}

/* ------------------------------------------------------------------ memcached --- */

/* What pymemcache sent and received (captured against memcached 1.6). */
static void test_memcache_pymemcache(void **state)
{
	struct tconn t;
	char *errs[2] = { NULL };

	tconn_init(&t, SC_CL_MEMCACHE, 4096);
	assert_int_equal(tsend(&t, B("set k1 0 0 5\r\nhello\r\n")), 1);
	treply(&t, B("STORED\r\n"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("get k1\r\n")), 1);
	treply(&t, B("VALUE k1 0 5\r\nhello\r\nEND\r\n"), 1, errs);
	assert_null(errs[0]);
	assert_int_equal(tsend(&t, B("get k1 k2\r\n")), 1);
	assert_int_equal(tsend(&t, B("delete k1 noreply\r\n")), 1);
	assert_int_equal(tsend(&t, B("incr n 1\r\n")), 1);
	treply(&t, B("VALUE k1 0 5\r\nhello\r\nEND\r\nNOT_FOUND\r\n"), 2, errs);
	assert_null(errs[0]);
	assert_null(errs[1]);

	assert_int_equal(t.n, 5);
	assert_string_equal(t.cmds[0].command, "set");
	assert_string_equal(t.cmds[0].key, "k1");
	assert_string_equal(t.cmds[0].sql, "set k1 0 0 5");
	assert_int_equal(t.cmds[0].db, DB_MEMCACHE);
	assert_string_equal(t.cmds[1].command, "get");
	assert_string_equal(t.cmds[2].command, "get_multi");
	assert_string_equal(t.cmds[2].key, "k1 k2");
	assert_string_equal(t.cmds[2].sql, "get k1 k2");
	assert_string_equal(t.cmds[3].command, "delete");
	assert_true(t.cmds[3].no_reply);
	assert_false(t.cmds[4].no_reply);
	assert_string_equal(t.cmds[4].key, "n");
	tconn_free(&t);
}

/* Pipelines with noreply, errors, counted with or without the noreply commands. */
static void test_memcache_errors(void **state)
{
	struct tconn t;
	char *errs[3] = { NULL };

	tconn_init(&t, SC_CL_MEMCACHE, 4096);
	assert_int_equal(tsend(&t, B("set a 0 0 1 noreply\r\na\r\nincr a 1\r\nget a\r\n")), 3);
	treply(&t,
	       B("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
		 "VALUE a 0 1\r\na\r\nEND\r\n"),
	       2, errs);
	assert_string_equal(errs[0],
			    "CLIENT_ERROR cannot increment or decrement non-numeric value");
	assert_null(errs[1]);
	free_errs(errs, 2);
	assert_int_equal(tsend(&t, B("set a 0 0 1 noreply\r\na\r\nincr a 1\r\nget a\r\n")), 3);
	treply(&t,
	       B("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
		 "SERVER_ERROR out of memory\r\n"),
	       3, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1],
			    "CLIENT_ERROR cannot increment or decrement non-numeric value");
	assert_string_equal(errs[2], "SERVER_ERROR out of memory");
	free_errs(errs, 3);
	assert_int_equal(tsend(&t, B("stats\r\nversion\r\n")), 2);
	treply(&t, B("STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nERROR\r\n"), 2, errs);
	assert_null(errs[0]);
	assert_string_equal(errs[1], "ERROR");
	free_errs(errs, 2);
	assert_null(t.cmds[6].key);
	tconn_free(&t);
}

/* Meta commands, gat, a data block longer than the send. */
static void test_memcache_meta_split(void **state)
{
	static uint8_t big[6000];
	struct tconn t;
	char *errs[2] = { NULL };

	tconn_init(&t, SC_CL_MEMCACHE, 4096);
	assert_int_equal(tsend(&t, B("mg foo v t\r\nms bar 2 T90 q\r\nhi\r\nmn\r\n")), 3);
	assert_string_equal(t.cmds[0].command, "mg");
	assert_string_equal(t.cmds[0].key, "foo");
	assert_true(t.cmds[1].no_reply);
	assert_string_equal(t.cmds[1].key, "bar");
	assert_null(t.cmds[2].key);
	treply(&t, B("VA 2 t-1\r\nhi\r\nMN\r\n"), 2, errs);
	assert_null(errs[0]);
	assert_null(errs[1]);
	assert_int_equal(tsend(&t, B("gat 300 k1 k2\r\n")), 1);
	assert_string_equal(t.cmds[3].key, "k1 k2");

	memcpy(big, "set big 0 0 5980\r\n", 18);
	memset(big + 18, 'y', sizeof(big) - 20);
	memcpy(big + sizeof(big) - 2, "\r\n", 2);
	assert_int_equal(tsend_cap(&t, big, 4000, 512), 1);
	assert_string_equal(t.cmds[4].sql, "set big 0 0 5980");
	assert_int_equal(tsend(&t, big + 4000, 2000), 0);
	assert_int_equal(tsend(&t, B("get big\r\n")), 1);
	assert_string_equal(t.cmds[5].sql, "get big");
	/* a long get line cut by the capture */
	assert_int_equal(tsend_cap(&t, B("get aaaa bbbb cccc dddd\r\n"), 12), 1);
	assert_string_equal(t.cmds[6].sql, "get aaaa bbb");
	assert_string_equal(t.cmds[6].key, "aaaa bbb");
	assert_true(t.cmds[6].truncated);
	tconn_free(&t);
}

static void test_memcache_garbage(void **state)
{
	struct tconn t;

	tconn_init(&t, SC_CL_MEMCACHE, 4096);
	assert_int_equal(tsend(&t, B("GET / HTTP/1.1\r\n\r\n")), 0);
	assert_int_equal(tsend(&t, B("set k 0 0 abc\r\n")), 0);
	assert_int_equal(tsend(&t, B("get\r\n")), 0);
	assert_int_equal(tsend(&t, B("get k\n")), 0);
	assert_int_equal(tsend(&t, B("set k 0 0 2\r\nabc\r\n")), 0);
	assert_int_equal(tsend(&t, B("get k\r\nfrobnicate\r\n")), 0);
	assert_int_equal(tsend(&t, B("get k\x01\r\n")), 0);
	assert_int_equal(tsend(&t, B("incr k 1 2 3\r\n")), 0);
	assert_int_equal(t.n, 0);
	tconn_free(&t);
}

/* --------------------------------------------------------------- guess, names --- */

static void test_guess(void **state)
{
	static const char *const http[] = { "GET / HTTP/1.1\r\n",     "POST /a HTTP/1.1\r\n",
					    "PUT /x HTTP/1.1\r\n",    "DELETE /x HTTP/1.1\r\n",
					    "HEAD / HTTP/1.0\r\n",    "OPTIONS * HTTP/1.1\r\n",
					    "CONNECT a:443 HTTP/1.1", "TRACE / HTTP/1.1\r\n",
					    "PATCH /p HTTP/1.1\r\n",  "PRI * HTTP/2.0\r\n" };
	uint8_t buf[64];
	unsigned seed = 99, i, k;
	size_t j;

	assert_int_equal(wire_guess(B("*2\r\n$3\r\nGET\r\n")), SC_CL_REDIS);
	assert_int_equal(wire_guess(B("Q\x00\x00\x00\nBEGIN\x00")), SC_CL_PG);
	assert_int_equal(wire_guess(B("P\x00\x00\x00\x1cs1\x00SELECT")), SC_CL_PG);
	assert_int_equal(wire_guess(B("X\x00\x00\x00\x04")), SC_CL_PG);
	assert_int_equal(wire_guess(B("X\x00\x00\x00\x05")), SC_CL_NONE);
	assert_int_equal(wire_guess(B("\x00\x00\x00\x08\x04\xd2\x16/")), SC_CL_PG);
	assert_int_equal(wire_guess(B("\x00\x00\x00)\x00\x03\x00\x00user")), SC_CL_PG);
	assert_int_equal(wire_guess(B("\x13\x00\x00\x00\x03SET AUTOCOMMIT = 0")), SC_CL_MYSQL);
	assert_int_equal(wire_guess(B("\x01\x00\x00\x00\x0e")), SC_CL_MYSQL);
	assert_int_equal(wire_guess(B("v\x00\x00\x01\r\xa2:\x00")), SC_CL_NONE); /* handshake */
	assert_int_equal(wire_guess(B("get k1\r\n")), SC_CL_MEMCACHE);
	assert_int_equal(wire_guess(B("version\r\n")), SC_CL_MEMCACHE);
	assert_int_equal(wire_guess(B("flush_all\r\n")), SC_CL_MEMCACHE);
	assert_int_equal(wire_guess(B("prepend k 0 0 1\r\n")), SC_CL_MEMCACHE);
	assert_int_equal(wire_guess(B("mn\r\n")), SC_CL_MEMCACHE);
	assert_int_equal(wire_guess(B("getter\r\n")), SC_CL_NONE);
	assert_int_equal(wire_guess(B("get")), SC_CL_NONE);
	assert_int_equal(wire_guess(B("")), SC_CL_NONE);
	assert_int_equal(wire_guess(NULL, 0), SC_CL_NONE);
	for (i = 0; i < sizeof(http) / sizeof(http[0]); i++)
		assert_int_equal(wire_guess((const uint8_t *)http[i], strlen(http[i])), SC_CL_NONE);
	/* the first 8 bytes decide */
	for (k = 0; k < 20000; k++) {
		for (j = 0; j < sizeof(buf); j++) {
			seed = seed * 1103515245 + 12345;
			buf[j] = (uint8_t)(seed >> 16);
			if (k % 3 == 0 && j < 5)
				buf[j] = "Q*\x00\x03g"[(seed >> 8) % 5];
		}
		for (j = 0; j <= sizeof(buf); j += 7)
			assert_int_equal(wire_guess(buf, j), wire_guess(buf, j < 8 ? j : 8));
	}
}

static void test_names(void **state)
{
	uint32_t p;

	for (p = SC_CL_PG; p <= SC_CL_MEMCACHE; p++)
		assert_int_equal(wire_proto_parse(wire_proto_name(p)), p);
	assert_string_equal(wire_proto_name(SC_CL_PG), "postgresql");
	assert_string_equal(wire_proto_name(SC_CL_MEMCACHE), "memcached");
	assert_null(wire_proto_name(SC_CL_NONE));
	assert_null(wire_proto_name(7));
	assert_int_equal(wire_proto_parse("Redis"), SC_CL_REDIS);
	assert_int_equal(wire_proto_parse("mariadb"), SC_CL_MYSQL);
	assert_int_equal(wire_proto_parse("http"), SC_CL_NONE);
	assert_int_equal(wire_proto_parse(NULL), SC_CL_NONE);
	assert_null(wire_conn__new(SC_CL_NONE, 100));
	assert_null(wire_conn__new(9, 100));
	wire_conn__free(NULL);
	wire_cmd__clear(NULL);
}

/* Sends and replies of which nothing was captured. */
static void test_uncaptured(void **state)
{
	struct wire_cmd *cmds = NULL;
	char *errs[2] = { NULL };
	size_t n = 0;
	uint32_t p;

	for (p = SC_CL_PG; p <= SC_CL_MEMCACHE; p++) {
		struct wire_conn *c = wire_conn__new(p, 100);

		assert_non_null(c);
		assert_int_equal(wire_conn__client(c, NULL, 0, 100, &cmds, &n), 0);
		assert_int_equal(wire_conn__client(c, NULL, 0, 0, &cmds, &n), 0);
		assert_int_equal(wire_conn__server(c, NULL, 0, 2, errs), 0);
		assert_null(errs[0]);
		assert_null(errs[1]);
		wire_conn__free(c);
	}
	assert_int_equal(n, 0);
	assert_null(cmds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pg_psycopg2),
		cmocka_unit_test(test_pg_libpq_prepared),
		cmocka_unit_test(test_pg_execute_unknown),
		cmocka_unit_test(test_pg_statements),
		cmocka_unit_test(test_pg_pipelines),
		cmocka_unit_test(test_pg_empty_batch),
		cmocka_unit_test(test_pg_password),
		cmocka_unit_test(test_pg_split_query),
		cmocka_unit_test(test_pg_split_parse),
		cmocka_unit_test(test_pg_cap_cut),
		cmocka_unit_test(test_pg_error_texts),
		cmocka_unit_test(test_pg_garbage),
		cmocka_unit_test(test_mysql_pymysql),
		cmocka_unit_test(test_mysql_prepared),
		cmocka_unit_test(test_mysql_variants),
		cmocka_unit_test(test_mysql_attributes),
		cmocka_unit_test(test_mysql_split_garbage),
		cmocka_unit_test(test_redis_py),
		cmocka_unit_test(test_redis_split),
		cmocka_unit_test(test_redis_masking),
		cmocka_unit_test(test_redis_forms),
		cmocka_unit_test(test_redis_replies),
		cmocka_unit_test(test_redis_garbage),
		cmocka_unit_test(test_memcache_pymemcache),
		cmocka_unit_test(test_memcache_errors),
		cmocka_unit_test(test_memcache_meta_split),
		cmocka_unit_test(test_memcache_garbage),
		cmocka_unit_test(test_guess),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_uncaptured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
