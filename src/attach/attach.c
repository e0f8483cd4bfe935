/* Attaching: the BPF object's lifetime, the traced process tree, and uprobes per client library. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "scooby.skel.h"
#include "attach.h"
#include "native/elfsym.h"
#include "util/hashmap.h"
#include "libfind.h"
#include "links.h"
#include "probe_sites.h"
#include "native/procmaps.h"
#include "targets.h"
#include "wire/wire_proto.h" /* wire_parsers: each protocol's well-known port */

/* Library files scanned for probes (one per distinct file) */
static struct hashmap_table library_files = HASHMAP_TABLE("library files", 64, 4096);

/* Executables whose needed libraries were looked for (one per distinct file) */
static struct hashmap_table exe_files = HASHMAP_TABLE("executables read", 64, 4096);

/* Processes in the traced tree */
static struct hashmap_table traced_pids = HASHMAP_TABLE("traced processes", 256, 16384);

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

/* A client library file with our uprobes on it. */
struct lib {
	const struct target_lib *target;
	char path[4200]; /* as the first process that mapped it names it, or as found */
	unsigned slot; /* uprobe cookie and lib_cfg index */
	struct bpf_link **links;
	size_t nlinks;
	char full[4200]; /* the path it was opened by (through /proc/PID/root, maybe) */
	size_t nearly; /* links armed ahead of the mapping (ARM_EARLY) */
	bool mapped; /* a traced process was seen with it mapped */
	bool complete; /* every probe is on (not the first calls' only: ARM_EARLY) */
	bool state_readable; /* SQLite: a statement's state is, sqlite3_reset needs no probe */
};

struct attacher {
	struct attach_opts opts;
	struct scooby_bpf *skel;
	struct bpf_link **tp_links;
	size_t ntp_links;
	struct hashmap *libs; /* file identity (dev, inode) -> struct lib */
	unsigned nslots;
	struct hashmap *pids; /* tracked tgids -> (void *)1 */
	struct hashmap *exes; /* executables read (dev, inode) -> (void *)1 */
	pid_t self;
	int lock_fd; /* links_lock's, from the start until the first scan is done */
	bool started; /* the first scan of the traced processes' maps is done */
};

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* Mounts tracefs where it is missing: tracepoint ids are read from it. */
static void ensure_tracefs(void)
{
	struct statfs st;

	if (statfs("/sys/kernel/tracing", &st) == 0 && st.f_type == TRACEFS_MAGIC)
		return;
	if (access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
}

static void links_destroy(struct bpf_link **links, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	free(links);
}

/* Attaches every tracepoint program; uprobe programs wait for their libraries. */
static int attach_tracepoints(struct attacher *a, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_link *l;

	bpf_object__for_each_program(prog, a->skel->obj)
	{
		enum bpf_prog_type t = bpf_program__type(prog);

		if ((t != BPF_PROG_TYPE_TRACEPOINT && t != BPF_PROG_TYPE_TRACING) ||
		    !bpf_program__autoload(prog))
			continue;
		l = bpf_program__attach(prog);
		if (!l) {
			snprintf(err, errlen, "cannot attach %s: %s", bpf_program__name(prog),
				 strerror(errno));
			return -1;
		}
		if (links__push(&a->tp_links, &a->ntp_links, l)) {
			bpf_link__destroy(l);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Opens a CPU-clock sampling event on every online CPU and runs profile_sample on it; the
 * program keeps only the traced processes' samples. Returns 0 or -1 with the reason. */
static int attach_sampling(struct attacher *a, unsigned hz, char *err, size_t errlen)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		/* the CPU clock counts nanoseconds: a fixed period is exactly hz samples a
		 * second of CPU, where frequency mode lets the kernel adapt (and undershoot) */
		.sample_period = 1000000000ULL / hz,
	};
	int cpu, ncpus = libbpf_num_possible_cpus(), fd, attached = 0;
	struct bpf_link *l;

	for (cpu = 0; cpu < ncpus; cpu++) {
		fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* an offline CPU */
			snprintf(err, errlen, "cannot open a sampling event on CPU %d: %s", cpu,
				 strerror(errno));
			return -1;
		}
		l = bpf_program__attach_perf_event(a->skel->progs.profile_sample, fd);
		if (!l) {
			snprintf(err, errlen, "cannot attach the sampler on CPU %d: %s", cpu,
				 strerror(errno));
			close(fd);
			return -1;
		}
		if (links__push(&a->tp_links, &a->ntp_links, l)) {
			bpf_link__destroy(l);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		attached++;
	}
	return attached ? 0 : (snprintf(err, errlen, "no CPU to sample on"), -1);
}

/* Fills the port -> protocol map the wire capture reads: the stores' well-known ports, then
 * --port-proto (which may override them). Returns 0, or -1 with err set. */
static int set_wire_ports(struct attacher *a, const struct attach_opts *o, char *err, size_t errlen)
{
	const struct wire_parser *const *wp;
	__u32 port, proto;
	int n = 0, i;

	for (wp = wire_parsers; *wp; wp++)
		n++;
	for (i = 0; i < n + o->nport_protos; i++) {
		port = i < n ? wire_parsers[i]->port : o->port_protos[i - n].port;
		proto = i < n ? wire_parsers[i]->proto : o->port_protos[i - n].proto;
		if (bpf_map__update_elem(a->skel->maps.wire_ports, &port, sizeof(port), &proto,
					 sizeof(proto), BPF_ANY)) {
			snprintf(err, errlen, "cannot set the data store ports: %s",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct attacher *attacher__new(const struct attach_opts *o, char *err, size_t errlen)
{
	struct attacher *a;
	int e;

	if (attacher__preflight(err, errlen))
		return NULL;
	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	ensure_tracefs();
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->opts = *o;
	a->self = getpid();
	a->lock_fd = -1;
	a->libs = hashmap__new_in(&library_files);
	a->pids = hashmap__new_in(&traced_pids);
	a->exes = hashmap__new_in(&exe_files);
	a->skel = scooby_bpf__open();
	if (!a->libs || !a->pids || !a->exes || !a->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	a->skel->rodata->self_tgid = a->self;
	a->skel->rodata->trace_all = o->pid == 0;
	a->skel->rodata->max_query = o->max_query;
	a->skel->rodata->stack_depth = o->stack_depth;
	a->skel->rodata->py_stacks = o->stack_depth > 0;
	a->skel->rodata->native_stacks = o->native_stacks;
	a->skel->rodata->wire_enabled = !o->no_wire;
	a->skel->rodata->logs_enabled = !o->no_logs;
	a->skel->rodata->profiling = o->profile_hz > 0;
	/* the profiler's programs (a sched_switch hook among them) load only when asked */
	bpf_program__set_autoload(a->skel->progs.profile_sample, o->profile_hz > 0);
	bpf_program__set_autoload(a->skel->progs.profile_switch, o->profile_hz > 0);
	e = scooby_bpf__load(a->skel);
	if (e) {
		snprintf(err, errlen, "cannot load the BPF programs (%s)%s", strerror(-e),
			 o->verbose ? "" : "; run with -v to see the verifier's log");
		goto fail;
	}
	a->lock_fd = links_lock();
	if (set_wire_ports(a, o, err, errlen) || attach_tracepoints(a, err, errlen))
		goto fail;
	if (o->profile_hz && attach_sampling(a, o->profile_hz, err, errlen))
		goto fail;
	return a;
fail:
	attacher__free(a);
	return NULL;
}

static void lib_free(void *p)
{
	struct lib *l = p;

	if (!l)
		return;
	links_destroy(l->links, l->nlinks);
	free(l);
}

static int count_links(uint64_t key, void *val, void *ctx)
{
	*(size_t *)ctx += ((struct lib *)val)->nlinks;
	return 0;
}

struct links_split {
	struct bpf_link **now, **later; /* detached before we exit, after we exit */
	size_t nnow, nlater;
};

/* Moves every library's links into the arrays at ctx (sized by count_links): those of a
 * library no traced process mapped to later, the others to now. */
static int take_links(uint64_t key, void *val, void *ctx)
{
	struct lib *l = val;
	struct links_split *all = ctx;
	struct bpf_link **v = l->mapped ? all->now : all->later;
	size_t *n = l->mapped ? &all->nnow : &all->nlater;

	memcpy(v + *n, l->links, l->nlinks * sizeof(*l->links));
	*n += l->nlinks;
	free(l->links);
	l->links = NULL;
	l->nlinks = 0;
	return 0;
}

/*
 * Destroys every uprobe and tracepoint link at once (see links.c for why in parallel);
 * whatever cannot be gathered for want of memory is destroyed one by one after. The probes
 * of libraries armed ahead that no traced process ever mapped trap no target: their links
 * are left to links_close_after_exit, so that each costing ~40 ms of the kernel's grace
 * periods does not make our exit wait for them.
 */
static void detach_all(struct attacher *a)
{
	struct links_split all = {};
	size_t total = a->ntp_links;
	int lock = links_lock();

	hashmap__sweep(a->libs, count_links, &total);
	all.now = malloc((total ? total : 1) * sizeof(*all.now));
	all.later = malloc((total ? total : 1) * sizeof(*all.later));
	if (!all.now || !all.later)
		goto cleanup;
	hashmap__sweep(a->libs, take_links, &all);
	memcpy(all.now + all.nnow, a->tp_links, a->ntp_links * sizeof(*all.now));
	all.nnow += a->ntp_links;
	free(a->tp_links);
	a->tp_links = NULL;
	a->ntp_links = 0;
	if (all.nlater && links_close_after_exit(all.later, all.nlater))
		links_destroy_all(all.later, all.nlater);
	links_destroy_all(all.now, all.nnow);
cleanup:
	links_unlock(lock);
	free(all.now);
	free(all.later);
}

void attacher__free(struct attacher *a)
{
	if (!a)
		return;
	/* every probe before the object: no probe may outlive us in the target */
	if (a->libs)
		detach_all(a);
	hashmap__free(a->libs, lib_free);
	links_destroy(a->tp_links, a->ntp_links);
	scooby_bpf__destroy(a->skel);
	hashmap__free(a->pids, NULL);
	hashmap__free(a->exes, NULL);
	links_unlock(a->lock_fd);
	free(a);
}

struct scooby_bpf *attacher__skel(struct attacher *a)
{
	return a->skel;
}

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
static void for_each_pid(pid_t self, void (*fn)(pid_t pid, void *ctx), void *ctx)
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
		for_each_pid(a->self, adopt_child, &c);
	} while (c.grew);
	return c.added;
}

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
		l->state_readable = cfg.sqlite_state_off != 0;
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
		for_each_pid(a->self, prearm_pid, a);
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
		else if (c->a->started && verbose)
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
		for_each_pid(a->self, scan_pid, &c);
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
	else if (verbose)
		fprintf(stderr,
			"scooby-bpf: PID %d mapped %s: armed before the map (%zu probes: a query's; the other %zu %.1f ms after the map)\n",
			pid, e.path, l->nearly, l->nlinks - l->nearly, (mono_ns() - map_ns) / 1e6);
	return fresh;
}

unsigned long long attacher__exec_maps(struct attacher *a)
{
	return *(volatile __u64 *)&a->skel->bss->exec_maps;
}

unsigned long long attacher__lost(struct attacher *a)
{
	return *(volatile __u64 *)&a->skel->bss->lost_total;
}

struct describe_ctx {
	char *buf;
	size_t len, used;
};

static int describe_lib(uint64_t key, void *val, void *p)
{
	struct describe_ctx *d = p;
	struct lib *l = val;
	int n;

	if (d->used >= d->len)
		return 0;
	n = snprintf(d->buf + d->used, d->len - d->used, ", %s (%zu probes, %s)", l->path,
		     l->nlinks, l->mapped ? "loaded" : "not loaded yet");
	if (n > 0)
		d->used += n;
	return 0;
}

void attacher__describe(struct attacher *a, char *buf, size_t len)
{
	struct describe_ctx d = { .buf = buf, .len = len };
	char comm[64] = "";
	FILE *f;
	char path[64];
	int n;

	if (a->opts.pid) {
		snprintf(path, sizeof(path), "/proc/%d/comm", a->opts.pid);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		n = snprintf(buf, len, "to PID %d (%s) and %zu descendant(s): socket syscalls",
			     a->opts.pid, comm, hashmap__size(a->pids) - 1);
	} else {
		n = snprintf(buf, len, "system-wide: socket syscalls");
	}
	d.used = n > 0 ? (size_t)n : 0;
	hashmap__sweep(a->libs, describe_lib, &d);
	if (!hashmap__size(a->libs) && d.used < len)
		snprintf(buf + d.used, len - d.used,
			 "; no client library found yet (each is probed as soon as it is mapped)");
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
		for_each_pid(a->self, fn, ctx);
}

unsigned long long attacher__counter(struct attacher *a, int idx)
{
	int ncpus = libbpf_num_possible_cpus(), i;
	unsigned long long sum = 0;
	__u32 key = idx;
	__u64 *vals;

	if (ncpus <= 0)
		return 0;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (bpf_map__lookup_elem(a->skel->maps.counters, &key, sizeof(key), vals,
				 ncpus * sizeof(*vals), 0) == 0)
		for (i = 0; i < ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}
