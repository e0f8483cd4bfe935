/* What the record calls SQLite: its name and the SQL section. */
#include <stddef.h>
#include "sqlite.h"

const struct db_kind sqlite_db = {
	.name = "sqlite",
	.section = DB_SECTION_SQL,
	.redact = NULL,
};
