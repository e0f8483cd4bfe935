/* The viewer: `scooby-bpf serve`, an HTTP server for the records in Redis. */
#ifndef SCOOBY_SERVE_H
#define SCOOBY_SERVE_H

/* Runs `scooby-bpf serve [options]` (argv[0] is "serve"); returns the exit code. */
int serve_main(int argc, char **argv);

#endif /* SCOOBY_SERVE_H */
