/* RESP framing of the Redis sink's records: a SET per record, then its batch's index commands. */
#ifndef SCOOBY_REDIS_RESP_H
#define SCOOBY_REDIS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#define RESP_KEY_PREFIX "scooby:req:" /* a record's key: this and its uuid */
#define RESP_INDEX_KEY "scooby:requests" /* the records' index: uuids scored by start */
#define RESP_SET_MAX 192 /* a record's SET but its JSON */
#define RESP_TRAILER_PER_REC \
	320 /* a record's share of the trailer: EXISTS key, ZADD pair, UNLINK key, PUBLISH */
#define RESP_TRAILER_FIXED 192 /* the trailer's commands' own heads */
#define RESP_REPLY_OFF_LEN 36 /* CLIENT REPLY OFF */

/* What the trailer needs of a record: its uuid (32 hex digits), the uuid of the record it
 * pushes out of --keep (NULL when none), its index score. */
struct resp_rec {
	const char *uuid;
	const char *doomed;
	long long score;
};

/* Sets up the record's SET scooby:req:<uuid> json EX ttl_s as three iovecs: the command up to
 * the JSON, formatted into frame (RESP_SET_MAX bytes), the JSON itself, and the rest,
 * formatted after the first part. */
void resp_set(char *frame, const char *uuid, const char *json, size_t json_len, int ttl_s,
	      struct iovec *iov);

/* Writes CLIENT REPLY OFF (RESP_REPLY_OFF_LEN bytes) to p: a quiet batch's SETs get no
 * reply; returns the bytes written. */
size_t resp_reply_off(char *p);

/*
 * Formats what the batch's n records need after their SETs into trailer (n *
 * RESP_TRAILER_PER_REC + RESP_TRAILER_FIXED bytes): one ZADD of all their uuids, one
 * ZREMRANGEBYRANK to the newest keep, one UNLINK of the records they push out of keep (when
 * any: *unlink tells), then a PUBLISH per record, so that a subscriber told of a uuid finds
 * its record and its index entry. One command per batch instead of one per record for the
 * index: Redis's cost is per command as much as per byte (a MULTI, EXEC, ZADD,
 * ZREMRANGEBYRANK and UNLINK per record were 45 % of its time per record). A quiet batch
 * (its SETs after CLIENT REPLY OFF) first turns replies on again and asks EXISTS of its
 * records' keys: the count stands for the SETs' replies. Returns the trailer's length.
 */
size_t resp_trailer(char *trailer, const struct resp_rec *recs, size_t n, long keep, bool quiet,
		    bool *unlink);

#endif /* SCOOBY_REDIS_RESP_H */
