/* Where on a library file a probe goes: its function's entry, past its NULL test, or its call sites. */
#ifndef SCOOBY_PROBE_SITES_H
#define SCOOBY_PROBE_SITES_H

#include <stddef.h>

struct bpf_link;
struct bpf_program;
struct bpf_uprobe_opts;
struct probe_spec;

/* Appends l to the array *links of *n links; returns 0 or -ENOMEM (l is then not kept). */
int links__push(struct bpf_link ***links, size_t *n, struct bpf_link *l);

/* Finds the function every wrapper in the NULL-terminated list (in the library file at
 * path; absent ones are passed over) calls first, for a probe there instead: returns 0 with
 * *off its file offset when the wrappers agree on it, its entry is an instruction the
 * kernel emulates and the first wrapper's is not; -ENOENT otherwise, -errno on I/O errors. */
int probe_sites__callee(const char *path, const char *const *wrappers, unsigned long long *off);

/*
 * Attaches prog for probe p on the library file at path (uo: its cookie and return flag,
 * uo->func_name p->sym): at p->sym's direct calls inside p->inside when p names one and they
 * are found, at the function p->callee_of's wrappers call when p names them (-ENOENT when
 * probe_sites__callee finds none), else at its entry (by our own symbol lookup when libbpf refuses a versioned name). Every
 * process mapping the file traps: the filter is BPF's tracked-tgid map, so that a fork of
 * the target is covered from its first call. Appends the links to *links. Returns how many
 * were attached, -ENOMEM, or another -errno when none could be.
 */
int probe_sites__attach(struct bpf_program *prog, const char *path, const struct probe_spec *p,
			struct bpf_uprobe_opts *uo, struct bpf_link ***links, size_t *n);

#endif /* SCOOBY_PROBE_SITES_H */
