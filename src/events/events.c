/* Ring buffer records -> the tracker of each feature: HTTP, wire capture, stacks, and each registered store. */
#include <errno.h>
#include <string.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "events.h"

/* The smallest size each kind of the loop's own may have (variable parts may be empty);
 * the stores' kinds are checked by their struct store_kind. */
static size_t min_size(__u32 kind)
{
	switch (kind) {
	case SC_EV_HTTP_IN:
	case SC_EV_HTTP_OUT:
		return offsetof(struct sc_http_event, data);
	case SC_EV_CALL:
	case SC_EV_CALL_TEXT:
		return offsetof(struct sc_call_event, text);
	case SC_EV_CALL_RET:
		return offsetof(struct sc_call_ret_event, err);
	case SC_EV_PYSTACK:
	case SC_EV_PYSAMPLE:
		return offsetof(struct sc_pystack_event, frames);
	case SC_EV_NATSAMPLE:
		return offsetof(struct sc_natstack_event, ips);
	case SC_EV_PROFCOUNT:
		return offsetof(struct sc_profcount_event, slots);
	case SC_EV_WIRE_OUT:
	case SC_EV_WIRE_IN:
	case SC_EV_LOG:
		return offsetof(struct sc_wire_event, data);
	case SC_EV_WIRE_CLOSE:
		return sizeof(struct sc_small_event);
	case SC_EV_NATSTACK:
		return offsetof(struct sc_natstack_event, ips);
	case SC_EV_HTTP_CLOSE:
		return sizeof(struct sc_http_close_event);
	case SC_EV_PROC_FORK:
	case SC_EV_PROC_EXIT:
	case SC_EV_PROC_MMAP:
		return sizeof(struct sc_small_event);
	case SC_EV_PYCALL:
		return sizeof(struct sc_pycall_event);
	case SC_EV_PYVIEW:
		return sizeof(struct sc_pyview_event);
	case SC_EV_HTTP_TASK:
		return sizeof(struct sc_http_task_event);
	}
	return (size_t)-1;
}

/* Returns true when the variable part a record of the loop's own kinds claims fits in
 * what arrived. */
static bool payload_fits(const struct sc_hdr *h, size_t size)
{
	switch (h->kind) {
	case SC_EV_HTTP_IN:
	case SC_EV_HTTP_OUT: {
		const struct sc_http_event *e = (const void *)h;

		return e->cap_len <= SC_HTTP_CAP &&
		       offsetof(struct sc_http_event, data) + e->cap_len <= size;
	}
	case SC_EV_WIRE_OUT:
	case SC_EV_WIRE_IN:
	case SC_EV_LOG: {
		const struct sc_wire_event *e = (const void *)h;

		return e->cap_len <= SC_SQL_CAP &&
		       offsetof(struct sc_wire_event, data) + e->cap_len <= size;
	}
	case SC_EV_CALL:
	case SC_EV_CALL_TEXT: {
		const struct sc_call_event *e = (const void *)h;

		return e->len < SC_SQL_CAP && offsetof(struct sc_call_event, text) + e->len <= size;
	}
	case SC_EV_CALL_RET: {
		const struct sc_call_ret_event *e = (const void *)h;

		return e->err_len < SC_CALL_ERR_CAP &&
		       offsetof(struct sc_call_ret_event, err) + e->err_len <= size;
	}
	case SC_EV_NATSTACK:
	case SC_EV_NATSAMPLE: {
		const struct sc_natstack_event *e = (const void *)h;

		return e->nframes <= SC_NAT_MAX_FRAMES &&
		       offsetof(struct sc_natstack_event, ips) + e->nframes * sizeof(__u64) <= size;
	}
	case SC_EV_PROFCOUNT: {
		const struct sc_profcount_event *e = (const void *)h;

		return e->nslots <= SC_PROF_SLOTS &&
		       offsetof(struct sc_profcount_event, slots) +
				       e->nslots * sizeof(struct sc_prof_slot) <=
			       size;
	}
	case SC_EV_PYSTACK:
	case SC_EV_PYSAMPLE: {
		const struct sc_pystack_event *e = (const void *)h;

		return e->nframes <= SC_PY_MAX_FRAMES &&
		       offsetof(struct sc_pystack_event, frames) +
				       e->nframes * sizeof(struct sc_py_frame) <=
			       size;
	}
	}
	return true;
}

/* Returns the entry of a kind a store owns, NULL for the loop's own kinds. */
static const struct store_kind *store_kind_of(const struct event_router *r, uint32_t kind)
{
	const struct store *s;
	int i = kind < EVENTS_KIND_MAX ? r->by_kind[kind] : -1;
	size_t k;

	if (i < 0)
		return NULL;
	s = stores[i];
	for (k = 0; k < s->nkinds; k++)
		if (s->kinds[k].kind == kind)
			return &s->kinds[k];
	return NULL;
}

/* True when a record (size bytes arrived, at least its header) is as long as its kind
 * says: the owning store's check for its kinds, the loop's own for the rest. */
static bool record_fits(const struct event_router *r, const struct sc_hdr *h, size_t size)
{
	const struct store_kind *k = store_kind_of(r, h->kind);

	if (k)
		return size >= k->min_size && (!k->fits || k->fits(h, size));
	return size >= min_size(h->kind) && payload_fits(h, size);
}

int event_router__open_stores(struct event_router *r, const struct store_env *env)
{
	const struct store *s;
	size_t i, k;

	memset(r->by_kind, -1, sizeof(r->by_kind));
	memset(r->by_client, -1, sizeof(r->by_client));
	for (i = 0; i < STORE_COUNT; i++) {
		s = stores[i];
		r->stores[i] = s->new (env);
		if (!r->stores[i])
			return -ENOMEM;
		for (k = 0; k < s->nkinds; k++)
			if (s->kinds[k].kind < EVENTS_KIND_MAX)
				r->by_kind[s->kinds[k].kind] = i;
		if (s->call && s->client < SC_CL_MAX)
			r->by_client[s->client] = i;
	}
	return 0;
}

void event_router__stores_proc_gone(struct event_router *r, uint32_t pid)
{
	size_t i;

	for (i = 0; i < STORE_COUNT; i++)
		if (r->stores[i])
			stores[i]->proc_gone(r->stores[i], pid);
}

void event_router__free_stores(struct event_router *r)
{
	size_t i;

	for (i = 0; i < STORE_COUNT; i++) {
		stores[i]->free(r->stores[i]);
		r->stores[i] = NULL;
	}
}

unsigned long long event_router__lost_query_ends(const struct event_router *r)
{
	bool seen[EVENTS_KIND_MAX] = { [SC_EV_WIRE_OUT] = true };
	unsigned long long n;
	size_t i;

	if (!r->att)
		return 0;
	n = attacher__counter(r->att, SC_CNT_LOST_KIND + SC_EV_WIRE_OUT);
	for (i = 0; i < STORE_COUNT; i++) {
		if (stores[i]->end_kind >= EVENTS_KIND_MAX || seen[stores[i]->end_kind])
			continue;
		seen[stores[i]->end_kind] = true;
		n += attacher__counter(r->att, SC_CNT_LOST_KIND + stores[i]->end_kind);
	}
	return n;
}

/* Returns the index of the store of SC_EV_CALL* records of client, or -1. */
static int client_store(const struct event_router *r, uint32_t client)
{
	return client < SC_CL_MAX ? r->by_client[client] : -1;
}

/* SC_EV_CALL / SC_EV_CALL_TEXT: to the tracker of the call's client family. */
static void call_event(struct event_router *r, const struct sc_call_event *e)
{
	int i = client_store(r, e->client);

	if (i >= 0)
		stores[i]->call(r->stores[i], e);
}

/* SC_EV_CALL_RET: likewise. */
static void call_ret_event(struct event_router *r, const struct sc_call_ret_event *e)
{
	int i = client_store(r, e->client);

	if (i >= 0)
		stores[i]->ret(r->stores[i], e);
}

/* A record of a kind a store owns (SQLite's, libpq's): to that store. */
static void store_event(struct event_router *r, const struct sc_hdr *h)
{
	int i = h->kind < EVENTS_KIND_MAX ? r->by_kind[h->kind] : -1;

	if (i >= 0)
		stores[i]->event(r->stores[i], h);
}

/* SC_EV_PYCALL: a dispatcher's call names its request's view. */
static void pycall_event(struct event_router *r, const struct sc_pycall_event *e)
{
	struct view_names n;
	const char *reason;

	if (r->py && pystack__call(r->py, e, &n, &reason))
		correlator__view(r->corr, e->hdr.pid, e->hdr.tid, &n, reason);
}

/* SC_EV_PYVIEW: the objects a response's first write reached name its request's view. */
static void pyview_event(struct event_router *r, const struct sc_pyview_event *e)
{
	struct view_names n;
	const char *reason;

	if (!r->py)
		return;
	if (pystack__view(r->py, e, &n, &reason))
		correlator__view(r->corr, e->hdr.pid, e->hdr.tid, &n, reason);
	else if (reason)
		correlator__view_reason(r->corr, e->hdr.pid, e->hdr.tid, reason);
}

/* SC_EV_PROFCOUNT: each stack's samples counted in BPF, to the thread's request. A stack
 * not known here (its process is gone) is not counted, as a sample of a process whose
 * interpreter is unknown is not. */
static void profcount_event(struct event_router *r, const struct sc_profcount_event *e)
{
	const struct stack *s;
	uint32_t i;

	for (i = 0; i < e->nslots; i++) {
		s = pystack__known(r->py, e->hdr.pid, e->slots[i].hash);
		if (s)
			correlator__samples(r->corr, e->hdr.pid, e->hdr.tid, s, e->slots[i].count,
					    e->slots[i].first_ts);
	}
}

int events__handle(void *ctx, void *data, size_t size)
{
	struct event_router *r = ctx;
	const struct sc_hdr *h = data;
	const struct sc_small_event *s = data;

	r->nevents++;
	if (size < sizeof(*h) || !record_fits(r, h, size)) {
		r->malformed++;
		return 0;
	}
	switch (h->kind) {
	case SC_EV_HTTP_IN:
		http_tracker__in(r->http, data);
		break;
	case SC_EV_HTTP_OUT:
		http_tracker__out(r->http, data);
		break;
	case SC_EV_HTTP_CLOSE:
		http_tracker__close(r->http, data);
		break;
	case SC_EV_HTTP_TASK:
		http_tracker__task(r->http, data);
		break;
	case SC_EV_CALL:
	case SC_EV_CALL_TEXT:
		call_event(r, data);
		break;
	case SC_EV_CALL_RET:
		call_ret_event(r, data);
		break;
	case SC_EV_PROC_FORK:
		attacher__track(r->att, s->arg);
		pystack__inherit(r->py, h->pid, s->arg);
		break;
	case SC_EV_PYSTACK:
		pystack__event(r->py, data);
		break;
	case SC_EV_PYCALL:
		pycall_event(r, data);
		break;
	case SC_EV_PYVIEW:
		pyview_event(r, data);
		break;
	case SC_EV_NATSTACK:
		pystack__native_event(r->py, data);
		break;
	case SC_EV_PYSAMPLE:
	case SC_EV_NATSAMPLE: {
		struct stack st;

		if (pystack__sample(r->py, h, &st))
			correlator__samples(r->corr, h->pid, h->tid, &st, 1, h->ts);
		stack__clear(&st);
		break;
	}
	case SC_EV_PROFCOUNT:
		profcount_event(r, data);
		break;
	case SC_EV_PROC_EXIT:
		r->exits_seen = true;
		break;
	case SC_EV_PROC_MMAP:
		attacher__arm_mapped(r->att, h->pid, s->arg, h->ts);
		break;
	case SC_EV_WIRE_OUT:
		wire_tracker__out(r->wire, data);
		break;
	case SC_EV_WIRE_IN:
		wire_tracker__in(r->wire, data);
		break;
	case SC_EV_WIRE_CLOSE:
		wire_tracker__close(r->wire, h->pid, s->arg, h->ts);
		break;
	case SC_EV_LOG:
		wire_tracker__log(r->wire, data);
		break;
	default:
		store_event(r, h);
	}
	return 0;
}
