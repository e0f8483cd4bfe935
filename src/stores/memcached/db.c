/* What the record calls memcached: its name and the Memcache section (keys stay with --redact; values are never read). */
#include <stddef.h>
#include "memcached.h"

const struct db_kind memcached_db = {
	.name = "memcached",
	.section = DB_SECTION_MEMCACHE,
	.redact = NULL,
};
