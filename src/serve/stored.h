/* A record as Redis holds it (the stored form, docs/FORMAT.md) back in its full form. */
#ifndef SCOOBY_SERVE_STORED_H
#define SCOOBY_SERVE_STORED_H

#include <stddef.h>
#include <cjson/cJSON.h>

/*
 * Expands rec in place when it is in the stored form (a top-level "frames" array): every
 * "stack" array of indices becomes the frames they name, and "frames" goes. Returns 1 when
 * it was expanded, 0 when rec was not in the stored form (left as it is), -1 when its
 * stored form is malformed (an index out of range or not an integer) or on ENOMEM, rec
 * then half expanded.
 */
int stored_record__expand(cJSON *rec);

/*
 * The JSON text of a stored value in the full form: a copy of text when it is not a
 * record in the stored form (another version's record, or not JSON: as it is), else the
 * expanded record as cJSON_PrintUnformatted prints it. Returns a malloc'd NUL-terminated
 * text with its length in *out_len, or NULL on ENOMEM or a malformed stored form.
 */
char *stored_record__full_text(const char *text, size_t len, size_t *out_len);

#endif /* SCOOBY_SERVE_STORED_H */
