/* Reads /proc/PID/maps to find the executable files a process has mapped. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procmaps.h"

/* Parses 1..16 hex digits at *p (64-bit values: more cannot be a kernel's). */
static int parse_hex(const char **p, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long x = 0;
	int d, n;

	for (n = 0;; n++, s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (n == 16)
			return -EINVAL;
		x = x << 4 | d;
	}
	if (!n)
		return -EINVAL;
	*p = s;
	*v = x;
	return 0;
}

static int parse_dec(const char **p, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long x = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (~0ULL - (*s - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (*s - '0');
	}
	*p = s;
	*v = x;
	return 0;
}

/* Skips one or more blanks; fails when there is none (fields must be separated). */
static int skip_blanks(const char **p)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (s == *p)
		return -EINVAL;
	*p = s;
	return 0;
}

static bool perms_ok(const char *s)
{
	return (s[0] == 'r' || s[0] == '-') && (s[1] == 'w' || s[1] == '-') &&
	       (s[2] == 'x' || s[2] == '-') && (s[3] == 'p' || s[3] == 's');
}

/*
 * Format (fs/proc/task_mmu.c): "start-end perms offset major:minor inode",
 * then blanks and the path for named mappings. The path is everything to the
 * end of the line, spaces included (file names may contain them); the kernel
 * escapes only newlines in it, which is left as is.
 */
int procmaps_parse_line(const char *line, struct procmaps_entry *e)
{
	static const char deleted[] = " (deleted)";
	unsigned long long maj, min;
	const char *p = line;
	size_t n, dl = sizeof(deleted) - 1;

	if (!line || !e)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	if (parse_hex(&p, &e->start) || *p++ != '-' || parse_hex(&p, &e->end) ||
	    e->start > e->end || skip_blanks(&p))
		goto invalid;
	if (strnlen(p, 4) < 4 || !perms_ok(p))
		goto invalid;
	memcpy(e->perms, p, 4);
	p += 4;
	if (skip_blanks(&p) || parse_hex(&p, &e->offset) || skip_blanks(&p) ||
	    parse_hex(&p, &maj) || *p++ != ':' || parse_hex(&p, &min) || maj > ~0U || min > ~0U ||
	    skip_blanks(&p) || parse_dec(&p, &e->inode))
		goto invalid;
	e->dev_major = maj;
	e->dev_minor = min;

	n = strcspn(p, "\n");
	if (p[n] == '\n' && p[n + 1])
		goto invalid; /* more than one line */
	if (n && skip_blanks(&p))
		goto invalid;
	n = strcspn(p, "\n");
	if (n >= dl && !memcmp(p + n - dl, deleted, dl)) {
		e->deleted = 1;
		n -= dl;
	}
	if (n >= sizeof(e->path))
		goto invalid;
	memcpy(e->path, p, n);
	e->path[n] = '\0';
	return 0;
invalid:
	memset(e, 0, sizeof(*e));
	return -EINVAL;
}

int procmaps_foreach_exec(int pid, int (*cb)(const struct procmaps_entry *e, void *ctx), void *ctx)
{
	struct procmaps_entry *e = NULL;
	char fname[64], *line = NULL;
	size_t cap = 0;
	FILE *f = NULL;
	int err = 0;

	if (pid < 0 || !cb)
		return -EINVAL;
	if (pid)
		snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	else
		snprintf(fname, sizeof(fname), "/proc/self/maps");
	f = fopen(fname, "re");
	if (!f)
		return -errno;
	/* on the heap: 4 KiB of path is too much for callers' small stacks */
	e = malloc(sizeof(*e));
	if (!e) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		/* getline reports ENOMEM through errno alone, and EOF leaves errno alone */
		errno = 0;
		if (getline(&line, &cap, f) < 0) {
			if (errno == ENOMEM)
				err = -ENOMEM;
			else if (ferror(f))
				err = errno ? -errno : -EIO;
			break;
		}
		if (procmaps_parse_line(line, e) || e->perms[2] != 'x' || e->path[0] != '/')
			continue;
		err = cb(e, ctx);
		if (err)
			break;
	}
cleanup:
	free(line);
	free(e);
	fclose(f);
	return err;
}
