/* The viewer: `scooby-bpf serve`, an HTTP server for the records in Redis. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sinks/redis_url.h"
#include "serve/live.h"
#include "serve/routes.h"
#include "serve/serve.h"
#include "serve/store.h"

#define DEFAULT_LISTEN "127.0.0.1:8765"
#define DEFAULT_REDIS "redis://127.0.0.1:6379"
#define DEFAULT_SLOW_MS 100
#define CONNECTION_LIMIT 256
#define CONNECTION_TIMEOUT_S 60 /* idle keep-alive connections; SSE sends more often */

static const char usage[] =
	"usage: scooby-bpf serve [options]\n"
	"\n"
	"Serves a live web viewer and a read-only JSON API for the records scooby-bpf\n"
	"publishes to Redis.\n"
	"\n"
	"  --redis URL       redis://[[user]:password@]host[:port][/db] or unix:///path\n"
	"                    (default " DEFAULT_REDIS "; password also from REDISCLI_AUTH)\n"
	"  --listen ADDR     HOST:PORT, [V6]:PORT or PORT (default " DEFAULT_LISTEN ");\n"
	"                    port 0 picks a free one; a non-loopback address needs --token\n"
	"  --token T         require T on every request: `Authorization: Bearer T`, or\n"
	"                    ?token=T in the URL (default: SCOOBY_VIEWER_TOKEN if set)\n"
	"  --slow-ms N       highlight queries slower than N ms (default 100)\n"
	"  -h, --help        this text\n"
	"\n"
	"Page: /   API: /api/requests?limit=&before=&path=&min_ms=&status=&n_plus_one=,\n"
	"/api/requests/<uuid>, /api/live (SSE), /api/status, /api/config,\n"
	"/scooby/get-data/<uuid>/ (Scooby's layout).\n";

struct serve_opts {
	const char *redis;
	const char *listen;
	const char *token;
	long slow_ms;
};

/* A parsed --listen. */
struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback;
};

/* Parses the options; returns 0, 1 after --help, or -1 after printing why. */
static int serve__parse_args(int argc, char **argv, struct serve_opts *o)
{
	static const struct option longopts[] = {
		{ "redis", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "token", required_argument, NULL, 't' },
		{ "slow-ms", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	o->redis = DEFAULT_REDIS;
	o->listen = DEFAULT_LISTEN;
	o->token = getenv("SCOOBY_VIEWER_TOKEN");
	o->slow_ms = DEFAULT_SLOW_MS;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->redis = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			o->token = optarg;
			break;
		case 's':
			errno = 0;
			o->slow_ms = strtol(optarg, &end, 10);
			if (!optarg[0] || *end || errno || o->slow_ms < 0) {
				fprintf(stderr, "scooby-bpf serve: invalid --slow-ms '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fprintf(stderr, "scooby-bpf serve: %s option '%s' (see --help)\n",
				optopt ? "missing value for" : "unknown", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "scooby-bpf serve: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -1;
	}
	if (o->token && !o->token[0])
		o->token = NULL;
	return 0;
}

static bool sockaddr__loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const struct sockaddr_in *s4 = (const void *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
	return false;
}

/*
 * Parses HOST:PORT, [V6]:PORT, :PORT (every address) or PORT (loopback);
 * HOST may be a name. Returns 0, or -1 with the reason in err.
 */
static int listen_addr__parse(const char *spec, struct listen_addr *out, char *err, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
	char host[256] = "127.0.0.1";
	const char *port = spec, *colon, *close;
	int rc;

	if (spec[0] == '[') {
		close = strchr(spec, ']');
		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
			snprintf(err, len, "expected [V6]:PORT");
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - spec - 1), spec + 1);
		port = close + 2;
	} else if ((colon = strrchr(spec, ':'))) {
		if ((size_t)(colon - spec) >= sizeof(host) || memchr(spec, ':', colon - spec)) {
			snprintf(err, len, "expected HOST:PORT (IPv6 in brackets)");
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		port = colon + 1;
	}
	if (!port[0] || strspn(port, "0123456789") != strlen(port) || atol(port) > 65535) {
		snprintf(err, len, "invalid port");
		return -1;
	}
	hints.ai_flags |= AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc) {
		snprintf(err, len, "%s", gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
	out->len = ai->ai_addrlen;
	out->loopback = sockaddr__loopback(ai->ai_addr);
	freeaddrinfo(ai);
	return 0;
}

/* Prints the URL the daemon listens on (its real port when 0 was asked). */
static void serve__announce(struct MHD_Daemon *d, const struct listen_addr *la, bool token)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const void *)&la->ss;

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			  sizeof(host));
	fprintf(stderr, "scooby-bpf: serving http://%s%s%s:%u/%s\n",
		sa->sa_family == AF_INET6 ? "[" : "", host, sa->sa_family == AF_INET6 ? "]" : "",
		info ? info->port : 0, token ? " (append ?token=<your token>)" : "");
}

/* Starts libmicrohttpd: a thread per connection (SSE streams block). NULL after printing why. */
static struct MHD_Daemon *serve__start(struct routes *rt, const struct listen_addr *la)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	struct MHD_Daemon *d;

	if (la->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	d = MHD_start_daemon(flags, 0, NULL, NULL, routes__handle, rt, MHD_OPTION_SOCK_ADDR,
			     (const struct sockaddr *)&la->ss, MHD_OPTION_CONNECTION_LIMIT,
			     (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!d)
		fprintf(stderr, "scooby-bpf serve: cannot listen on the --listen address: %s\n",
			errno ? strerror(errno) : "libmicrohttpd failed to start");
	return d;
}

/* Blocks the stop signals in every thread to come, so that the main one takes them with sigwait. */
static void serve__block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int serve_main(int argc, char **argv)
{
	struct routes rt = { 0 };
	struct serve_opts o;
	struct listen_addr la;
	struct redis_url url;
	struct MHD_Daemon *d = NULL;
	char reason[256];
	sigset_t set;
	int err = 2, sig;

	err = serve__parse_args(argc, argv, &o);
	if (err)
		return err < 0 ? 2 : 0;
	err = 2;
	if (redis_url_parse(o.redis, &url, reason, sizeof(reason))) {
		fprintf(stderr, "scooby-bpf serve: invalid --redis: %s\n", reason);
		return 2;
	}
	if (listen_addr__parse(o.listen, &la, reason, sizeof(reason))) {
		fprintf(stderr, "scooby-bpf serve: invalid --listen '%s': %s\n", o.listen, reason);
		return 2;
	}
	if (!la.loopback && !o.token) {
		fprintf(stderr,
			"scooby-bpf serve: --listen %s is not a loopback address: it needs "
			"--token\n",
			o.listen);
		return 2;
	}
	serve__block_signals(&set);
	rt.token = o.token;
	rt.check_host = !o.token;
	rt.slow_ms = o.slow_ms;
	rt.store = store__new(&url);
	explicit_bzero(&url, sizeof(url));
	rt.live = rt.store ? live__new(rt.store) : NULL;
	if (!rt.live) {
		fprintf(stderr, "scooby-bpf serve: out of memory\n");
		goto cleanup;
	}
	d = serve__start(&rt, &la);
	if (!d)
		goto cleanup;
	serve__announce(d, &la, rt.token != NULL);
	err = 0;
	while (sigwait(&set, &sig) == 0 && sig != SIGINT && sig != SIGTERM && sig != SIGHUP)
		;
	fprintf(stderr, "scooby-bpf: viewer stopping\n");
cleanup:
	live__stop(rt.live); /* ends the SSE streams, so that the daemon's threads can finish */
	if (d)
		MHD_stop_daemon(d);
	live__free(rt.live);
	store__free(rt.store);
	return err;
}
