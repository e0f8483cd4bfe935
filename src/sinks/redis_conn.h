/* One Redis connection as a URL describes it: connect, authenticate, select, ping. */
#ifndef SCOOBY_REDIS_CONN_H
#define SCOOBY_REDIS_CONN_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "redis_url.h"

/* Connects to u within timeout_ms (also set as the command timeout), sends AUTH when
 * password is not NULL (with u->user when set), SELECT u->db when not 0, and PING, so a
 * server that wants a password is found out now. Returns the context, or NULL with a
 * one-line reason (never the password) in reason. */
redisContext *redis_conn__open(const struct redis_url *u, const char *password, int timeout_ms,
			       char *reason, size_t len);
/* Describes why c failed: "timed out", or hiredis's text. */
void redis_conn__io_reason(const redisContext *c, char *reason, size_t len);
/* Returns 0 for a reply that is not an error, -1 with the reason (I/O or the error text). */
int redis_conn__check(const redisContext *c, const redisReply *r, char *reason, size_t len);
/* Sends one command and checks its reply; returns 0 or -1 with the reason. */
int redis_conn__command(redisContext *c, int argc, const char **argv, char *reason, size_t len);

#endif /* SCOOBY_REDIS_CONN_H */
