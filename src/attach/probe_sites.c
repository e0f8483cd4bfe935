/* Where on a library file a probe goes: its function's entry, past its NULL test, or its call sites. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "native/elfsym.h"
#include "probe_sites.h"
#include "targets.h"

int links__push(struct bpf_link ***links, size_t *n, struct bpf_link *l)
{
	struct bpf_link **nl = realloc(*links, (*n + 1) * sizeof(*nl));

	if (!nl)
		return -ENOMEM;
	nl[(*n)++] = l;
	*links = nl;
	return 0;
}

/* Attaches prog at file offset off of path, by offset rather than by uo's symbol name. */
static struct bpf_link *attach_at(struct bpf_program *prog, const char *path,
				  struct bpf_uprobe_opts *uo, unsigned long long off)
{
	const char *sym = uo->func_name;
	struct bpf_link *link;

	uo->func_name = NULL;
	link = bpf_program__attach_uprobe_opts(prog, -1, path, off, uo);
	uo->func_name = sym;
	return link;
}

/* libbpf 1.1 refuses a name exported under two symbol versions (libmariadb's mysql_*
 * are mysql_x@libmariadbclient_18 and mysql_x@@libmysqlclient_18, one address) as
 * ambiguous: attach at the offset our own lookup finds. NULL with errno on failure. */
static struct bpf_link *attach_uprobe_at_offset(struct bpf_program *prog, const char *path,
						struct bpf_uprobe_opts *uo)
{
	unsigned long long off;
	int err = elfsym_func_offset(path, uo->func_name, &off);

	if (err) {
		errno = -err;
		return NULL;
	}
	return attach_at(prog, path, uo, off);
}

int probe_sites__callee(const char *path, const char *const *wrappers, unsigned long long *off)
{
	unsigned long long woff, target = 0;
	unsigned char code[32];
	unsigned ret_at, frame;
	long long t;
	int n, fd, err = -ENOENT;
	size_t i;

	for (i = 0; wrappers[i]; i++) {
		err = elfsym_func_offset(path, wrappers[i], &woff);
		if (err == -ENOENT)
			continue;
		n = err ? err : elfsym_func_bytes(path, wrappers[i], code, sizeof(code));
		if (n < 0)
			return n;
		if (i == 0 && x86_uprobe_emulated(code, n))
			return -ENOENT; /* its own entry is as cheap: nothing to gain */
		/* a wrapper whose frame the BPF side can step over (struct sc_wrapper) */
		t = x86_wrapper_call(code, n, woff, &ret_at, &frame);
		if (t <= 0 || (target && (unsigned long long)t != target))
			return -ENOENT; /* no call, or wrappers that disagree: not one worker */
		target = t;
	}
	if (!target)
		return -ENOENT;
	err = -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, code, sizeof(code), (off_t)target);
	if (n < 0)
		err = -errno;
	else if (x86_uprobe_emulated(code, n))
		err = 0;
	close(fd);
	if (!err)
		*off = target;
	return err;
}

/* Attaches prog at the function p->callee_of's wrappers call first; NULL with errno. */
static struct bpf_link *attach_callee(struct bpf_program *prog, const char *path,
				      const struct probe_spec *p, struct bpf_uprobe_opts *uo)
{
	unsigned long long off;
	int err = probe_sites__callee(path, p->callee_of, &off);

	if (err) {
		errno = -err;
		return NULL;
	}
	return attach_at(prog, path, uo, off);
}

#define CALL_SITES_MAX 16 /* more is not a function's handful of calls: probe the entry */

/* Puts p's program on each direct call of p->sym inside p->inside. Returns how many
 * sites were probed, 0 when none was found (the caller probes the entry), -ENOMEM. */
static int attach_call_sites(struct bpf_program *prog, const char *path, const struct probe_spec *p,
			     struct bpf_uprobe_opts *uo, struct bpf_link ***links, size_t *nlinks)
{
	unsigned long long offs[CALL_SITES_MAX + 1];
	const char *sym = uo->func_name;
	struct bpf_link *link;
	int i, n, done = 0;

	n = elfsym_call_sites(path, p->inside, p->sym, offs, CALL_SITES_MAX + 1);
	if (n <= 0 || n > CALL_SITES_MAX)
		return 0;
	uo->func_name = NULL;
	for (i = 0; i < n; i++) {
		link = bpf_program__attach_uprobe_opts(prog, -1, path, offs[i], uo);
		if (!link)
			continue;
		if (links__push(links, nlinks, link)) {
			bpf_link__destroy(link);
			uo->func_name = sym;
			return -ENOMEM;
		}
		done++;
	}
	uo->func_name = sym;
	return done;
}

int probe_sites__attach(struct bpf_program *prog, const char *path, const struct probe_spec *p,
			struct bpf_uprobe_opts *uo, struct bpf_link ***links, size_t *n)
{
	struct bpf_link *link;
	int err;

	if (p->inside) {
		err = attach_call_sites(prog, path, p, uo, links, n);
		if (err != 0)
			return err;
	}
	if (p->callee_of) {
		link = attach_callee(prog, path, p, uo);
		if (!link)
			return errno ? -errno : -ENOENT;
		goto push;
	}
	link = bpf_program__attach_uprobe_opts(prog, -1, path, 0, uo);
	if (!link && errno == LIBBPF_ERRNO__FORMAT)
		link = attach_uprobe_at_offset(prog, path, uo);
	if (!link)
		return errno ? -errno : -ENOENT;
push:
	if (links__push(links, n, link)) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	return 1;
}
