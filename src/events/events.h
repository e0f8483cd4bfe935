/* Ring buffer records -> the tracker of each feature: HTTP, wire capture, stacks, and each registered store. */
#ifndef SCOOBY_EVENTS_H_USER
#define SCOOBY_EVENTS_H_USER

#include <stddef.h>
#include "attach/attach.h"
#include "request/correlate.h"
#include "request/http.h"
#include "python/pystack.h"
#include "stores/registry.h"
#include "stores/store.h"
#include "wire/wire.h"

/* Record kinds a store may own (enum sc_event_kind): below this. */
#define EVENTS_KIND_MAX 64

struct event_router {
	struct attacher *att;
	struct correlator *corr;
	struct http_tracker *http;
	struct wire_tracker *wire;
	void *stores[STORE_COUNT]; /* each registered store's tracker, in stores[]'s order */
	int8_t by_kind[EVENTS_KIND_MAX]; /* index of the store owning a record kind, -1: none */
	int8_t by_client[SC_CL_MAX]; /* likewise for SC_EV_CALL* records, by their client */
	struct pystack *py;
	unsigned long long nevents;
	unsigned long long malformed; /* records shorter than their kind needs */
	bool exits_seen; /* a traced process exited: reap soon */
};

/* Opens every registered store's tracker (env says what with) and the routes of the records
 * each owns. Returns 0, or -ENOMEM (what was opened is freed by event_router__free_stores). */
int event_router__open_stores(struct event_router *r, const struct store_env *env);
/* pid exited: every store hands over or forgets its state (before the correlator's turn). */
void event_router__stores_proc_gone(struct event_router *r, uint32_t pid);
/* Frees every store's tracker, each handing what is still open to the correlator first. */
void event_router__free_stores(struct event_router *r);

/* Returns the ring-buffer records lost that each ended a query: every store's end kind (each
 * kind once) and wire capture's sends; 0 without an attacher. */
unsigned long long event_router__lost_query_ends(const struct event_router *r);

/* libbpf ring_buffer callback: ctx is a struct event_router. Always returns 0. */
int events__handle(void *ctx, void *data, size_t size);

#endif /* SCOOBY_EVENTS_H_USER */
