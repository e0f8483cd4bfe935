/* Unit tests for the store registry: every store's numbers (record kinds, protocol value) are its own, and its names agree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>
#include "stores/registry.h"
#include "stores/store.h"
#include "wire/wire_proto.h"

/* The record kinds of the event loop's own (enum sc_event_kind): no store may claim one. */
static const uint32_t shared_kinds[] = {
	SC_EV_HTTP_IN,	  SC_EV_HTTP_OUT,  SC_EV_HTTP_CLOSE, SC_EV_PROC_FORK, SC_EV_PROC_EXIT,
	SC_EV_PYSTACK,	  SC_EV_NATSTACK,  SC_EV_PYSAMPLE,   SC_EV_NATSAMPLE, SC_EV_PROFCOUNT,
	SC_EV_CALL,	  SC_EV_CALL_TEXT, SC_EV_CALL_RET,   SC_EV_WIRE_OUT,  SC_EV_WIRE_IN,
	SC_EV_WIRE_CLOSE, SC_EV_LOG,	   SC_EV_PYCALL,     SC_EV_PROC_MMAP,
};

/* Every registered store is in stores[], named as its record's db, with a tracker's life. */
static void test_registry(void **state)
{
	size_t i, n = 0;

	for (i = 0; stores[i]; i++) {
		n++;
		assert_non_null(stores[i]->name);
		assert_non_null(stores[i]->db);
		assert_string_equal(stores[i]->name, db__name(stores[i]->db));
		assert_non_null(stores[i]->new);
		assert_non_null(stores[i]->free);
		assert_non_null(stores[i]->proc_gone);
		assert_true(stores[i]->call || stores[i]->nkinds);
	}
	assert_int_equal(n, STORE_COUNT);
}

/* A record kind belongs to one store at most, and never to the event loop too. */
static void test_kinds_unique(void **state)
{
	bool seen[256] = { false };
	size_t i, k;

	for (i = 0; i < sizeof(shared_kinds) / sizeof(shared_kinds[0]); i++)
		seen[shared_kinds[i]] = true;
	for (i = 0; stores[i]; i++) {
		for (k = 0; k < stores[i]->nkinds; k++) {
			uint32_t kind = stores[i]->kinds[k].kind;

			assert_in_range(kind, 1, 63); /* below EVENTS_KIND_MAX */
			assert_false(seen[kind]);
			seen[kind] = true;
			assert_true(stores[i]->kinds[k].min_size >= sizeof(struct sc_hdr));
		}
		if (stores[i]->nkinds)
			assert_non_null(stores[i]->event);
	}
}

/* A protocol value belongs to one store's calls and one wire parser at most. */
static void test_clients_unique(void **state)
{
	bool calls[SC_CL_MAX] = { false }, wires[SC_CL_MAX] = { false };
	size_t i;

	for (i = 0; stores[i]; i++) {
		if (!stores[i]->call)
			continue;
		assert_in_range(stores[i]->client, 1, SC_CL_MAX - 1);
		assert_false(calls[stores[i]->client]);
		calls[stores[i]->client] = true;
		assert_non_null(stores[i]->ret);
	}
	for (i = 0; wire_parsers[i]; i++) {
		assert_in_range(wire_parsers[i]->proto, 1, SC_CL_MAX - 1);
		assert_false(wires[wire_parsers[i]->proto]);
		wires[wire_parsers[i]->proto] = true;
		assert_int_equal(wire_proto_parse(wire_parsers[i]->name), wire_parsers[i]->proto);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_kinds_unique),
		cmocka_unit_test(test_clients_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
