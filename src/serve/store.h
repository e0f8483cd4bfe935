/* The viewer's Redis connections: a small pool for request handlers, and one-off connects. */
#ifndef SCOOBY_SERVE_STORE_H
#define SCOOBY_SERVE_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "sinks/redis_url.h"

#define STORE_KEY_PREFIX "scooby:req:"
#define STORE_ZSET_KEY "scooby:requests"
#define STORE_LIVE_CHANNEL "scooby:live"

struct store;

/*
 * Makes a pool for url (copied). The password comes from the URL or, when it
 * has none, from REDISCLI_AUTH (read here, once). Connects to nothing yet.
 * Returns NULL on ENOMEM.
 */
struct store *store__new(const struct redis_url *url);

/* Closes the idle connections and frees the pool. NULL ok. */
void store__free(struct store *s);

/*
 * Opens a new connection: connect, AUTH and SELECT per the URL, PING, with
 * timeout_ms for the connect and for each command. Returns the context, or
 * NULL with a one-line reason (never the password).
 */
redisContext *store__connect(struct store *s, int timeout_ms, char *reason, size_t len);

/*
 * Runs one command on a pooled connection (retrying once on a fresh one when
 * a pooled connection turns out dead). Returns the reply (freeReplyObject
 * it), or NULL with the reason when Redis could not be reached or answered an
 * error.
 */
redisReply *store__command(struct store *s, int argc, const char **argv, const size_t *argvlen,
			   char *reason, size_t len);

#endif /* SCOOBY_SERVE_STORE_H */
