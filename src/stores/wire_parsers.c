/* The wire parser table src/wire/wire_proto.c dispatches over, from the registry's list. */
#include <stddef.h>
#include "wire/wire_proto.h"
#include "registry.h"

#define DECLARE(name) extern const struct wire_parser name##_wire_parser;
#define ENTRY(name) &name##_wire_parser,

SCOOBY_WIRE_PARSERS(DECLARE)

const struct wire_parser *const wire_parsers[] = { SCOOBY_WIRE_PARSERS(ENTRY) NULL };
