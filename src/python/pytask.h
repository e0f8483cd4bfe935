/* asyncio tasks in Python stacks: asgiref's thread_handler frames, told to BPF as met. */
#ifndef SCOOBY_PYTASK_H
#define SCOOBY_PYTASK_H

#include <stdbool.h>
#include <stdint.h>

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
/* Forgets pid's code objects (BPF's entries too). */
void pytasks__proc_gone(struct pytasks *pt, uint32_t pid);

#endif /* SCOOBY_PYTASK_H */
