/* Flood subject for tests/e2e/test_flood.py: as many SQLite executions as it can,
 * outside any HTTP request, from several threads, for a fixed time; then it says
 * exactly how many it made.
 *
 *   gcc -O2 -pthread flood.c -lsqlite3 -o flood
 *   ./flood [SECONDS [THREADS]]        (default 5 s, 2 threads)
 *
 * Protocol (signals in, lines out on stdout):
 *   prints "ready"                      every thread has its own :memory: connection
 *                                       open and nothing has been prepared yet
 *   waits for SIGUSR1                   scooby-bpf is attached by then
 *   runs the flood for SECONDS          each thread: prepare "SELECT 1", then
 *                                       step(SQLITE_ROW), step(SQLITE_DONE), reset
 *                                       until the deadline, finalize
 *   prints "executions N"               N = every execution that ran, all threads
 *   sleeps 1.5 s, then runs one more    the marker, "SELECT 'flood-end-marker'", made
 *   execution on the main thread        when the ring buffer has long been drained, so
 *                                       the record holding it carries the final count
 *                                       of lost events
 *   prints "marker 1"
 *   waits for SIGUSR1 (or dies of       so that the target outlives the checks
 *   SIGTERM), closes, exits 0
 *
 * One execution, as docs/FORMAT.md defines it for SQLite, is one step sequence ending
 * in a step that does not return SQLITE_ROW: the counting below counts exactly those.
 * Any failure prints "error ..." and exits 1.
 */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MARKER_SQL "SELECT 'flood-end-marker'"

struct worker {
	pthread_t thread;
	sqlite3 *db;
	double seconds;
	unsigned long long executions;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *flood(void *arg)
{
	struct worker *w = arg;
	sqlite3_stmt *st = NULL;
	double deadline;
	unsigned long long n = 0;
	int i = 0;

	if (sqlite3_prepare_v2(w->db, "SELECT 1", -1, &st, NULL) != SQLITE_OK) {
		w->failed = 1;
		return NULL;
	}
	deadline = now_s() + w->seconds;
	for (;;) {
		/* the clock is read every 64 executions: cheap, and the deadline is still met
		 * within a few microseconds */
		if ((i++ & 63) == 0 && now_s() >= deadline)
			break;
		if (sqlite3_step(st) != SQLITE_ROW || sqlite3_step(st) != SQLITE_DONE) {
			w->failed = 1;
			break;
		}
		n++;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	w->executions = n;
	return NULL;
}

static int run_marker(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ok;

	if (sqlite3_prepare_v2(db, MARKER_SQL, -1, &st, NULL) != SQLITE_OK)
		return -1;
	ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static void wait_usr1(const sigset_t *set)
{
	int sig;

	while (sigwait(set, &sig) == 0 && sig != SIGUSR1)
		;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;
	int nthreads = argc > 2 ? atoi(argv[2]) : 2;
	unsigned long long total = 0;
	struct worker *w;
	sqlite3 *main_db;
	sigset_t usr1;
	int i;

	if (seconds <= 0 || nthreads < 1 || nthreads > 64) {
		fprintf(stderr, "usage: flood [SECONDS [THREADS]]\n");
		return 2;
	}
	if (sqlite3_threadsafe() == 0) {
		printf("error sqlite built without thread support\n");
		return 1;
	}
	/* blocked before any thread exists, so that only sigwait() takes it */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	w = calloc(nthreads, sizeof(*w));
	if (!w || sqlite3_open(":memory:", &main_db) != SQLITE_OK)
		return 1;
	for (i = 0; i < nthreads; i++) {
		w[i].seconds = seconds;
		if (sqlite3_open(":memory:", &w[i].db) != SQLITE_OK) {
			printf("error sqlite3_open\n");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	wait_usr1(&usr1);

	for (i = 0; i < nthreads; i++)
		if (pthread_create(&w[i].thread, NULL, flood, &w[i])) {
			printf("error pthread_create\n");
			return 1;
		}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].failed) {
			printf("error thread %d: %s\n", i, sqlite3_errmsg(w[i].db));
			return 1;
		}
		total += w[i].executions;
	}
	printf("executions %llu\n", total);
	fflush(stdout);

	{
		struct timespec pause = { 1, 500000000 };
		nanosleep(&pause, NULL);
	}
	if (run_marker(main_db)) {
		printf("error marker: %s\n", sqlite3_errmsg(main_db));
		return 1;
	}
	printf("marker 1\n");
	fflush(stdout);

	wait_usr1(&usr1);
	for (i = 0; i < nthreads; i++)
		sqlite3_close(w[i].db);
	sqlite3_close(main_db);
	free(w);
	return 0;
}
