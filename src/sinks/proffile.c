/* Per-request profile files (--prof-path): runprofileserver's names, callgrind or folded text. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hashmap.h"
#include "sinks/proffile.h"
#include "util/utf8.h"

/* Names are rendered into this much room; they are cut to PROFFILE_NAME_MAX after. */
#define RENDER_MAX 1024
/* Suffixes tried after a name that is taken: ".1" to ".99". */
#define UNIQUE_TRIES 100
/* Bytes of the request path kept in a callgrind file's "cmd:" line. */
#define CMD_MAX 1024

struct sbuf {
	char b[RENDER_MAX];
	size_t n;
};

/* The values of the format's keys. */
struct name_vals {
	const char *path; /* the path's inner part: no outer '/', no query */
	size_t pathlen;
	long long duration, time;
};

/* A format spec: [[fill]align][sign][#][0][width][.precision][type] */
struct spec {
	char fill, align, sign, type;
	bool alt, zero;
	size_t width;
	long precision; /* -1: none */
};

static void sbuf__put(struct sbuf *s, const char *p, size_t n)
{
	if (n > sizeof(s->b) - 1 - s->n)
		n = sizeof(s->b) - 1 - s->n;
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void sbuf__pad(struct sbuf *s, char c, size_t n)
{
	while (n-- && s->n < sizeof(s->b) - 1)
		s->b[s->n++] = c;
}

__attribute__((format(printf, 3, 4))) static void why__set(char *why, size_t len, const char *fmt,
							   ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Returns the number of characters (UTF-8 code points) in the n bytes at s. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Returns the byte length of the first chars characters of the n bytes at s. */
static size_t utf8_prefix(const char *s, size_t n, size_t chars)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars-- == 0)
			break;
	return i;
}

static bool is_align(char c)
{
	return c && strchr("<>=^", c);
}

/* Reads a decimal number at s[*i] (up to len), capped at RENDER_MAX. */
static size_t spec__number(const char *s, size_t len, size_t *i)
{
	size_t v = 0;

	for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++)
		if (v < RENDER_MAX)
			v = v * 10 + (s[*i] - '0');
	return v < RENDER_MAX ? v : RENDER_MAX;
}

/* Parses the len bytes at s as a format spec into sp. Returns 0 or -EINVAL. */
static int spec__parse(const char *s, size_t len, struct spec *sp)
{
	size_t i = 0;

	memset(sp, 0, sizeof(*sp));
	sp->precision = -1;
	if (len >= 2 && is_align(s[1])) {
		sp->fill = s[0];
		sp->align = s[1];
		i = 2;
	} else if (len >= 1 && is_align(s[0])) {
		sp->align = s[i++];
	}
	if (i < len && (s[i] == '+' || s[i] == '-' || s[i] == ' '))
		sp->sign = s[i++];
	if (i < len && s[i] == '#') {
		sp->alt = true;
		i++;
	}
	if (i < len && s[i] == '0') {
		sp->zero = true;
		i++;
	}
	sp->width = spec__number(s, len, &i);
	if (i < len && s[i] == '.') {
		i++;
		if (i == len || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		sp->precision = spec__number(s, len, &i);
	}
	if (i < len)
		sp->type = s[i++];
	return i == len ? 0 : -EINVAL;
}

/* Writes sign (0: none) and the n bytes of body (chars characters) padded as sp says; '/' in
 * body as '.' when slash_dot. */
static void put_aligned(struct sbuf *sb, const struct spec *sp, char sign, const char *body,
			size_t n, size_t chars, bool slash_dot)
{
	size_t len = chars + !!sign, pad = sp->width > len ? sp->width - len : 0, start, i;
	char fill = sp->fill ? sp->fill : ' ';

	if (sp->align == '>' || sp->align == '^')
		sbuf__pad(sb, fill, sp->align == '^' ? pad / 2 : pad);
	if (sign)
		sbuf__put(sb, &sign, 1);
	if (sp->align == '=')
		sbuf__pad(sb, fill, pad);
	start = sb->n;
	if (sb->n + n < sizeof(sb->b))
		sbuf__put(sb, body, n);
	else /* cut where it will be cut anyway, but not inside a character */
		sbuf__put(sb, body, utf8_cut(body, sizeof(sb->b) - 1 - sb->n));
	for (i = start; slash_dot && i < sb->n; i++)
		if (sb->b[i] == '/')
			sb->b[i] = '.';
	if (sp->align == '<')
		sbuf__pad(sb, fill, pad);
	else if (sp->align == '^')
		sbuf__pad(sb, fill, pad - pad / 2);
}

/* Formats an integer key as Python's format(v, spec) would. Returns 0 or -EINVAL. */
static int put_int(struct sbuf *sb, struct spec *sp, long long v)
{
	unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char digits[32], sign = v < 0 ? '-' : (sp->sign == '+' || sp->sign == ' ') ? sp->sign : 0;
	int n;

	if ((sp->type && sp->type != 'd' && sp->type != 'n') || sp->precision >= 0)
		return -EINVAL;
	if (sp->zero && !sp->align) {
		sp->fill = '0';
		sp->align = '=';
	}
	if (!sp->align)
		sp->align = '>';
	n = snprintf(digits, sizeof(digits), "%llu", a);
	put_aligned(sb, sp, sign, digits, n, n, false);
	return 0;
}

/* Formats {path}: '/' inside it as '.', "root" for nothing. Returns 0 or -EINVAL. */
static int put_path(struct sbuf *sb, struct spec *sp, const struct name_vals *v)
{
	const char *s = v->pathlen ? v->path : "root";
	size_t n = v->pathlen ? v->pathlen : 4;

	if ((sp->type && sp->type != 's') || sp->sign || sp->alt || sp->zero || sp->align == '=')
		return -EINVAL;
	if (!sp->align)
		sp->align = '<';
	if (sp->precision >= 0)
		n = utf8_prefix(s, n, sp->precision);
	put_aligned(sb, sp, 0, s, n, utf8_chars(s, n), true);
	return 0;
}

/* Renders the field after a '{' at *fmt and moves *fmt past its '}'. Returns 0 or -EINVAL
 * with the reason in why. */
static int put_field(struct sbuf *sb, const char **fmt, const struct name_vals *v, char *why,
		     size_t whylen)
{
	const char *f = *fmt, *end = strchr(f, '}'), *colon;
	int keylen, err = -EINVAL;
	struct spec sp;

	if (!end || memchr(f, '{', end - f)) {
		why__set(why, whylen, "unbalanced '{'");
		return -EINVAL;
	}
	colon = memchr(f, ':', end - f);
	keylen = (colon ? colon : end) - f;
	if ((keylen != 4 || strncmp(f, "path", 4)) && (keylen != 8 || strncmp(f, "duration", 8)) &&
	    (keylen != 4 || strncmp(f, "time", 4))) {
		why__set(why, whylen, "unknown key {%.*s}", keylen, f);
		return -EINVAL;
	}
	if (!spec__parse(colon ? colon + 1 : end, colon ? end - colon - 1 : 0, &sp))
		err = *f == 'p' ? put_path(sb, &sp, v) :
				  put_int(sb, &sp, *f == 'd' ? v->duration : v->time);
	if (err)
		why__set(why, whylen, "bad format spec in {%.*s}", (int)(end - f), f);
	*fmt = end + 1;
	return err;
}

/* Renders fmt into sb. Returns 0, or -EINVAL with the reason in why. */
static int render(const char *fmt, const struct name_vals *v, struct sbuf *sb, char *why,
		  size_t whylen)
{
	int err;

	sb->n = 0;
	while (*fmt) {
		if ((fmt[0] == '{' || fmt[0] == '}') && fmt[1] == fmt[0]) {
			sbuf__put(sb, fmt, 1);
			fmt += 2;
		} else if (*fmt == '{') {
			fmt++;
			err = put_field(sb, &fmt, v, why, whylen);
			if (err)
				return err;
		} else if (*fmt == '}') {
			why__set(why, whylen, "single '}'");
			return -EINVAL;
		} else {
			sbuf__put(sb, fmt++, 1);
		}
	}
	if (!sb->n) {
		why__set(why, whylen, "the name is empty");
		return -EINVAL;
	}
	return 0;
}

/* Sets v's path to the inner part of a request target: no scheme and host, query, fragment
 * or outer slashes. */
static void name_vals__path(struct name_vals *v, const char *path)
{
	const char *s = path ? path : "", *scheme = strstr(s, "://");
	size_t n;

	if (scheme && scheme < s + strcspn(s, "/?#")) /* absolute form: GET http://host/x */
		s = scheme + 3 + strcspn(scheme + 3, "/?#");
	n = strcspn(s, "?#");
	while (n && *s == '/') {
		s++;
		n--;
	}
	while (n && s[n - 1] == '/')
		n--;
	v->path = s;
	v->pathlen = n;
}

int proffile__check_format(const char *fmt, char *err, size_t errlen)
{
	struct name_vals v = { .path = "", .duration = 123, .time = 1700000000 };
	char why[128] = "";
	struct sbuf sb;

	if (!fmt || !render(fmt, &v, &sb, why, sizeof(why)))
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "--prof-file \"%s\" does not render: %s", fmt, why);
	return -EINVAL;
}

int proffile__name(const char *fmt, const char *path, double duration_ms, long long end_unix_s,
		   char *out, size_t outlen)
{
	struct name_vals v = { .time = end_unix_s };
	struct sbuf sb;
	size_t i, n;
	int err;

	if (!outlen)
		return -EINVAL;
	out[0] = '\0';
	/* int(elapms), as runprofileserver does; NaN and negatives (clock trouble) as 0 */
	v.duration = duration_ms >= 1 ? (duration_ms < 1e15 ? (long long)duration_ms : 0) : 0;
	name_vals__path(&v, path);
	err = render(fmt ? fmt : PROFFILE_DEFAULT_FORMAT, &v, &sb, NULL, 0);
	if (err)
		return err;
	for (i = 0; i < sb.n; i++) {
		unsigned char c = sb.b[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			sb.b[i] = '_';
	}
	n = sb.n < PROFFILE_NAME_MAX ? sb.n : PROFFILE_NAME_MAX;
	n = utf8_cut(sb.b, n < outlen - 1 ? n : outlen - 1);
	if (!n)
		return -EINVAL;
	memcpy(out, sb.b, n);
	out[n] = '\0';
	if (!strcmp(out, ".") || !strcmp(out, ".."))
		memset(out, '_', n);
	return 0;
}

/* Opens dir/name for writing, new and 0600, or dir/name.N when taken; full gets the path.
 * Returns the descriptor, or -errno (-EEXIST when every name tried is taken). */
static int create_unique(const char *dir, const char *name, char *full, size_t fulllen)
{
	char cand[PROFFILE_NAME_MAX + 1], suffix[16] = "";
	size_t base;
	int i, n, fd;

	for (i = 0; i < UNIQUE_TRIES; i++) {
		if (i)
			snprintf(suffix, sizeof(suffix), ".%d", i);
		base = strlen(name);
		if (base > PROFFILE_NAME_MAX - strlen(suffix))
			base = utf8_cut(name, PROFFILE_NAME_MAX - strlen(suffix));
		snprintf(cand, sizeof(cand), "%.*s%s", (int)base, name, suffix);
		n = snprintf(full, fulllen, "%s/%s", dir, cand);
		if (n < 0 || (size_t)n >= fulllen)
			return -ENAMETOOLONG;
		fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			/* a umask can only have taken bits away: put back exactly 0600 */
			if (fchmod(fd, 0600) < 0) {
				n = -errno;
				close(fd);
				unlink(full);
				return n;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* One caller -> callee arc: the caller's frame (function and call line), the callee function. */
struct cg_edge {
	uint32_t caller;
	uint32_t callee;
	uint64_t samples;
	size_t stamp; /* the last stack (+ 1) that counted it */
};

/* What the callgrind writer gathers from a profile. */
struct cg {
	const struct profile *p;
	FILE *f;
	uint64_t *self; /* per frame: samples where it is innermost */
	int *first_line; /* per function: its lowest line seen (0: none) */
	uint32_t *file_id; /* per function: the compressed id of its file */
	bool *file_named; /* per file id: its name is written */
	uint32_t *order; /* frame ids by function, then line */
	struct cg_edge *edges;
	size_t nedges, capedges;
	struct hashmap *edge_ix; /* caller << 32 | callee -> edge index + 1 */
	uint64_t cum; /* on-CPU samples whose self cost is written */
	uint32_t nfiles;
};

static void cg__free(struct cg *c)
{
	free(c->self);
	free(c->first_line);
	free(c->file_id);
	free(c->file_named);
	free(c->order);
	free(c->edges);
	hashmap__free(c->edge_ix, NULL);
}

/* Counts samples on the arc from frame caller to function callee, once per stack. Returns 0 or
 * -ENOMEM. */
static int cg__arc(struct cg *c, uint32_t caller, uint32_t callee, uint64_t samples, size_t stack)
{
	uint64_t key = (uint64_t)caller << 32 | callee;
	uintptr_t ix = (uintptr_t)hashmap__get(c->edge_ix, key);
	struct cg_edge *e;

	if (!ix) {
		if (c->nedges == c->capedges) {
			size_t cap = c->capedges ? 2 * c->capedges : 64;

			e = realloc(c->edges, cap * sizeof(*e));
			if (!e)
				return -ENOMEM;
			c->edges = e;
			c->capedges = cap;
		}
		c->edges[c->nedges] = (struct cg_edge){ .caller = caller, .callee = callee };
		ix = ++c->nedges;
		if (hashmap__set(c->edge_ix, key, (void *)ix, NULL))
			return -ENOMEM;
	}
	e = &c->edges[ix - 1];
	if (e->stamp != stack + 1) {
		e->stamp = stack + 1;
		e->samples += samples;
	}
	return 0;
}

/* Gathers self costs and arcs from every stack. Returns 0 or -ENOMEM. */
static int cg__count(struct cg *c)
{
	const uint32_t *ids;
	size_t s, i, depth;
	uint64_t n;
	uint32_t fn;

	for (s = 0; s < profile__nstacks(c->p); s++) {
		n = profile__stack(c->p, s, &ids, &depth);
		c->self[ids[0]] += n;
		for (i = 1; i < depth; i++) {
			profile__frame(c->p, ids[i - 1], &fn);
			if (cg__arc(c, ids[i], fn, n, s))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Orders frame ids by function, then line. */
static int cg_frame_cmp(const void *a, const void *b, void *ctx)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b, fx, fy;
	int lx = profile__frame(ctx, x, &fx), ly = profile__frame(ctx, y, &fy);

	if (fx != fy)
		return fx < fy ? -1 : 1;
	return (lx > ly) - (lx < ly);
}

/* Orders arcs by the caller's function and line, then the callee. */
static int cg_edge_cmp(const void *a, const void *b, void *ctx)
{
	const struct cg_edge *x = a, *y = b;
	uint32_t i = x->caller, j = y->caller;
	int c = cg_frame_cmp(&i, &j, ctx);

	return c ? c : (x->callee > y->callee) - (x->callee < y->callee);
}

/* Orders function ids by file name. */
static int cg_file_cmp(const void *a, const void *b, void *ctx)
{
	const char *fa, *fb;

	profile__func(ctx, *(const uint32_t *)a, &fa);
	profile__func(ctx, *(const uint32_t *)b, &fb);
	return strcmp(fa, fb);
}

/* Numbers the distinct files (from 1) into c->file_id, using order as scratch. */
static void cg__files(struct cg *c, size_t nfuncs)
{
	const char *prev = NULL, *file;
	size_t i;

	for (i = 0; i < nfuncs; i++)
		c->order[i] = i;
	qsort_r(c->order, nfuncs, sizeof(*c->order), cg_file_cmp, (void *)c->p);
	for (i = 0; i < nfuncs; i++) {
		profile__func(c->p, c->order[i], &file);
		if (!prev || strcmp(prev, file))
			c->nfiles++;
		c->file_id[c->order[i]] = c->nfiles;
		prev = file;
	}
}

/* Fills c for p. Returns 0 or -ENOMEM. */
static int cg__build(struct cg *c, const struct profile *p)
{
	size_t nframes = profile__nframes(p), nfuncs = profile__nfuncs(p), i;
	size_t n = (nframes > nfuncs ? nframes : nfuncs) + 1;
	uint32_t fn;
	int line;

	c->p = p;
	c->self = calloc(n, sizeof(*c->self));
	c->first_line = calloc(n, sizeof(*c->first_line));
	c->file_id = calloc(n, sizeof(*c->file_id));
	c->file_named = calloc(n + 1, sizeof(*c->file_named));
	c->order = calloc(n, sizeof(*c->order));
	c->edge_ix = hashmap__new();
	if (!c->self || !c->first_line || !c->file_id || !c->file_named || !c->order ||
	    !c->edge_ix || cg__count(c))
		return -ENOMEM;
	cg__files(c, nfuncs);
	for (i = 0; i < nframes; i++) {
		c->order[i] = i;
		line = profile__frame(p, i, &fn);
		if (line > 0 && (!c->first_line[fn] || line < c->first_line[fn]))
			c->first_line[fn] = line;
	}
	qsort_r(c->order, nframes, sizeof(*c->order), cg_frame_cmp, (void *)p);
	if (c->nedges)
		qsort_r(c->edges, c->nedges, sizeof(*c->edges), cg_edge_cmp, (void *)p);
	return 0;
}

/* Returns samples at hz in whole microseconds, rounded. */
static uint64_t us_of(uint64_t samples, unsigned hz)
{
	return (samples * 2000000 + hz) / (2 * (uint64_t)hz);
}

/* Writes the n bytes at s with line breaks as '_'. */
static void put_name_n(FILE *f, const char *s, size_t n)
{
	for (; n--; s++)
		fputc(*s == '\n' || *s == '\r' ? '_' : *s, f);
}

static void put_name(FILE *f, const char *s)
{
	put_name_n(f, s, strlen(s));
}

/* Writes "<key>=(id)", with " file" the first time; key is "fl" or "cfl". */
static void cg__file(struct cg *c, const char *key, uint32_t fn)
{
	const char *file;

	profile__func(c->p, fn, &file);
	fprintf(c->f, "%s=(%u)", key, c->file_id[fn]);
	if (!c->file_named[c->file_id[fn]]) {
		c->file_named[c->file_id[fn]] = true;
		fputc(' ', c->f);
		put_name(c->f, file);
	}
	fputc('\n', c->f);
}

/* Writes "<key>=(id) name" (functions are named at each use: cheap, and always parses). */
static void cg__func(struct cg *c, const char *key, uint32_t fn)
{
	const char *file;

	fprintf(c->f, "%s=(%u) ", key, fn + 1);
	put_name(c->f, profile__func(c->p, fn, &file));
	fputc('\n', c->f);
}

/* Writes a self cost line; its cost keeps the running total exact to the microsecond. */
static void cg__self(struct cg *c, int line, uint64_t samples)
{
	unsigned hz = profile__hz(c->p);

	fprintf(c->f, "%d %llu\n", line,
		(unsigned long long)(us_of(c->cum + samples, hz) - us_of(c->cum, hz)));
	c->cum += samples;
}

/* Writes every function: its self costs by line, then its calls by line. */
static void cg__write_funcs(struct cg *c)
{
	size_t nframes = profile__nframes(c->p), fi = 0, ei = 0;
	uint32_t fn, g, cfn;
	int line;

	for (g = 0; g < profile__nfuncs(c->p); g++) {
		cg__file(c, "fl", g);
		cg__func(c, "fn", g);
		for (; fi < nframes; fi++) {
			line = profile__frame(c->p, c->order[fi], &fn);
			if (fn != g)
				break;
			if (c->self[c->order[fi]])
				cg__self(c, line, c->self[c->order[fi]]);
		}
		for (; ei < c->nedges; ei++) {
			line = profile__frame(c->p, c->edges[ei].caller, &fn);
			if (fn != g)
				break;
			cfn = c->edges[ei].callee;
			cg__file(c, "cfl", cfn);
			cg__func(c, "cfn", cfn);
			fprintf(c->f, "calls=%llu %d\n%d %llu\n",
				(unsigned long long)c->edges[ei].samples, c->first_line[cfn], line,
				(unsigned long long)us_of(c->edges[ei].samples, profile__hz(c->p)));
		}
	}
}

/* Writes p in callgrind format. Returns 0 or -ENOMEM. */
static int write_callgrind(FILE *f, const struct profile *p, const char *path)
{
	uint64_t off_us = (profile__offcpu_ns(p) + 500) / 1000;
	uint32_t nf = profile__nfuncs(p);
	struct cg c = { .f = f };
	int err;

	err = cg__build(&c, p);
	if (err)
		goto cleanup;
	/* kcachegrind looks for "events:" in the first 2 KiB: the path is cut to 1 KiB */
	path = path ? path : "";
	fputs("# callgrind format\nversion: 1\ncreator: scooby-bpf\ncmd: ", f);
	put_name_n(f, path, utf8_cut(path, strnlen(path, CMD_MAX)));
	fputs("\npositions: line\nevents: us\n\n", f);
	cg__write_funcs(&c);
	if (profile__other_samples(p)) {
		fprintf(f, "fl=(%u) [other]\nfn=(%u) [other]\n", c.nfiles + 1, nf + 1);
		/* line 1, not 0: callgrind_annotate trips on a file whose only line is 0 */
		cg__self(&c, 1, profile__other_samples(p));
	}
	if (off_us)
		fprintf(f, "fl=(%u) [off-CPU]\nfn=(%u) [off-CPU]\n1 %llu\n", c.nfiles + 2, nf + 2,
			(unsigned long long)off_us);
	fprintf(f, "\ntotals: %llu\n", (unsigned long long)(us_of(c.cum, profile__hz(p)) + off_us));
cleanup:
	cg__free(&c);
	return err;
}

/* Writes p as folded stacks. Returns 0 or -ENOMEM. */
static int write_folded(FILE *f, const struct profile *p)
{
	struct profile_folded *fo;
	size_t n, i;
	int err;

	err = profile__folded(p, &fo, &n);
	for (i = 0; !err && i < n; i++)
		fprintf(f, "%s %llu\n", fo[i].stack, (unsigned long long)fo[i].samples);
	profile_folded__free(fo, n);
	return err;
}

int proffile__write(const struct proffile_opts *o, const struct profile *p, const char *path,
		    double duration_ms, long long end_unix_s, char *written, size_t writtenlen)
{
	char name[PROFFILE_NAME_MAX + 1], full[PATH_MAX];
	FILE *f = NULL;
	int err, fd;

	if (written && writtenlen)
		written[0] = '\0';
	if (!o || !o->dir || !p)
		return -EINVAL;
	if (duration_ms < o->min_ms)
		return 1;
	err = proffile__name(o->name_format, path, duration_ms, end_unix_s, name, sizeof(name));
	if (err)
		return err;
	fd = create_unique(o->dir, name, full, sizeof(full));
	if (fd < 0)
		return fd;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto cleanup;
	}
	err = o->format == PROF_FOLDED ? write_folded(f, p) : write_callgrind(f, p, path);
	if (ferror(f) && !err)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
cleanup:
	if (err)
		unlink(full);
	else if (written && writtenlen)
		snprintf(written, writtenlen, "%s", full);
	return err;
}
