/* Normalizes SQL text into a fingerprint so that queries of the same shape compare equal. */
#ifndef SCOOBY_FINGERPRINT_H
#define SCOOBY_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes into out (NUL-terminated, at most outlen bytes including the NUL)
 * the fingerprint of the len bytes of SQL text at sql:
 *  - string literals ('..' with '' escapes; E'..' with backslash escapes too;
 *    N'..', B'..', X'..', U&'..'; $$..$$ and $tag$..$tag$), numbers (integers,
 *    decimals, exponents, 0x.. hex, with a unary sign), TRUE/FALSE, and
 *    placeholders (?, ?NNN, %s, %(name)s, $1, :name, @name, $name) become ?;
 *  - IN (...) of such values (and NULL) becomes IN (?), and VALUES (...), (...)
 *    whose tuples hold only such values (and NULL, DEFAULT) becomes
 *    VALUES (?); a value may carry ::type casts;
 *  - runs of whitespace, comments (-- and non-nested slash-star) and control
 *    bytes become one space; leading and trailing space is dropped;
 *  - keywords are uppercased; identifiers, quoted ("x", `x`, [x]) or not,
 *    are kept as written.
 * Unterminated strings, quoted identifiers and comments run to the end of
 * the text. Output longer than outlen - 1 is cut at a UTF-8 character
 * boundary with no trailing space.
 *
 * Returns the length written (excluding the NUL), or -1 when sql or out is
 * NULL or outlen is 0. Never reads past sql[len - 1]; NUL bytes in the text
 * count as whitespace. 2 * len + 16 bytes of out always suffice.
 */
int sql_fingerprint(const char *sql, size_t len, char *out, size_t outlen);

/*
 * Writes into out (NUL-terminated, at most outlen bytes) the SQL text with every string
 * literal that follows PASSWORD, PASSWORD = or BY (ALTER USER ... PASSWORD '...', MySQL's
 * IDENTIFIED BY '...') replaced by '***', and, when literals is true, every other string
 * and number literal replaced by ? (placeholders, identifiers, keywords, spacing and
 * case are kept, so the text keeps its shape and its fingerprint). A buffer of 2 * len + 16
 * bytes always suffices. Returns the length written, or -1 on NULL input.
 */
int sql_redact(const char *sql, size_t len, bool literals, char *out, size_t outlen);

#endif /* SCOOBY_FINGERPRINT_H */
