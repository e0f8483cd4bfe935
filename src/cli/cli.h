/* Command line: options, their defaults and checks, and the help text. */
#ifndef SCOOBY_CLI_H
#define SCOOBY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CLI_MAX_PORT_PROTOS 32

struct cli_opts {
	pid_t pid; /* 0: system-wide */
	const char *redis_url; /* NULL: the default, redis://127.0.0.1:6379 */
	bool redis_given;
	long ttl; /* seconds */
	long keep;
	long buffer; /* records held while Redis is away */
	const char *json_path; /* NULL: none; "-": stdout */
	double duration; /* seconds, 0: until a signal */
	long max_query; /* bytes */
	long stack_depth; /* Python frames per stack, 0: none */
	bool native_stacks; /* native frames under the Python ones too */
	bool redact; /* literals in SQL become ? before anything leaves the process */
	long profile_hz; /* --profile[=HZ]: CPU samples per second, 0: off */
	const char *prof_path; /* --prof-path: a profile file per request in this directory */
	const char *prof_file; /* --prof-file: its name format, NULL: runprofileserver's */
	bool prof_folded; /* --prof-format folded (else callgrind) */
	double prof_min_ms; /* --prof-min-ms: no file for faster requests */
	double request_timeout; /* seconds */
	bool no_wire; /* --no-wire: no data store capture from socket bytes */
	bool no_logs; /* --no-logs: no stdout/stderr capture */
	bool view_probe; /* --view-probe: the interpreter probe (bpf/pyview.bpf.c) */
	struct port_proto {
		unsigned port;
		unsigned proto; /* enum sc_client */
	} port_protos[CLI_MAX_PORT_PROTOS]; /* --port-proto PORT=PROTO, in the order given */
	int nport_protos;
	bool verbose;
	bool quiet; /* no terminal lines */
};

enum cli_result { CLI_RUN, CLI_EXIT_OK, CLI_EXIT_ERROR };

/* Parses argv into o. Prints --help and returns CLI_EXIT_OK, or prints one line naming the bad
 * option on stderr and returns CLI_EXIT_ERROR. */
enum cli_result cli_parse(int argc, char **argv, struct cli_opts *o);

#endif /* SCOOBY_CLI_H */
