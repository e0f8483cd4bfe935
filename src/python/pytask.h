/* asyncio tasks in Python stacks: asgiref's thread_handler frames, told to BPF as met, and
 * the locals a query's frames held before any was. */
#ifndef SCOOBY_PYTASK_H
#define SCOOBY_PYTASK_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "scooby/events.h"

struct pytasks;
struct scooby_bpf;

/* Returns a registry writing to BPF's py_task_codes (codes_fd), bumping the process's
 * ntask_codes in py_procs (procs_fd) and setting skel's py_task_procs (skel may be NULL),
 * or NULL on ENOMEM. */
struct pytasks *pytasks__new(int codes_fd, int procs_fd, struct scooby_bpf *skel);
void pytasks__free(struct pytasks *pt);
/* True for asgiref's SyncToAsync.thread_handler (asgiref/sync.py), whose third local
 * (source_task) is the asyncio Task whose sync work its thread runs. */
bool pytasks__is_handler(const char *function, const char *filename);
/* Tells BPF that frames of code object code in pid hold a task (once per code object).
 * NULL pt: no-op. */
void pytasks__note(struct pytasks *pt, uint32_t pid, uint64_t code);
/* Holds e (a query's frame locals) until its stack is taken. NULL pt: no-op. */
void pytasks__locals_event(struct pytasks *pt, const struct sc_pylocals_event *e);
/* Takes the locals sent with the stack of (tid, key_ts) (frames, nframes, as resolved:
 * handler_code is its thread_handler code object, 0 when none): when *task is 0 and the
 * outermost frame of handler_code held a Task, sets *task and *coro to it. A stack with
 * locals and no thread_handler counts towards turning them off for pid. */
void pytasks__locals_take(struct pytasks *pt, uint32_t pid, uint32_t tid, uint64_t key_ts,
			  const struct sc_py_frame *frames, uint32_t nframes, uint64_t handler_code,
			  uint64_t *task, uint64_t *coro);
/* Forgets the locals of (tid, key_ts), if any. */
void pytasks__locals_drop(struct pytasks *pt, uint32_t tid, uint64_t key_ts);
/* Forgets the locals held since before now - max_age_ns. */
void pytasks__expire(struct pytasks *pt, uint64_t now, uint64_t max_age_ns);
/* Forgets pid's code objects (BPF's entries too) and locals. */
void pytasks__proc_gone(struct pytasks *pt, uint32_t pid);

#endif /* SCOOBY_PYTASK_H */
