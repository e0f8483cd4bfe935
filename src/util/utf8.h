/* Repairs byte strings captured from traced processes into valid UTF-8 for JSON output. */
#ifndef SCOOBY_UTF8_H
#define SCOOBY_UTF8_H

#include <stddef.h>

/*
 * Returns a malloc'd NUL-terminated copy of the len bytes at s that is valid
 * UTF-8: each maximal ill-formed subsequence (Unicode's "substitution of
 * maximal subparts", as Python's errors="replace" does) and each NUL byte
 * becomes U+FFFD. Overlong forms, surrogates and code points above U+10FFFF
 * are ill-formed. s may be NULL when len is 0. Returns NULL with errno ENOMEM
 * when memory runs out, and never fails otherwise.
 */
char *utf8_sanitize(const char *s, size_t len);

/* Returns len shortened so that s does not end inside a multi-byte sequence: text cut at
 * a byte limit must not grow a replacement character past that limit. */
size_t utf8_cut(const char *s, size_t len);

#endif /* SCOOBY_UTF8_H */
