/* What the record calls PostgreSQL: its name and the SQL section. */
#include <stddef.h>
#include "pq.h"

const struct db_kind postgresql_db = {
	.name = "postgresql",
	.section = DB_SECTION_SQL,
	.redact = NULL,
};
