/* asyncio tasks in Python stacks: asgiref's thread_handler frames, told to BPF as met. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "scooby/events.h"
#include "util/hashmap.h"
#include "pytask.h"
#include "scooby.skel.h"

/* Code objects told to BPF, by (pid, code) */
static struct hashmap_table task_codes = HASHMAP_TABLE("task handler codes", 16, 256);

/* thread_handler(self, loop, source_task, exc_info, func, *args, **kwargs) */
#define HANDLER_TASK_LOCAL 2

struct pytasks {
	int codes_fd, procs_fd;
	struct scooby_bpf *skel; /* its .bss holds py_task_procs (mapped at load: read late) */
	struct hashmap *codes; /* hashmap_key2(pid, code) -> pid + 1 */
};

struct pytasks *pytasks__new(int codes_fd, int procs_fd, struct scooby_bpf *skel)
{
	struct pytasks *pt = calloc(1, sizeof(*pt));

	if (!pt)
		return NULL;
	pt->codes_fd = codes_fd;
	pt->procs_fd = procs_fd;
	pt->skel = skel;
	pt->codes = hashmap__new_in(&task_codes);
	if (!pt->codes) {
		free(pt);
		return NULL;
	}
	return pt;
}

void pytasks__free(struct pytasks *pt)
{
	if (!pt)
		return;
	hashmap__free(pt->codes, NULL);
	free(pt);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

bool pytasks__is_handler(const char *function, const char *filename)
{
	if (!function || !filename || !ends_with(filename, "asgiref/sync.py"))
		return false;
	/* co_qualname from 3.11, co_name before */
	return strcmp(function, "SyncToAsync.thread_handler") == 0 ||
	       strcmp(function, "thread_handler") == 0;
}

/* Adds delta to pid's ntask_codes in py_procs; returns 0 or -errno. */
static int bump_count(struct pytasks *pt, uint32_t pid, int delta)
{
	struct sc_py_cfg cfg;
	__u32 key = pid;

	if (bpf_map_lookup_elem(pt->procs_fd, &key, &cfg))
		return -errno;
	cfg.ntask_codes += delta;
	return bpf_map_update_elem(pt->procs_fd, &key, &cfg, BPF_EXIST) ? -errno : 0;
}

void pytasks__note(struct pytasks *pt, uint32_t pid, uint64_t code)
{
	struct sc_code_key key = { .tgid = pid, .code = code };
	struct sc_task_code val = { .local = HANDLER_TASK_LOCAL };
	uint64_t k = hashmap_key2(pid, code);

	if (!pt || hashmap__get(pt->codes, k))
		return;
	if (hashmap__set(pt->codes, k, (void *)(uintptr_t)(pid + 1ULL), NULL))
		return;
	if (bpf_map_update_elem(pt->codes_fd, &key, &val, BPF_ANY) || bump_count(pt, pid, 1)) {
		fprintf(stderr,
			"scooby-bpf: pid %u: cannot tell BPF of asgiref's thread_handler: %s\n",
			pid, strerror(errno));
		return;
	}
	/* from now on response writes look for the task writing them */
	if (pt->skel && pt->skel->bss)
		*(volatile __u32 *)&pt->skel->bss->py_task_procs = 1;
}

struct gone_ctx {
	struct pytasks *pt;
	uint32_t pid;
};

static int forget_one(uint64_t k, void *val, void *p)
{
	struct gone_ctx *g = p;

	/* the key does not give the code back: BPF's entries go with the scan below */
	return (uintptr_t)val - 1 == g->pid;
}

void pytasks__proc_gone(struct pytasks *pt, uint32_t pid)
{
	struct gone_ctx g = { .pt = pt, .pid = pid };
	struct sc_code_key key, next;
	bool first = true;

	if (!pt)
		return;
	hashmap__sweep(pt->codes, forget_one, &g);
	/* py_task_codes is small (256): walk it for pid's entries */
	while (!bpf_map_get_next_key(pt->codes_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (next.tgid == pid)
			bpf_map_delete_elem(pt->codes_fd, &next);
	}
}
