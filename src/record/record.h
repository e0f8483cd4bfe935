/* The per-request record: the model the correlator fills and its JSON form (docs/FORMAT.md). */
#ifndef SCOOBY_RECORD_H
#define SCOOBY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct query;

/* The record section a store's queries fill: plugins_data.SQL (every SQL store),
 * plugins_data.Redis, plugins_data.Memcache. A new kind of section needs its JSON. */
enum db_section { DB_SECTION_SQL, DB_SECTION_REDIS, DB_SECTION_MEMCACHE };

/*
 * A data store as the record knows it. Each store defines its own (src/stores/NAME/db.c)
 * and its queries point to it: the record names no store.
 */
struct db_kind {
	const char *name; /* the record's name of the store: "postgresql" */
	enum db_section section;
	/* --redact of one of its queries (a key-value section's values); NULL: nothing to
	 * hide past the credentials its parser masks. SQL sections ignore it (every
	 * literal is masked the same way). */
	void (*redact)(struct query *q);
};

/* True for the stores whose queries are SQL (plugins_data.SQL). */
static inline bool db__is_sql(const struct db_kind *db)
{
	return db && db->section == DB_SECTION_SQL;
}

/* One stack frame, innermost first in a stack. Python frames have filename/lineno/function;
 * native frames module/symbol/offset. */
struct frame {
	/* strings are interned (intern.h): shared, never freed per frame */
	const char *filename; /* Python: co_filename; native: NULL */
	int lineno; /* 0: unknown */
	const char *function; /* Python: qualified name where the version has it */
	const char *module; /* native: the ELF file */
	const char *symbol; /* native: NULL when unresolved */
	uint64_t offset; /* native: from the symbol (or the module when unresolved) */
	bool native;
	bool unresolved; /* the code object could not be read: filename/function are NULL */
};

/* A frame array shared by a stack and its copies (stack__share), with what was worked out
 * of its frames once: they never change while shared. */
struct frames_share {
	size_t refs;
	int site; /* the call site's index + 1 (stack__call_site); -1: none; 0: not yet */
	const void *json; /* record_json.c's serialized frames, while json_gen is current */
	uint64_t json_gen;
	struct frame frames[];
};

struct stack {
	struct frame *frames;
	size_t nframes;
	/* the refcounted block frames lie in, read-only and shared with every copy (a stack
	 * resolved once is every query's of that call path); NULL: frames are this stack's */
	struct frames_share *share;
	bool truncated; /* deeper than --stack-depth */
	bool partial; /* the walk stopped early (no frame pointer, unreadable memory) */
	uint64_t task, task_coro; /* the asyncio task it runs for (sc_pystack_event), 0: none */
	uint64_t handler_code; /* code object of an asgiref thread_handler frame in it, 0: none */
	char *view; /* "module.function" of the view this stack runs in, NULL if none */
	char *scooby_view; /* Scooby's "module.__name__" of it, NULL if not known */
	const char *view_reason; /* static: why view is NULL, or NULL */
};

/* True for a frame of the application: a Python frame whose file is neither the
 * interpreter's standard library nor under site-packages/dist-packages (ruling 7). */
bool frame__is_app(const struct frame *f);

/* The record's name of a store ("sqlite", "postgresql"), "unknown" for NULL. */
const char *db__name(const struct db_kind *db);

/* Redis arguments kept per command, and bytes kept per argument. */
#define QUERY_MAX_ARGS 16
#define QUERY_ARG_MAX 64

struct query {
	const struct db_kind *db;
	/* SQL: as the client library received it (raw bytes, NUL-terminated). Redis and
	 * memcached: the command as one line ("GET user:1"), for grouping and display */
	char *sql;
	bool truncated; /* the text was cut at --max-query */
	bool wire; /* seen on the connection's bytes, not by a client library probe */
	char *command; /* Redis: the command, upper-case ("GET"); memcached: the operation ("get") */
	char *key; /* Redis: the first key; memcached: the key(s), space-separated; NULL if none */
	char **args; /* Redis: the arguments after the key, each cut at QUERY_ARG_MAX bytes */
	uint32_t nargs;
	bool args_truncated; /* more than QUERY_MAX_ARGS arguments, or one was cut */
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC span of the execution */
	uint64_t busy_ns; /* time inside the client library: time_taken */
	char *error; /* NULL on success */
	uint32_t tid;
	/* static: how the query found its request ("thread", "executor"), NULL in the
	 * background record; there, attribution_reason says why, when it is known */
	const char *attributed_by;
	const char *attribution_reason;
	struct stack stack; /* empty when none was captured */
};

/* Queries of a key-value store (Redis, memcached): kept apart from SQL. */
struct query_list {
	struct query *q;
	size_t n, cap;
	size_t omitted; /* past RECORD_MAX_QUERIES: counted, not kept */
	uint64_t omitted_ns;
};

/* What the request's thread wrote to its stdout or stderr (plugins_data.CustomLog). */
struct log_entry {
	char *s; /* the bytes written (cut at SC_LOG_CAP), raw, NUL-terminated */
	bool truncated;
	uint64_t ts;
	uint32_t tid;
	int fd; /* 1 or 2 */
	struct stack stack;
};

struct record {
	char uuid[33];
	bool background; /* queries outside any request */
	bool incomplete; /* ended without a complete response (timeout, close, exit) */
	char method[16];
	char *path;
	int status; /* 0 when no response was seen */
	uint64_t start_ns, end_ns;
	uint32_t pid, tid;
	char comm[16];
	char *host;
	char *request_id;
	struct query *queries; /* SQL stores only (db__is_sql) */
	size_t nqueries, cap;
	size_t omitted; /* queries past RECORD_MAX_QUERIES: counted, not kept */
	uint64_t omitted_ns; /* their summed time_taken */
	struct query_list redis, memcache;
	struct log_entry *logs;
	size_t nlogs, logs_cap, logs_omitted;
	uint64_t lost_events;
	char *view_name; /* ViewName.view_name: "module.function", NULL when not known */
	char *scooby_view_name; /* ViewName.scooby_view_name: "module.__name__", or NULL */
	const char *view_reason; /* static: why view_name is NULL (NULL: the default reason) */
	int n_plus_one; /* groups flagged N+1, for the terminal line */
	struct profile *profile; /* --profile: the request's samples, NULL when none */
	bool view_decided; /* the first stack of the request was seen (ruling 6) */
	bool view_dispatched; /* named by its dispatcher's call: no stack overrides it */
	uint64_t view_ts; /* when the stack that decided it was taken */
};

/* Queries kept per record and store family; a loop of a million queries must not hold a
 * million entries. Likewise log writes. */
#define RECORD_MAX_QUERIES 1000
#define RECORD_MAX_LOGS 200

/* Returns a new record with a fresh random uuid, or NULL on ENOMEM. */
struct record *record__new(void);
void record__free(struct record *r);
/* Appends q to the list of its store family, taking its strings; past RECORD_MAX_QUERIES
 * only counts it. On failure frees the strings and returns -ENOMEM. */
int record__add_query(struct record *r, struct query *q);
/* True when a query to db would be kept with its details (its list is not full). */
bool record__keeps(const struct record *r, const struct db_kind *db);
/* Appends a log write, taking its string and stack; past RECORD_MAX_LOGS only counts it. */
int record__add_log(struct record *r, struct log_entry *l);
/* Queries of every store, kept or omitted. */
size_t record__nqueries_all(const struct record *r);
/* Frees the query's strings and stack (the struct itself is the caller's). */
void query__free_strings(struct query *q);
void stack__clear(struct stack *s);
/* Similar-query groups per store family (groups.h), each a cJSON array or NULL. */
struct cJSON;
struct record_groups {
	struct cJSON *sql, *redis, *memcache;
	/* instead of trees: each family's groups written from its queries (groups__write),
	 * and the N+1 groups among them counted into n_plus_one */
	bool write;
	int n_plus_one;
};
/* Returns the record as a malloc'd JSON text (invalid UTF-8 repaired), or NULL on ENOMEM.
 * g (may be NULL) gives SQL.groups, Redis.groups and Memcache.groups; its arrays are
 * taken in every case. */
char *record__to_json(const struct record *r, struct record_groups *g);
/* The same, with the text's length in *len. */
char *record__to_json_len(const struct record *r, struct record_groups *g, size_t *len);
/* The same in the stored form (docs/FORMAT.md): each distinct frame once in a top-level
 * "frames", every stack the indices of its frames there. What Redis holds. */
char *record__to_stored_json(const struct record *r, struct record_groups *g, size_t *len);
/* Summed time_taken of the SQL queries (kept and omitted), in ms. */
double record__total_db_ms(const struct record *r);
/* Likewise for a key-value list. */
double query_list__total_ms(const struct query_list *l);
/* Copies a stack: a shared one's frames are shared (a reference more), others' copied
 * (frames are interned: the array is copied, not the strings). Returns 0 or -ENOMEM. */
int stack__copy(struct stack *dst, const struct stack *src);
/* Moves s's own frames into a shared block, so that its copies share them. Returns 0, or
 * -ENOMEM (s is left as it was). */
int stack__share(struct stack *s);
/* Gives s frames of its own (a copy of shared ones) before they are changed. Returns 0 or
 * -ENOMEM (s is left as it was). */
int stack__own(struct stack *s);

/* CLOCK_MONOTONIC ns -> unix ns; clock_ref__init must run once at start. */
void clock_ref__init(void);
int64_t mono_to_unix_ns(uint64_t mono_ns);
uint64_t mono_now_ns(void);
/* Sets *ts to ms milliseconds from now on CLOCK_MONOTONIC (a pthread_cond_timedwait deadline). */
struct timespec;
void mono_after_ms(struct timespec *ts, long ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" for a unix ns time into buf (>= 32 bytes). */
void iso8601_utc(int64_t unix_ns, char *buf, size_t len);

#endif /* SCOOBY_RECORD_H */
