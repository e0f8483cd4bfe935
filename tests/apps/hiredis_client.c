/* A C program serving HTTP/1.0 that runs Redis commands through hiredis per request: the hiredis probes' test subject. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Usage: hiredis_client HTTP_PORT REDIS_PORT
 * GET /hiredis/ runs, in order (the tests assert exactly these):
 *   SET hk:key hv            redisCommand
 *   GET hk:key               redisCommand
 *   INCR hk:key              redisCommand, fails: the value is not an integer
 *   SET hk:p1 1, INCR hk:p1, GET hk:p1
 *                            redisAppendCommand x3, then redisGetReply x3
 *   SET hk:argv x            redisCommandArgv
 * and answers 200 with the replies; any other path answers 200 without a command.
 * Built with frame pointers (-fno-omit-frame-pointer) so native stacks name these functions.
 */

static redisContext *rc;

/* Appends a reply's short description to out. */
static void describe(char *out, size_t cap, const redisReply *r)
{
	size_t n = strlen(out);

	if (!r)
		snprintf(out + n, cap - n, "null;");
	else if (r->type == REDIS_REPLY_INTEGER)
		snprintf(out + n, cap - n, "%lld;", r->integer);
	else if (r->str)
		snprintf(out + n, cap - n, "%.*s;", (int)r->len, r->str);
	else
		snprintf(out + n, cap - n, "type %d;", r->type);
}

__attribute__((noinline)) static void run_commands(char *out, size_t cap)
{
	const char *argv[] = { "SET", "hk:argv", "x" };
	redisReply *r;
	void *reply;
	int i;

	r = redisCommand(rc, "SET %s %s", "hk:key", "hv");
	describe(out, cap, r);
	freeReplyObject(r);
	r = redisCommand(rc, "GET %s", "hk:key");
	describe(out, cap, r);
	freeReplyObject(r);
	r = redisCommand(rc, "INCR %s", "hk:key");
	describe(out, cap, r);
	freeReplyObject(r);
	redisAppendCommand(rc, "SET %s %s", "hk:p1", "1");
	redisAppendCommand(rc, "INCR %s", "hk:p1");
	redisAppendCommand(rc, "GET %s", "hk:p1");
	for (i = 0; i < 3; i++) {
		reply = NULL;
		if (redisGetReply(rc, &reply) != REDIS_OK)
			break;
		describe(out, cap, reply);
		freeReplyObject(reply);
	}
	r = redisCommandArgv(rc, 3, argv, NULL);
	describe(out, cap, r);
	freeReplyObject(r);
}

/* Reads the request head; returns its first line's path in path (or "" on failure). */
static void read_path(int fd, char *path, size_t cap)
{
	char buf[4096];
	size_t n = 0;
	ssize_t got;
	char *sp, *end;

	path[0] = 0;
	while (n < sizeof(buf) - 1) {
		got = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (got <= 0)
			break;
		n += got;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = 0;
	sp = strchr(buf, ' ');
	if (!sp)
		return;
	end = strchr(sp + 1, ' ');
	if (!end)
		return;
	*end = 0;
	snprintf(path, cap, "%s", sp + 1);
}

static void serve(int fd)
{
	char path[1024], body[2048] = "", head[256];
	int hl;

	read_path(fd, path, sizeof(path));
	if (strncmp(path, "/hiredis/", 9) == 0)
		run_commands(body, sizeof(body));
	else
		snprintf(body, sizeof(body), "no command\n");
	strncat(body, "\n", sizeof(body) - strlen(body) - 1);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
		      strlen(body));
	if (write(fd, head, hl) < 0 || write(fd, body, strlen(body)) < 0)
		perror("write");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, ls, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HTTP_PORT REDIS_PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = redisConnect("127.0.0.1", atoi(argv[2]));
	if (!rc || rc->err) {
		fprintf(stderr, "redis: %s\n", rc ? rc->errstr : "out of memory");
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 16)) {
		perror("bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
}
