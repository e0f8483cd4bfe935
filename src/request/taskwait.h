/* Executor queries of asyncio tasks, held until the task's response write names its request. */
#ifndef SCOOBY_TASKWAIT_H
#define SCOOBY_TASKWAIT_H

#include <stdbool.h>
#include <stdint.h>
#include "record/record.h"

struct taskwait;

/* Returns an empty set of waiting queries, or NULL on ENOMEM. */
struct taskwait *taskwait__new(void);
/* Frees what is still held (the caller has taken what it wants with taskwait__expire). */
void taskwait__free(struct taskwait *tw);
/* Returns the request key (the connection's) pid's task of coroutine coro is bound to,
 * 0 when it is bound to none. */
uint64_t taskwait__bound(const struct taskwait *tw, uint32_t pid, uint64_t coro);
/* Holds q (taking its strings) until its task is bound; false on ENOMEM or at the bound
 * (q untouched). */
bool taskwait__hold(struct taskwait *tw, uint32_t pid, uint64_t coro, struct query *q);
/* Receives one query: give it to a request, or to the background; takes its strings. */
typedef void (*taskwait_fn)(struct query *q, uint32_t pid, uint64_t key, void *ctx);
/* Binds pid's task of coroutine coro to request key and hands fn its held queries, in the
 * order they were held, with that key. */
void taskwait__bind(struct taskwait *tw, uint32_t pid, uint64_t coro, uint64_t key, taskwait_fn fn,
		    void *ctx);
/* Ends every binding to request key (it ended). */
void taskwait__unbind(struct taskwait *tw, uint64_t key);
/* Hands fn (key 0) the queries held since before now - max_age_ns, or all of pid's when
 * pid is nonzero, or all when max_age_ns is 0. */
void taskwait__expire(struct taskwait *tw, uint64_t now, uint64_t max_age_ns, uint32_t pid,
		      taskwait_fn fn, void *ctx);

#endif /* SCOOBY_TASKWAIT_H */
