/* Per-request profile files (--prof-path): runprofileserver's names, callgrind or folded text. */
#ifndef SCOOBY_SINKS_PROFFILE_H
#define SCOOBY_SINKS_PROFFILE_H

#include <stddef.h>
#include "record/profile.h"

/* runprofileserver's default --prof-file */
#define PROFFILE_DEFAULT_FORMAT "{path}.{duration:06d}ms.{time}"
/* A file name is at most this many bytes (NAME_MAX). */
#define PROFFILE_NAME_MAX 255

enum prof_format { PROF_CALLGRIND, PROF_FOLDED };

struct proffile_opts {
	const char *dir; /* an existing directory */
	const char *name_format; /* NULL: PROFFILE_DEFAULT_FORMAT */
	enum prof_format format;
	double min_ms; /* requests shorter than this get no file */
};

/*
 * Checks that fmt renders (proffile__name's rules); NULL (the default) does. Returns 0, or
 * -EINVAL with a one-line warning in err (may be NULL), e.g. `--prof-file "{nope}" does not
 * render: unknown key {nope}`; the caller says it falls back to PROFFILE_DEFAULT_FORMAT.
 */
int proffile__check_format(const char *fmt, char *err, size_t errlen);

/*
 * Renders the file name of a request into out, as runprofileserver's str.format would:
 *   {path}      the URL path without its query string, outer '/' stripped, inner '/' as
 *               '.', "root" when nothing is left; an optional spec [[fill]align][width]
 *               [.precision][s]
 *   {duration}  whole milliseconds (truncated), {time} end_unix_s; an optional spec
 *               [[fill]align][sign][#][0][width][d]
 *   {{ and }}   literal braces
 * Then '/' and control bytes become '_', "." and ".." become "_" and "__", and the name is
 * cut to PROFFILE_NAME_MAX (and outlen - 1) bytes at a UTF-8 boundary.
 * Returns 0, or -EINVAL when the format does not render (unknown key, bad spec, lone brace)
 * or renders empty.
 */
int proffile__name(const char *fmt, const char *path, double duration_ms, long long end_unix_s,
		   char *out, size_t outlen);

/*
 * Writes p as a file named by o->name_format into o->dir: created with O_EXCL and mode 0600,
 * never over another file (".1" to ".99" are appended to a name taken). callgrind: "events:
 * us", cost lines per function and line, "calls=" edges with inclusive costs, "[other]" and
 * "[off-CPU]" as functions of their own; folded: "outer;...;inner count" lines as
 * profile__folded gives them. written (may be NULL) gets the file's path, or "".
 * Returns 0 when written, 1 when skipped (duration_ms < o->min_ms), -EINVAL (the format does
 * not render), or -errno (EEXIST when every name is taken); a partial file is removed.
 */
int proffile__write(const struct proffile_opts *o, const struct profile *p, const char *path,
		    double duration_ms, long long end_unix_s, char *written, size_t writtenlen);

#endif /* SCOOBY_SINKS_PROFFILE_H */
