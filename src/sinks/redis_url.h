/* Parses the Redis URL given on the command line into what a connection needs. */
#ifndef SCOOBY_REDIS_URL_H
#define SCOOBY_REDIS_URL_H

#include <stddef.h>

struct redis_url {
	int is_unix;
	char host[256]; /* TCP: name or address, IPv6 without brackets; "" for unix */
	int port; /* TCP: 1..65535; 0 for unix */
	char path[108]; /* unix: socket path; "" for TCP */
	char user[128]; /* "" when none: AUTH with the password alone */
	char password[256]; /* "" when none */
	int db;
};

/*
 * Parses redis://[[user]:password@]host[:port][/db][?db=N],
 * redis://password@host... (no colon: the password alone, as redis-cli reads
 * it), IPv6 hosts in brackets (zone as %25), and
 * unix://[[user]:password@]/path[?db=N]; default port 6379, db 0; the scheme is
 * case-insensitive. User, password and socket path are percent-decoded;
 * "/", "?", "#" and "@" in them must be percent-encoded. Returns 0, or -EINVAL
 * with a one-line reason in err (when err is not NULL) that never contains
 * any part of the URL; *out is then zeroed so no password lingers.
 */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

#endif /* SCOOBY_REDIS_URL_H */
