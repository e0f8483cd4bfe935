/* Publishes request records to Redis from a background thread, holding them while Redis is away. */
#ifndef SCOOBY_SINKS_REDIS_H
#define SCOOBY_SINKS_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "redis_url.h"

struct redis_sink;

#define REDIS_SINK_MAX_BYTES (128UL << 20)

struct redis_sink_opts {
	const struct redis_url *url; /* copied: need not outlive redis_sink__new */
	int ttl_s; /* 0: default 600 */
	long keep; /* 0: default 10000 */
	size_t max_pending; /* --buffer, records held while Redis is unreachable; 0: default 10000 */
	size_t max_bytes; /* and at most this many bytes of JSON; 0: REDIS_SINK_MAX_BYTES */
	/* publishing does not wake the thread; redis_sink__kick (or a flush) does, so that the
	 * records of one drain of the ring go in one round trip */
	bool kicked;
};

/*
 * Starts the publisher thread. The password comes from the URL or, when it
 * has none, from the REDISCLI_AUTH environment variable (read here, once).
 * Returns NULL with errno EINVAL on bad opts (negative values, an URL without
 * host or path) or ENOMEM/EAGAIN; an unreachable Redis is NOT an error (the
 * thread retries and prints one warning line).
 */
struct redis_sink *redis_sink__new(const struct redis_sink_opts *o);

/*
 * Enqueues a copy of json for uuid (32 lowercase hex) with score
 * start_unix_ms (sent as an integer, fraction dropped); never blocks on the
 * network. When the queue is full the OLDEST pending record is dropped and
 * counted. Returns 0, -EINVAL for a bad uuid, a NULL json or a non-finite
 * score, or -ENOMEM.
 */
int redis_sink__publish(struct redis_sink *s, const char *uuid, double start_unix_ms,
			const char *json);
/* The same, taking json (len bytes, malloc'd) instead of copying it: it is freed in every
 * case, failures included. */
int redis_sink__publish_owned(struct redis_sink *s, const char *uuid, double start_unix_ms,
			      char *json, size_t len);
/* Wakes the thread for the records published so far (opts.kicked). NULL ok. */
void redis_sink__kick(struct redis_sink *s);

/*
 * Waits up to timeout_ms (negative: without limit) for the queue to drain;
 * returns the number of records still pending (0 for a NULL sink).
 */
size_t redis_sink__flush(struct redis_sink *s, int timeout_ms);

struct redis_sink_stats {
	unsigned long long published; /* records whose transaction EXEC confirmed */
	unsigned long long dropped; /* records lost to a full queue */
	unsigned long long pending; /* records queued, in flight included */
	unsigned long long reconnects; /* connections made after the first one */
	int connected; /* the last connection attempt succeeded and has not failed since */
	size_t peak_pending, max_pending; /* the most records ever queued at once, and the bound */
	size_t peak_bytes, max_bytes; /* the same in bytes of JSON */
};

/* Fills *st with a consistent snapshot (zeros for a NULL sink). */
void redis_sink__stats(struct redis_sink *s, struct redis_sink_stats *st);

/*
 * Stops the thread and frees the sink with any records still pending;
 * flushing first is the caller's choice. Waits for the network step in
 * progress: 1 s timeouts bound each, so about 2 s at worst with a hung
 * Redis (plus name resolution, which only the resolver bounds). NULL ok.
 */
void redis_sink__free(struct redis_sink *s);

#endif /* SCOOBY_SINKS_REDIS_H */
