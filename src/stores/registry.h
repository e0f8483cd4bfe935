/* The registered data stores: adding one is its folder (src/stores/NAME/) and its line here. */
#ifndef SCOOBY_STORES_REGISTRY_H
#define SCOOBY_STORES_REGISTRY_H

/*
 * Every store NAME defines `const struct store NAME_store` (src/stores/store.h), in the
 * order events reach them and their state is freed. A store whose connections wire capture
 * reads also defines `const struct wire_parser NAME_wire_parser` (src/wire/wire_proto.h), in
 * the order wire_guess() tries them: the first 8 bytes of a send pick one.
 */
#define SCOOBY_STORES(X) X(sqlite) X(postgresql) X(mysql) X(redis) X(memcached)
#define SCOOBY_WIRE_PARSERS(X) X(redis) X(postgresql) X(mysql) X(memcached)

#define SCOOBY_STORE_ONE(name) +1
/* How many stores are registered: the length of stores[] without its NULL. */
#define STORE_COUNT (0 SCOOBY_STORES(SCOOBY_STORE_ONE))

#endif /* SCOOBY_STORES_REGISTRY_H */
