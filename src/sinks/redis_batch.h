/* One round trip of the Redis sink: the records framed around their JSON, sent, confirmed. */
#ifndef SCOOBY_REDIS_BATCH_H
#define SCOOBY_REDIS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#define REDIS_BATCH_MAX_RECS 256 /* records per round trip */

enum redis_batch_fail {
	REDIS_BATCH_OK = 0,
	REDIS_BATCH_FAIL_IO, /* the connection broke or timed out */
	REDIS_BATCH_FAIL_REPLY, /* Redis answered with an error */
	REDIS_BATCH_FAIL_QUIET, /* a quiet batch's SETs did not all store: send it with replies */
};

struct redis_batch;

/* Returns an empty batch, or NULL on ENOMEM. */
struct redis_batch *redis_batch__new(void);
void redis_batch__free(struct redis_batch *bt);

/* Starts framing a batch: quiet (its SETs unanswered) when quiet_ok (the server takes
 * CLIENT REPLY) and the last quiet batch did not fall short. */
void redis_batch__begin(struct redis_batch *bt, bool quiet_ok);
/* Frames one more record (REDIS_BATCH_MAX_RECS at most) around its JSON, which must stay
 * as it is until the batch is sent: SET scooby:req:<uuid> json EX ttl_s; doomed: the uuid
 * of the record it pushes out of --keep, or NULL; score: its index score. */
void redis_batch__add(struct redis_batch *bt, const char *uuid, const char *json, size_t len,
		      int ttl_s, const char *doomed, long long score);
/* Ends the framing with the batch's index commands (keep: the newest records indexed). */
void redis_batch__end(struct redis_batch *bt, long keep);

/*
 * Sends the batch on ctx and reads its replies: a SET per record (quiet: CLIENT REPLY ON and
 * an EXISTS of all their keys instead), the ZADD, ZREMRANGEBYRANK and UNLINK of the batch, a
 * PUBLISH per record (all are read even after an error, to keep the connection in step).
 * *ok counts the leading records whose SET and PUBLISH went through, when the batch's index
 * commands did (a record is published once it is stored, indexed and announced; every
 * command is idempotent, so the rest are sent again). Returns REDIS_BATCH_OK, or why it
 * stopped with the first error's text in reason.
 */
enum redis_batch_fail redis_batch__send(struct redis_batch *bt, redisContext *ctx, size_t *ok,
					char *reason, size_t len);

#endif /* SCOOBY_REDIS_BATCH_H */
