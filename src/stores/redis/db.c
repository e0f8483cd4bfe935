/* What the record calls Redis: its name, the Redis section, and what --redact hides of a command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hiredis.h"

/*
 * --redact for a Redis command: its values become "?" (the command and key stay), in args
 * and in the command line. An argument it cannot replace is shown as null, never the
 * value; the line stays as it was only when the new one cannot be written.
 */
static void redis_query__redact(struct query *q)
{
	char *line = NULL;
	size_t len;
	FILE *f;
	uint32_t i;

	for (i = 0; i < q->nargs; i++) {
		free(q->args[i]);
		q->args[i] = strdup("?"); /* NULL on ENOMEM: shown as null, never the value */
	}
	f = open_memstream(&line, &len);
	if (!f)
		return;
	fprintf(f, "%s", q->command ? q->command : "?");
	if (q->key)
		fprintf(f, " %s", q->key);
	for (i = 0; i < q->nargs; i++)
		fputs(" ?", f);
	if (fclose(f) == 0) {
		free(q->sql);
		q->sql = line;
	} else {
		free(line);
	}
}

const struct db_kind redis_db = {
	.name = "redis",
	.section = DB_SECTION_REDIS,
	.redact = redis_query__redact,
};
