/* Attaching: the BPF object's lifetime (open, load, tracepoints, sampling, every link at the end) and its counters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "scooby.skel.h"
#include "attach_int.h"
#include "util/hashmap.h"
#include "links.h"
#include "probe_sites.h" /* links__push */
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

/* Keeps link l among the tracepoint links; returns 0, or -1 with the reason (l destroyed). */
static int keep_tp_link(struct attacher *a, struct bpf_link *l, const char *what, char *err,
			size_t errlen)
{
	if (!l) {
		snprintf(err, errlen, "cannot attach %s: %s", what, strerror(errno));
		return -1;
	}
	if (links__push(&a->tp_links, &a->ntp_links, l)) {
		bpf_link__destroy(l);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Syscall exits served by the program of another one (bpf/http.bpf.c's http_write_ret):
 * verified once, attached to each. */
static const char *const shared_exits[] = { "sys_exit_sendto", "sys_exit_writev",
					    "sys_exit_sendmsg", "sys_exit_sendfile64" };

/* Attaches every tracepoint program; uprobe programs wait for their libraries. */
static int attach_tracepoints(struct attacher *a, char *err, size_t errlen)
{
	struct bpf_program *prog;
	size_t i;

	bpf_object__for_each_program(prog, a->skel->obj)
	{
		enum bpf_prog_type t = bpf_program__type(prog);

		if ((t != BPF_PROG_TYPE_TRACEPOINT && t != BPF_PROG_TYPE_TRACING) ||
		    !bpf_program__autoload(prog))
			continue;
		if (keep_tp_link(a, bpf_program__attach(prog), bpf_program__name(prog), err,
				 errlen))
			return -1;
	}
	prog = a->skel->progs.http_write_ret;
	for (i = 0; i < sizeof(shared_exits) / sizeof(shared_exits[0]); i++)
		if (keep_tp_link(a,
				 bpf_program__attach_tracepoint(prog, "syscalls", shared_exits[i]),
				 shared_exits[i], err, errlen))
			return -1;
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
		if (keep_tp_link(a, l, "the sampler", err, errlen))
			return -1;
		attached++;
	}
	return attached ? 0 : (snprintf(err, errlen, "no CPU to sample on"), -1);
}

/* Puts the stack capture every uprobe tail-calls (bpf/pystack.bpf.c) in its slot, before any
 * uprobe is attached. Returns 0, or -1 with err set. */
static int set_capture_prog(struct attacher *a, char *err, size_t errlen)
{
	int fd = bpf_program__fd(a->skel->progs.py_capture_prog);
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.py_capture_progs), &zero, &fd, BPF_ANY)) {
		snprintf(err, errlen, "cannot set the stack capture program: %s", strerror(errno));
		return -1;
	}
	return 0;
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
	/* the profiler's sampling program loads only when asked */
	bpf_program__set_autoload(a->skel->progs.profile_sample, o->profile_hz > 0);
	e = scooby_bpf__load(a->skel);
	if (e) {
		snprintf(err, errlen, "cannot load the BPF programs (%s)%s", strerror(-e),
			 o->verbose ? "" : "; run with -v to see the verifier's log");
		goto fail;
	}
	a->lock_fd = links_lock();
	if (set_capture_prog(a, err, errlen) || set_wire_ports(a, o, err, errlen) ||
	    attach_tracepoints(a, err, errlen))
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
