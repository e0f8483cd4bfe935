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

#endif /* SCOOBY_TARGETS_H */
