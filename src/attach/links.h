/* Closing many BPF links at once: each uprobe or tracepoint link waits out RCU grace periods. */
#ifndef SCOOBY_LINKS_H
#define SCOOBY_LINKS_H

#include <stddef.h>

struct bpf_link;

/*
 * Destroys the n links of links (NULL entries skipped) from up to LINKS_THREADS threads at
 * once, and returns when every one is gone; a thread that cannot be started leaves its share
 * to the caller's thread. Does not free the array.
 */
void links_destroy_all(struct bpf_link **links, size_t n);

/* Frees the n links now and leaves their detaching to a helper process that closes them
 * once we have exited. Returns 0, or -errno when no helper could start (nothing done). */
int links_close_after_exit(struct bpf_link **links, size_t n);

/* Takes the lock scooby-bpf processes share while they attach or detach (see links.c);
 * returns its fd for links_unlock, or -1 when it cannot be had (then no lock). */
int links_lock(void);
/* Releases links_lock's lock; -1 ok. */
void links_unlock(int fd);

#endif /* SCOOBY_LINKS_H */
