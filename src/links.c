/* Closing many BPF links at once: each uprobe or tracepoint link waits out RCU grace periods. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/syscall.h>
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

/*
 * Why after our exit: a link's close waits out the grace periods under the kernel's
 * event_mutex, one link at a time whatever the threads, and an exiting process closes its
 * files before its parent may reap it. A helper sharing our file table (CLONE_FILES, as a
 * fork otherwise) keeps the links' files open past our exit, then closes every file of the
 * table once we are gone. It only makes raw system calls (it is a copy of one thread of a
 * threaded process).
 */
int links_close_after_exit(struct bpf_link **links, size_t n)
{
	pid_t parent = getpid();
	long child;
	size_t i;

	child = syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, 0);
	if (child < 0)
		return -errno;
	if (child == 0) {
		while (getppid() == parent)
			usleep(2000);
		syscall(SYS_close_range, 0, ~0U, 0);
		_exit(0);
	}
	/* the structures go, the files stay open in the table the helper shares */
	for (i = 0; i < n; i++) {
		bpf_link__disconnect(links[i]);
		bpf_link__destroy(links[i]);
	}
	return 0;
}
