/* Finding the client library files a target could load, before any process maps them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "libfind.h"
#include "native/procmaps.h"
#include "targets.h"

/* Where Debian, Fedora and the rest put libraries, searched after the cache. */
static const char *const std_dirs[] = {
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
	"/usr/local/lib",
	NULL,
};

#define WALK_DEPTH 4 /* site-packages/pkg/sub/_mod.so and a little more */
#define WALK_FILES 20000 /* directory entries looked at per tree, at most */

/* Returns 1 when name is a client library's file name (no interpreter: each probe on one
 * costs every process calling it a trap). */
static int is_client_lib(const char *name)
{
	const struct target_lib *t = targets__match(name);

	return t && !t->interpreter;
}

/* glibc's ld.so.cache, new format ("glibc-ld.so.cache1.1"), optionally behind the old one */
#define CACHE_OLD "ld.so-1.7.0"
#define CACHE_NEW "glibc-ld.so.cache"
#define CACHE_NEW_VER "1.1"
#define FLAG_X8664 0x0303 /* FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 */

struct cache_new_hdr {
	char magic[sizeof(CACHE_NEW) - 1];
	char version[sizeof(CACHE_NEW_VER) - 1];
	uint32_t nlibs, len_strings;
	uint8_t flags, pad[3];
	uint32_t ext_offset, unused[3];
};

struct cache_new_entry {
	int32_t flags;
	uint32_t key, value; /* string offsets from the new header */
	uint32_t osversion;
	uint64_t hwcap;
};

/* Calls fn for each x86-64 client library the cache file in buf names. */
static void cache_parse(const char *buf, size_t len, const char *root, libfind_fn fn, void *ctx)
{
	const struct cache_new_hdr *h;
	const struct cache_new_entry *e;
	size_t off = 0, i, nold;
	const char *path;

	if (len >= 16 && memcmp(buf, CACHE_OLD, sizeof(CACHE_OLD) - 1) == 0) {
		memcpy(&i, buf + 12, 4);
		nold = (uint32_t)i;
		off = (16 + nold * 12 + 7) & ~(size_t)7;
	}
	if (off + sizeof(*h) > len)
		return;
	h = (const void *)(buf + off);
	if (memcmp(h->magic, CACHE_NEW, sizeof(h->magic)) ||
	    memcmp(h->version, CACHE_NEW_VER, sizeof(h->version)))
		return;
	e = (const void *)(h + 1);
	for (i = 0; i < h->nlibs && (const char *)(e + i + 1) <= buf + len; i++) {
		if (e[i].flags != FLAG_X8664 || off + e[i].value >= len)
			continue;
		path = buf + off + e[i].value;
		if (!memchr(path, 0, len - off - e[i].value))
			continue;
		if (path[0] == '/' && is_client_lib(path))
			fn(root, path, ctx);
	}
}

/* Calls fn for the client libraries of root's linker cache; nothing when it is absent. */
static void cache_foreach(const char *root, libfind_fn fn, void *ctx)
{
	char path[PATH_MAX];
	struct stat st;
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/etc/ld.so.cache", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20)) {
		buf = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (buf != MAP_FAILED) {
			cache_parse(buf, st.st_size, root, fn, ctx);
			munmap(buf, st.st_size);
		}
	}
	close(fd);
}

/* Calls fn for the client libraries in directory dir (inside root). */
static void dir_foreach(const char *root, const char *dir, libfind_fn fn, void *ctx)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s", root, dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (is_client_lib(de->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			fn(root, path, ctx);
		}
	closedir(d);
}

void libfind__system(const char *root, libfind_fn fn, void *ctx)
{
	int i;

	cache_foreach(root, fn, ctx);
	for (i = 0; std_dirs[i]; i++)
		dir_foreach(root, std_dirs[i], fn, ctx);
}

int libfind__is_python(const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	return strncmp(base, "python", 6) == 0;
}

/* Looks for needed (a client library's name) in the RUNPATH/RPATH list rpath of the ELF
 * file at path (inside root), $ORIGIN being path's directory; calls fn for the first dir
 * holding it. Returns 1 when found. */
static int rpath_find(const char *root, const char *path, const char *rpath, const char *needed,
		      libfind_fn fn, void *ctx)
{
	char origin[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX], full[PATH_MAX];
	const char *p = rpath, *end, *slash = strrchr(path, '/');
	size_t n;
	int w;

	snprintf(origin, sizeof(origin), "%.*s", slash ? (int)(slash - path) : 0, path);
	while (*p) {
		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n >= 7 && strncmp(p, "$ORIGIN", 7) == 0)
			w = snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(n - 7), p + 7);
		else if (n >= 9 && strncmp(p, "${ORIGIN}", 9) == 0)
			w = snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(n - 9), p + 9);
		else
			w = snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		if (w < (int)sizeof(dir) &&
		    snprintf(cand, sizeof(cand), "%s/%s", dir, needed) < (int)sizeof(cand) &&
		    snprintf(full, sizeof(full), "%s%s", root, cand) < (int)sizeof(full) &&
		    dir[0] == '/' && access(full, R_OK) == 0) {
			fn(root, cand, ctx);
			return 1;
		}
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* Looks needed up in the standard directories; calls fn for the first that holds it. */
static void std_find(const char *root, const char *needed, libfind_fn fn, void *ctx)
{
	char cand[PATH_MAX], full[PATH_MAX];
	int i;

	for (i = 0; std_dirs[i]; i++) {
		snprintf(cand, sizeof(cand), "%s/%s", std_dirs[i], needed);
		snprintf(full, sizeof(full), "%s%s", root, cand);
		if (access(full, R_OK) == 0) {
			fn(root, cand, ctx);
			return;
		}
	}
}

/* Reads the dynamic section of the ELF file at path (inside root) and reports each client
 * library it needs. Returns 1 when the file was an ELF file, 0 otherwise. */
static int needed_of(const char *root, const char *path, libfind_fn fn, void *ctx)
{
	const char *needed[32], *rpath = NULL, *runpath = NULL, *s;
	char full[PATH_MAX];
	int fd, n = 0, i, ok = 0;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Dyn dyn;
	size_t k;
	Elf *elf;

	snprintf(full, sizeof(full), "%s%s", root, path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto cleanup;
	ok = 1;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (k = 0; data && k < sh.sh_size / sh.sh_entsize; k++) {
			if (!gelf_getdyn(data, k, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH &&
			    dyn.d_tag != DT_RUNPATH)
				continue;
			s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag == DT_RPATH)
				rpath = s;
			else if (dyn.d_tag == DT_RUNPATH)
				runpath = s;
			else if (n < 32 && is_client_lib(s))
				needed[n++] = s;
		}
		break;
	}
	/* ld.so: RPATH only when there is no RUNPATH, then the cache, then the directories */
	for (i = 0; i < n; i++)
		if (strchr(needed[i], '/'))
			fn(root, needed[i], ctx);
		else if (!rpath_find(root, path,
				     runpath ? runpath :
				     rpath   ? rpath :
					       "",
				     needed[i], fn, ctx))
			std_find(root, needed[i], fn, ctx);
cleanup:
	elf_end(elf);
	close(fd);
	return ok;
}

/* Returns 1 when a directory entry's name is a shared object's: "x.so" or "x.so.1". */
static int is_shared_object(const char *name)
{
	const char *p = strstr(name, ".so");

	return p && (p[3] == 0 || p[3] == '.');
}

/* Reads every shared object under dir (inside root), depth levels down. Returns the ELF
 * files read; *budget bounds the entries looked at. */
static int walk(const char *root, const char *dir, int depth, int *budget, libfind_fn fn, void *ctx)
{
	char full[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	int read = 0;
	DIR *d;

	snprintf(full, sizeof(full), "%s%s", root, dir);
	d = opendir(full);
	if (!d)
		return 0;
	while ((de = readdir(d)) && --*budget > 0) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "__pycache__") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR && depth > 0)
			read += walk(root, sub, depth - 1, budget, fn, ctx);
		else if (de->d_type == DT_REG && is_shared_object(de->d_name))
			read += needed_of(root, sub, fn, ctx);
	}
	closedir(d);
	return read;
}

/* Reads the extension modules of the Python installation under prefix (inside root):
 * prefix/lib/python3*, prefix/local/lib/python3* and their lib-dynload, site-packages and
 * dist-packages. Returns the ELF files read. */
static int python_modules(const char *root, const char *prefix, libfind_fn fn, void *ctx)
{
	static const char *const libs[] = { "lib", "local/lib", NULL };
	static const char *const subs[] = { "lib-dynload", "site-packages", "dist-packages", NULL };
	char full[PATH_MAX], libdir[PATH_MAX], dir[PATH_MAX];
	int i, j, read = 0, budget;
	struct dirent *de;
	DIR *d;

	for (i = 0; libs[i]; i++) {
		if (snprintf(libdir, sizeof(libdir), "%s/%s", strcmp(prefix, "/") ? prefix : "",
			     libs[i]) >= (int)sizeof(libdir) ||
		    snprintf(full, sizeof(full), "%s%s", root, libdir) >= (int)sizeof(full))
			continue;
		d = opendir(full);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, "python3", 7))
				continue;
			for (j = 0; subs[j]; j++) {
				if (snprintf(dir, sizeof(dir), "%s/%s/%s", libdir, de->d_name,
					     subs[j]) >= (int)sizeof(dir))
					continue;
				budget = WALK_FILES;
				read += walk(root, dir, WALK_DEPTH, &budget, fn, ctx);
			}
		}
		closedir(d);
	}
	return read;
}

int libfind__needed(const char *root, const char *exe, const char *const *site_dirs, libfind_fn fn,
		    void *ctx)
{
	char prefix[PATH_MAX], *slash;
	int read, i, budget;

	elf_version(EV_CURRENT);
	read = needed_of(root, exe, fn, ctx);
	if (!libfind__is_python(exe))
		return read;
	/* /usr/bin/python3.11 -> /usr; ~/.pyenv/versions/3.12.1/bin/python3.12 -> its version */
	snprintf(prefix, sizeof(prefix), "%s", exe);
	for (i = 0; i < 2; i++) {
		slash = strrchr(prefix, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	read += python_modules(root, prefix[0] ? prefix : "/", fn, ctx);
	for (i = 0; site_dirs && site_dirs[i]; i++) {
		budget = WALK_FILES;
		read += walk(root, site_dirs[i], WALK_DEPTH, &budget, fn, ctx);
	}
	return read;
}

int libfind__is_elf64(const char *path)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = read(fd, h, sizeof(h)) == sizeof(h) && memcmp(h, "\177ELF", 4) == 0 && h[4] == 2 &&
	     h[18] == 62 /* EM_X86_64 */;
	close(fd);
	return ok;
}

const char *libfind__root(pid_t pid, char *buf, size_t len)
{
	struct stat ours, theirs;

	snprintf(buf, len, "/proc/%d/root", pid);
	if (stat("/", &ours) || stat(buf, &theirs) ||
	    (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino))
		return "";
	return buf;
}

#define SITE_DIRS 8

/* The site- and dist-packages dirs a process has modules mapped from (a virtualenv's) */
struct site_ctx {
	char dirs[SITE_DIRS][512];
	const char *v[SITE_DIRS + 1]; /* NULL-ended */
	int n;
};

static int collect_site(const struct procmaps_entry *e, void *p)
{
	struct site_ctx *c = p;
	const char *m = strstr(e->path, "/site-packages/");
	size_t len;
	int i;

	if (!m)
		m = strstr(e->path, "/dist-packages/");
	if (!m || c->n == SITE_DIRS)
		return 0;
	len = m - e->path + strlen("/site-packages");
	if (len >= sizeof(c->dirs[0]))
		return 0;
	for (i = 0; i < c->n; i++)
		if (strncmp(c->v[i], e->path, len) == 0 && c->v[i][len] == 0)
			return 0;
	snprintf(c->dirs[c->n], sizeof(c->dirs[0]), "%.*s", (int)len, e->path);
	c->v[c->n] = c->dirs[c->n];
	c->n++;
	return 0;
}

int libfind__process(pid_t pid, libfind_fn fn, void *ctx)
{
	static struct site_ctx site; /* 4 KiB: not on the stack */
	char exe[PATH_MAX], link[64], rbuf[64];
	const char *root = libfind__root(pid, rbuf, sizeof(rbuf));
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = 0;
	if (root[0])
		libfind__system(root, fn, ctx); /* another mount namespace's files */
	memset(&site, 0, sizeof(site));
	if (libfind__is_python(exe))
		procmaps_foreach_exec(pid, collect_site, &site);
	return libfind__needed(root, exe, site.v, fn, ctx);
}
