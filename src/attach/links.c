/* Closing many BPF links at once: each uprobe or tracepoint link waits out RCU grace periods. */
#include <pthread.h>
#include <stdbool.h>
#include <bpf/libbpf.h>
#include "links.h"

/*
 * Why threads: closing a perf-event link waits for an RCU Tasks Trace grace period in
 * perf_event_detach_bpf_prog (about 20 ms on 6.18), outside any lock, and for one or two
 * more under the kernel's event_mutex (tracepoint_synchronize_unregister, and for a uprobe
 * uprobe_unregister_sync). Closes in flight at once share the first: a link costs ~40 ms
 * instead of ~60 (a tracepoint ~20 instead of ~40).
 */
#define LINKS_THREADS 16

struct links_slice {
	struct bpf_link **links;
	size_t n;
};

static void *slice_run(void *p)
{
	struct links_slice *s = p;
	size_t i;

	for (i = 0; i < s->n; i++)
		bpf_link__destroy(s->links[i]);
	return NULL;
}

void links_destroy_all(struct bpf_link **links, size_t n)
{
	struct links_slice slice[LINKS_THREADS];
	pthread_t th[LINKS_THREADS];
	bool started[LINKS_THREADS] = {};
	size_t i, k, per;

	if (!links || !n)
		return;
	per = (n + LINKS_THREADS - 1) / LINKS_THREADS;
	for (k = 0; k < LINKS_THREADS; k++) {
		i = k * per;
		slice[k].links = links + (i < n ? i : n);
		slice[k].n = i >= n ? 0 : (n - i < per ? n - i : per);
		if (!slice[k].n)
			continue;
		started[k] = pthread_create(&th[k], NULL, slice_run, &slice[k]) == 0;
		if (!started[k])
			slice_run(&slice[k]);
	}
	for (k = 0; k < LINKS_THREADS; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}
