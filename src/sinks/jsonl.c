/* JSON-lines sink: each record as one line in a file or on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sinks/jsonl.h"

struct jsonl_sink {
	FILE *f;
	bool is_stdout;
};

struct jsonl_sink *jsonl_sink__open(const char *path, char *err, size_t errlen)
{
	struct jsonl_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strcmp(path, "-") == 0) {
		s->f = stdout;
		s->is_stdout = true;
	} else {
		s->f = fopen(path, "ae");
		if (!s->f) {
			snprintf(err, errlen, "cannot open --json file %s: %s", path,
				 strerror(errno));
			free(s);
			return NULL;
		}
	}
	return s;
}

int jsonl_sink__write(struct jsonl_sink *s, const char *json)
{
	if (fputs(json, s->f) < 0 || fputc('\n', s->f) < 0 || fflush(s->f))
		return -errno;
	return 0;
}

void jsonl_sink__close(struct jsonl_sink *s)
{
	if (!s)
		return;
	if (!s->is_stdout)
		fclose(s->f);
	free(s);
}
