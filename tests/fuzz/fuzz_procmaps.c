/* libFuzzer harness for procmaps_parse_line (src/procmaps.h): any bytes as one /proc/PID/maps line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "native/procmaps.h"

static struct procmaps_entry e, again;

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/*
 * The line is the input up to its first NUL, in a buffer of exactly that
 * size. A parsed entry must be well formed, and printing it the way the
 * kernel does must give a line that parses back to the same entry.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size), plen;
	char *line = fuzz_strndup(data, n), *out;
	int rc, i;

	rc = procmaps_parse_line(line, &e);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		FUZZ_CHECK(all_zero(&e, sizeof(e)));
		free(line);
		return 0;
	}
	FUZZ_CHECK(e.start <= e.end);
	FUZZ_CHECK(e.perms[4] == '\0');
	FUZZ_CHECK(e.perms[0] == 'r' || e.perms[0] == '-');
	FUZZ_CHECK(e.perms[1] == 'w' || e.perms[1] == '-');
	FUZZ_CHECK(e.perms[2] == 'x' || e.perms[2] == '-');
	FUZZ_CHECK(e.perms[3] == 'p' || e.perms[3] == 's');
	FUZZ_CHECK(FUZZ_TERMINATED(e.path));
	plen = strlen(e.path);
	FUZZ_CHECK(!memchr(e.path, '\n', plen));
	FUZZ_CHECK(e.path[0] != ' ' && e.path[0] != '\t');
	FUZZ_CHECK(e.deleted == 0 || e.deleted == 1);
	/* the path is the line's last bytes (before a newline and " (deleted)") */
	FUZZ_CHECK(plen <= n && strstr(line, e.path));

	i = asprintf(&out, "%llx-%llx %s %08llx %02x:%02x %llu%s%s%s\n", e.start, e.end, e.perms,
		     e.offset, e.dev_major, e.dev_minor, e.inode, plen || e.deleted ? " " : "",
		     e.path, e.deleted ? " (deleted)" : "");
	if (i < 0)
		abort();
	rc = procmaps_parse_line(out, &again);
	FUZZ_CHECK(rc == 0 && !memcmp(&e, &again, sizeof(e)));
	free(out);
	free(line);
	return 0;
}
