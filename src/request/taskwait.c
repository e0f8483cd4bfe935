/* Executor queries of asyncio tasks, held until the task's response write names its request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "taskwait.h"

/* Tasks with queries waiting or bound to a request, by (pid, coroutine) */
static struct hashmap_table waiting_tasks = HASHMAP_TABLE("asyncio tasks", 256, 16384);

/* Most queries held for one task: past it, they go to the background at once. */
#define TASK_MAX_HELD 4096

/* One task (known by its coroutine, which is what its response write shows). */
struct task_entry {
	uint32_t pid;
	uint64_t coro;
	uint64_t key; /* the request it is bound to, 0: none yet */
	uint64_t first_ns; /* when its oldest held query arrived */
	struct query *q;
	size_t n, cap;
};

struct taskwait {
	struct hashmap *tasks; /* hashmap_key2(pid, coro) -> struct task_entry */
};

struct taskwait *taskwait__new(void)
{
	struct taskwait *tw = calloc(1, sizeof(*tw));

	if (!tw)
		return NULL;
	tw->tasks = hashmap__new_in(&waiting_tasks);
	if (!tw->tasks) {
		free(tw);
		return NULL;
	}
	return tw;
}

static void entry_free(void *v)
{
	struct task_entry *t = v;
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		query__free_strings(&t->q[i]);
	free(t->q);
	free(t);
}

void taskwait__free(struct taskwait *tw)
{
	if (!tw)
		return;
	hashmap__free(tw->tasks, entry_free);
	free(tw);
}

uint64_t taskwait__bound(const struct taskwait *tw, uint32_t pid, uint64_t coro)
{
	struct task_entry *t = hashmap__get(tw->tasks, hashmap_key2(pid, coro));

	return t && t->pid == pid && t->coro == coro ? t->key : 0;
}

/* Returns the entry of (pid, coro), made when absent; NULL on ENOMEM or at the bound. */
static struct task_entry *entry_get(struct taskwait *tw, uint32_t pid, uint64_t coro)
{
	uint64_t k = hashmap_key2(pid, coro);
	struct task_entry *t = hashmap__get(tw->tasks, k);

	if (t)
		return t->pid == pid && t->coro == coro ? t : NULL;
	t = calloc(1, sizeof(*t));
	if (!t || hashmap__set(tw->tasks, k, t, NULL)) {
		free(t);
		return NULL;
	}
	t->pid = pid;
	t->coro = coro;
	return t;
}

bool taskwait__hold(struct taskwait *tw, uint32_t pid, uint64_t coro, struct query *q)
{
	struct task_entry *t = entry_get(tw, pid, coro);
	struct query *nq;
	size_t ncap;

	if (!t || t->n >= TASK_MAX_HELD)
		return false;
	if (t->n == t->cap) {
		ncap = t->cap ? t->cap * 2 : 8;
		nq = realloc(t->q, ncap * sizeof(*nq));
		if (!nq)
			return false;
		t->q = nq;
		t->cap = ncap;
	}
	if (!t->n)
		t->first_ns = mono_now_ns();
	t->q[t->n++] = *q;
	return true;
}

/* Hands fn t's held queries with key, and empties t. */
static void entry_drain(struct task_entry *t, uint64_t key, taskwait_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		fn(&t->q[i], t->pid, key, ctx);
	t->n = 0;
}

void taskwait__bind(struct taskwait *tw, uint32_t pid, uint64_t coro, uint64_t key, taskwait_fn fn,
		    void *ctx)
{
	struct task_entry *t = entry_get(tw, pid, coro);

	if (!t)
		return;
	t->key = key;
	entry_drain(t, key, fn, ctx);
}

static int unbind_one(uint64_t k, void *val, void *ctx)
{
	struct task_entry *t = val;

	if (t->key != *(uint64_t *)ctx)
		return 0;
	t->key = 0;
	if (t->n)
		return 0;
	entry_free(t);
	return 1;
}

void taskwait__unbind(struct taskwait *tw, uint64_t key)
{
	if (hashmap__size(tw->tasks))
		hashmap__sweep(tw->tasks, unbind_one, &key);
}

struct expire_ctx {
	uint64_t now, max_age_ns;
	uint32_t pid;
	taskwait_fn fn;
	void *ctx;
};

static int expire_one(uint64_t k, void *val, void *p)
{
	struct expire_ctx *x = p;
	struct task_entry *t = val;

	if (x->pid ? t->pid != x->pid :
		     x->max_age_ns && (!t->n || x->now - t->first_ns < x->max_age_ns))
		return 0;
	entry_drain(t, 0, x->fn, x->ctx);
	if (t->key && !x->pid && x->max_age_ns)
		return 0; /* still bound to its open request */
	entry_free(t);
	return 1;
}

void taskwait__expire(struct taskwait *tw, uint64_t now, uint64_t max_age_ns, uint32_t pid,
		      taskwait_fn fn, void *ctx)
{
	struct expire_ctx x = {
		.now = now, .max_age_ns = max_age_ns, .pid = pid, .fn = fn, .ctx = ctx
	};

	hashmap__sweep(tw->tasks, expire_one, &x);
}
