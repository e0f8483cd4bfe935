/* A C program using libsqlite3 from named functions, built with frame pointers: native stacks' test subject. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* noinline keeps each function its own frame for the test to find */
__attribute__((noinline)) static int fetch_items(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db, "SELECT id, name FROM item ORDER BY id", -1, &st, NULL))
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		n++;
	sqlite3_finalize(st);
	return n;
}

__attribute__((noinline)) static int run_report(sqlite3 *db)
{
	return fetch_items(db) + 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	sqlite3 *db;
	int i;

	if (sqlite3_open(":memory:", &db) ||
	    sqlite3_exec(db, "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT);"
			     "INSERT INTO item (name) VALUES ('a'), ('b');",
			     NULL, NULL, NULL))
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < rounds; i++) {
		if (run_report(db) < 0)
			return 1;
		usleep(100000);
	}
	sqlite3_close(db);
	return 0;
}
