/* Arming the client libraries: which files, their probes (all, a first query's ahead, the rest), on sight of a mapping. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "scooby.skel.h"
#include "attach_int.h"
#include "libfind.h"
#include "links.h"
#include "native/procmaps.h"
#include "probe_sites.h"
#include "util/hashmap.h"

/* Identity of a mapped file, so a library shared by many processes is probed once. */
static uint64_t file_key(const struct procmaps_entry *e)
{
	return ((uint64_t)e->dev_major << 56) ^ ((uint64_t)e->dev_minor << 40) ^ e->inode;
}

/* The same identity for a file found by path (the device as /proc/PID/maps shows it).
 * Returns 0, or -1 when the file cannot be reached. */
static int path_key(const char *path, uint64_t *key)
{
	struct stat st;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	*key = ((uint64_t)major(st.st_dev) << 56) ^ ((uint64_t)minor(st.st_dev) << 40) ^ st.st_ino;
	return 0;
}

/* Which of a library's probes attach_lib puts on */
enum arm_set {
	ARM_ALL,
	ARM_EARLY, /* a library no traced process maps yet: what its first query needs */
	ARM_REST, /* the others, once it is mapped */
};

/* Puts the probes of set on the library file (its struct offsets first, unless ARM_REST);
 * returns 0 or -errno. */
static int attach_lib(struct attacher *a, struct lib *l, enum arm_set set)
{
	struct sc_lib_cfg cfg = {};
	const struct probe_spec *p;
	struct bpf_program *prog;
	unsigned long long off;
	__u32 slot = l->slot;
	bool callee = false;
	size_t i;
	int err;

	if (set != ARM_REST) {
		err = l->target->configure(l->path, &cfg);
		if (err)
			fprintf(stderr,
				"scooby-bpf: warning: %s: struct offsets not found (%s); some texts and errors will be missing\n",
				l->path, strerror(-err));
		bpf_map__update_elem(a->skel->maps.lib_cfg, &slot, sizeof(slot), &cfg, sizeof(cfg),
				     BPF_ANY);
		l->state_readable = l->target->state_readable && l->target->state_readable(&cfg);
	}
	l->complete = set != ARM_EARLY;
	/* one answer for the library: its callee probes all go on, or none (else a call
	 * would be counted both at its wrapper and at the callee) */
	for (i = 0; i < l->target->nprobes && !callee; i++)
		if (l->target->probes[i].callee_of)
			callee =
				!probe_sites__callee(l->path, l->target->probes[i].callee_of, &off);
	for (i = 0; i < l->target->nprobes; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);

		p = &l->target->probes[i];
		if ((p->unless_state && l->state_readable) ||
		    (set != ARM_ALL && targets__early(l->target, p->sym) != (set == ARM_EARLY)))
			continue;
		if ((p->callee_of && !callee) || (p->unless_callee && callee))
			continue;
		prog = bpf_object__find_program_by_name(a->skel->obj, p->prog);
		if (!prog)
			return -ENOENT;
		uo.func_name = p->sym;
		uo.retprobe = p->ret;
		uo.bpf_cookie = (__u64)p->func << 16 | l->slot;
		err = probe_sites__attach(prog, l->path, p, &uo, &l->links, &l->nlinks);
		if (err == -ENOMEM)
			return err;
		if (err < 0 && !p->optional)
			fprintf(stderr, "scooby-bpf: warning: cannot probe %s in %s: %s\n", p->sym,
				l->path, strerror(-err));
	}
	return 0;
}

/*
 * Probes the library file of target t at full (the path to open: through /proc/PID/root
 * for a file in a process's root) under key, and names it shown after. Returns the new
 * library, or NULL when out of slots (said on stderr) or memory.
 */
static struct lib *lib_arm(struct attacher *a, const struct target_lib *t, uint64_t key,
			   const char *full, const char *shown, enum arm_set set)
{
	struct lib *l;

	if (a->nslots >= SC_MAX_LIBS) {
		fprintf(stderr,
			"scooby-bpf: warning: more than %d client libraries; %s not probed\n",
			SC_MAX_LIBS, shown);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->target = t;
	l->slot = a->nslots++;
	snprintf(l->path, sizeof(l->path), "%s", full);
	if (hashmap__set(a->libs, key, l, NULL)) {
		free(l);
		return NULL;
	}
	attach_lib(a, l, set);
	l->nearly = set == ARM_EARLY ? l->nlinks : 0;
	snprintf(l->path, sizeof(l->path), "%s", shown);
	snprintf(l->full, sizeof(l->full), "%s", full);
	return l;
}

/* libfind callback: arms the client library file at path inside root unless armed. */
static void prearm_file(const char *root, const char *path, void *ctx)
{
	char full[PATH_MAX], shown[PATH_MAX], *rp = NULL;
	const struct target_lib *t;
	struct attacher *a = ctx;
	uint64_t key;

	snprintf(full, sizeof(full), "%s%s", root, path);
	/* the file itself, as a mapping of it will name it (libsqlite3.so.0 is a link) */
	if (!root[0] && (rp = realpath(full, NULL)))
		snprintf(full, sizeof(full), "%s", rp);
	free(rp);
	snprintf(shown, sizeof(shown), "%s", root[0] ? path : full);
	t = targets__match(shown);
	if (!t || t->interpreter || path_key(full, &key) || hashmap__get(a->libs, key) ||
	    !libfind__is_elf64(full))
		return;
	lib_arm(a, t, key, full, shown, ARM_EARLY);
}

/* Arms the client libraries pid's executable needs, and a Python's modules need, once per
 * executable file. Returns 1 when the executable was new. */
static int prearm_exe(struct attacher *a, pid_t pid)
{
	char link[64];
	uint64_t key;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	if (path_key(link, &key) || hashmap__get(a->exes, key))
		return 0;
	hashmap__set(a->exes, key, (void *)1, NULL);
	libfind__process(pid, prearm_file, a);
	return 1;
}

static void prearm_pid(pid_t pid, void *p)
{
	prearm_exe(p, pid);
}

static int prearm_tracked(uint64_t key, void *val, void *p)
{
	prearm_exe(p, key);
	return 0;
}

/* Arms, before any process maps them, the client libraries found on the machine and those
 * the traced processes' executables and Python modules need. */
static void prearm(struct attacher *a)
{
	libfind__system("", prearm_file, a);
	if (a->opts.pid)
		hashmap__sweep(a->pids, prearm_tracked, a);
	else
		attach__for_each_pid(a->self, prearm_pid, a);
}

struct scan_ctx {
	struct attacher *a;
	pid_t pid;
	int attached;
};

/*
 * Probes the client library file of mapping e of pid unless that file is probed already.
 * Returns the library (new or known), or NULL when e is no client library or it could not
 * be probed (said on stderr); *fresh says whether it was probed just now.
 */
static struct lib *arm_mapping(struct attacher *a, pid_t pid, const struct procmaps_entry *e,
			       bool *fresh)
{
	const struct target_lib *t = targets__match(e->path);
	char full[4200], rbuf[64];
	uint64_t key;
	struct lib *l;

	*fresh = false;
	if (!t || e->deleted || (t->interpreter && !a->opts.view_probe))
		return NULL;
	/* through the process's root, so a library inside a container is the right file */
	snprintf(full, sizeof(full), "%s%s", libfind__root(pid, rbuf, sizeof(rbuf)), e->path);
	if (path_key(full, &key))
		key = file_key(e);
	l = hashmap__get(a->libs, key);
	if (l && !l->complete) {
		/* armed ahead, the first calls' probes only: the others now */
		snprintf(l->path, sizeof(l->path), "%s", l->full);
		attach_lib(a, l, ARM_REST);
		snprintf(l->path, sizeof(l->path), "%s", e->path);
	}
	if (l)
		return l;
	l = lib_arm(a, t, key, full, e->path, ARM_ALL);
	*fresh = l != NULL;
	return l;
}

static int scan_mapping(const struct procmaps_entry *e, void *p)
{
	struct scan_ctx *c = p;
	bool fresh;
	struct lib *l = arm_mapping(c->a, c->pid, e, &fresh);

	if (!l)
		return 0;
	c->attached += fresh;
	if (!l->mapped) {
		/* probed on sight of the mapping, after the start: the calls before are lost */
		l->mapped = true;
		if (c->a->started && fresh)
			fprintf(stderr,
				"scooby-bpf: PID %d has %s mapped: probed at the rescan, its calls until now are not seen\n",
				c->pid, e->path);
		else if (c->a->started && c->a->opts.verbose)
			/* the rescan saw it before the mmap event came: said as that one says it */
			fprintf(stderr,
				"scooby-bpf: PID %d mapped %s: armed before the map (%zu probes: a query's; the other %zu at the rescan, after the map)\n",
				c->pid, e->path, l->nearly, l->nlinks - l->nearly);
	}
	return 0;
}

static void scan_pid(pid_t pid, void *p)
{
	struct scan_ctx *c = p;

	c->pid = pid;
	procmaps_foreach_exec(pid, scan_mapping, c);
}

static int scan_tracked(uint64_t key, void *val, void *p)
{
	scan_pid(key, p);
	return 0;
}

int attacher__scan_libs(struct attacher *a)
{
	struct scan_ctx c = { .a = a };

	if (!a->started)
		prearm(a);
	if (a->opts.pid)
		hashmap__sweep(a->pids, scan_tracked, &c);
	else
		attach__for_each_pid(a->self, scan_pid, &c);
	if (!a->started) {
		links_unlock(a->lock_fd);
		a->lock_fd = -1;
	}
	a->started = true;
	return c.attached;
}

struct mapped_ctx {
	unsigned long long addr;
	struct procmaps_entry *e;
};

static int find_mapping(const struct procmaps_entry *e, void *p)
{
	struct mapped_ctx *c = p;

	if (c->addr < e->start || c->addr >= e->end)
		return 0;
	*c->e = *e;
	return 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int attacher__arm_mapped(struct attacher *a, pid_t pid, unsigned long long addr, uint64_t map_ns)
{
	static struct procmaps_entry e; /* 4 KiB of path: not on the stack */
	struct mapped_ctx c = { .addr = addr, .e = &e };
	bool fresh;
	struct lib *l;

	/* a process that exec'ed since: what its program and modules need, before they load */
	prearm_exe(a, pid);
	if (procmaps_foreach_exec(pid, find_mapping, &c) != 1)
		return 0; /* unmapped again, or the process is gone: the rescan has the rest */
	l = arm_mapping(a, pid, &e, &fresh);
	if (!l || l->mapped)
		return 0;
	l->mapped = true;
	/* said without -v too when late: the calls in that window are the ones not seen */
	if (fresh)
		fprintf(stderr,
			"scooby-bpf: PID %d mapped %s: probed (%zu probes) %.1f ms after the map; calls into it before then are not seen\n",
			pid, e.path, l->nlinks, (mono_ns() - map_ns) / 1e6);
	else if (a->opts.verbose)
		fprintf(stderr,
			"scooby-bpf: PID %d mapped %s: armed before the map (%zu probes: a query's; the other %zu %.1f ms after the map)\n",
			pid, e.path, l->nearly, l->nlinks - l->nearly, (mono_ns() - map_ns) / 1e6);
	return fresh;
}
