/* Finding the client library files a target could load, before any process maps them. */
#ifndef SCOOBY_LIBFIND_H
#define SCOOBY_LIBFIND_H

#include <stddef.h>
#include <sys/types.h>

/* Called with a library file's path inside root (root "" is ours, else "/proc/PID/root"). */
typedef void (*libfind_fn)(const char *root, const char *path, void *ctx);

/*
 * Calls fn for every client library file (targets.c, interpreters excluded) that root's
 * dynamic linker can find by name: the linker cache (etc/ld.so.cache) and the standard
 * library directories. A name may come more than once (a cache entry and its directory):
 * the caller tells files apart by identity.
 */
void libfind__system(const char *root, libfind_fn fn, void *ctx);

/*
 * Calls fn for every client library named (DT_NEEDED) by the executable at exe (a path
 * inside root) or, when exe is a Python interpreter, by its extension modules: lib-dynload,
 * site- and dist-packages under its prefix and the extra dirs (site_dirs, NULL-ended, may
 * be NULL). Each name is looked for in the module's RUNPATH/RPATH ($ORIGIN expanded), then
 * in the standard directories; a name the linker cache resolves is libfind__system's.
 * Returns how many ELF files were read.
 */
int libfind__needed(const char *root, const char *exe, const char *const *site_dirs, libfind_fn fn,
		    void *ctx);

/* Does libfind__needed for pid's executable, through its root (libfind__root), with the
 * site-packages dirs it has modules mapped from; first libfind__system for a root that is
 * not ours. Returns how many ELF files were read (0 for a process gone). */
int libfind__process(pid_t pid, libfind_fn fn, void *ctx);

/* Returns the prefix to reach pid's files by: "" when its root is ours, else
 * "/proc/PID/root" in buf. */
const char *libfind__root(pid_t pid, char *buf, size_t len);

/* Returns 1 when the file at path is an x86-64 ELF file. */
int libfind__is_elf64(const char *path);

/* Returns 1 when exe's file name says it is a Python interpreter (python3, python3.11). */
int libfind__is_python(const char *exe);

#endif /* SCOOBY_LIBFIND_H */
