/* scooby-bpf: command line, wiring of the pipeline, signals and the event loop. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "scooby.skel.h"
#include "attach/attach.h"
#include "cli/cli.h"
#include "request/correlate.h"
#include "events/events.h"
#include "record/groups.h"
#include "util/hashmap.h"
#include "record/record.h"
#include "sinks/redis_url.h"
#include "serve/serve.h"
#include "sinks/jsonl.h"
#include "sinks/proffile.h"
#include "sinks/redis.h"
#include "sinks/term.h"

#define TICK_MS 50 /* the BPF side does not wake us per record: this is the drain period */
#define LIB_SCAN_NS (250 * 1000000ULL) /* new processes are looked at for Python this often */
#define SYSWIDE_SCAN_NS (1000 * 1000000ULL)
/* The maps are read when the BPF side saw an executable mapping (a dlopen()ed library is
 * probed a tick or two later), and this often anyway, for one it could not see. */
#define LIB_RESCAN_NS (5000 * 1000000ULL)
#define REAP_EVERY_NS (1000 * 1000000ULL) /* in case a process's exit event was lost */
/* After an exit event, every tick of this window looks for the dead (the exit tracepoint
 * fires before /proc shows a zombie); otherwise they are looked for every REAP_EVERY_NS,
 * in case the event was lost. */
#define REAP_WINDOW_NS (500 * 1000000ULL)
#define FLUSH_TIMEOUT_MS 3000
#define TABLES_LINE_MAX 4096

static volatile sig_atomic_t exiting, status_asked;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		status_asked = 1;
	else
		exiting = 1;
}

/* Where finished records go. */
struct sinks {
	struct redis_sink *redis;
	struct jsonl_sink *jsonl;
	struct proffile_opts prof; /* prof.dir NULL: no profile files */
	bool quiet;
	bool verbose;
	unsigned long long records;
};

#ifdef SCOOBY_TEST_LEAK_BYTES
/* A test build's deliberate leak of SCOOBY_TEST_LEAK_BYTES per record (make soak-leak-ci):
 * proof that the soak's leak check fails on a real leak. Chained so that no tool mistakes
 * it for unreachable memory it could report instead. */
static void test_leak(void)
{
	static void *chain;
	void **p = malloc(SCOOBY_TEST_LEAK_BYTES);

	if (!p)
		return;
	memset(p, 0xa5, SCOOBY_TEST_LEAK_BYTES);
	*p = chain;
	chain = p;
}
#endif

/* Writes the request's profile file; a failure is said, and the run goes on. */
static void write_profile(struct sinks *s, const struct record *r)
{
	char written[PATH_MAX], path[HTTP_PATH_MAX + 1];
	int64_t end_ns = mono_to_unix_ns(r->end_ns);
	int err;

	/* runprofileserver's {path} is the path without its query string */
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(r->path ? r->path : "/", "?"),
		 r->path ? r->path : "/");
	err = proffile__write(&s->prof, r->profile, path, (r->end_ns - r->start_ns) / 1e6,
			      end_ns / 1000000000, written, sizeof(written));
	if (err < 0)
		fprintf(stderr, "scooby-bpf: warning: profile file for %s not written: %s\n", path,
			strerror(-err));
}

/* The correlator's output: JSON to every sink, the line to the terminal. */
static void publish(struct record *r, void *ctx)
{
	struct sinks *s = ctx;
	struct record_groups groups = { .write = true }, again = { .write = true };
	char *json = NULL, *stored = NULL;
	size_t len, stored_len;
	bool ok = true;

#ifdef SCOOBY_TEST_LEAK_BYTES
	test_leak();
#endif
	/* the file gets the full form; Redis the stored one, ~3x smaller (FORMAT.md) */
	if (s->redis) {
		stored = record__to_stored_json(r, &groups, &stored_len);
		ok = stored;
	}
	if (s->jsonl || !s->redis) {
		json = record__to_json_len(r, s->redis ? &again : &groups, &len);
		ok = ok && json;
	}
	r->n_plus_one = groups.n_plus_one;

	if (s->prof.dir && r->profile && !r->background)
		write_profile(s, r);
	if (ok) {
		if (s->jsonl)
			jsonl_sink__write(s->jsonl, json);
		if (s->redis) { /* takes stored */
			redis_sink__publish_owned(s->redis, r->uuid,
						  mono_to_unix_ns(r->start_ns) / 1e6, stored,
						  stored_len);
			stored = NULL;
		}
		s->records++;
	}
	free(stored);
	free(json);
	if (!s->quiet)
		term_sink__print(stdout, r);
	record__free(r);
}

static void proc_gone(pid_t pid, void *ctx)
{
	struct event_router *r = ctx;

	/* commands still waiting for a reply go into the records before they are published */
	wire_tracker__proc_gone(r->wire, pid, mono_now_ns());
	event_router__stores_proc_gone(r, pid);
	correlator__proc_gone(r->corr, pid, mono_now_ns());
	http_tracker__proc_gone(r->http, pid);
	pystack__proc_gone(r->py, pid);
}

static void discover_python(pid_t pid, void *ctx)
{
	pystack__discover(ctx, pid);
}

/* Opens the sinks the options ask for; returns 0 or -1 after printing why. */
static int sinks_open(const struct cli_opts *o, struct sinks *s)
{
	struct redis_sink_opts ro = {};
	struct redis_url url;
	char err[256];

	s->quiet = o->quiet || (o->json_path && strcmp(o->json_path, "-") == 0);
	s->verbose = o->verbose;
	if (redis_url_parse(o->redis_url ? o->redis_url : "redis://127.0.0.1:6379", &url, err,
			    sizeof(err))) {
		fprintf(stderr, "scooby-bpf: bad --redis URL: %s\n", err);
		return -1;
	}
	if (o->prof_path) {
		s->prof.dir = o->prof_path;
		s->prof.format = o->prof_folded ? PROF_FOLDED : PROF_CALLGRIND;
		s->prof.min_ms = o->prof_min_ms;
		s->prof.name_format = o->prof_file;
		/* as runprofileserver: a name format that does not render falls back */
		if (o->prof_file && proffile__check_format(o->prof_file, err, sizeof(err))) {
			fprintf(stderr, "scooby-bpf: warning: %s; using %s\n", err,
				PROFFILE_DEFAULT_FORMAT);
			s->prof.name_format = NULL;
		}
	}
	if (o->json_path) {
		s->jsonl = jsonl_sink__open(o->json_path, err, sizeof(err));
		if (!s->jsonl) {
			fprintf(stderr, "scooby-bpf: %s\n", err);
			return -1;
		}
	}
	ro.url = &url;
	ro.ttl_s = o->ttl;
	ro.keep = o->keep;
	ro.max_pending = o->buffer;
	ro.kicked = true; /* see run() */
	s->redis = redis_sink__new(&ro);
	if (!s->redis) {
		fprintf(stderr, "scooby-bpf: cannot start the Redis publisher: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * SIGUSR1's answer, one line on stderr: the records so far and what became of them, and the
 * heap scooby-bpf has in use (the bytes malloc handed out, which a leak grows and
 * fragmentation does not) against what it holds from the system.
 */
static void print_status(const struct sinks *s, const struct event_router *r)
{
	struct redis_sink_stats st;
	struct mallinfo2 mi = mallinfo2();

	redis_sink__stats(s->redis, &st);
	fprintf(stderr,
		"scooby-bpf: status: %llu records, %llu published to Redis, %llu dropped, %llu queued, %llu events lost; heap %zu KiB in use, %zu KiB held\n",
		s->records, st.published, st.dropped, st.pending,
		attacher__counter(r->att, SC_CNT_LOST), (mi.uordblks + mi.hblkhd) / 1024,
		(mi.arena + mi.hblkhd) / 1024);
}

/* When to read the traced processes' maps for new client libraries. */
struct lib_watch {
	unsigned long long seen; /* the BPF side's count of executable mappings */
	uint64_t last, gap; /* the last read; the least time between two reads */
	int due; /* reads still owed for the last change */
};

/* Returns true when the maps should be read now: the count moved (twice for each move, gap
 * apart: the count moves at the mmap's entry, maybe before the mapping shows), or a long
 * time passed. */
static bool libs_due(struct lib_watch *w, unsigned long long count, uint64_t now)
{
	if (count != w->seen) {
		w->seen = count;
		w->due = 2;
	}
	if ((!w->due || now - w->last < w->gap) && now - w->last < LIB_RESCAN_NS)
		return false;
	if (w->due)
		w->due--;
	w->last = now;
	return true;
}

/* Runs the event loop until a signal, -d, or the target's end. Returns the exit code. */
static int run(const struct cli_opts *o, const struct sinks *sinks, struct event_router *router)
{
	struct attacher *att = router->att;
	uint64_t start = mono_now_ns(), last_scan = start, last_reap = start, reap_until = 0, now;
	uint64_t scan_every = o->pid ? LIB_SCAN_NS : SYSWIDE_SCAN_NS;
	struct lib_watch libs = { .last = start,
				  .seen = attacher__exec_maps(att),
				  .gap = o->pid ? TICK_MS * 1000000ULL : SYSWIDE_SCAN_NS };
	struct ring_buffer *rb;
	int err;

	rb = ring_buffer__new(bpf_map__fd(attacher__skel(att)->maps.events), events__handle, router,
			      NULL);
	if (!rb) {
		fprintf(stderr, "scooby-bpf: cannot open the ring buffer: %s\n", strerror(errno));
		return 1;
	}
	while (!exiting) {
		err = ring_buffer__poll(rb, TICK_MS);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "scooby-bpf: ring buffer: %s\n", strerror(-err));
			break;
		}
		now = mono_now_ns();
		if (libs_due(&libs, attacher__exec_maps(att), now))
			attacher__scan_libs(att);
		if (now - last_scan >= scan_every) {
			if (o->stack_depth)
				attacher__foreach_pid(att, discover_python, router->py);
			/* a capture whose query never came (the query event was lost) */
			pystack__expire(router->py, now, 10 * 1000000000ULL);
			last_scan = now;
		}
		if (router->exits_seen) {
			router->exits_seen = false;
			reap_until = now + REAP_WINDOW_NS;
		}
		if (o->pid && (now < reap_until || now - last_reap >= REAP_EVERY_NS)) {
			last_reap = now;
			attacher__reap(att, proc_gone, router);
			if (attacher__all_gone(att)) {
				ring_buffer__consume(rb);
				fprintf(stderr, "scooby-bpf: target PID %d exited\n", o->pid);
				break;
			}
		}
		correlator__set_lost(router->corr, attacher__lost(att));
		correlator__tick(router->corr, now);
		/* the records of this drain, in one round trip */
		redis_sink__kick(sinks->redis);
		if (status_asked) {
			status_asked = 0;
			print_status(sinks, router);
		}
		if (o->duration && now - start >= o->duration * 1e9)
			break;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return 0;
}

/* Opens the BPF side and every tracker behind it. Returns 0, or -1 after saying why. */
static int router_open(const struct cli_opts *o, struct event_router *r, struct sinks *sinks)
{
	struct correlator_opts co = { .background_period_ns = 1000000000ULL };
	struct attach_opts ao = {
		.pid = o->pid,
		.max_query = o->max_query,
		.stack_depth = o->stack_depth,
		.native_stacks = o->native_stacks,
		.profile_hz = o->profile_hz,
		.no_wire = o->no_wire,
		.no_logs = o->no_logs,
		.view_probe = o->view_probe,
		.port_protos = o->port_protos,
		.nport_protos = o->nport_protos,
		.verbose = o->verbose,
	};
	struct store_env env = { .max_text = o->max_query };
	char msg[512];
	int err = 0;

	r->att = attacher__new(&ao, msg, sizeof(msg));
	if (!r->att) {
		fprintf(stderr, "scooby-bpf: %s\n", msg);
		return -1;
	}
	co.request_timeout_ns = o->request_timeout * 1e9;
	co.redact = o->redact;
	co.profile_hz = o->profile_hz;
	r->corr = correlator__new(&co, publish, sinks);
	r->py = pystack__new(bpf_map__fd(attacher__skel(r->att)->maps.py_procs),
			     bpf_map__fd(attacher__skel(r->att)->maps.prof_known));
	if (r->py) {
		struct scooby_bpf *skel = attacher__skel(r->att);
		int resp_fds[4] = { bpf_map__fd(skel->maps.py_resp_types),
				    bpf_map__fd(skel->maps.py_resp_codes),
				    bpf_map__fd(skel->maps.py_resp_keys),
				    bpf_map__fd(skel->maps.py_resp_attrs) };

		pystack__set_dispatchers(r->py, bpf_map__fd(skel->maps.py_dispatchers));
		pystack__set_resp_maps(r->py, resp_fds);
	}
	if (r->py &&
	    pystack__set_task_codes(r->py, bpf_map__fd(attacher__skel(r->att)->maps.py_task_codes),
				    attacher__skel(r->att))) {
		pystack__free(r->py);
		r->py = NULL;
	}
	if (r->corr && r->py) {
		env.corr = r->corr;
		env.ps = o->stack_depth ? r->py : NULL;
		r->http = http_tracker__new(r->corr);
		err = event_router__open_stores(r, &env);
		r->wire = wire_tracker__new(r->corr, o->stack_depth ? r->py : NULL, o->max_query);
	}
	if (!r->corr || !r->py || !r->http || err || !r->wire) {
		fprintf(stderr, "scooby-bpf: out of memory\n");
		return -1;
	}
	return 0;
}

/* Detaches every probe first (the target runs untouched while we flush), then publishes
 * what is still open and frees the trackers. Returns the ring-buffer records lost; *queries
 * gets how many of them ended a query (SQLite executions, libpq returns). */
static unsigned long long router_close(struct event_router *r, unsigned long long *queries)
{
	unsigned long long lost = r->att ? attacher__counter(r->att, SC_CNT_LOST) : 0;

	*queries = event_router__lost_query_ends(r);
	attacher__free(r->att);
	r->att = NULL;
	if (r->corr)
		correlator__set_lost(r->corr, lost);
	wire_tracker__free(r->wire); /* its waiting commands go into records first */
	event_router__free_stores(r); /* likewise what the stores hold open */
	correlator__free(r->corr);
	http_tracker__free(r->http);
	pystack__free(r->py);
	return lost;
}

struct tables_line {
	char buf[TABLES_LINE_MAX];
	size_t len;
	bool all; /* -v: unused tables too */
};

/* Warns of a table that refused entries at its bound (what it could not hold was not
 * captured), and adds its peak against its bound to the exit report. */
static void report_table(const struct hashmap_table *t, void *ctx)
{
	struct tables_line *l = ctx;
	int n;

	if (t->refused)
		fprintf(stderr,
			"scooby-bpf: warning: %s: %llu new entries refused at the bound of %zu\n",
			t->name, (unsigned long long)t->refused, t->bound);
	if (l->len >= sizeof(l->buf) || (!t->peak && !l->all))
		return;
	n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s %zu/%zu, ", t->name, t->peak,
		     t->bound);
	if (n > 0)
		l->len += n;
}

/* Says how full each bounded table and the Redis queue ever got, the line before the exit
 * line: the tables used (every one with -v), and a warning for one that refused entries. */
static void report_tables(const struct redis_sink_stats *st, bool verbose)
{
	struct tables_line l = { .all = verbose };

	hashmap_tables__foreach(report_table, &l);
	fprintf(stderr,
		"scooby-bpf: tables (peak/bound): %.*sRedis queue %zu/%zu records %zu/%zu bytes\n",
		(int)(l.len < sizeof(l.buf) ? l.len : sizeof(l.buf)), l.buf, st->peak_pending,
		st->max_pending, st->peak_bytes, st->max_bytes);
}

/* Flushes the sinks and says what became of the records. */
static void sinks_close(struct sinks *s, bool report, unsigned long long lost,
			unsigned long long lost_queries)
{
	struct redis_sink_stats st = {};
	size_t left = 0;

	if (s->redis) {
		left = redis_sink__flush(s->redis, FLUSH_TIMEOUT_MS);
		redis_sink__stats(s->redis, &st);
		redis_sink__free(s->redis);
	}
	if (report) {
		report_tables(&st, s->verbose); /* before the exit line, which stays the last */
		fprintf(stderr,
			"scooby-bpf: detached; %llu records, %llu published to Redis, %llu dropped, %zu unsent, %llu events lost (%llu query ends)\n",
			s->records, st.published, st.dropped, left, lost, lost_queries);
	}
	jsonl_sink__close(s->jsonl);
}

int main(int argc, char **argv)
{
	struct event_router router = {};
	unsigned long long lost, lost_queries;
	struct sigaction sa = {};
	struct sinks sinks = {};
	struct cli_opts o;
	char msg[2048];
	int err = 1;

	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	/* Records (~30 KB each) are made on this thread and freed on the Redis sink's: with
	 * glibc's default thresholds the heap's top is trimmed and grown back again and again,
	 * each trim a TLB shootdown on every CPU the process runs on (tens of us on a VM) and
	 * each growth page faults. Keep up to 4 MiB free at the top; blocks under 512 KiB
	 * come from the heap. */
	mallopt(M_MMAP_THRESHOLD, 512 << 10);
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
	switch (cli_parse(argc, argv, &o)) {
	case CLI_EXIT_OK:
		return 0;
	case CLI_EXIT_ERROR:
		return 2;
	case CLI_RUN:
		break;
	}
	if (o.pid && kill(o.pid, 0) && errno == ESRCH) {
		fprintf(stderr, "scooby-bpf: no such process: %d\n", o.pid);
		return 1;
	}
	if (attacher__preflight(msg, sizeof(msg))) {
		fprintf(stderr, "scooby-bpf: %s\n", msg);
		return 1;
	}
	clock_ref__init();
	if (sinks_open(&o, &sinks) || router_open(&o, &router, &sinks))
		goto cleanup;
	if (o.pid && attacher__track_tree(router.att, o.pid) <= 0) {
		fprintf(stderr, "scooby-bpf: no such process: %d\n", o.pid);
		goto cleanup;
	}
	attacher__scan_libs(router.att);
	if (o.stack_depth)
		attacher__foreach_pid(router.att, discover_python, router.py);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	attacher__describe(router.att, msg, sizeof(msg));
	fprintf(stderr, "scooby-bpf: attached %s\n", msg);
	err = run(&o, &sinks, &router);
cleanup:
	lost = router_close(&router, &lost_queries);
	sinks_close(&sinks, err == 0, lost, lost_queries);
	return err;
}
