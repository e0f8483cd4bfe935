/* RESP framing of the Redis sink's records: the bytes hiredis would format, without its copies. */
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>

#include "redis_resp.h"

#define LIVE_CHANNEL "scooby:live"

/* Writes v in decimal, with a '-' when neg; returns the length (at most 21). */
static size_t fmt_dec(char *p, unsigned long long v, bool neg)
{
	char tmp[24];
	size_t n = 0, i = 0;

	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	if (neg)
		p[i++] = '-';
	while (n)
		p[i++] = tmp[--n];
	return i;
}

/* Writes a RESP header, type then a count: "$len\r\n" of a bulk string, "*n\r\n" of an
 * array; returns the bytes written. */
static size_t resp_head(char *p, char type, size_t count)
{
	size_t n = 1;

	p[0] = type;
	n += fmt_dec(p + 1, count, false);
	memcpy(p + n, "\r\n", 2);
	return n + 2;
}

static size_t resp_len(char *p, size_t len)
{
	return resp_head(p, '$', len);
}

/* Writes RESP's "$len\r\ntext\r\n" of a bulk string; returns the bytes written. */
static size_t resp_bulk(char *p, const char *text, size_t len)
{
	size_t n = resp_len(p, len);

	memcpy(p + n, text, len);
	memcpy(p + n + len, "\r\n", 2);
	return n + len + 2;
}

/* A bulk string of a signed number. */
static size_t resp_num(char *p, long long v)
{
	char num[24];

	/* the magnitude as unsigned: -LLONG_MIN does not overflow */
	return resp_bulk(
		p, num,
		fmt_dec(num, v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0));
}

#define RESP_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), sizeof(lit) - 1)

/* Writes the key scooby:req:<uuid> as a bulk string; returns the bytes written. */
static size_t resp_key(char *p, const char *uuid)
{
	size_t n = resp_len(p, sizeof(RESP_KEY_PREFIX) - 1 + 32);

	n += RESP_LIT(p + n, RESP_KEY_PREFIX);
	memcpy(p + n, uuid, 32);
	n += 32;
	return n + RESP_LIT(p + n, "\r\n");
}

void resp_set(char *frame, const char *uuid, const char *json, size_t json_len, int ttl_s,
	      struct iovec *iov)
{
	char *p = frame, *tail;

	p += RESP_LIT(p, "*5\r\n$3\r\nSET\r\n");
	p += resp_key(p, uuid);
	p += resp_len(p, json_len);
	iov[0].iov_base = frame;
	iov[0].iov_len = p - frame;
	iov[1].iov_base = (void *)json;
	iov[1].iov_len = json_len;
	tail = p;
	p += RESP_LIT(p, "\r\n$2\r\nEX\r\n");
	p += resp_num(p, ttl_s);
	iov[2].iov_base = tail;
	iov[2].iov_len = p - tail;
}

size_t resp_reply_off(char *p)
{
	return RESP_LIT(p, "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n");
}

size_t resp_trailer(char *trailer, const struct resp_rec *recs, size_t n, long keep, bool quiet,
		    bool *unlink)
{
	char *p = trailer;
	size_t i, ndoomed = 0;

	if (quiet) {
		p += RESP_LIT(p, "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n");
		p += resp_head(p, '*', 1 + n);
		p += RESP_LIT(p, "$6\r\nEXISTS\r\n");
		for (i = 0; i < n; i++)
			p += resp_key(p, recs[i].uuid);
	}
	p += resp_head(p, '*', 2 + 2 * n);
	p += RESP_LIT(p, "$4\r\nZADD\r\n");
	p += resp_bulk(p, RESP_INDEX_KEY, sizeof(RESP_INDEX_KEY) - 1);
	for (i = 0; i < n; i++) {
		p += resp_num(p, recs[i].score);
		p += resp_bulk(p, recs[i].uuid, 32);
		ndoomed += recs[i].doomed != NULL;
	}
	p += RESP_LIT(p, "*4\r\n$15\r\nZREMRANGEBYRANK\r\n");
	p += resp_bulk(p, RESP_INDEX_KEY, sizeof(RESP_INDEX_KEY) - 1);
	p += RESP_LIT(p, "$1\r\n0\r\n");
	/* ranks 0 .. -(keep+1): all but the keep highest scores (written not to overflow) */
	p += resp_num(p, -keep - 1);
	*unlink = ndoomed != 0;
	if (ndoomed) {
		p += resp_head(p, '*', 1 + ndoomed);
		p += RESP_LIT(p, "$6\r\nUNLINK\r\n");
		for (i = 0; i < n; i++) {
			if (recs[i].doomed)
				p += resp_key(p, recs[i].doomed);
		}
	}
	for (i = 0; i < n; i++) {
		p += RESP_LIT(p, "*3\r\n$7\r\nPUBLISH\r\n");
		p += resp_bulk(p, LIVE_CHANNEL, sizeof(LIVE_CHANNEL) - 1);
		p += resp_bulk(p, recs[i].uuid, 32);
	}
	return p - trailer;
}
