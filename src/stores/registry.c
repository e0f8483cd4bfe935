/* The table of registered stores, from src/stores/registry.h's list. */
#include <stddef.h>
#include "store.h"
#include "registry.h"

#define DECLARE(name) extern const struct store name##_store;
#define ENTRY(name) &name##_store,

SCOOBY_STORES(DECLARE)

const struct store *const stores[] = { SCOOBY_STORES(ENTRY) NULL };
