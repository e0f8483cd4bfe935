/* JSON-lines sink: each record as one line in a file or on stdout. */
#ifndef SCOOBY_SINKS_JSONL_H
#define SCOOBY_SINKS_JSONL_H

#include <stdbool.h>
#include <stddef.h>

struct jsonl_sink;

/* Opens path for appending ("-": stdout). Returns NULL with a reason in err. */
struct jsonl_sink *jsonl_sink__open(const char *path, char *err, size_t errlen);
/* Writes one line and flushes it; returns 0 or -errno. */
int jsonl_sink__write(struct jsonl_sink *s, const char *json);
void jsonl_sink__close(struct jsonl_sink *s);

#endif /* SCOOBY_SINKS_JSONL_H */
