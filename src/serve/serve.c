/* The viewer: `scooby-bpf serve`, an HTTP server for the records in Redis (placeholder). */
#include <stdio.h>
#include "serve/serve.h"

int serve_main(int argc, char **argv)
{
	fprintf(stderr, "scooby-bpf: serve is not built yet\n");
	return 1;
}
