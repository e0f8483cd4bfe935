/* HTTP events -> request boundaries: request heads, response heads and bodies, closes. */
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"
#include "http.h"
#include "http_parse.h"

/* Threads inside a request, with its head buffer */
static struct hashmap_table request_threads = HASHMAP_TABLE("request threads", 1024, 65536);

/* Sockets a request arrived on, to the thread serving it */
static struct hashmap_table request_sockets = HASHMAP_TABLE("request sockets", 1024, 65536);

/* Event loops' requests in flight, one per connection */
static struct hashmap_table loop_requests = HASHMAP_TABLE("event loop requests", 1024, 65536);

/* Threads found to be event loops (a second connection's request before the first's
 * response), as BPF finds them: their requests are their connections' from then on */
static struct hashmap_table loop_threads = HASHMAP_TABLE("event loop threads", 64, 65536);

/* A thread's request in flight, as seen on its socket; on an event loop's thread, one of
 * the requests open on it, each on its own connection. */
struct http_thread {
	uint32_t pid, tid, fd;
	bool loop; /* filed in conns under its connection, not in threads */
	bool head_method; /* HEAD: the response has no body */
	bool resp_parsed;
	int status;
	uint64_t last_write; /* return of the latest response write */
	/* --profile: the thread's off-CPU clock (sc_http_event.idle_ns) at the request line's
	 * read and at last_write, 0 without --profile */
	uint64_t idle_start, idle_last;
	uint64_t resp_bytes;
	size_t head_len; /* bytes of response head gathered in head[] */
	struct http_body_tracker body;
	char head[SC_HTTP_CAP];
};

struct http_tracker {
	struct correlator *corr;
	struct hashmap *threads; /* tid -> struct http_thread */
	struct hashmap *fds; /* (pid, fd) -> tid + 1 of the request on that socket */
	struct hashmap *conns; /* (pid, fd) -> struct http_thread of an event loop's request */
	struct hashmap *loops; /* tid -> pid + 1 of a thread found to be an event loop */
};

/* The correlator's key of h's request. */
static uint64_t http_key(const struct http_thread *h)
{
	return h->loop ? http_conn_key(h->pid, h->fd) : h->tid;
}

struct http_tracker *http_tracker__new(struct correlator *c)
{
	struct http_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->corr = c;
	t->threads = hashmap__new_in(&request_threads);
	t->fds = hashmap__new_in(&request_sockets);
	t->conns = hashmap__new_in(&loop_requests);
	t->loops = hashmap__new_in(&loop_threads);
	if (!t->threads || !t->fds || !t->conns || !t->loops) {
		http_tracker__free(t);
		return NULL;
	}
	return t;
}

void http_tracker__free(struct http_tracker *t)
{
	if (!t)
		return;
	hashmap__free(t->threads, free);
	hashmap__free(t->fds, NULL);
	hashmap__free(t->conns, free);
	hashmap__free(t->loops, NULL);
	free(t);
}

/* Ends the thread's request, at its last response byte when one was written, and frees its
 * entry: a server that runs each request on a new thread (runserver) must not leave one
 * entry per request behind. now_idle is the thread's off-CPU clock at now, 0 when the
 * event was another thread's or --profile is off. */
static void end_request(struct http_tracker *t, struct http_thread *h, uint64_t now,
			uint64_t now_idle, bool complete)
{
	bool incomplete = !complete || !h->resp_parsed;
	uint64_t idle = h->last_write ? h->idle_last : now_idle;

	/* its thread's off-CPU time from the request line's read to its end; an event loop's
	 * thread serves other requests meanwhile, so its clock says nothing of this one */
	if (!h->loop && h->idle_start && idle > h->idle_start)
		correlator__offcpu(t->corr, h->pid, h->tid, idle - h->idle_start);

	if (h->loop) {
		hashmap__del(t->conns, hashmap_key2(h->pid, h->fd));
	} else {
		hashmap__del(t->fds, hashmap_key2(h->pid, h->fd));
		hashmap__del(t->threads, h->tid);
	}
	correlator__request_end(t->corr, http_key(h), h->last_write ? h->last_write : now,
				h->status, incomplete);
	free(h);
}

/* True when thread tid of pid is an event loop's; it becomes one (as BPF decides, in
 * bpf/http.bpf.c) when a request line comes on fd while its request on another socket has
 * not begun its response: that request is moved to its connection. */
static bool loop_thread(struct http_tracker *t, uint32_t pid, uint32_t tid, uint32_t fd)
{
	void *v = hashmap__get(t->loops, tid);
	struct http_thread *h;

	if (v && (uintptr_t)v - 1 == pid)
		return true;
	h = hashmap__get(t->threads, tid);
	if (!h || h->pid != pid || h->fd == fd || h->resp_bytes || h->resp_parsed)
		return false;
	if (hashmap__set(t->loops, tid, (void *)(uintptr_t)(pid + 1ULL), NULL))
		return false;
	hashmap__del(t->threads, tid);
	hashmap__del(t->fds, hashmap_key2(pid, h->fd));
	h->loop = true;
	if (hashmap__set(t->conns, hashmap_key2(pid, h->fd), h, NULL)) {
		correlator__request_end(t->corr, tid, h->last_write, h->status, true);
		free(h);
		return true;
	}
	correlator__rekey(t->corr, tid, http_key(h));
	return true;
}

/* A request line on an event loop's thread: the connection's request from now on; the
 * one before on the same connection ends (keep-alive). */
static void loop_request(struct http_tracker *t, const struct sc_http_event *e,
			 const struct http_req_info *req)
{
	uint64_t ck = hashmap_key2(e->hdr.pid, e->fd);
	struct http_thread *h = hashmap__get(t->conns, ck);

	if (h)
		end_request(t, h, e->hdr.ts, 0, h->resp_parsed && h->body.done);
	h = malloc(sizeof(*h));
	if (!h || hashmap__set(t->conns, ck, h, NULL)) {
		free(h);
		return;
	}
	memset(h, 0, offsetof(struct http_thread, head));
	h->pid = e->hdr.pid;
	h->tid = e->hdr.tid;
	h->fd = e->fd;
	h->loop = true;
	h->head_method = strcmp(req->method, "HEAD") == 0;
	correlator__request_start(t->corr, e->hdr.pid, e->hdr.tid, http_key(h), e->hdr.ts, req);
}

void http_tracker__in(struct http_tracker *t, const struct sc_http_event *e)
{
	struct http_req_info req;
	struct http_thread *h;
	void *old;

	if (http_parse_request(e->data, e->cap_len, &req))
		return;
	if (loop_thread(t, e->hdr.pid, e->hdr.tid, e->fd)) {
		loop_request(t, e, &req);
		return;
	}
	h = hashmap__get(t->threads, e->hdr.tid);
	if (h) /* the next request line on the thread ends the one before */
		end_request(t, h, e->hdr.ts, e->idle_ns, h->resp_parsed && h->body.done);
	h = malloc(sizeof(*h));
	if (!h || hashmap__set(t->threads, e->hdr.tid, h, NULL)) {
		free(h);
		return;
	}
	memset(h, 0, offsetof(struct http_thread, head));
	h->pid = e->hdr.pid;
	h->tid = e->hdr.tid;
	h->fd = e->fd;
	h->head_method = strcmp(req.method, "HEAD") == 0;
	h->idle_start = e->idle_ns;
	hashmap__set(t->fds, hashmap_key2(h->pid, h->fd), (void *)(uintptr_t)(h->tid + 1ULL), &old);
	correlator__request_start(t->corr, e->hdr.pid, e->hdr.tid, e->hdr.tid, e->hdr.ts, &req);
}

/* Gathers response head bytes; once the head is whole, sets up the body count. */
static void take_head(struct http_tracker *t, struct http_thread *h, const struct sc_http_event *e)
{
	struct http_resp_info r;
	size_t n = e->cap_len, room = sizeof(h->head) - h->head_len;

	if (n > room)
		n = room;
	memcpy(h->head + h->head_len, e->data, n);
	h->head_len += n;
	if (http_parse_response(h->head, h->head_len, &r) || !r.head_len)
		return;
	if (r.status >= 100 && r.status < 200 && r.status != 101) {
		/* an interim response (100 Continue): the real head follows */
		memmove(h->head, h->head + r.head_len, h->head_len - r.head_len);
		h->head_len -= r.head_len;
		h->resp_bytes -= r.head_len;
		return;
	}
	h->status = r.status;
	h->resp_parsed = true;
	correlator__response_status(t->corr, http_key(h), r.status);
	/* the gathered head bytes stand for the response's first resp_bytes bytes */
	http_body__init(&h->body, &r, h->head, h->head_len, h->resp_bytes, h->head_method);
}

void http_tracker__out(struct http_tracker *t, const struct sc_http_event *e)
{
	struct http_thread *h = NULL;
	size_t tail;

	if (hashmap__size(t->conns))
		h = hashmap__get(t->conns, hashmap_key2(e->hdr.pid, e->fd));
	if (!h)
		h = hashmap__get(t->threads, e->hdr.tid);
	if (!h || h->pid != e->hdr.pid || h->fd != e->fd)
		return;
	/* the task that writes a response is the request's: its executor's queries are it */
	if (!h->resp_bytes && e->coro)
		correlator__bind_task(t->corr, e->hdr.pid, e->coro, http_key(h));
	h->last_write = e->hdr.ts;
	h->idle_last = e->idle_ns;
	h->resp_bytes += e->len;
	if (!h->resp_parsed) {
		if (e->flags & SC_HTTP_F_HEAD)
			take_head(t, h, e);
	} else {
		/* the last bytes of this write, to spot a chunked stream's end */
		tail = e->cap_len < SC_HTTP_TAIL ? e->cap_len : SC_HTTP_TAIL;
		if ((e->flags & SC_HTTP_F_HEAD) && e->cap_len < e->len)
			tail = 0; /* the head of a long write says nothing of its end */
		http_body__feed(&h->body, e->len,
				e->flags & SC_HTTP_F_HEAD ? e->data + e->cap_len - tail : e->data,
				tail);
	}
	if (h->resp_parsed && h->body.done)
		end_request(t, h, e->hdr.ts, 0, true);
}

void http_tracker__task(struct http_tracker *t, const struct sc_http_task_event *e)
{
	struct http_thread *h = NULL;

	if (hashmap__size(t->conns))
		h = hashmap__get(t->conns, hashmap_key2(e->hdr.pid, e->fd));
	if (!h)
		h = hashmap__get(t->threads, e->hdr.tid);
	if (!h || h->pid != e->hdr.pid || h->fd != e->fd || h->resp_bytes || !e->coro)
		return;
	/* the task that asks to write the response is the request's, as the one writing it */
	correlator__bind_task(t->corr, e->hdr.pid, e->coro, http_key(h));
}

void http_tracker__close(struct http_tracker *t, const struct sc_http_close_event *e)
{
	uint32_t pid = e->hdr.pid, fd = e->fd;
	void *v = hashmap__get(t->fds, hashmap_key2(pid, fd));
	struct http_thread *h = hashmap__get(t->conns, hashmap_key2(pid, fd));

	if (h && h->pid == pid && h->fd == fd)
		goto end;
	if (!v)
		return;
	h = hashmap__get(t->threads, (uintptr_t)v - 1);
	if (!h || h->fd != fd || h->pid != pid) {
		hashmap__del(t->fds, hashmap_key2(pid, fd));
		return;
	}
end:
	/* a response without length ends at close; one with a length must have reached it */
	end_request(t, h, e->hdr.ts, e->hdr.tid == h->tid ? e->idle_ns : 0,
		    h->resp_parsed &&
			    (h->body.done || (h->body.content_length < 0 && !h->body.chunked)));
}

static int sweep_pid(uint64_t key, void *val, void *ctx)
{
	struct http_thread *h = val;

	if (h->pid != *(uint32_t *)ctx)
		return 0;
	free(h);
	return 1;
}

static int sweep_loop(uint64_t key, void *val, void *ctx)
{
	return (uintptr_t)val - 1 == *(uint32_t *)ctx;
}

struct fd_sweep {
	struct http_tracker *t;
	uint32_t pid;
};

/* Drops socket entries whose thread is gone or belongs to the departed pid. */
static int sweep_fd(uint64_t key, void *val, void *ctx)
{
	struct fd_sweep *s = ctx;
	struct http_thread *h = hashmap__get(s->t->threads, (uintptr_t)val - 1);

	return !h || h->pid == s->pid;
}

void http_tracker__proc_gone(struct http_tracker *t, uint32_t pid)
{
	struct fd_sweep s = { .t = t, .pid = pid };

	hashmap__sweep(t->fds, sweep_fd, &s);
	hashmap__sweep(t->threads, sweep_pid, &pid);
	hashmap__sweep(t->conns, sweep_pid, &pid);
	hashmap__sweep(t->loops, sweep_loop, &pid);
}
