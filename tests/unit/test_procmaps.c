/* Unit tests for /proc/PID/maps parsing and the executable-mapping walk. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "native/procmaps.h"

struct line_case {
	const char *name;
	const char *line;
	int rc;
	unsigned long long start, end, offset;
	const char *perms;
	unsigned maj, min;
	unsigned long long inode;
	const char *path;
	int deleted;
};

static const struct line_case line_cases[] = {
	{ "libc text",
	  "7f1c2a028000-7f1c2a19d000 r-xp 00028000 08:01 1835043                    /usr/lib/x86_64-linux-gnu/libc.so.6\n",
	  0, 0x7f1c2a028000ULL, 0x7f1c2a19d000ULL, 0x28000, "r-xp", 8, 1, 1835043,
	  "/usr/lib/x86_64-linux-gnu/libc.so.6", 0 },
	{ "no newline", "55d4c6a00000-55d4c6a21000 r-xp 00000000 fd:01 42 /usr/bin/python3.11", 0,
	  0x55d4c6a00000ULL, 0x55d4c6a21000ULL, 0, "r-xp", 0xfd, 1, 42, "/usr/bin/python3.11", 0 },
	{ "anonymous", "7ffd5c1e0000-7ffd5c201000 rw-p 00000000 00:00 0 \n", 0, 0x7ffd5c1e0000ULL,
	  0x7ffd5c201000ULL, 0, "rw-p", 0, 0, 0, "", 0 },
	{ "anonymous bare", "7ffd5c1e0000-7ffd5c201000 rw-p 00000000 00:00 0\n", 0,
	  0x7ffd5c1e0000ULL, 0x7ffd5c201000ULL, 0, "rw-p", 0, 0, 0, "", 0 },
	{ "heap",
	  "5581d8e2b000-5581d8e4c000 rw-p 00000000 00:00 0                          [heap]\n", 0,
	  0x5581d8e2b000ULL, 0x5581d8e4c000ULL, 0, "rw-p", 0, 0, 0, "[heap]", 0 },
	{ "vsyscall",
	  "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
	  0, 0xffffffffff600000ULL, 0xffffffffff601000ULL, 0, "--xp", 0, 0, 0, "[vsyscall]", 0 },
	{ "shared", "7f0000000000-7f0000001000 rw-s 00001000 00:05 123 /dev/shm/x\n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0x1000, "rw-s", 0, 5, 123, "/dev/shm/x", 0 },
	{ "deleted", "7f0000000000-7f0000001000 r-xp 00000000 08:02 99 /opt/app/lib.so (deleted)\n",
	  0, 0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r-xp", 8, 2, 99, "/opt/app/lib.so", 1 },
	{ "memfd deleted", "7f0000000000-7f0000001000 r-xp 00000000 00:01 5 /memfd:jit (deleted)\n",
	  0, 0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r-xp", 0, 1, 5, "/memfd:jit", 1 },
	{ "deleted not at end",
	  "7f0000000000-7f0000001000 r-xp 00000000 08:02 99 /a (deleted)/b.so\n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r-xp", 8, 2, 99, "/a (deleted)/b.so", 0 },
	{ "spaces in path",
	  "7f0000000000-7f0000001000 r-xp 00000000 08:02 7 /srv/my app/lib x.so\n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r-xp", 8, 2, 7, "/srv/my app/lib x.so", 0 },
	{ "trailing space kept", "7f0000000000-7f0000001000 r-xp 00000000 08:02 7 /srv/odd \n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r-xp", 8, 2, 7, "/srv/odd ", 0 },
	{ "3-digit major",
	  "7f0000000000-7f0000001000 r--p 00000000 103:02 18446744073709551615 /x\n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r--p", 0x103, 2, 18446744073709551615ULL, "/x",
	  0 },
	{ .name = "uppercase hex",
	  .line = "7F00ABCD0000-7F00ABCD1000 R-XP 0 8:1 1 /x\n",
	  .rc = -EINVAL },
	{ "uppercase hex digits", "7F00ABCD0000-7F00ABCD1000 r-xp 0000A000 0A:0B 1 /x\n", 0,
	  0x7f00abcd0000ULL, 0x7f00abcd1000ULL, 0xa000, "r-xp", 10, 11, 1, "/x", 0 },
	{ "empty mapping", "1000-1000 ---p 00000000 00:00 0\n", 0, 0x1000, 0x1000, 0, "---p", 0, 0,
	  0, "", 0 },
	{ "pseudo path", "7f0000000000-7f0000001000 r--p 00000000 00:00 0 [anon:libc_malloc]\n", 0,
	  0x7f0000000000ULL, 0x7f0000001000ULL, 0, "r--p", 0, 0, 0, "[anon:libc_malloc]", 0 },
	/* malformed */
	{ .name = "empty", .line = "", .rc = -EINVAL },
	{ .name = "newline", .line = "\n", .rc = -EINVAL },
	{ .name = "garbage", .line = "hello world\n", .rc = -EINVAL },
	{ .name = "no dash",
	  .line = "7f0000000000 7f0000001000 r-xp 00000000 08:02 7 /x\n",
	  .rc = -EINVAL },
	{ .name = "start after end",
	  .line = "7f0000001000-7f0000000000 r-xp 00000000 08:02 7 /x\n",
	  .rc = -EINVAL },
	{ .name = "17 hex digits",
	  .line = "10000000000000000-10000000000000001 r-xp 00000000 08:02 7 /x\n",
	  .rc = -EINVAL },
	{ .name = "short perms", .line = "1000-2000 r-x 00000000 08:02 7 /x\n", .rc = -EINVAL },
	{ .name = "bad perms", .line = "1000-2000 r-xq 00000000 08:02 7 /x\n", .rc = -EINVAL },
	{ .name = "perms order", .line = "1000-2000 xr-p 00000000 08:02 7 /x\n", .rc = -EINVAL },
	{ .name = "no offset", .line = "1000-2000 r-xp\n", .rc = -EINVAL },
	{ .name = "dev without colon",
	  .line = "1000-2000 r-xp 00000000 0802 7 /x\n",
	  .rc = -EINVAL },
	{ .name = "dev too big",
	  .line = "1000-2000 r-xp 00000000 100000000:02 7 /x\n",
	  .rc = -EINVAL },
	{ .name = "inode not decimal",
	  .line = "1000-2000 r-xp 00000000 08:02 7f /x\n",
	  .rc = -EINVAL },
	{ .name = "inode overflow",
	  .line = "1000-2000 r-xp 00000000 08:02 18446744073709551616 /x\n",
	  .rc = -EINVAL },
	{ .name = "no inode", .line = "1000-2000 r-xp 00000000 08:02\n", .rc = -EINVAL },
	{ .name = "fields glued", .line = "1000-2000r-xp 00000000 08:02 7 /x\n", .rc = -EINVAL },
	{ .name = "two lines",
	  .line = "1000-2000 r-xp 00000000 08:02 7 /x\n1000-2000 r-xp 00000000 08:02 7 /y\n",
	  .rc = -EINVAL },
	{ .name = "leading space", .line = " 1000-2000 r-xp 00000000 08:02 7 /x\n", .rc = -EINVAL },
};

static void test_parse_line_table(void **state)
{
	struct procmaps_entry e;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];

		memset(&e, 0x55, sizeof(e));
		rc = procmaps_parse_line(c->line, &e);
		if (rc != c->rc)
			fail_msg("case '%s': rc %d, expected %d", c->name, rc, c->rc);
		if (rc)
			continue;
		if (e.start != c->start || e.end != c->end || e.offset != c->offset ||
		    strcmp(e.perms, c->perms) || e.dev_major != c->maj || e.dev_minor != c->min ||
		    e.inode != c->inode || strcmp(e.path, c->path) || e.deleted != c->deleted)
			fail_msg("case '%s': got %llx-%llx %s %llx %x:%x %llu '%s' deleted %d",
				 c->name, e.start, e.end, e.perms, e.offset, e.dev_major,
				 e.dev_minor, e.inode, e.path, e.deleted);
	}
	assert_int_equal(procmaps_parse_line(NULL, &e), -EINVAL);
	assert_int_equal(procmaps_parse_line("1000-2000 r-xp 0 0:0 0 /x", NULL), -EINVAL);
}

static void test_parse_line_path_length(void **state)
{
	static const char prefix[] = "1000-2000 r-xp 00000000 08:02 7 ";
	struct procmaps_entry e;
	char *line = malloc(sizeof(prefix) + 5000);

	(void)state;
	assert_non_null(line);
	/* 4095 bytes fit path[4096] */
	strcpy(line, prefix);
	line[sizeof(prefix) - 1] = '/';
	memset(line + sizeof(prefix), 'a', 4094);
	strcpy(line + sizeof(prefix) - 1 + 4095, "\n");
	assert_int_equal(procmaps_parse_line(line, &e), 0);
	assert_int_equal(strlen(e.path), 4095);
	/* 4096 do not */
	strcpy(line + sizeof(prefix) - 1 + 4095, "b\n");
	assert_int_equal(procmaps_parse_line(line, &e), -EINVAL);
	/* unless the excess is a " (deleted)" marker */
	strcpy(line + sizeof(prefix) - 1 + 4095, " (deleted)\n");
	assert_int_equal(procmaps_parse_line(line, &e), 0);
	assert_int_equal(strlen(e.path), 4095);
	assert_int_equal(e.deleted, 1);
	free(line);
}

struct walk {
	int calls;
	int stop_at; /* return 42 on this call (1-based), 0: never */
	int saw_exe, saw_libc;
	char exe[PATH_MAX];
	const char *want; /* a path to look for */
	int want_found, want_deleted;
};

static int walk_cb(const struct procmaps_entry *e, void *ctx)
{
	struct walk *w = ctx;

	w->calls++;
	assert_int_equal(e->perms[2], 'x');
	assert_int_equal(e->path[0], '/');
	assert_true(e->start < e->end);
	if (!strcmp(e->path, w->exe))
		w->saw_exe = 1;
	if (strstr(e->path, "/libc.so") || strstr(e->path, "/libc-"))
		w->saw_libc = 1;
	if (w->want && !strcmp(e->path, w->want)) {
		w->want_found = 1;
		w->want_deleted = e->deleted;
	}
	return w->stop_at && w->calls == w->stop_at ? 42 : 0;
}

static void init_walk(struct walk *w)
{
	ssize_t n;

	memset(w, 0, sizeof(*w));
	n = readlink("/proc/self/exe", w->exe, sizeof(w->exe) - 1);
	assert_true(n > 0);
	w->exe[n] = '\0';
}

static void test_foreach_self(void **state)
{
	struct walk w;

	(void)state;
	init_walk(&w);
	assert_int_equal(procmaps_foreach_exec(getpid(), walk_cb, &w), 0);
	assert_true(w.calls >= 2);
	assert_int_equal(w.saw_exe, 1);
	assert_int_equal(w.saw_libc, 1);

	/* pid 0 is the caller */
	init_walk(&w);
	assert_int_equal(procmaps_foreach_exec(0, walk_cb, &w), 0);
	assert_int_equal(w.saw_exe, 1);
}

static void test_foreach_stops_early(void **state)
{
	struct walk w;

	(void)state;
	init_walk(&w);
	w.stop_at = 1;
	assert_int_equal(procmaps_foreach_exec(getpid(), walk_cb, &w), 42);
	assert_int_equal(w.calls, 1);

	init_walk(&w);
	w.stop_at = 2;
	assert_int_equal(procmaps_foreach_exec(getpid(), walk_cb, &w), 42);
	assert_int_equal(w.calls, 2);
}

static void test_foreach_errors(void **state)
{
	struct walk w;

	(void)state;
	init_walk(&w);
	/* above any pid_max (2^22): cannot exist */
	assert_int_equal(procmaps_foreach_exec(0x3fffffff, walk_cb, &w), -ENOENT);
	assert_int_equal(procmaps_foreach_exec(-1, walk_cb, &w), -EINVAL);
	assert_int_equal(procmaps_foreach_exec(getpid(), NULL, &w), -EINVAL);
	assert_int_equal(w.calls, 0);
}

/* Maps a file executable, deletes it, and expects the walk to report it deleted. */
static void test_foreach_deleted(void **state)
{
	static const char *const dirs[] = { "/tmp", "/dev/shm", "." };
	char path[PATH_MAX];
	struct walk w;
	void *p = MAP_FAILED;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && p == MAP_FAILED; i++) {
		char *real = realpath(dirs[i], NULL);

		if (!real)
			continue;
		snprintf(path, sizeof(path), "%s/scooby maps XXXXXX", real);
		free(real);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		assert_int_equal(ftruncate(fd, 4096), 0);
		/* a noexec mount refuses PROT_EXEC: try the next place */
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			unlink(path);
	}
	if (p == MAP_FAILED)
		skip();

	init_walk(&w);
	w.want = path;
	assert_int_equal(procmaps_foreach_exec(getpid(), walk_cb, &w), 0);
	assert_int_equal(w.want_found, 1);
	assert_int_equal(w.want_deleted, 0);

	unlink(path);
	init_walk(&w);
	w.want = path;
	assert_int_equal(procmaps_foreach_exec(getpid(), walk_cb, &w), 0);
	assert_int_equal(w.want_found, 1);
	assert_int_equal(w.want_deleted, 1);
	munmap(p, 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line_table),
		cmocka_unit_test(test_parse_line_path_length),
		cmocka_unit_test(test_foreach_self),
		cmocka_unit_test(test_foreach_stops_early),
		cmocka_unit_test(test_foreach_errors),
		cmocka_unit_test(test_foreach_deleted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
