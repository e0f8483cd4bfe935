/* The viewer's live feed: one SUBSCRIBE to scooby:live fanned out to Server-Sent Events clients. */
#ifndef SCOOBY_SERVE_LIVE_H
#define SCOOBY_SERVE_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "serve/store.h"

struct live;
struct live_client;

/*
 * Starts the subscriber thread: SUBSCRIBE scooby:live on a connection of its
 * own, and for each uuid published the record's summary as an SSE frame;
 * Redis going away or coming back is a frame too (event "redis"). Redis being
 * unreachable is not an error: the thread retries. Returns NULL on
 * ENOMEM/EAGAIN.
 */
struct live *live__new(struct store *store);

/* Wakes every client so its stream ends, and stops the thread. NULL ok. */
void live__stop(struct live *l);

/* Stops (when not already) and frees. Every client must be freed first. NULL ok. */
void live__free(struct live *l);

/*
 * The subscriber's view of Redis: 1 subscribed, 0 unreachable (reason set),
 * -1 not tried yet.
 */
int live__redis_state(struct live *l, char *reason, size_t len);

/* A new SSE client starting at the next frame; NULL when too many are open or on ENOMEM. */
struct live_client *live_client__new(struct live *l);

/*
 * Fills buf with up to max bytes of the stream, waiting for frames (a
 * keepalive comment after a quiet while). Returns the byte count (> 0), or
 * -1 once the feed is stopping.
 */
ssize_t live_client__read(struct live_client *c, char *buf, size_t max);

/* NULL ok. */
void live_client__free(struct live_client *c);

#endif /* SCOOBY_SERVE_LIVE_H */
