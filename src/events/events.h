/* Ring buffer records -> the tracker of each feature. */
#ifndef SCOOBY_EVENTS_H_USER
#define SCOOBY_EVENTS_H_USER

#include <stddef.h>
#include "attach/attach.h"
#include "request/correlate.h"
#include "stores/redis/hiredis.h"
#include "request/http.h"
#include "stores/memcached/memcached.h"
#include "stores/mysql/mysql.h"
#include "stores/postgresql/pq.h"
#include "python/pystack.h"
#include "stores/sqlite/sqlite.h"
#include "wire/wire.h"

struct event_router {
	struct attacher *att;
	struct correlator *corr;
	struct http_tracker *http;
	struct sqlite_tracker *sqlite;
	struct pq_tracker *pq;
	struct mysql_tracker *mysql;
	struct hiredis_tracker *hiredis;
	struct memcached_tracker *memcached;
	struct wire_tracker *wire;
	struct pystack *py;
	unsigned long long nevents;
	unsigned long long malformed; /* records shorter than their kind needs */
	bool exits_seen; /* a traced process exited: reap soon */
};

/* libbpf ring_buffer callback: ctx is a struct event_router. Always returns 0. */
int events__handle(void *ctx, void *data, size_t size);

#endif /* SCOOBY_EVENTS_H_USER */
