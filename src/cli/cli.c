/* Command line: options, their defaults and checks, and the help text. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/types.h>
#include "cli.h"
#include "scooby/events.h"
#include "wire/wire_proto.h"

static const char usage[] =
	"Usage: scooby-bpf [-p PID] [options]\n"
	"\n"
	"Attach to a running web application and record, for every HTTP request it serves,\n"
	"the queries it ran (SQLite, PostgreSQL, MySQL/MariaDB, Redis, memcached) with their\n"
	"timings and stacks, and what it logged, published as\n"
	"JSON to Redis under a random uuid. No restart, no code change: uprobes and syscall\n"
	"tracepoints only. Without -p, every process on the machine is traced.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID            trace PID and all its descendants, present and future\n"
	"      --redis URL          redis://[user:password@]host[:port][/db] or unix:///path\n"
	"                           (default redis://127.0.0.1:6379; REDISCLI_AUTH is used\n"
	"                           when the URL has no password)\n"
	"      --ttl SECONDS        lifetime of each record in Redis (default 600)\n"
	"      --keep N             records kept in Redis: the newest N in the scooby:requests\n"
	"                           index, and each one trimmed from it deleted (default\n"
	"                           10000, at most 1000000)\n"
	"      --buffer N           records held while Redis is unreachable (default 10000,\n"
	"                           and at most 128 MiB of them; the oldest go first)\n"
	"      --json FILE          also write each record as a JSON line to FILE (- = stdout)\n"
	"  -d, --duration SECONDS   stop after that long\n"
	"      --max-query BYTES    SQL text kept per query, longer is cut and marked\n"
	"                           (default 4096, at most 16382)\n"
	"      --stack-depth N      Python frames kept per query, innermost first\n"
	"                           (default 64, at most 128; 0: no stacks)\n"
	"      --native-stacks      add the native frames (frame pointers) under the\n"
	"                           Python ones; processes without Python get them anyway\n"
	"      --redact             replace string and number literals in SQL with ?\n"
	"                           (passwords in ALTER USER ... PASSWORD '...' and\n"
	"                           IDENTIFIED BY '...' are masked always)\n"
	"      --profile[=HZ]       sample the traced threads on CPU HZ times a second\n"
	"                           (default 999) and time them off CPU: each record\n"
	"                           gets plugins_data.Profile\n"
	"      --prof-path DIR      also write one profile file per request into DIR\n"
	"      --prof-file FORMAT   its name: keys {path} {duration} {time}, as Django's\n"
	"                           runprofileserver (default {path}.{duration:06d}ms.{time})\n"
	"      --prof-format F      callgrind (default; kcachegrind, callgrind_annotate)\n"
	"                           or folded (flamegraph.pl, speedscope)\n"
	"      --prof-min-ms N      no file for requests faster than N ms\n"
	"      --port-proto PORT=PROTO  read connections to TCP PORT as PROTO: postgresql,\n"
	"                           mysql, redis or memcached (repeatable; 5432, 3306,\n"
	"                           6379 and 11211 are known, other ports are recognized\n"
	"                           by their first bytes)\n"
	"      --no-wire            no capture from data store connections' bytes (client\n"
	"                           library probes only)\n"
	"      --no-logs            no capture of what requests write to stdout/stderr\n"
	"      --view-probe         name the view of every request, queries or not, from\n"
	"                           the framework's call into it (a probe in the\n"
	"                           interpreter: a trap per f(*args) call, ~110 per request\n"
	"                           on a Django page); without it, from a request's stacks\n"
	"      --request-timeout S  publish a request still open after S seconds as\n"
	"                           incomplete (default 60)\n"
	"  -q, --quiet              no line per request on stdout\n"
	"  -v, --verbose            show libbpf's messages\n"
	"  -h, --help               this text\n"
	"\n"
	"Examples:\n"
	"  sudo scooby-bpf -p $(pgrep -o gunicorn)          # a gunicorn master and its workers\n"
	"  sudo scooby-bpf -p 4242 --redis unix:///run/redis/redis.sock --ttl 120\n"
	"  sudo scooby-bpf -p 4242 --json - -q | jq .request.path\n"
	"  sudo scooby-bpf -d 30                             # every process, for 30 seconds\n"
	"\n"
	"Records: GET scooby:req:<uuid>; newest first: ZREVRANGE scooby:requests 0 9;\n"
	"live: SUBSCRIBE scooby:live. Format: docs/FORMAT.md.\n";

/* Parses a whole decimal integer in [min, max]; false otherwise. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e9)
		return false;
	*out = v;
	return true;
}

static bool parse_ms(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e9)
		return false;
	*out = v;
	return true;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static enum cli_result bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "scooby-bpf: invalid value '%s' for %s: %s (see --help)\n", val, opt, want);
	return CLI_EXIT_ERROR;
}

enum {
	OPT_REDIS = 256,
	OPT_TTL,
	OPT_KEEP,
	OPT_BUFFER,
	OPT_JSON,
	OPT_MAXQ,
	OPT_RTO,
	OPT_DEPTH,
	OPT_NATIVE,
	OPT_REDACT,
	OPT_PROFILE,
	OPT_PROF_PATH,
	OPT_PROF_FILE,
	OPT_PROF_FORMAT,
	OPT_PROF_MIN,
	OPT_PORT_PROTO,
	OPT_NO_WIRE,
	OPT_NO_LOGS,
	OPT_VIEW_PROBE,
};

static const struct option longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "buffer", required_argument, NULL, OPT_BUFFER },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "duration", required_argument, NULL, 'd' },
	{ "max-query", required_argument, NULL, OPT_MAXQ },
	{ "request-timeout", required_argument, NULL, OPT_RTO },
	{ "stack-depth", required_argument, NULL, OPT_DEPTH },
	{ "native-stacks", no_argument, NULL, OPT_NATIVE },
	{ "redact", no_argument, NULL, OPT_REDACT },
	{ "profile", optional_argument, NULL, OPT_PROFILE },
	{ "prof-path", required_argument, NULL, OPT_PROF_PATH },
	{ "prof-file", required_argument, NULL, OPT_PROF_FILE },
	{ "prof-format", required_argument, NULL, OPT_PROF_FORMAT },
	{ "prof-min-ms", required_argument, NULL, OPT_PROF_MIN },
	{ "port-proto", required_argument, NULL, OPT_PORT_PROTO },
	{ "no-wire", no_argument, NULL, OPT_NO_WIRE },
	{ "no-logs", no_argument, NULL, OPT_NO_LOGS },
	{ "view-probe", no_argument, NULL, OPT_VIEW_PROBE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

/* Parses PORT=PROTO into the next --port-proto slot. Returns NULL, or what a valid value
 * looks like when arg is not one. */
static const char *parse_port_proto(const char *arg, struct cli_opts *o)
{
	const char *eq = strchr(arg, '=');
	unsigned proto;
	char port[16];
	long v;

	if (o->nport_protos >= CLI_MAX_PORT_PROTOS)
		return "at most 32 of them";
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(port))
		return "PORT=PROTO, e.g. 6380=redis";
	memcpy(port, arg, eq - arg);
	port[eq - arg] = 0;
	if (!parse_long(port, 1, 65535, &v))
		return "a TCP port 1 to 65535 before '='";
	proto = wire_proto_parse(eq + 1);
	if (proto == SC_CL_NONE)
		return "postgresql, mysql, redis or memcached after '='";
	o->port_protos[o->nport_protos].port = v;
	o->port_protos[o->nport_protos++].proto = proto;
	return NULL;
}

/* Applies option c with its value arg. Returns CLI_RUN, or CLI_EXIT_OK after --help, or
 * CLI_EXIT_ERROR after a one-line message. */
static enum cli_result cli_apply(int c, const char *arg, struct cli_opts *o)
{
	long v;

	switch (c) {
	case 'p':
		if (!parse_long(arg, 1, INT_MAX, &v))
			return bad("--pid", arg, "a process id");
		o->pid = v;
		break;
	case OPT_REDIS:
		o->redis_url = arg;
		o->redis_given = true;
		break;
	case OPT_TTL:
		if (!parse_long(arg, 1, 365L * 86400, &o->ttl))
			return bad("--ttl", arg, "whole seconds, 1 or more");
		break;
	case OPT_KEEP:
		if (!parse_long(arg, 1, 1000000, &o->keep))
			return bad("--keep", arg, "a count from 1 to 1000000");
		break;
	case OPT_BUFFER:
		if (!parse_long(arg, 1, 10000000, &o->buffer))
			return bad("--buffer", arg, "a count, 1 or more");
		break;
	case OPT_JSON:
		o->json_path = arg;
		break;
	case 'd':
		if (!parse_seconds(arg, &o->duration))
			return bad("--duration", arg, "seconds, more than 0");
		break;
	case OPT_MAXQ:
		if (!parse_long(arg, 1, SC_SQL_CAP - 2, &o->max_query))
			return bad("--max-query", arg, "bytes, 1 to 16382");
		break;
	case OPT_DEPTH:
		if (!parse_long(arg, 0, SC_PY_MAX_FRAMES, &o->stack_depth))
			return bad("--stack-depth", arg, "frames, 0 to 128");
		break;
	case OPT_NATIVE:
		o->native_stacks = true;
		break;
	case OPT_REDACT:
		o->redact = true;
		break;
	case OPT_PROFILE:
		o->profile_hz = 999;
		if (arg && !parse_long(arg, 1, 10000, &o->profile_hz))
			return bad("--profile", arg, "samples per second, 1 to 10000");
		break;
	case OPT_PROF_PATH:
		if (!is_dir(arg))
			return bad("--prof-path", arg, "an existing directory");
		o->prof_path = arg;
		break;
	case OPT_PROF_FILE:
		o->prof_file = arg;
		break;
	case OPT_PROF_FORMAT:
		if (strcmp(arg, "callgrind") && strcmp(arg, "folded"))
			return bad("--prof-format", arg, "callgrind or folded");
		o->prof_folded = strcmp(arg, "folded") == 0;
		break;
	case OPT_PROF_MIN:
		if (!parse_ms(arg, &o->prof_min_ms))
			return bad("--prof-min-ms", arg, "milliseconds, 0 or more");
		break;
	case OPT_RTO:
		if (!parse_seconds(arg, &o->request_timeout))
			return bad("--request-timeout", arg, "seconds, more than 0");
		break;
	case OPT_PORT_PROTO: {
		const char *want = parse_port_proto(arg, o);

		if (want)
			return bad("--port-proto", arg, want);
		break;
	}
	case OPT_NO_WIRE:
		o->no_wire = true;
		break;
	case OPT_NO_LOGS:
		o->no_logs = true;
		break;
	case OPT_VIEW_PROBE:
		o->view_probe = true;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	return CLI_RUN;
}

enum cli_result cli_parse(int argc, char **argv, struct cli_opts *o)
{
	enum cli_result r;
	int c;

	memset(o, 0, sizeof(*o));
	o->ttl = 600;
	o->keep = 10000;
	o->buffer = 10000;
	o->max_query = 4096;
	o->stack_depth = 64;
	o->request_timeout = 60;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:d:qvh", longopts, NULL)) != -1) {
		if (c == ':') {
			fprintf(stderr, "scooby-bpf: option %s needs a value (see --help)\n",
				argv[optind - 1]);
			return CLI_EXIT_ERROR;
		}
		if (c == '?') {
			fprintf(stderr, "scooby-bpf: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return CLI_EXIT_ERROR;
		}
		r = cli_apply(c, optarg, o);
		if (r != CLI_RUN)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "scooby-bpf: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return CLI_EXIT_ERROR;
	}
	if (o->prof_path && !o->profile_hz)
		o->profile_hz = 999; /* profile files need profiles */
	return CLI_RUN;
}
