/* Reads /proc/PID/maps to find the executable files a process has mapped. */
#ifndef SCOOBY_PROCMAPS_H
#define SCOOBY_PROCMAPS_H

struct procmaps_entry {
	unsigned long long start, end, offset;
	char perms[5];
	unsigned dev_major, dev_minor;
	unsigned long long inode;
	char path[4096]; /* "" for anonymous; pseudo names such as "[heap]" kept as is */
	int deleted; /* path ended with " (deleted)", stripped */
};

/*
 * Parses one line of a maps file (trailing newline optional) into *e.
 * Returns 0, or -EINVAL when the line is malformed or its path does not fit.
 */
int procmaps_parse_line(const char *line, struct procmaps_entry *e);

/*
 * Calls cb for every executable file-backed mapping (perms[2]=='x', path
 * starting with '/') of pid (0: the calling process), in file order; lines
 * that do not parse are skipped. Stops early if cb returns nonzero and returns
 * that value; returns 0 after the last line, -errno from fopen if the file
 * cannot be opened (-ENOENT for a pid that does not exist), -EINVAL for a
 * negative pid or NULL cb, -ENOMEM, or -errno (-EIO when unknown) when reading fails.
 */
int procmaps_foreach_exec(int pid, int (*cb)(const struct procmaps_entry *e, void *ctx), void *ctx);

#endif /* SCOOBY_PROCMAPS_H */
