/* asyncio tasks in Python stacks: asgiref's thread_handler frames, told to BPF as met, and
 * the locals a query's frames held before any was. */
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

/* Frame locals sent with a query's stack (SC_EV_PYLOCALS) until the query takes its stack */
static struct hashmap_table seek_locals = HASHMAP_TABLE("frame locals waiting", 64, 65536);

/* Per process, its SC_EV_PYLOCALS that held no thread_handler frame */
static struct hashmap_table seek_misses = HASHMAP_TABLE("frame locals missed", 16, 16384);

/* A process's stacks with locals that held no thread_handler frame before BPF stops sending
 * them (a sync server's queries outside requests: background threads, start-up) */
#define SEEK_MISSES_MAX 16

/* One SC_EV_PYLOCALS, waiting for its stack to be taken. */
struct seek_entry {
	uint32_t pid, nframes;
	uint64_t key_ts;
	struct sc_pylocal_slot slots[];
};

struct pytasks {
	int codes_fd, procs_fd;
	struct scooby_bpf *skel; /* its .bss holds py_task_procs (mapped at load: read late) */
	struct hashmap *codes; /* hashmap_key2(pid, code) -> pid + 1 */
	struct hashmap *seek; /* hashmap_key2(tid, key_ts) -> struct seek_entry */
	struct hashmap *misses; /* pid -> count */
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
	pt->seek = hashmap__new_in(&seek_locals);
	pt->misses = hashmap__new_in(&seek_misses);
	if (!pt->codes || !pt->seek || !pt->misses) {
		pytasks__free(pt);
		return NULL;
	}
	return pt;
}

void pytasks__free(struct pytasks *pt)
{
	if (!pt)
		return;
	hashmap__free(pt->codes, NULL);
	hashmap__free(pt->seek, free);
	hashmap__free(pt->misses, NULL);
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
	struct sc_task_code val = { .local = SC_PY_HANDLER_TASK_LOCAL };
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

void pytasks__locals_event(struct pytasks *pt, const struct sc_pylocals_event *e)
{
	uint32_t n = e->nframes > SC_PY_MAX_FRAMES ? SC_PY_MAX_FRAMES : e->nframes;
	struct seek_entry *s;
	void *old = NULL;

	if (!pt)
		return;
	s = malloc(sizeof(*s) + n * sizeof(s->slots[0]));
	if (!s)
		return;
	s->pid = e->hdr.pid;
	s->nframes = n;
	s->key_ts = e->key_ts;
	memcpy(s->slots, e->slots, n * sizeof(s->slots[0]));
	if (hashmap__set(pt->seek, hashmap_key2(e->hdr.tid, e->key_ts), s, &old))
		free(s);
	free(old);
}

/* Turns the locals off for pid in BPF (sc_py_cfg.seek) after SEEK_MISSES_MAX misses. */
static void seek_missed(struct pytasks *pt, uint32_t pid)
{
	uintptr_t n = (uintptr_t)hashmap__get(pt->misses, pid) + 1;
	struct sc_py_cfg cfg;
	__u32 key = pid;

	if (hashmap__set(pt->misses, pid, (void *)n, NULL) || n != SEEK_MISSES_MAX)
		return;
	if (bpf_map_lookup_elem(pt->procs_fd, &key, &cfg))
		return;
	cfg.seek = 0;
	cfg.seek_sent = 0;
	bpf_map_update_elem(pt->procs_fd, &key, &cfg, BPF_EXIST);
}

void pytasks__locals_take(struct pytasks *pt, uint32_t pid, uint32_t tid, uint64_t key_ts,
			  const struct sc_py_frame *frames, uint32_t nframes, uint64_t handler_code,
			  uint64_t *task, uint64_t *coro)
{
	struct seek_entry *s;
	uint32_t i;

	if (!pt)
		return;
	s = hashmap__del(pt->seek, hashmap_key2(tid, key_ts));
	if (!s)
		return;
	if (s->pid != pid || s->key_ts != key_ts || s->nframes != nframes || *task)
		goto out;
	if (!handler_code) {
		seek_missed(pt, pid);
		goto out;
	}
	/* the outermost thread_handler frame's, as BPF's walk keeps when it knows the code */
	for (i = nframes; i-- > 0;) {
		if (frames[i].code != handler_code)
			continue;
		if (s->slots[i].task && s->slots[i].coro) {
			*task = s->slots[i].task;
			*coro = s->slots[i].coro;
		}
		break;
	}
out:
	free(s);
}

void pytasks__locals_drop(struct pytasks *pt, uint32_t tid, uint64_t key_ts)
{
	if (pt)
		free(hashmap__del(pt->seek, hashmap_key2(tid, key_ts)));
}

struct seek_expire_ctx {
	uint64_t now, max_age;
	uint32_t pid; /* 0: by age */
};

static int seek_expire_one(uint64_t k, void *val, void *p)
{
	struct seek_expire_ctx *x = p;
	struct seek_entry *s = val;

	if (x->pid ? s->pid != x->pid : x->now - s->key_ts < x->max_age)
		return 0;
	free(s);
	return 1;
}

void pytasks__expire(struct pytasks *pt, uint64_t now, uint64_t max_age_ns)
{
	struct seek_expire_ctx x = { .now = now, .max_age = max_age_ns };

	if (pt && hashmap__size(pt->seek))
		hashmap__sweep(pt->seek, seek_expire_one, &x);
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
	struct seek_expire_ctx x = { .pid = pid };
	bool first = true;

	if (!pt)
		return;
	hashmap__sweep(pt->codes, forget_one, &g);
	hashmap__sweep(pt->seek, seek_expire_one, &x);
	hashmap__del(pt->misses, pid);
	/* py_task_codes is small (256): walk it for pid's entries */
	while (!bpf_map_get_next_key(pt->codes_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (next.tgid == pid)
			bpf_map_delete_elem(pt->codes_fd, &next);
	}
}
