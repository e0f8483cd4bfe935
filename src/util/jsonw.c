/* A JSON text writer into one growable buffer, printing exactly as cJSON_PrintUnformatted. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonw.h"
#include "utf8.h"

void jsonw__reset(struct jsonw *w)
{
	w->len = 0;
	w->oom = false;
	w->comma = false;
}

void jsonw__free(struct jsonw *w)
{
	if (!w)
		return;
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

char *jsonw__take(struct jsonw *w, size_t *len)
{
	char *out, *fit;

	if (w->oom || !w->buf)
		return NULL;
	out = w->buf;
	*len = w->len;
	fit = realloc(out, w->len + 1); /* shrinking: in place */
	if (fit)
		out = fit;
	/* the next text is likely as long: room for it at once, no copy on the way */
	w->buf = malloc(w->cap);
	if (!w->buf)
		w->cap = 0;
	jsonw__reset(w);
	return out;
}

/* Makes room for n more bytes and a NUL; false (and oom) when memory runs out. */
static bool reserve(struct jsonw *w, size_t n)
{
	size_t cap;
	char *nb;

	if (w->oom)
		return false;
	if (w->len + n + 1 <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n + 1)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

/* A value's separator: a comma after a sibling. */
static void value_start(struct jsonw *w)
{
	if (w->comma)
		put(w, ",", 1);
	w->comma = true;
}

void jsonw__open(struct jsonw *w, char c)
{
	value_start(w);
	put(w, &c, 1);
	w->comma = false;
}

void jsonw__close(struct jsonw *w, char c)
{
	put(w, &c, 1);
	w->comma = true;
}

/* Per byte: 1 when a string writes it escaped (control bytes, '"', '\\'), 2 when it is not
 * ASCII (the string must be made valid UTF-8 first), 0 when it is written as it is. */
static const unsigned char byte_class[256] = {
	[0 ... 31] = 1,
	['"'] = 1,
	['\\'] = 1,
	[0x7f ... 0xff] = 2,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* True when none of the 8 bytes of v needs a look of its own: none is below 0x20, a '"', a
 * '\\' or above 0x7f. The tests may see a byte just above one that does as one too (a
 * borrow), which only sends the word to the byte loop. */
static inline bool word_plain(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');

	return !((v | ((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS);
}

/* Writes s (n bytes) as a quoted string, escaped as cJSON's print_string_ptr does, in one
 * pass: runs of plain bytes are copied whole, found 8 bytes at a time (folded stacks and
 * stack frames are kilobytes of names, none to escape). ascii: stop at a byte that is not ASCII,
 * write nothing and return false (the caller repairs the text first). */
static bool put_escaped_as(struct jsonw *w, const char *s, size_t n, bool ascii)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	unsigned char stop = ascii ? 3 : 1;
	size_t i = 0, run, start = w->len;
	uint64_t v;
	char *o;

	if (n > (SIZE_MAX - 3) / 6) {
		w->oom = true;
		return true;
	}
	if (!reserve(w, 6 * n + 2)) /* every byte escaped as \u00XX at most */
		return true;
	o = w->buf + w->len;
	*o++ = '"';
	while (i < n) {
		for (run = i;;) {
			while (i + 8 <= n) {
				memcpy(&v, p + i, sizeof(v));
				if (!word_plain(v))
					break;
				i += 8;
			}
			if (i == n || (byte_class[p[i]] & stop))
				break;
			i++; /* a byte the word test sent here that is plain after all */
		}
		memcpy(o, p + run, i - run);
		o += i - run;
		if (i == n)
			break;
		if (byte_class[p[i]] == 2) {
			w->len = start;
			w->buf[start] = 0;
			return false;
		}
		*o++ = '\\';
		switch (p[i]) {
		case '"':
		case '\\':
			*o++ = p[i];
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 15];
		}
		i++;
	}
	*o++ = '"';
	*o = 0;
	w->len = o - w->buf;
	return true;
}

static void put_escaped(struct jsonw *w, const char *s, size_t n)
{
	put_escaped_as(w, s, n, false);
}

void jsonw__name_plain(struct jsonw *w, const char *name, size_t n)
{
	char *p;

	value_start(w);
	if (!reserve(w, n + 3))
		return;
	p = w->buf + w->len;
	*p++ = '"';
	memcpy(p, name, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	*p = 0;
	w->len = p - w->buf;
	w->comma = false;
}

void jsonw__name_n(struct jsonw *w, const char *name, size_t n)
{
	value_start(w);
	put_escaped(w, name, n);
	if (!w->oom && w->len + 2 <= w->cap) { /* put_escaped left room for its NUL */
		w->buf[w->len++] = ':';
		w->buf[w->len] = 0;
	} else {
		put(w, ":", 1);
	}
	w->comma = false;
}

void jsonw__str(struct jsonw *w, const char *s)
{
	char *clean;

	if (!s) {
		jsonw__null(w);
		return;
	}
	value_start(w);
	/* ASCII: valid UTF-8 as it is (control bytes are escaped) */
	if (put_escaped_as(w, s, strlen(s), true))
		return;
	clean = utf8_sanitize(s, strlen(s));
	if (!clean) {
		w->oom = true;
		return;
	}
	put_escaped(w, clean, strlen(clean));
	free(clean);
}

/* Writes v in decimal; returns its length. */
static size_t fmt_u64(char *out, unsigned long long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* Prints d as k/1000 when it is the double nearest to such a decimal with at most 15
 * digits: then "%1.15g" gives that decimal and reads back as d, so cJSON prints it so.
 * Returns the length, or 0 when d is not such a value. */
static size_t fmt_millis(char *out, double d)
{
	double k = round(d * 1000);
	unsigned long long a;
	size_t n = 0, frac_digits = 3;
	unsigned frac;

	if (!(fabs(k) < 1e15) || k / 1000 != d)
		return 0;
	if (k < 0)
		out[n++] = '-';
	a = (unsigned long long)fabs(k);
	frac = a % 1000;
	n += fmt_u64(out + n, a / 1000);
	if (!frac)
		return n;
	while (frac % 10 == 0) {
		frac /= 10;
		frac_digits--;
	}
	out[n++] = '.';
	for (; frac_digits; frac_digits--) {
		unsigned div = frac_digits == 3 ? 100 : frac_digits == 2 ? 10 : 1;

		out[n++] = '0' + (frac / div) % 10;
	}
	return n;
}

/* cJSON's compare_double: back, the 15-digit form read back, stands for d. */
static bool reads_back(double back, double d)
{
	return fabs(back - d) <= fmax(fabs(back), fabs(d)) * 2.220446049250313e-16;
}

/*
 * Rounds |d| (1 <= |d| < 1e15) to p significant digits (15 or 17) exactly as printf does
 * (round half to even on its binary value): sets *q to those digits as an integer and *frac
 * to how many of them follow the point. Returns false when the rounding carries into one more
 * digit (printf would then pick another form). |d| is m * 2^e with e < 0 in that range;
 * m * 10^frac fits in 128 bits.
 */
static bool round_sig(double d, int p, uint64_t *q, int *frac)
{
	uint64_t ip = (uint64_t)fabs(d), pow10 = 1, m;
	unsigned __int128 x, r, half, rem;
	int digits = 0, e;

	for (; ip; ip /= 10)
		digits++;
	*frac = p - digits;
	for (e = 0; e < *frac; e++)
		pow10 *= 10;
	m = (uint64_t)ldexp(frexp(fabs(d), &e), 53);
	e = 53 - e; /* the bits below the point: 3..52 */
	x = (unsigned __int128)m * pow10;
	r = x >> e;
	rem = x - (r << e);
	half = (unsigned __int128)1 << (e - 1);
	if (rem > half || (rem == half && (r & 1)))
		r++;
	for (pow10 = 1; p > 0; p--)
		pow10 *= 10;
	if (r >= pow10) /* p + 1 digits */
		return false;
	*q = (uint64_t)r;
	return true;
}

/* Writes q / 10^frac as %g would (no trailing zeros, no point without a fraction), after
 * sign; returns the length. */
static size_t put_sig(char *out, bool neg, uint64_t q, int frac)
{
	char digits[24];
	size_t n = 0, nd;
	int keep = frac;

	if (neg)
		out[n++] = '-';
	nd = fmt_u64(digits, q);
	while (keep > 0 && digits[nd - frac + keep - 1] == '0')
		keep--;
	memcpy(out + n, digits, nd - frac);
	n += nd - frac;
	if (keep) {
		out[n++] = '.';
		memcpy(out + n, digits + nd - frac, keep);
		n += keep;
	}
	return n;
}

static const double exact_pow10[] = { 1e0, 1e1, 1e2,  1e3,  1e4,  1e5,	1e6,  1e7,
				      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };

/* cJSON's print_number for 1 <= |d| < 1e15 without printf: "%1.15g", unless that reads back
 * further than DBL_EPSILON from d, then "%1.17g" (a microsecond Unix time in ms is 16 digits:
 * every record's start took two snprintf and a strtod). Returns the length, 0 outside that
 * range or when a rounding carries (the caller prints then). */
static size_t fmt_cjson_fast(char *out, double d)
{
	double back;
	uint64_t q;
	int frac;

	if (!(fabs(d) >= 1 && fabs(d) < 1e15) || !round_sig(d, 15, &q, &frac))
		return 0;
	/* q and 10^frac are exact doubles: their quotient is the correctly rounded value strtod
	 * gives for the 15 digits */
	back = (double)q / exact_pow10[frac];
	if (d < 0)
		back = -back;
	if (reads_back(back, d))
		return put_sig(out, d < 0, q, frac);
	if (!round_sig(d, 17, &q, &frac))
		return 0;
	return put_sig(out, d < 0, q, frac);
}

void jsonw__str_as_is(struct jsonw *w, const char *s)
{
	value_start(w);
	put_escaped(w, s, strlen(s));
}

void jsonw__num(struct jsonw *w, double d)
{
	char buf[64];
	double back;
	int vi, n;

	value_start(w);
	/* cJSON_CreateNumber saturates valueint; print_number prints %d when it equals d */
	vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
	if (isnan(d) || isinf(d)) {
		n = snprintf(buf, sizeof(buf), "null");
	} else if (d == (double)vi) {
		if (vi < 0) {
			buf[0] = '-';
			n = 1 + fmt_u64(buf + 1, -(long long)vi);
		} else {
			n = fmt_u64(buf, vi);
		}
	} else if (!(n = fmt_millis(buf, d)) && !(n = fmt_cjson_fast(buf, d))) {
		n = snprintf(buf, sizeof(buf), "%1.15g", d);
		back = strtod(buf, NULL);
		if (!reads_back(back, d))
			n = snprintf(buf, sizeof(buf), "%1.17g", d);
	}
	put(w, buf, n);
}

void jsonw__bool(struct jsonw *w, bool b)
{
	value_start(w);
	put(w, b ? "true" : "false", b ? 4 : 5);
}

void jsonw__null(struct jsonw *w)
{
	value_start(w);
	put(w, "null", 4);
}

void jsonw__raw(struct jsonw *w, const char *json)
{
	jsonw__raw_n(w, json, strlen(json));
}

void jsonw__raw_n(struct jsonw *w, const char *json, size_t n)
{
	value_start(w);
	put(w, json, n);
}

void jsonw__uints(struct jsonw *w, const uint32_t *v, size_t n)
{
	char *p;
	size_t i;

	value_start(w);
	/* at most 10 digits and a comma each, and the brackets */
	if (!reserve(w, n * 11 + 2))
		return;
	p = w->buf + w->len;
	*p++ = '[';
	for (i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p += fmt_u64(p, v[i]);
	}
	*p++ = ']';
	*p = 0;
	w->len = p - w->buf;
}
