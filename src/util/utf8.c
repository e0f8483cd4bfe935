/* Repairs byte strings captured from traced processes into valid UTF-8 for JSON output. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char replacement[3] = { '\xef', '\xbf', '\xbd' }; /* U+FFFD */

/*
 * Returns the length of the well-formed sequence at s[0..len), or 0 when it
 * is ill-formed; *consumed is then the length of its maximal subpart (at least
 * 1), i.e. the bytes one U+FFFD stands for. Ranges are Unicode's table 3-7:
 * the second byte's range is narrowed for E0/ED/F0/F4 so that overlongs,
 * surrogates and values above U+10FFFF are rejected as early as possible.
 */
static size_t utf8__seq(const unsigned char *s, size_t len, size_t *consumed)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80) {
		*consumed = 1;
		return s[0] ? 1 : 0; /* NUL is replaced: consumers want C strings */
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*consumed = 1; /* continuation byte, C0, C1 or F5..FF */
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*consumed = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*consumed = need;
	return need;
}

/* Writes the repaired form of s into out when out is not NULL; returns its length. */
static size_t utf8__repair(const unsigned char *s, size_t len, char *out)
{
	size_t i = 0, o = 0, n, used;

	while (i < len) {
		n = utf8__seq(s + i, len - i, &used);
		if (n) {
			if (out)
				memcpy(out + o, s + i, n);
			o += n;
		} else {
			if (out)
				memcpy(out + o, replacement, sizeof(replacement));
			o += sizeof(replacement);
		}
		i += used;
	}
	return o;
}

char *utf8_sanitize(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;
	char *out;

	if (!s)
		len = 0;
	/* each input byte yields at most 3 output bytes: n cannot overflow below this */
	if (len > (SIZE_MAX - 1) / 3) {
		errno = ENOMEM;
		return NULL;
	}
	/* two passes: exact allocation beats 3x over-allocating 16 KiB SQL texts */
	n = utf8__repair(u, len, NULL);
	out = malloc(n + 1);
	if (!out)
		return NULL;
	utf8__repair(u, len, out);
	out[n] = '\0';
	return out;
}

size_t utf8_cut(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = len, back = 0;
	unsigned need;

	/* step back over continuation bytes to the last lead byte (at most 3) */
	while (i > 0 && back < 4 && (u[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return len;
	need = u[i - 1] >= 0xf0 ? 3 : u[i - 1] >= 0xe0 ? 2 : u[i - 1] >= 0xc0 ? 1 : 0;
	if (need > back)
		return i - 1; /* the last character is incomplete: drop it */
	return len;
}
