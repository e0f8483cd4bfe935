/* Wire capture events -> queries: per connection, commands sent wait for the reply's first bytes. */
#ifndef SCOOBY_WIRE_H
#define SCOOBY_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "request/correlate.h"
#include "python/pystack.h"
#include "scooby/events.h"

struct wire_tracker;

/* Commands waiting for a reply, per connection; more means the replies are not being seen
 * (the oldest is then published with an error saying so). */
#define WIRE_MAX_PENDING 256

/* Returns a tracker handing queries to c (stacks from ps, may be NULL), or NULL on ENOMEM. */
struct wire_tracker *wire_tracker__new(struct correlator *c, struct pystack *ps, size_t max_text);
/* Publishes what still waits for a reply (with an error saying so) and frees; NULL ok. */
void wire_tracker__free(struct wire_tracker *t);

/* A send to a data store (SC_EV_WIRE_OUT). */
void wire_tracker__out(struct wire_tracker *t, const struct sc_wire_event *e);
/* The first bytes of a reply (SC_EV_WIRE_IN): the waiting commands end. */
void wire_tracker__in(struct wire_tracker *t, const struct sc_wire_event *e);
/* The connection pid:fd was closed at ts. */
void wire_tracker__close(struct wire_tracker *t, uint32_t pid, uint32_t fd, uint64_t ts);
/* The process exited: its connections go. */
void wire_tracker__proc_gone(struct wire_tracker *t, uint32_t pid, uint64_t ts);

/* A request's stdout/stderr write (SC_EV_LOG) -> plugins_data.CustomLog. */
void wire_tracker__log(struct wire_tracker *t, const struct sc_wire_event *e);

#endif /* SCOOBY_WIRE_H */
