/* hiredis events -> Redis commands: one per outermost redisCommand*, and appended commands matched to redisGetReply. */
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "hiredis.h"
#include "stores/libcall.h"
#include "wire/wire_proto.h"

/* Per-context queues of commands waiting for replies */
static struct hashmap_table hiredis_queues = HASHMAP_TABLE("hiredis reply queues", 256, 65536);

/*
 * Every hiredis path formats its command as RESP and passes it to __redisAppendCommand,
 * whose bytes come as SC_EV_CALL_TEXT inside the outermost call; the wire parser turns
 * them into command, key and arguments (AUTH masked). A redisCommand* call appends and
 * reads the reply itself: one entry. Outermost redis*Append* calls queue their commands
 * on the context, and each outermost redisGetReply ends the oldest one queued there: its
 * time_taken is the time inside its append plus the time inside that redisGetReply.
 */

#define REDIS_REPLY_ERROR 6
/* Commands held per context: replies read by other means than redisGetReply (the reader
 * API) would otherwise grow the queue forever. Past it new commands are not kept. */
#define RD_QUEUE_MAX 4096

/* Commands appended to one context and not answered yet, oldest first. */
struct rd_queue {
	uint32_t pid;
	struct query *q;
	size_t head, n, cap; /* live entries are q[head .. n) */
};

struct hiredis_tracker {
	struct correlator *corr;
	struct pystack *ps;
	size_t max_text;
	struct libcalls *calls;
	struct hashmap *queues; /* (pid, redisContext *) -> struct rd_queue */
};

static void queue_free(void *p)
{
	struct rd_queue *rq = p;
	size_t i;

	if (!rq)
		return;
	for (i = rq->head; i < rq->n; i++)
		query__free_strings(&rq->q[i]);
	free(rq->q);
	free(rq);
}

struct hiredis_tracker *hiredis_tracker__new(struct correlator *c, struct pystack *ps,
					     size_t max_text)
{
	struct hiredis_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->max_text = max_text ? max_text : 4096;
	t->calls = libcalls__new();
	t->queues = hashmap__new_in(&hiredis_queues);
	if (!t->calls || !t->queues) {
		hiredis_tracker__free(t);
		return NULL;
	}
	return t;
}

void hiredis_tracker__free(struct hiredis_tracker *t)
{
	if (!t)
		return;
	libcalls__free(t->calls);
	hashmap__free(t->queues, queue_free);
	free(t);
}

void hiredis_tracker__call(struct hiredis_tracker *t, const struct sc_call_event *e)
{
	if (e->hdr.kind == SC_EV_CALL_TEXT)
		libcalls__text(t->calls, e, t->max_text);
	else
		libcalls__enter(t->calls, e);
}

/* Parses the call's RESP text into queries (timing and stack of the call; the stack goes
 * to the first, a copy to the others). Returns how many, 0 when none (*out is NULL). */
static size_t parse_call(struct hiredis_tracker *t, const struct libcall *c,
			 const struct sc_call_ret_event *e, struct query **out)
{
	struct wire_conn *wc = wire_conn__new(SC_CL_REDIS, t->max_text);
	struct wire_cmd *cmds = NULL;
	size_t ncmds = 0, i;
	struct query *qs = NULL;

	*out = NULL;
	if (!wc || !c->text)
		goto cleanup;
	wire_conn__client(wc, (const uint8_t *)c->text, c->len,
			  c->full_len > c->len ? c->full_len : c->len, &cmds, &ncmds);
	if (!ncmds || !(qs = calloc(ncmds, sizeof(*qs))))
		goto cleanup;
	for (i = 0; i < ncmds; i++) {
		wire_cmd__to_query(&cmds[i], &qs[i]);
		libcall__timing(&qs[i], c, e);
		if (i > 0)
			qs[i].busy_ns = 0; /* the call's time is counted once, on the first */
	}
	libcall__stack(t->ps, t->corr, c, DB_REDIS, &qs[0].stack);
	for (i = 1; i < ncmds; i++)
		stack__copy(&qs[i].stack, &qs[0].stack);
	*out = qs;
cleanup:
	for (i = 0; i < ncmds; i++)
		wire_cmd__clear(&cmds[i]);
	free(cmds);
	wire_conn__free(wc);
	if (!*out && t->ps)
		pystack__drop(t->ps, c->tid, c->start);
	return *out ? ncmds : 0;
}

/* The error a return says: an error reply's message, or for a call that got no reply the
 * context's errstr; NULL on success. */
static char *reply_error(const struct libcall *c, const struct sc_call_ret_event *e)
{
	char *msg;

	if (e->status == REDIS_REPLY_ERROR) {
		msg = libcall__ret_err(e);
		return msg ? msg : strdup("ERR");
	}
	if (e->status >= 0)
		return NULL; /* a reply of another type */
	/* no reply type read: a call that still succeeded (REDIS_OK, a reply pointer) */
	if (c->func == SC_RD_COMMAND ? e->rc != 0 : (int)e->rc == 0)
		return NULL;
	msg = libcall__ret_err(e);
	return msg ? msg : strdup(c->func == SC_RD_COMMAND ? "no reply" : "REDIS_ERR");
}

/* Queues n commands appended on the call's context. */
static void enqueue(struct hiredis_tracker *t, const struct libcall *c, struct query *qs, size_t n)
{
	uint64_t key = hashmap_key2(c->pid, c->handle);
	struct rd_queue *rq = hashmap__get(t->queues, key);
	struct query *nq;
	size_t i;

	if (!rq && (rq = calloc(1, sizeof(*rq)))) {
		rq->pid = c->pid;
		if (hashmap__set(t->queues, key, rq, NULL)) {
			free(rq);
			rq = NULL;
		}
	}
	/* answered entries at the front go once they are half of it (a client that always
	 * keeps one command in flight never empties its queue) */
	if (rq && rq->head > 0 && rq->head * 2 >= rq->n) {
		memmove(rq->q, rq->q + rq->head, (rq->n - rq->head) * sizeof(*rq->q));
		rq->n -= rq->head;
		rq->head = 0;
	}
	if (rq && rq->n + n > rq->cap) {
		nq = realloc(rq->q, (rq->n + n + 8) * sizeof(*nq));
		if (nq) {
			rq->q = nq;
			rq->cap = rq->n + n + 8;
		}
	}
	for (i = 0; i < n; i++) {
		if (rq && rq->n < rq->cap && rq->n - rq->head < RD_QUEUE_MAX)
			rq->q[rq->n++] = qs[i];
		else
			query__free_strings(&qs[i]);
	}
}

/* A redisGetReply returned: it ends the oldest command queued on its context. */
static void got_reply(struct hiredis_tracker *t, const struct libcall *c,
		      const struct sc_call_ret_event *e)
{
	struct rd_queue *rq = hashmap__get(t->queues, hashmap_key2(c->pid, c->handle));
	uint64_t end = e->hdr.ts > c->start ? e->hdr.ts : c->start;
	struct query q;

	if (!rq || rq->head == rq->n)
		return; /* appended before we attached, or in a call we did not see */
	q = rq->q[rq->head++];
	q.busy_ns += end - c->start;
	q.end_ns = end;
	q.error = reply_error(c, e);
	correlator__query(t->corr, c->pid, &q);
}

void hiredis_tracker__ret(struct hiredis_tracker *t, const struct sc_call_ret_event *e)
{
	struct libcall *c = libcalls__leave(t->calls, e);
	struct query *qs = NULL;
	size_t n, i;

	if (!c)
		return;
	if (c->func == SC_RD_GET_REPLY) {
		got_reply(t, c, e);
		goto cleanup;
	}
	n = parse_call(t, c, e, &qs);
	/* a redisCommand on a non-blocking context only appends: NULL and no error */
	if (c->func == SC_RD_APPEND ? (int)e->rc == 0 : !e->rc && !e->err_len) {
		enqueue(t, c, qs, n);
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		qs[i].error = reply_error(c, e);
		correlator__query(t->corr, c->pid, &qs[i]);
	}
cleanup:
	free(qs);
	libcall__free(c);
}

static int sweep_queue(uint64_t key, void *val, void *ctx)
{
	struct rd_queue *rq = val;

	if (rq->pid != *(uint32_t *)ctx)
		return 0;
	queue_free(rq);
	return 1;
}

void hiredis_tracker__proc_gone(struct hiredis_tracker *t, uint32_t pid)
{
	if (!t)
		return;
	libcalls__proc_gone(t->calls, pid);
	hashmap__sweep(t->queues, sweep_queue, &pid);
}
