/* What the record calls MySQL/MariaDB: its name and the SQL section. */
#include <stddef.h>
#include "mysql.h"

const struct db_kind mysql_db = {
	.name = "mysql",
	.section = DB_SECTION_SQL,
	.redact = NULL,
};
