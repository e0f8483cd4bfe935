/* libmemcached events -> memcached entries (Scooby's func_name and arg): one per outermost call, a multi-get with its fetches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "stores/libcall.h"
#include "memcached.h"

/* Memcached_mget calls waiting for their fetches */
static struct hashmap_table memcached_mgets = HASHMAP_TABLE("memcached multi-gets", 256, 65536);

/*
 * One outermost libmemcached call is one entry: func_name is the python-memcached style
 * name Scooby's Memcache plugin used ("get", "set", "incr", "get_multi"...), arg the key
 * (a multi-get's first keys, space-separated). A multi-get sends with memcached_mget and
 * reads with one memcached_fetch_result per value until one returns NULL: the fetches
 * belong to it (their time is added, its end is the last one's return). A multi-get the
 * client stops fetching ends at its last fetch when the next call on the connection starts.
 */

struct memcached_tracker {
	struct correlator *corr;
	struct pystack *ps;
	struct libcalls *calls;
	struct hashmap *mgets; /* (pid, memcached_st *) -> struct mc_mget */
};

/* A multi-get still fetching its values. */
struct mc_mget {
	uint32_t pid;
	struct query q;
};

const char *memcached_status_name(int status)
{
	static const char *const names[] = {
		"MEMCACHED_SUCCESS",
		"MEMCACHED_FAILURE",
		"MEMCACHED_HOST_LOOKUP_FAILURE",
		"MEMCACHED_CONNECTION_FAILURE",
		"MEMCACHED_CONNECTION_BIND_FAILURE",
		"MEMCACHED_WRITE_FAILURE",
		"MEMCACHED_READ_FAILURE",
		"MEMCACHED_UNKNOWN_READ_FAILURE",
		"MEMCACHED_PROTOCOL_ERROR",
		"MEMCACHED_CLIENT_ERROR",
		"MEMCACHED_SERVER_ERROR",
		"MEMCACHED_ERROR",
		"MEMCACHED_DATA_EXISTS",
		"MEMCACHED_DATA_DOES_NOT_EXIST",
		"MEMCACHED_NOTSTORED",
		"MEMCACHED_STORED",
		"MEMCACHED_NOTFOUND",
		"MEMCACHED_MEMORY_ALLOCATION_FAILURE",
		"MEMCACHED_PARTIAL_READ",
		"MEMCACHED_SOME_ERRORS",
		"MEMCACHED_NO_SERVERS",
		"MEMCACHED_END",
		"MEMCACHED_DELETED",
		"MEMCACHED_VALUE",
		"MEMCACHED_STAT",
		"MEMCACHED_ITEM",
		"MEMCACHED_ERRNO",
		"MEMCACHED_FAIL_UNIX_SOCKET",
		"MEMCACHED_NOT_SUPPORTED",
		"MEMCACHED_NO_KEY_PROVIDED",
		"MEMCACHED_FETCH_NOTFINISHED",
		"MEMCACHED_TIMEOUT",
		"MEMCACHED_BUFFERED",
		"MEMCACHED_BAD_KEY_PROVIDED",
		"MEMCACHED_INVALID_HOST_PROTOCOL",
		"MEMCACHED_SERVER_MARKED_DEAD",
		"MEMCACHED_UNKNOWN_STAT_KEY",
		"MEMCACHED_E2BIG",
		"MEMCACHED_INVALID_ARGUMENTS",
		"MEMCACHED_KEY_TOO_BIG",
		"MEMCACHED_AUTH_PROBLEM",
		"MEMCACHED_AUTH_FAILURE",
		"MEMCACHED_AUTH_CONTINUE",
		"MEMCACHED_PARSE_ERROR",
		"MEMCACHED_PARSE_USER_ERROR",
		"MEMCACHED_DEPRECATED",
		"MEMCACHED_IN_PROGRESS",
		"MEMCACHED_SERVER_TEMPORARILY_DISABLED",
		"MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE",
	};

	if (status >= 0 && status < (int)(sizeof(names) / sizeof(names[0])))
		return names[status];
	return "MEMCACHED_UNKNOWN_STATUS";
}

bool memcached_status_ok(int status)
{
	switch (status) {
	case 0: /* SUCCESS */
	case 12: /* DATA_EXISTS: a cas whose value changed meanwhile */
	case 14: /* NOTSTORED: add of an existing key, replace/append of a missing one */
	case 15: /* STORED */
	case 16: /* NOTFOUND: a miss */
	case 21: /* END */
	case 22: /* DELETED */
	case 23: /* VALUE */
	case 24: /* STAT */
	case 25: /* ITEM */
	case 32: /* BUFFERED: queued under MEMCACHED_BEHAVIOR_BUFFER_REQUESTS */
	case -1: /* not read: nothing says it failed */
		return true;
	}
	return false;
}

/* Scooby's names, as python-memcached's methods. */
static const char *func_name(uint32_t func)
{
	static const char *const names[SC_MC_NFUNCS] = {
		[SC_MC_GET] = "get",	   [SC_MC_MGET] = "get_multi",	[SC_MC_FETCH] = "fetch",
		[SC_MC_SET] = "set",	   [SC_MC_ADD] = "add",		[SC_MC_REPLACE] = "replace",
		[SC_MC_APPEND] = "append", [SC_MC_PREPEND] = "prepend", [SC_MC_CAS] = "cas",
		[SC_MC_DELETE] = "delete", [SC_MC_INCR] = "incr",	[SC_MC_DECR] = "decr",
		[SC_MC_TOUCH] = "touch",
	};

	return func < SC_MC_NFUNCS && names[func] ? names[func] : "call";
}

static void mget_free(void *p)
{
	struct mc_mget *m = p;

	if (!m)
		return;
	query__free_strings(&m->q);
	free(m);
}

struct memcached_tracker *memcached_tracker__new(struct correlator *c, struct pystack *ps)
{
	struct memcached_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->ps = ps;
	t->calls = libcalls__new();
	t->mgets = hashmap__new_in(&memcached_mgets);
	if (!t->calls || !t->mgets) {
		memcached_tracker__free(t);
		return NULL;
	}
	return t;
}

static int flush_all(uint64_t key, void *val, void *ctx)
{
	struct memcached_tracker *t = ctx;
	struct mc_mget *m = val;

	correlator__query(t->corr, m->pid, &m->q);
	free(m);
	return 1;
}

void memcached_tracker__free(struct memcached_tracker *t)
{
	if (!t)
		return;
	if (t->mgets)
		hashmap__sweep(t->mgets, flush_all, t);
	libcalls__free(t->calls);
	hashmap__free(t->mgets, mget_free);
	free(t);
}

/* Ends the multi-get pending on a connection, as it stands. */
static void mget_end(struct memcached_tracker *t, uint32_t pid, uint64_t handle)
{
	struct mc_mget *m = hashmap__del(t->mgets, hashmap_key2(pid, handle));

	if (!m)
		return;
	correlator__query(t->corr, m->pid, &m->q);
	free(m);
}

void memcached_tracker__call(struct memcached_tracker *t, const struct sc_call_event *e)
{
	if (e->hdr.kind != SC_EV_CALL)
		return;
	/* another call on the connection: a multi-get still pending was read as far as the
	 * client wanted */
	if (e->func != SC_MC_FETCH)
		mget_end(t, e->hdr.pid, e->handle);
	libcalls__enter(t->calls, e);
}

/* The entry for a call: func_name, its key(s), "func_name keys" as the text. */
static void query_of(struct memcached_tracker *t, const struct libcall *c,
		     const struct sc_call_ret_event *e, struct query *q)
{
	const char *name = func_name(c->func);
	char *keys = libcall__sql(c);

	q->db = DB_MEMCACHE;
	q->command = strdup(name);
	q->key = keys && keys[0] ? keys : NULL;
	q->truncated = c->full_len > c->len;
	if (asprintf(&q->sql, "%s%s%s", name, q->key ? " " : "", q->key ? q->key : "") < 0)
		q->sql = NULL;
	if (!q->key)
		free(keys);
	libcall__timing(q, c, e);
	libcall__stack(t->ps, t->corr, c, DB_MEMCACHE, &q->stack);
	if (!memcached_status_ok((int)e->status))
		q->error = strdup(memcached_status_name((int)e->status));
}

/* A memcached_fetch_result returned: its time goes to the multi-get it reads; a NULL
 * result ends the multi-get (END: all read; anything else: how it failed). */
static void fetched(struct memcached_tracker *t, const struct libcall *c,
		    const struct sc_call_ret_event *e)
{
	struct mc_mget *m = hashmap__get(t->mgets, hashmap_key2(c->pid, c->handle));
	uint64_t end = e->hdr.ts > c->start ? e->hdr.ts : c->start;

	if (!m)
		return; /* a fetch of a multi-get sent before we attached */
	m->q.busy_ns += end - c->start;
	m->q.end_ns = end;
	if (e->rc)
		return;
	if (!memcached_status_ok((int)e->status) && !m->q.error)
		m->q.error = strdup(memcached_status_name((int)e->status));
	mget_end(t, c->pid, c->handle);
}

/* A memcached_mget returned: the multi-get now fetches, unless the send failed. */
static void mget_sent(struct memcached_tracker *t, const struct libcall *c,
		      const struct sc_call_ret_event *e)
{
	struct mc_mget *m = calloc(1, sizeof(*m));
	void *old = NULL;

	if (!m)
		return;
	m->pid = c->pid;
	query_of(t, c, e, &m->q);
	if (m->q.error || !m->q.sql ||
	    hashmap__set(t->mgets, hashmap_key2(c->pid, c->handle), m, &old)) {
		correlator__query(t->corr, c->pid, &m->q);
		free(m);
		return;
	}
	mget_free(old); /* cannot be: mget_end ran when this mget started */
}

void memcached_tracker__ret(struct memcached_tracker *t, const struct sc_call_ret_event *e)
{
	struct libcall *c = libcalls__leave(t->calls, e);
	struct query q = {};

	if (!c)
		return;
	if (c->func == SC_MC_FETCH) {
		fetched(t, c, e);
	} else if (c->func == SC_MC_MGET) {
		mget_sent(t, c, e);
	} else {
		query_of(t, c, e, &q);
		correlator__query(t->corr, c->pid, &q);
	}
	libcall__free(c);
}

struct sweep_ctx {
	struct memcached_tracker *t;
	uint32_t pid;
};

static int sweep_mget(uint64_t key, void *val, void *p)
{
	struct sweep_ctx *s = p;
	struct mc_mget *m = val;

	if (m->pid != s->pid)
		return 0;
	correlator__query(s->t->corr, m->pid, &m->q);
	free(m);
	return 1;
}

void memcached_tracker__proc_gone(struct memcached_tracker *t, uint32_t pid)
{
	struct sweep_ctx s = { t, pid };

	if (!t)
		return;
	libcalls__proc_gone(t->calls, pid);
	hashmap__sweep(t->mgets, sweep_mget, &s);
}
