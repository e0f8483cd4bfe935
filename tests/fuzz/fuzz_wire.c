/* libFuzzer harness for the wire protocol parsers (src/wire_proto.h): sends and replies on one connection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "wire/wire_proto.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/postgresql/pq.h"
#include "stores/redis/hiredis.h"

/*
 * Input: one flags byte (protocol, --max-query), then records until the input ends:
 * an op byte and a length-prefixed span (fuzz_bytes). An even op is a send whose
 * captured bytes are the span and whose real size adds (op >> 1) & 0x3f bytes, or that
 * many KiB when op's top bit is set; an odd op is a reply head for (op >> 1) % 20
 * pending commands. The whole sequence runs twice on fresh connections and must give
 * the same results (nothing depends on memory the parser did not write).
 */

#define MAX_SPAN 4096

static const size_t max_texts[4] = { 4096, 100, 8, 1 };

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

static const struct db_kind *proto_db(uint32_t proto)
{
	return proto == SC_CL_PG    ? DB_POSTGRESQL :
	       proto == SC_CL_MYSQL ? DB_MYSQL :
	       proto == SC_CL_REDIS ? DB_REDIS :
				      DB_MEMCACHE;
}

/* Checks one command against the contract; returns the hash folded with it. */
static uint64_t check_cmd(const struct wire_cmd *c, uint32_t proto, size_t max_text, uint64_t h)
{
	uint32_t i;
	size_t j;

	FUZZ_CHECK(c->db == proto_db(proto));
	FUZZ_CHECK(c->sql && strlen(c->sql) <= max_text);
	if (proto == SC_CL_PG || proto == SC_CL_MYSQL) {
		FUZZ_CHECK(!c->command && !c->key && !c->args && !c->nargs && !c->no_reply);
	} else {
		FUZZ_CHECK(c->command && *c->command);
		FUZZ_CHECK(!c->key || strlen(c->key) <= max_text);
	}
	if (proto == SC_CL_REDIS) {
		FUZZ_CHECK(c->nargs <= QUERY_MAX_ARGS && (!c->nargs || c->args));
		for (j = 0; c->command[j]; j++)
			FUZZ_CHECK(!(c->command[j] >= 'a' && c->command[j] <= 'z'));
		for (i = 0; i < c->nargs; i++) {
			FUZZ_CHECK(c->args[i] && strlen(c->args[i]) <= QUERY_ARG_MAX);
			if (!strcmp(c->command, "AUTH"))
				FUZZ_CHECK(!strcmp(c->args[i], "***"));
		}
		FUZZ_CHECK(!c->no_reply);
	} else if (proto == SC_CL_MEMCACHE) {
		FUZZ_CHECK(!c->args && !c->nargs);
	}
	h = fnv_str(h, c->sql);
	h = fnv_str(h, c->command);
	h = fnv_str(h, c->key);
	for (i = 0; i < c->nargs; i++)
		h = fnv_str(h, c->args[i]);
	return fnv(h, (uint8_t[]){ c->truncated, c->args_truncated, c->no_reply }, 3);
}

/* wire_guess reads the first 8 bytes only. */
static void check_guess(const uint8_t *p, size_t n)
{
	uint32_t g = wire_guess(p, n);

	FUZZ_CHECK(g == wire_guess(p, n < 8 ? n : 8));
	FUZZ_CHECK(g == SC_CL_NONE || wire_proto_name(g));
}

/* Runs the records on a fresh connection; returns a hash of everything it produced. */
static uint64_t run(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	uint32_t proto = 1 + (flags & 3);
	size_t max_text = max_texts[(flags >> 2) & 3], len, ncmds = 0, i, n0, full;
	struct wire_conn *c = wire_conn__new(proto, max_text);
	struct wire_cmd *cmds = NULL;
	uint64_t h = 0xcbf29ce484222325ULL;
	char *errs[20];
	const uint8_t *span;
	uint8_t op, *p;
	int rc;

	FUZZ_CHECK(c);
	while (in.n) {
		op = fuzz_u8(&in);
		span = fuzz_bytes(&in, MAX_SPAN, &len);
		p = (uint8_t *)fuzz_copy(span, len);
		if (!(op & 1)) {
			check_guess(p, len);
			full = len + ((op >> 1) & 0x3f) * (op & 0x80 ? 1024 : 1);
			n0 = ncmds;
			rc = wire_conn__client(c, p, len, full, &cmds, &ncmds);
			FUZZ_CHECK(rc >= 0 && (size_t)rc == ncmds - n0);
			for (i = n0; i < ncmds; i++)
				h = check_cmd(&cmds[i], proto, max_text, h);
			h = fnv(h, &rc, sizeof(rc));
		} else {
			size_t np = (op >> 1) % 20;

			rc = wire_conn__server(c, p, len, np, errs);
			FUZZ_CHECK(rc == 0);
			for (i = 0; i < np; i++) {
				FUZZ_CHECK(!errs[i] || strlen(errs[i]) <= max_text);
				h = fnv_str(h, errs[i]);
				free(errs[i]);
			}
		}
		free(p);
	}
	for (i = 0; i < ncmds; i++)
		wire_cmd__clear(&cmds[i]);
	free(cmds);
	wire_conn__free(c);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	FUZZ_CHECK(run(data, size) == run(data, size));
	return 0;
}
