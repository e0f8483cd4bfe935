/* A JSON text writer into one growable buffer, printing exactly as cJSON_PrintUnformatted. */
#ifndef SCOOBY_JSONW_H
#define SCOOBY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A buffer being written; a failed allocation sets oom and later writes do nothing. */
struct jsonw {
	char *buf;
	size_t len, cap;
	bool oom;
	bool comma; /* the next value or member follows another in its container */
};

/* Empties w, keeping its buffer for reuse. */
void jsonw__reset(struct jsonw *w);
void jsonw__free(struct jsonw *w);
/* Returns the text written (the caller frees it; *len its length) and empties w, which gets
 * a new buffer of the same size; NULL when a write ran out of memory. */
char *jsonw__take(struct jsonw *w, size_t *len);
/* Opens and closes an object or array (each as a value: a member's name goes first). */
void jsonw__open(struct jsonw *w, char c);
void jsonw__close(struct jsonw *w, char c);
/* Starts a member of the open object: its name and the colon. */
void jsonw__name_n(struct jsonw *w, const char *name, size_t n);
/* The same for a name that needs no escaping (printable ASCII but '"' and '\\'). */
void jsonw__name_plain(struct jsonw *w, const char *name, size_t n);
/* inline, so that a literal name's length is known when compiling; a literal is one of
 * this program's own names, plain ASCII, and is not escaped (~250 names a record) */
static inline void jsonw__name(struct jsonw *w, const char *name)
{
	if (__builtin_constant_p(strlen(name)))
		jsonw__name_plain(w, name, strlen(name));
	else
		jsonw__name_n(w, name, strlen(name));
}
/* Values: a string (NULL: null) escaped as cJSON escapes, made valid UTF-8 first; a
 * number as cJSON prints a double; true/false; null; a JSON text written as it is. */
void jsonw__str(struct jsonw *w, const char *s);
/* A string's bytes escaped as they are, not made valid UTF-8 (as cJSON prints a string). */
void jsonw__str_as_is(struct jsonw *w, const char *s);
void jsonw__num(struct jsonw *w, double d);
void jsonw__bool(struct jsonw *w, bool b);
void jsonw__null(struct jsonw *w);
void jsonw__raw(struct jsonw *w, const char *json);
void jsonw__raw_n(struct jsonw *w, const char *json, size_t n);
/* An array of unsigned integers, as cJSON prints one of numbers. */
void jsonw__uints(struct jsonw *w, const uint32_t *v, size_t n);

/* Members: a name then a value. */
static inline void jsonw__mstr(struct jsonw *w, const char *name, const char *s)
{
	jsonw__name(w, name);
	jsonw__str(w, s);
}

static inline void jsonw__mnum(struct jsonw *w, const char *name, double d)
{
	jsonw__name(w, name);
	jsonw__num(w, d);
}

/* A member whose value is a count or id where 0 means unknown: 0 is written as null. */
static inline void jsonw__mnum_or_null(struct jsonw *w, const char *name, double d)
{
	jsonw__name(w, name);
	if (d)
		jsonw__num(w, d);
	else
		jsonw__null(w);
}

static inline void jsonw__mbool(struct jsonw *w, const char *name, bool b)
{
	jsonw__name(w, name);
	jsonw__bool(w, b);
}

#endif /* SCOOBY_JSONW_H */
