/* What the attacher's files share (attach.c, proctree.c, arming.c): the attacher and its libraries. */
#ifndef SCOOBY_ATTACH_INT_H
#define SCOOBY_ATTACH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "attach.h"
#include "targets.h"

struct bpf_link;
struct hashmap;

/* A client library file with our uprobes on it. */
struct lib {
	const struct target_lib *target;
	char path[4200]; /* as the first process that mapped it names it, or as found */
	unsigned slot; /* uprobe cookie and lib_cfg index */
	struct bpf_link **links;
	size_t nlinks;
	char full[4200]; /* the path it was opened by (through /proc/PID/root, maybe) */
	size_t nearly; /* links armed ahead of the mapping (ARM_EARLY) */
	bool mapped; /* a traced process was seen with it mapped */
	bool complete; /* every probe is on (not the first calls' only: ARM_EARLY) */
	/* its statements' state is readable (struct target_lib.state_readable): the
	 * unless_state probes stay off */
	bool state_readable;
};

struct attacher {
	struct attach_opts opts;
	struct scooby_bpf *skel;
	struct bpf_link **tp_links;
	size_t ntp_links;
	struct hashmap *libs; /* file identity (dev, inode) -> struct lib */
	unsigned nslots;
	struct hashmap *pids; /* tracked tgids -> (void *)1 */
	struct hashmap *exes; /* executables read (dev, inode) -> (void *)1 */
	pid_t self;
	int lock_fd; /* links_lock's, from the start until the first scan is done */
	bool started; /* the first scan of the traced processes' maps is done */
};

/* Calls fn on every numeric /proc entry but self (proctree.c). */
void attach__for_each_pid(pid_t self, void (*fn)(pid_t pid, void *ctx), void *ctx);

#endif /* SCOOBY_ATTACH_INT_H */
