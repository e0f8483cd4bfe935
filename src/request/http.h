/* HTTP events -> request boundaries: request heads, response heads and bodies, closes. */
#ifndef SCOOBY_HTTP_H
#define SCOOBY_HTTP_H

#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "correlate.h"

struct http_tracker;

/* Returns a tracker driving c, or NULL on ENOMEM. */
struct http_tracker *http_tracker__new(struct correlator *c);
void http_tracker__free(struct http_tracker *t);
void http_tracker__in(struct http_tracker *t, const struct sc_http_event *e);
void http_tracker__out(struct http_tracker *t, const struct sc_http_event *e);
/* A task asked to write on a request's socket before its response began (daphne): its
 * executor's queries are that request's. */
void http_tracker__task(struct http_tracker *t, const struct sc_http_task_event *e);
void http_tracker__close(struct http_tracker *t, const struct sc_http_close_event *e);
/* Forgets every thread of pid. */
void http_tracker__proc_gone(struct http_tracker *t, uint32_t pid);

#endif /* SCOOBY_HTTP_H */
