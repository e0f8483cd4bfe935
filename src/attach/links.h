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

#endif /* SCOOBY_LINKS_H */
