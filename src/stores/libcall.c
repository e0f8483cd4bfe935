/* Outermost client library calls (SC_EV_CALL ... SC_EV_CALL_RET) matched per thread, for the trackers of the stores on that call family. */
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "libcall.h"
#include "util/utf8.h"

/* Outermost client-library calls not yet returned, per thread */
static struct hashmap_table calls_in_flight = HASHMAP_TABLE("client calls in flight", 1024, 65536);

struct libcalls {
	struct hashmap *by_tid; /* tid -> struct libcall */
};

void libcall__free(struct libcall *c)
{
	if (!c)
		return;
	free(c->text);
	free(c);
}

static void call_free(void *p)
{
	libcall__free(p);
}

struct libcalls *libcalls__new(void)
{
	struct libcalls *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->by_tid = hashmap__new_in(&calls_in_flight);
	if (!m->by_tid) {
		free(m);
		return NULL;
	}
	return m;
}

void libcalls__free(struct libcalls *m)
{
	if (!m)
		return;
	hashmap__free(m->by_tid, call_free);
	free(m);
}

/* Appends len bytes to the call's text, keeping at most max; full is their length in the
 * target. Once a piece was cut, later bytes are not kept (they would not follow on). */
static void text_append(struct libcall *c, const char *bytes, size_t len, size_t full, size_t max)
{
	bool was_cut = c->full_len > c->len;
	char *t;

	c->full_len += full;
	if (was_cut || !len)
		return;
	if (c->len + len > max)
		len = max > c->len ? max - c->len : 0;
	t = realloc(c->text, c->len + len + 1);
	if (!t)
		return;
	memcpy(t + c->len, bytes, len);
	c->len += len;
	t[c->len] = 0;
	c->text = t;
}

struct libcall *libcalls__enter(struct libcalls *m, const struct sc_call_event *e)
{
	struct libcall *c = calloc(1, sizeof(*c));
	void *old = NULL;

	if (!c)
		return NULL;
	c->pid = e->hdr.pid;
	c->tid = e->hdr.tid;
	c->func = e->func;
	c->handle = e->handle;
	c->arg = e->arg;
	c->start = e->hdr.ts;
	text_append(c, e->text, e->len, e->full_len > e->len ? e->full_len : e->len, SC_SQL_CAP);
	if (hashmap__set(m->by_tid, e->hdr.tid, c, &old)) {
		libcall__free(c);
		return NULL;
	}
	libcall__free(old);
	return c;
}

void libcalls__text(struct libcalls *m, const struct sc_call_event *e, size_t max)
{
	struct libcall *c = hashmap__get(m->by_tid, e->hdr.tid);

	if (c && c->pid == e->hdr.pid)
		text_append(c, e->text, e->len, e->full_len > e->len ? e->full_len : e->len, max);
}

struct libcall *libcalls__leave(struct libcalls *m, const struct sc_call_ret_event *e)
{
	struct libcall *c = hashmap__del(m->by_tid, e->hdr.tid);

	if (c && c->pid != e->hdr.pid) {
		libcall__free(c); /* a thread id reused by another process */
		return NULL;
	}
	return c;
}

static int sweep_pid(uint64_t key, void *val, void *ctx)
{
	struct libcall *c = val;

	if (c->pid != *(uint32_t *)ctx)
		return 0;
	libcall__free(c);
	return 1;
}

void libcalls__proc_gone(struct libcalls *m, uint32_t pid)
{
	if (m)
		hashmap__sweep(m->by_tid, sweep_pid, &pid);
}

char *libcall__sql(const struct libcall *c)
{
	size_t n;

	if (!c->text)
		return strdup("");
	n = strnlen(c->text, c->len);
	return strndup(c->text, utf8_cut(c->text, n));
}

char *libcall__ret_err(const struct sc_call_ret_event *e)
{
	size_t n = e->err_len < SC_CALL_ERR_CAP ? e->err_len : SC_CALL_ERR_CAP, i;

	/* only err_len bytes arrived: nothing past them is read. A message ends at its first
	 * line (servers add detail lines) and at no trailing space. */
	for (i = 0; i < n; i++)
		if (!e->err[i] || e->err[i] == '\r' || e->err[i] == '\n')
			n = i;
	while (n && e->err[n - 1] == ' ')
		n--;
	return n ? strndup(e->err, utf8_cut(e->err, n)) : NULL;
}

void libcall__timing(struct query *q, const struct libcall *c, const struct sc_call_ret_event *ret)
{
	q->tid = c->tid;
	q->start_ns = c->start;
	q->end_ns = ret->hdr.ts > c->start ? ret->hdr.ts : c->start;
	q->busy_ns = q->end_ns - q->start_ns;
}

void libcall__stack(struct pystack *ps, struct correlator *corr, const struct libcall *c,
		    const struct db_kind *db, struct stack *out)
{
	if (!ps)
		return;
	if (correlator__keeps(corr, c->pid, c->tid, db))
		pystack__take(ps, c->pid, c->tid, c->start, out);
	else
		pystack__drop(ps, c->tid, c->start);
}
