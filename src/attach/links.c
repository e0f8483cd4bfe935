/* Closing many BPF links at once: each uprobe or tracepoint link waits out RCU grace periods. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/file.h>
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

/* Taken by a scooby-bpf attaching or detaching, and by the helpers of those that exited for
 * each link they close: the closes all queue on the kernel's event_mutex, and an attach
 * behind a helper's dozens of closes would wait seconds (probes put on late). */
#define LINKS_LOCK "/run/scooby-bpf.links.lock"

int links_lock(void)
{
	int fd = open(LINKS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

void links_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Returns the highest file descriptor open, or -1 when /proc cannot say. */
static int max_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int max = -1, fd;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && (fd = atoi(de->d_name)) > max)
			max = fd;
	closedir(d);
	return max;
}

/* The helper: once we are gone, closes stdio at once (a pipe's reader waits for that), then
 * every other file of the table, one at a time under the lock. Never returns. */
static void helper_run(pid_t parent, int maxfd)
{
	int fd, lock;

	while (getppid() == parent)
		usleep(2000);
	close(0);
	close(1);
	close(2);
	lock = open(LINKS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	for (fd = 3; fd <= maxfd; fd++) {
		if (fd == lock || fcntl(fd, F_GETFD) < 0)
			continue;
		if (lock >= 0)
			flock(lock, LOCK_EX);
		close(fd);
		if (lock >= 0)
			flock(lock, LOCK_UN);
	}
	_exit(0);
}

/*
 * Why after our exit: a link's close waits out the grace periods under the kernel's
 * event_mutex, one link at a time whatever the threads, and an exiting process closes its
 * files before its parent may reap it. A helper sharing our file table (CLONE_FILES, as a
 * fork otherwise) keeps the links' files open past our exit, then closes them once we are
 * gone. It only makes raw system calls (it is a copy of one thread of a threaded process).
 */
int links_close_after_exit(struct bpf_link **links, size_t n)
{
	int maxfd = max_fd();
	pid_t parent = getpid();
	long child;
	size_t i;

	if (maxfd < 0)
		return -ENOENT;
	child = syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, 0);
	if (child < 0)
		return -errno;
	if (child == 0)
		helper_run(parent, maxfd);
	/* the structures go, the files stay open in the table the helper shares */
	for (i = 0; i < n; i++) {
		bpf_link__disconnect(links[i]);
		bpf_link__destroy(links[i]);
	}
	return 0;
}
