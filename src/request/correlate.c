/* Per-thread correlation: request boundaries and queries in, one record per request out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "correlate.h"
#include "python/pycode.h"
#include "record/fingerprint.h"
#include "record/profile.h"
#include "util/hash.h"
#include "util/hashmap.h"
#include "taskwait.h"

/* Requests begun and not yet ended, one per thread */
static struct hashmap_table open_requests = HASHMAP_TABLE("open requests", 1024, 16384);

/* Per-process records of work outside any request */
static struct hashmap_table background_records = HASHMAP_TABLE("background records", 256, 16384);

struct correlator {
	struct correlator_opts opts;
	record_fn emit;
	void *ctx;
	struct hashmap *requests; /* request key (see correlator__request_start) -> record */
	struct hashmap *background; /* pid -> struct record of queries outside requests */
	uint64_t last_background;
	uint64_t lost;
	struct hashmap *comms; /* pid -> struct comm_cached; at most COMMS_MAX */
	struct hashmap *redacted; /* text hash -> struct redacted; at most REDACTED_MAX */
	struct taskwait *tasks; /* executor queries waiting for their task's request */
};

/* Bound of the redacted-SQL cache (distinct texts), and of the texts it keeps: past either,
 * a text is redacted afresh. Full, the cache is emptied and refilled. */
#define REDACTED_MAX 1024
#define REDACTED_TEXT_MAX 2048

/* SQL texts as scrubbed, one per distinct text: the lexer runs once per text */
static struct hashmap_table redacted_sql = HASHMAP_TABLE("redacted SQL", 256, REDACTED_MAX);

/* A SQL text and what scrub makes of it (NULL: the text itself, nothing masked). */
struct redacted {
	char *sql;
	char *clean;
};

static void redacted_free(void *v)
{
	struct redacted *rd = v;

	if (!rd)
		return;
	free(rd->sql);
	free(rd->clean);
	free(rd);
}

static int redacted_drop(uint64_t key, void *val, void *ctx)
{
	redacted_free(val);
	return 1;
}

/* Bound of the per-process name cache; past it the cache is emptied and refilled. */
#define COMMS_MAX 4096

/* Process names, re-read after a second: one per process seen */
static struct hashmap_table comm_cache = HASHMAP_TABLE("process names", 64, COMMS_MAX);
/* A cached name is read again after this long: a process may rename itself. */
#define COMM_RECHECK_NS 1000000000ULL

struct comm_cached {
	uint64_t read_ns;
	char comm[16];
};

struct correlator *correlator__new(const struct correlator_opts *o, record_fn fn, void *ctx)
{
	struct correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *o;
	c->emit = fn;
	c->ctx = ctx;
	c->requests = hashmap__new_in(&open_requests);
	c->background = hashmap__new_in(&background_records);
	c->comms = hashmap__new_in(&comm_cache);
	c->redacted = hashmap__new_in(&redacted_sql);
	c->tasks = taskwait__new();
	if (!c->requests || !c->background || !c->comms || !c->redacted || !c->tasks) {
		hashmap__free(c->requests, NULL);
		hashmap__free(c->background, NULL);
		hashmap__free(c->comms, NULL);
		hashmap__free(c->redacted, NULL);
		taskwait__free(c->tasks);
		free(c);
		return NULL;
	}
	return c;
}

static void publish(struct correlator *c, struct record *r)
{
	r->lost_events = c->lost;
	c->emit(r, c->ctx);
}

/* Reads the process name; "" when the process is gone. */
static void read_comm(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static int drop_comm(uint64_t key, void *val, void *ctx)
{
	free(val);
	return 1;
}

/* Copies the process name (cached per pid, re-read after COMM_RECHECK_NS) into buf. */
static void cached_comm(struct correlator *c, uint32_t pid, uint64_t now, char *buf, size_t len)
{
	struct comm_cached *cc = hashmap__get(c->comms, pid);

	if (cc && now - cc->read_ns < COMM_RECHECK_NS) {
		snprintf(buf, len, "%s", cc->comm);
		return;
	}
	read_comm(pid, buf, len);
	if (!buf[0]) /* gone: nothing worth keeping */
		return;
	if (!cc) {
		if (hashmap__size(c->comms) >= COMMS_MAX)
			hashmap__sweep(c->comms, drop_comm, NULL);
		cc = calloc(1, sizeof(*cc));
		if (!cc || hashmap__set(c->comms, pid, cc, NULL)) {
			free(cc);
			return;
		}
	}
	cc->read_ns = now;
	snprintf(cc->comm, sizeof(cc->comm), "%s", buf);
}

int correlator__request_start(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t key,
			      uint64_t ts, const struct http_req_info *req)
{
	struct record *r = record__new(), *old;
	int err = -ENOMEM;

	if (!r)
		return -ENOMEM;
	snprintf(r->method, sizeof(r->method), "%s", req->method);
	r->path = strdup(req->path);
	if (req->host[0])
		r->host = strdup(req->host);
	if (req->request_id[0])
		r->request_id = strdup(req->request_id);
	else if (req->traceparent[0])
		r->request_id = strdup(req->traceparent);
	if (!r->path || (req->host[0] && !r->host))
		goto cleanup;
	r->pid = pid;
	r->tid = tid;
	r->start_ns = r->end_ns = ts;
	cached_comm(c, pid, mono_now_ns(), r->comm, sizeof(r->comm));
	err = hashmap__set(c->requests, key, r, (void **)&old);
	if (err)
		goto cleanup;
	if (old) { /* the caller should have ended it; do not lose it */
		old->incomplete = true;
		publish(c, old);
	}
	return 0;
cleanup:
	record__free(r);
	return err;
}

void correlator__response_status(struct correlator *c, uint64_t key, int status)
{
	struct record *r = hashmap__get(c->requests, key);

	if (r)
		r->status = status;
}

int correlator__rekey(struct correlator *c, uint64_t old_key, uint64_t new_key)
{
	struct record *r = hashmap__del(c->requests, old_key), *old;
	int err;

	if (!r)
		return 0;
	err = hashmap__set(c->requests, new_key, r, (void **)&old);
	if (err) {
		r->incomplete = true;
		publish(c, r);
		return err;
	}
	if (old) {
		old->incomplete = true;
		publish(c, old);
	}
	return 0;
}

void correlator__request_end(struct correlator *c, uint64_t key, uint64_t ts, int status,
			     bool incomplete)
{
	struct record *r = hashmap__del(c->requests, key);

	taskwait__unbind(c->tasks, key);
	if (!r)
		return;
	r->end_ns = ts > r->start_ns ? ts : r->start_ns;
	if (status)
		r->status = status;
	r->incomplete = incomplete;
	publish(c, r);
}

/* Returns pid's background record, creating it; NULL on ENOMEM. */
static struct record *background(struct correlator *c, uint32_t pid)
{
	struct record *r = hashmap__get(c->background, pid);

	if (r)
		return r;
	r = record__new();
	if (!r)
		return NULL;
	r->background = true;
	r->pid = pid;
	cached_comm(c, pid, mono_now_ns(), r->comm, sizeof(r->comm));
	if (hashmap__set(c->background, pid, r, NULL)) {
		record__free(r);
		return NULL;
	}
	return r;
}

bool correlator__keeps(struct correlator *c, uint32_t pid, uint32_t tid, const struct db_kind *db)
{
	struct record *r = hashmap__get(c->requests, tid);

	if (!r || r->pid != pid)
		r = hashmap__get(c->background, pid);
	return !r || record__keeps(r, db);
}

/* Keeps what scrub made of sql (clean, or NULL when it masked nothing), if there is room. */
static void redacted_keep(struct correlator *c, uint64_t h, const char *sql, size_t len,
			  const char *clean)
{
	struct redacted *rd;

	if (len > REDACTED_TEXT_MAX || hashmap__get(c->redacted, h))
		return;
	if (hashmap__size(c->redacted) >= REDACTED_MAX)
		hashmap__sweep(c->redacted, redacted_drop, NULL);
	rd = calloc(1, sizeof(*rd));
	if (!rd || !(rd->sql = strdup(sql)) || (clean && !(rd->clean = strdup(clean))) ||
	    hashmap__set(c->redacted, h, rd, NULL))
		redacted_free(rd);
}

/* Masks what must not leave the process: credentials always, every literal with --redact.
 * A text seen before takes what was made of it then. */
static void scrub(struct correlator *c, struct query *q)
{
	struct redacted *rd;
	size_t len, cap;
	char *clean;
	uint64_t h;

	if (q->db && !db__is_sql(q->db)) {
		/* credentials are masked by the store's parser; only values are left to hide */
		if (c->opts.redact && q->db->redact)
			q->db->redact(q);
		return;
	}
	if (!q->sql)
		return;
	len = strlen(q->sql);
	h = hash__bytes(HASH_SEED, q->sql, len);
	rd = hashmap__get(c->redacted, h);
	if (rd && strcmp(rd->sql, q->sql) == 0) {
		if (!rd->clean)
			return;
		clean = strdup(rd->clean);
		if (clean) {
			free(q->sql);
			q->sql = clean;
			return;
		}
	}
	cap = 2 * len + 16;
	clean = malloc(cap);
	if (!clean || sql_redact(q->sql, len, c->opts.redact, clean, cap) < 0) {
		free(clean);
		/* not knowing what the text holds, send none of it */
		free(q->sql);
		q->sql = strdup("(text withheld: out of memory while redacting)");
		return;
	}
	redacted_keep(c, h, q->sql, len, strcmp(clean, q->sql) ? clean : NULL);
	free(q->sql);
	q->sql = clean;
}

/* The view is the one the request's first stack runs in (ruling 6): a query's or a
 * sample's, whichever comes first, unless the dispatcher's call named it. ts: when s was
 * taken. Samples counted in BPF arrive after stacks taken later (early): one taken before
 * the stack that decided decides. */
static void decide_view(struct record *r, const struct stack *s, uint64_t ts, bool early)
{
	if (r->background || r->view_dispatched || !s->nframes)
		return;
	if (r->view_decided && !(early && ts < r->view_ts))
		return;
	free(r->view_name);
	free(r->scooby_view_name);
	r->view_decided = true;
	r->view_ts = ts;
	r->view_name = s->view ? strdup(s->view) : NULL;
	r->scooby_view_name = s->scooby_view ? strdup(s->scooby_view) : NULL;
	r->view_reason = s->view_reason;
}

void correlator__view(struct correlator *c, uint32_t pid, uint32_t tid, struct view_names *n,
		      const char *reason)
{
	struct record *r = hashmap__get(c->requests, tid);

	/* the first dispatcher call of the request is its view: it runs before the view
	 * does, so before any stack the view's own code takes */
	if (!r || r->pid != pid || r->view_dispatched) {
		view_names__clear(n);
		return;
	}
	free(r->view_name);
	free(r->scooby_view_name);
	r->view_name = n->view;
	r->scooby_view_name = n->scooby;
	r->view_reason = r->view_name ? NULL : reason;
	r->view_dispatched = r->view_decided = true;
	n->view = n->scooby = NULL;
}

void correlator__view_reason(struct correlator *c, uint32_t pid, uint32_t tid, const char *reason)
{
	struct record *r = hashmap__get(c->requests, tid);

	if (r && r->pid == pid && !r->view_decided && !r->view_dispatched)
		r->view_reason = reason;
}

/* Gives q to pid's background record (taking its strings), with reason (static) saying
 * why it has no request, when known. */
static void query_background(struct correlator *c, uint32_t pid, struct query *q,
			     const char *reason)
{
	struct record *r = background(c, pid);

	q->attributed_by = NULL;
	q->attribution_reason = reason;
	if (!r) {
		query__free_strings(q);
		return;
	}
	scrub(c, q);
	if (!record__nqueries_all(r) || q->start_ns < r->start_ns)
		r->start_ns = q->start_ns;
	if (q->end_ns > r->end_ns)
		r->end_ns = q->end_ns;
	record__add_query(r, q);
}

/* How a query found through its task finds it: from the executor thread's frame that
 * holds the Task, or on the event loop's thread from the task's running coroutine. */
static const char *query_by(const struct query *q)
{
	return q->stack.task ? "executor" : "task";
}

/* A held executor query whose task is bound (key) or given up on (key 0). */
static void task_query(struct query *q, uint32_t pid, uint64_t key, void *ctx)
{
	struct correlator *c = ctx;

	if (!key || !correlator__query_to(c, pid, key, q, query_by(q)))
		query_background(c, pid, q,
				 key ? "its task's request had ended" :
				       "its task wrote no response on a traced connection");
}

void correlator__query(struct correlator *c, uint32_t pid, struct query *q)
{
	struct record *r = hashmap__get(c->requests, q->tid);
	uint64_t key;

	if (r && r->pid != pid)
		r = NULL;
	if (!r && q->stack.task_coro) {
		/* an asyncio task's work, in an executor thread or on the loop's: its
		 * request is the one the task answers, which its response write will tell */
		key = taskwait__bound(c->tasks, pid, q->stack.task_coro);
		if (key && correlator__query_to(c, pid, key, q, query_by(q)))
			return;
		if (!key && taskwait__hold(c->tasks, pid, q->stack.task_coro, q))
			return;
	}
	if (!r) {
		query_background(c, pid, q,
				 q->stack.handler_code && !q->stack.task ?
					 "an asgiref executor's query before its frame was known" :
					 NULL);
		return;
	}
	scrub(c, q);
	q->attributed_by = "thread";
	decide_view(r, &q->stack, q->start_ns, false);
	record__add_query(r, q);
}

void correlator__bind_task(struct correlator *c, uint32_t pid, uint64_t coro, uint64_t key)
{
	taskwait__bind(c->tasks, pid, coro, key, task_query, c);
}

bool correlator__query_to(struct correlator *c, uint32_t pid, uint64_t key, struct query *q,
			  const char *by)
{
	struct record *r = hashmap__get(c->requests, key);

	if (!r || r->pid != pid)
		return false;
	scrub(c, q);
	q->attributed_by = by;
	q->attribution_reason = NULL;
	decide_view(r, &q->stack, q->start_ns, false);
	record__add_query(r, q);
	return true;
}

/* Returns the record a sample of (pid, tid) belongs to, background included; NULL on ENOMEM. */
static struct record *owner(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t ts)
{
	struct record *r = hashmap__get(c->requests, tid);

	if (r && r->pid == pid)
		return r;
	r = background(c, pid);
	if (r && (!r->start_ns || ts < r->start_ns))
		r->start_ns = ts;
	if (r && ts > r->end_ns)
		r->end_ns = ts;
	return r;
}

void correlator__samples(struct correlator *c, uint32_t pid, uint32_t tid, const struct stack *s,
			 uint64_t count, uint64_t ts)
{
	uint64_t now = mono_now_ns();
	struct record *r = owner(c, pid, tid, now);

	if (r && !r->profile)
		r->profile = profile__new(c->opts.profile_hz);
	if (r && r->profile) {
		profile__add_samples(r->profile, s->frames, s->nframes, count);
		decide_view(r, s, ts, true);
	}
}

void correlator__offcpu(struct correlator *c, uint32_t pid, uint32_t tid, uint64_t ns)
{
	struct record *r = hashmap__get(c->requests, tid);

	/* the HTTP tracker measures it between the request's own first and last events, so
	 * a thread's sleep outside any request (waiting for work) is never counted */
	if (!r || r->pid != pid || !ns)
		return;
	if (!r->profile)
		r->profile = profile__new(c->opts.profile_hz);
	if (r->profile)
		profile__add_offcpu(r->profile, ns);
}

void correlator__log(struct correlator *c, uint32_t pid, struct log_entry *l)
{
	struct record *r = hashmap__get(c->requests, l->tid);

	/* only a request's writes: the server's own logging between requests is not ours */
	if (!r || r->pid != pid) {
		free(l->s);
		stack__clear(&l->stack);
		return;
	}
	decide_view(r, &l->stack, l->ts, false);
	record__add_log(r, l);
}

void correlator__explain_error(struct correlator *c, uint32_t pid, uint32_t tid,
			       const struct db_kind *db, const char *msg)
{
	struct record *r = hashmap__get(c->requests, tid);
	struct query *q;
	char *text;
	size_t i;

	if (!r || r->pid != pid)
		r = hashmap__get(c->background, pid);
	if (!r)
		return;
	for (i = r->nqueries; i-- > 0;) {
		q = &r->queries[i];
		if (q->tid != tid || q->db != db)
			continue;
		/* only the latest query of the thread, and only once */
		if (!q->error || strchr(q->error, ':'))
			return;
		if (asprintf(&text, "%s: %s", q->error, msg) < 0)
			return;
		free(q->error);
		q->error = text;
		return;
	}
}

static int sweep_background(uint64_t key, void *val, void *ctx)
{
	struct correlator *c = ctx;
	struct record *r = val;

	if (!record__nqueries_all(r) && !r->profile) {
		record__free(r);
		return 1;
	}
	publish(c, r);
	return 1;
}

struct timeout_ctx {
	struct correlator *c;
	uint64_t now;
	uint32_t only_pid; /* 0: every pid past the timeout */
};

static int sweep_requests(uint64_t key, void *val, void *ctx)
{
	struct timeout_ctx *t = ctx;
	struct record *r = val;

	if (t->only_pid ? r->pid != t->only_pid :
			  t->now - r->start_ns < t->c->opts.request_timeout_ns)
		return 0;
	r->end_ns = t->now > r->start_ns ? t->now : r->start_ns;
	r->incomplete = true;
	publish(t->c, r);
	return 1;
}

void correlator__tick(struct correlator *c, uint64_t now)
{
	struct timeout_ctx t = { .c = c, .now = now };

	taskwait__expire(c->tasks, now, c->opts.request_timeout_ns, 0, task_query, c);
	if (now - c->last_background >= c->opts.background_period_ns) {
		hashmap__sweep(c->background, sweep_background, c);
		c->last_background = now;
	}
	hashmap__sweep(c->requests, sweep_requests, &t);
}

static int sweep_pid_background(uint64_t key, void *val, void *ctx)
{
	struct timeout_ctx *t = ctx;

	if (key != t->only_pid)
		return 0;
	return sweep_background(key, val, t->c);
}

void correlator__proc_gone(struct correlator *c, uint32_t pid, uint64_t now)
{
	struct timeout_ctx t = { .c = c, .now = now, .only_pid = pid };

	hashmap__sweep(c->requests, sweep_requests, &t);
	taskwait__expire(c->tasks, now, 0, pid, task_query, c);
	hashmap__sweep(c->background, sweep_pid_background, &t);
	free(hashmap__del(c->comms, pid));
}

void correlator__set_lost(struct correlator *c, uint64_t lost)
{
	c->lost = lost;
}

static int flush_request(uint64_t key, void *val, void *ctx)
{
	struct timeout_ctx *t = ctx;
	struct record *r = val;

	r->end_ns = t->now > r->start_ns ? t->now : r->start_ns;
	r->incomplete = true;
	publish(t->c, r);
	return 1;
}

void correlator__free(struct correlator *c)
{
	struct timeout_ctx t;

	if (!c)
		return;
	t.c = c;
	t.now = mono_now_ns();
	hashmap__sweep(c->requests, flush_request, &t);
	taskwait__expire(c->tasks, t.now, 0, 0, task_query, c);
	taskwait__free(c->tasks);
	hashmap__sweep(c->background, sweep_background, c);
	hashmap__free(c->requests, NULL);
	hashmap__free(c->background, NULL);
	hashmap__free(c->comms, free);
	hashmap__free(c->redacted, redacted_free);
	free(c);
}
