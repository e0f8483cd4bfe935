/* The traced process tree: which processes are traced, their descendants, and the ones gone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "scooby.skel.h"
#include "attach_int.h"
#include "util/hashmap.h"

void attacher__track(struct attacher *a, pid_t pid)
{
	__u32 key = pid, one = 1;

	if (pid == a->self || hashmap__get(a->pids, pid))
		return;
	if (a->opts.pid)
		bpf_map__update_elem(a->skel->maps.tracked, &key, sizeof(key), &one, sizeof(one),
				     BPF_ANY);
	hashmap__set(a->pids, pid, (void *)1, NULL);
}

void attacher__untrack(struct attacher *a, pid_t pid)
{
	__u32 key = pid;

	if (!hashmap__del(a->pids, pid))
		return;
	if (a->opts.pid)
		bpf_map__delete_elem(a->skel->maps.tracked, &key, sizeof(key), 0);
}

size_t attacher__ntracked(struct attacher *a)
{
	return hashmap__size(a->pids);
}

/* Reads a process's parent pid and state from /proc/PID/stat; -1 when gone. */
static int read_stat(pid_t pid, pid_t *ppid, char *state)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %c %d", state, ppid) != 2)
		return -1;
	return 0;
}

bool attacher__alive(pid_t pid)
{
	pid_t ppid;
	char state;

	return read_stat(pid, &ppid, &state) == 0 && state != 'Z' && state != 'X';
}

/* Calls fn on every numeric /proc entry but our own. */
void attach__for_each_pid(pid_t self, void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char *end;
	long pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		fn(pid, ctx);
	}
	closedir(d);
}

struct tree_ctx {
	struct attacher *a;
	int added;
	bool grew;
};

static void adopt_child(pid_t pid, void *p)
{
	struct tree_ctx *c = p;
	pid_t ppid;
	char state;

	if (hashmap__get(c->a->pids, pid) || read_stat(pid, &ppid, &state))
		return;
	if (hashmap__get(c->a->pids, ppid)) {
		attacher__track(c->a, pid);
		c->added++;
		c->grew = true;
	}
}

int attacher__track_tree(struct attacher *a, pid_t pid)
{
	struct tree_ctx c = { .a = a };

	attacher__track(a, pid);
	c.added = 1;
	/* /proc order is not tree order: repeat until no new descendant shows up */
	do {
		c.grew = false;
		attach__for_each_pid(a->self, adopt_child, &c);
	} while (c.grew);
	return c.added;
}

bool attacher__all_gone(struct attacher *a)
{
	return hashmap__size(a->pids) == 0;
}

struct reap_ctx {
	struct attacher *a;
	void (*fn)(pid_t pid, void *ctx);
	void *ctx;
};

static int reap_one(uint64_t key, void *val, void *p)
{
	struct reap_ctx *r = p;
	__u32 pid = key;

	if (attacher__alive(pid))
		return 0;
	if (r->a->opts.pid)
		bpf_map__delete_elem(r->a->skel->maps.tracked, &pid, sizeof(pid), 0);
	r->fn(pid, r->ctx);
	return 1;
}

void attacher__reap(struct attacher *a, void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	struct reap_ctx r = { .a = a, .fn = fn, .ctx = ctx };

	hashmap__sweep(a->pids, reap_one, &r);
}

struct foreach_ctx {
	void (*fn)(pid_t pid, void *ctx);
	void *ctx;
};

static int foreach_one(uint64_t key, void *val, void *p)
{
	struct foreach_ctx *c = p;

	c->fn(key, c->ctx);
	return 0;
}

void attacher__foreach_pid(struct attacher *a, void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	struct foreach_ctx c = { .fn = fn, .ctx = ctx };

	if (a->opts.pid)
		hashmap__sweep(a->pids, foreach_one, &c);
	else
		attach__for_each_pid(a->self, fn, ctx);
}
