/* The viewer's HTTP side: access control, the page, the API and the live stream per URL. */
#ifndef SCOOBY_SERVE_ROUTES_H
#define SCOOBY_SERVE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

#include "serve/live.h"
#include "serve/store.h"

struct routes {
	struct store *store;
	struct live *live;
	const char *token; /* NULL: no token asked (loopback only) */
	bool check_host; /* no token: the Host header must name a loopback address */
	long slow_ms; /* passed to the page */
};

/*
 * libmicrohttpd's access handler (cls is a struct routes): answers every
 * request on its first call. Returns MHD_NO only when a response could not be
 * queued (the connection is then closed).
 */
enum MHD_Result routes__handle(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls);

#endif /* SCOOBY_SERVE_ROUTES_H */
