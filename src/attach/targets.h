/* Which library a mapped file is: the registered stores' rows (src/stores/NAME/store.c), then the interpreter's. */
#ifndef SCOOBY_TARGETS_H
#define SCOOBY_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "stores/store.h" /* struct probe_spec, struct target_lib */

/* Returns the target a mapped file belongs to (by its file name), or NULL. */
const struct target_lib *targets__match(const char *path);

/* Returns true when a probe on function sym of library t is armed ahead, before the file is
 * mapped (t->early: the functions of a first query), false when it waits for the mapping. */
bool targets__early(const struct target_lib *t, const char *sym);

#endif /* SCOOBY_TARGETS_H */
