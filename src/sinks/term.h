/* Terminal sink: one scannable line per request on stdout. */
#ifndef SCOOBY_SINKS_TERM_H
#define SCOOBY_SINKS_TERM_H

#include <stdio.h>
#include "record/record.h"

/* Writes r's line to out: time, method, path, status, duration, queries, DB time, uuid. */
void term_sink__print(FILE *out, const struct record *r);

#endif /* SCOOBY_SINKS_TERM_H */
