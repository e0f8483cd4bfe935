/* Unit tests for the hash map's tables: a bound shared by the table's maps, refusals, peaks, the registry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/hashmap.h"

static struct hashmap_table small = HASHMAP_TABLE("small", 4, 10);
static struct hashmap_table big = HASHMAP_TABLE("big", 100000, 1 << 20);

static int drop_odd(uint64_t key, void *val, void *ctx)
{
	return key & 1;
}

/* Two maps of one table share its bound: the eleventh new key is refused, a replaced key is not. */
static void test_shared_bound(void **state)
{
	struct hashmap *a = hashmap__new_in(&small), *b = hashmap__new_in(&small);
	void *old;
	uint64_t k;

	assert_non_null(a);
	assert_non_null(b);
	for (k = 0; k < 6; k++)
		assert_int_equal(hashmap__set(a, k, (void *)(uintptr_t)(k + 1), NULL), 0);
	for (k = 0; k < 4; k++)
		assert_int_equal(hashmap__set(b, k, (void *)(uintptr_t)(k + 1), NULL), 0);
	assert_int_equal(small.n, 10);
	assert_int_equal(hashmap__set(b, 99, (void *)1, NULL), -ENOSPC);
	assert_int_equal(hashmap__set(a, 98, (void *)1, NULL), -ENOSPC);
	assert_int_equal(small.refused, 2);
	/* replacing a key's value adds no entry */
	assert_int_equal(hashmap__set(a, 3, (void *)7, &old), 0);
	assert_ptr_equal(old, (void *)4);
	assert_null(hashmap__get(b, 99));
	/* a removal makes room */
	assert_ptr_equal(hashmap__del(a, 0), (void *)1);
	assert_int_equal(small.n, 9);
	assert_int_equal(hashmap__set(b, 99, (void *)1, NULL), 0);
	assert_int_equal(small.peak, 10);
	hashmap__sweep(a, drop_odd, NULL);
	assert_int_equal(hashmap__size(a), 2); /* 2 and 4 */
	assert_int_equal(small.n, 7);
	hashmap__free(a, NULL);
	hashmap__free(b, NULL);
	assert_int_equal(small.n, 0);
	assert_int_equal(small.peak, 10);
	assert_int_equal(small.refused, 2);
}

/* A table sized for many entries holds them all, through sweeps, with every key found. */
static void test_many(void **state)
{
	struct hashmap *m = hashmap__new_in(&big);
	uint64_t k;

	assert_non_null(m);
	for (k = 0; k < 200000; k++)
		assert_int_equal(hashmap__set(m, k * 7919, (void *)(uintptr_t)(k + 1), NULL), 0);
	for (k = 0; k < 200000; k++)
		assert_ptr_equal(hashmap__get(m, k * 7919), (void *)(uintptr_t)(k + 1));
	hashmap__sweep(m, drop_odd, NULL);
	assert_int_equal(hashmap__size(m), 100000);
	assert_int_equal(big.n, 100000);
	assert_int_equal(big.peak, 200000);
	assert_int_equal(big.refused, 0);
	hashmap__free(m, NULL);
	assert_int_equal(big.n, 0);
}

static void collect(const struct hashmap_table *t, void *ctx)
{
	strcat(ctx, t->name);
	strcat(ctx, ",");
}

/* The registry lists each table once, in order of first use; an untabled map is in none. */
static void test_registry(void **state)
{
	struct hashmap *m = hashmap__new();
	char names[64] = "";

	assert_non_null(m);
	assert_int_equal(hashmap__set(m, 1, (void *)1, NULL), 0);
	hashmap__free(m, NULL);
	hashmap__free(hashmap__new_in(&small), NULL);
	hashmap_tables__foreach(collect, names);
	assert_string_equal(names, "small,big,");
	hashmap__free(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_bound),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
