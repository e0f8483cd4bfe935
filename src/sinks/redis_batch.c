/* One round trip of the Redis sink: the records framed around their JSON, sent, confirmed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "redis_batch.h"
#include "redis_conn.h"
#include "redis_resp.h"

#define TRAILER_MAX (REDIS_BATCH_MAX_RECS * RESP_TRAILER_PER_REC + RESP_TRAILER_FIXED)
#define IOV_PER_REC 3 /* the SET up to the JSON, the JSON, the rest of the SET */
#define FRAME_MAX RESP_SET_MAX

struct redis_batch {
	char *frames; /* REDIS_BATCH_MAX_RECS * FRAME_MAX: each record's SET around its JSON */
	char *trailer; /* TRAILER_MAX: the batch's ZADD, ZREMRANGEBYRANK, UNLINK, PUBLISHes */
	struct resp_rec recs[REDIS_BATCH_MAX_RECS]; /* the batch's records, for its trailer */
	struct iovec *iov; /* CLIENT REPLY OFF, IOV_PER_REC per record, the trailer */
	size_t n, niov;
	bool unlink; /* the batch has an UNLINK */
	/* A quiet batch's SETs get no reply (CLIENT REPLY OFF), its EXISTS counts them: Redis
	 * answers a pipeline as it reads it, a write per read of its (16 KiB), and each of
	 * those woke the sink's thread (a context switch, and a wakeup for Redis to pay) */
	char reply_off[RESP_REPLY_OFF_LEN];
	bool quiet; /* the batch framed is quiet */
	bool loud_next; /* the last quiet batch fell short: the next one gets every reply */
	char reply_head[REDIS_BATCH_MAX_RECS * 9 + 16]; /* the first bytes of a batch's replies */
};

struct redis_batch *redis_batch__new(void)
{
	struct redis_batch *bt = calloc(1, sizeof(*bt));

	if (!bt)
		return NULL;
	bt->frames = malloc(REDIS_BATCH_MAX_RECS * FRAME_MAX);
	bt->trailer = malloc(TRAILER_MAX);
	bt->iov = calloc(1 + REDIS_BATCH_MAX_RECS * IOV_PER_REC + 1, sizeof(*bt->iov));
	if (!bt->frames || !bt->trailer || !bt->iov) {
		redis_batch__free(bt);
		return NULL;
	}
	return bt;
}

void redis_batch__free(struct redis_batch *bt)
{
	if (!bt)
		return;
	free(bt->frames);
	free(bt->trailer);
	free(bt->iov);
	free(bt);
}

void redis_batch__begin(struct redis_batch *bt, bool quiet_ok)
{
	bt->n = 0;
	bt->quiet = quiet_ok && !bt->loud_next;
	bt->iov[0].iov_base = bt->reply_off;
	bt->iov[0].iov_len = bt->quiet ? resp_reply_off(bt->reply_off) : 0;
}

void redis_batch__add(struct redis_batch *bt, const char *uuid, const char *json, size_t len,
		      int ttl_s, const char *doomed, long long score)
{
	if (bt->n >= REDIS_BATCH_MAX_RECS)
		return;
	resp_set(bt->frames + bt->n * FRAME_MAX, uuid, json, len, ttl_s,
		 bt->iov + 1 + bt->n * IOV_PER_REC);
	bt->recs[bt->n++] = (struct resp_rec){ uuid, doomed, score };
}

void redis_batch__end(struct redis_batch *bt, long keep)
{
	bt->niov = 1 + bt->n * IOV_PER_REC;
	bt->iov[bt->niov].iov_base = bt->trailer;
	bt->iov[bt->niov++].iov_len =
		resp_trailer(bt->trailer, bt->recs, bt->n, keep, bt->quiet, &bt->unlink);
}

/* Writes the batch to fd; returns 0, or -1 with the reason. */
static int batch__write(struct redis_batch *bt, int fd, char *reason, size_t len)
{
	struct iovec *iov = bt->iov;
	size_t left = bt->niov;
	ssize_t n;

	while (left) {
		n = writev(fd, iov, left < IOV_MAX ? left : IOV_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* the socket's send timeout, as redis_conn__io_reason words it */
			snprintf(reason, len, "%s",
				 errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" :
									   strerror(errno));
			return -1;
		}
		for (; left && (size_t)n >= iov->iov_len; left--, iov++)
			n -= iov->iov_len;
		if (left) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/*
 * Reads the next reply (an integer one's value into *integer when integer); returns 0 when
 * it is not an error, 1 when it is (its text in reason unless one is there already), -1
 * when the connection failed (reason set).
 */
static int batch__reply(redisContext *ctx, char *reason, size_t len, bool *have_reason,
			long long *integer)
{
	char why[256];
	redisReply *r;
	int bad;

	if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
		redis_conn__io_reason(ctx, reason, len);
		return -1;
	}
	bad = redis_conn__check(ctx, r, why, sizeof(why)) != 0;
	if (integer)
		*integer = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (bad && !*have_reason) {
		snprintf(reason, len, "%s", why);
		*have_reason = true;
	}
	freeReplyObject(r);
	return bad;
}

/*
 * Waits until the batch's replies are in, as far as their least size tells (+OK per SET,
 * a ":n" each for the rest), and hands those bytes to hiredis's reader, which so parses
 * them without a read of its own: Redis answers a pipeline as it goes, and a reader woken
 * per partial answer paid a context switch each (a fifth of scooby-bpf's own time on the
 * bench). Whatever goes wrong here, hiredis's reads that follow see it.
 */
static void batch__await_replies(struct redis_batch *bt, redisContext *ctx, size_t nindex)
{
	/* +OK per SET, or (quiet) CLIENT REPLY ON's +OK and EXISTS's ":n" */
	size_t least = (bt->quiet ? 5 + 4 : 5 * bt->n) + 4 * (nindex + bt->n);
	ssize_t r;

	if (least > sizeof(bt->reply_head))
		least = sizeof(bt->reply_head);
	/* a blocking socket (with hiredis's timeout): MSG_WAITALL returns all of least, or
	 * less on a timeout, an error or the peer's close */
	do
		r = recv(ctx->fd, bt->reply_head, least, MSG_WAITALL);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		redisReaderFeed(ctx->reader, bt->reply_head, r);
}

enum redis_batch_fail redis_batch__send(struct redis_batch *bt, redisContext *ctx, size_t *ok,
					char *reason, size_t len)
{
	bool rec_ok[REDIS_BATCH_MAX_RECS], index_ok = true, have_reason = false;
	size_t i, nindex = 2 + bt->unlink, nset = bt->quiet ? 2 : bt->n;
	long long stored = -1;
	int rc;

	*ok = 0;
	if (batch__write(bt, ctx->fd, reason, len))
		return REDIS_BATCH_FAIL_IO;
	batch__await_replies(bt, ctx, nindex);
	for (i = 0; i < nset + nindex + bt->n; i++) {
		rc = batch__reply(ctx, reason, len, &have_reason,
				  bt->quiet && i == 1 ? &stored : NULL);
		if (rc < 0)
			return REDIS_BATCH_FAIL_IO;
		if (i < nset && !bt->quiet)
			rec_ok[i] = !rc;
		else if (i < nset + nindex) /* quiet: CLIENT REPLY ON and EXISTS, first */
			index_ok = index_ok && !rc;
		else
			rec_ok[i - nset - nindex] = (bt->quiet || rec_ok[i - nset - nindex]) && !rc;
	}
	if (bt->quiet && index_ok && stored != (long long)bt->n) {
		bt->loud_next = true;
		return REDIS_BATCH_FAIL_QUIET;
	}
	if (!bt->quiet)
		bt->loud_next = false;
	while (index_ok && *ok < bt->n && rec_ok[*ok])
		(*ok)++;
	return *ok == bt->n ? REDIS_BATCH_OK : REDIS_BATCH_FAIL_REPLY;
}
