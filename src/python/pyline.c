/* Decodes CPython 3.8-3.13 line-number tables: instruction offset -> source line. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "pyline.h"

/*
 * The tables come from another process's memory and may be garbage or torn
 * by a concurrent write, so every decoder reads strictly inside [0, len),
 * advances at least one byte per step (loops are bounded by len) and keeps
 * the running line in 64 bits, giving up once it leaves the int range.
 */

/* Returns true when a running line number has left what an int line can be. */
static bool line__overflows(long long line)
{
	return line < INT_MIN || line > INT_MAX;
}

/* Returns the final answer for a decoded line: negative lines are garbage. */
static int line__result(long long line)
{
	return line < 0 || line > INT_MAX ? -1 : (int)line;
}

/*
 * 3.8/3.9 co_lnotab: (offset increment, signed line increment) byte pairs.
 * A pair applies to every offset at or after its accumulated offset, so the
 * line of offset A is the line before the first pair whose offset passes A.
 * Returns the line, or -1 for an odd-length (torn) table or a line that
 * leaves the int range.
 */
static int lnotab__addr2line(const unsigned char *t, size_t len, int firstlineno,
			     unsigned long lasti)
{
	unsigned long addr = 0;
	long long line = firstlineno;
	size_t i;

	if (len % 2)
		return -1;
	for (i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > lasti)
			break;
		line += (signed char)t[i + 1];
		if (line__overflows(line))
			return -1;
	}
	return line__result(line);
}

/*
 * 3.10 co_linetable: (range length in bytes, signed line delta) byte pairs,
 * ranges back to back from offset 0. A delta of -128 means "no line" for the
 * range and leaves the running line alone; a length of 255 ends the table.
 * Returns the line, 0 for a range with no line, -1 past the last range or
 * for a malformed table.
 */
static int linetable310__addr2line(const unsigned char *t, size_t len, int firstlineno,
				   unsigned long lasti)
{
	unsigned long start = 0, end;
	long long line = firstlineno;
	signed char delta;
	size_t i;

	if (len % 2)
		return -1;
	for (i = 0; i + 1 < len; i += 2) {
		if (t[i] == 255)
			break;
		end = start + t[i];
		delta = (signed char)t[i + 1];
		if (delta != -128) {
			line += delta;
			if (line__overflows(line))
				return -1;
		}
		if (lasti >= start && lasti < end)
			return delta == -128 ? 0 : line__result(line);
		start = end;
	}
	return -1;
}

/* A cursor over a 3.11+ location table. */
struct loc_cursor {
	const unsigned char *t;
	size_t len, pos;
};

/*
 * Reads one byte that is not the first of an entry (those have bit 7 set;
 * every other byte of a valid table has it clear). Returns the byte, or -1
 * at the end of the table or on a stray entry start.
 */
static int loc_cursor__byte(struct loc_cursor *c)
{
	unsigned char b;

	if (c->pos >= c->len)
		return -1;
	b = c->t[c->pos];
	if (b & 0x80)
		return -1;
	c->pos++;
	return b;
}

/*
 * Reads an unsigned varint: 6-bit chunks, least significant first, bit 6 set
 * on every chunk but the last. Six chunks hold any 32-bit value, so a longer
 * run is garbage. Returns 0 with *v set, or -1.
 */
static int loc_cursor__varint(struct loc_cursor *c, uint64_t *v)
{
	unsigned int shift = 0;
	int chunks, b;

	*v = 0;
	for (chunks = 0; chunks < 6; chunks++) {
		b = loc_cursor__byte(c);
		if (b < 0)
			return -1;
		*v |= (uint64_t)(b & 63) << shift;
		if (!(b & 64))
			return 0;
		shift += 6;
	}
	return -1;
}

/*
 * Reads a signed varint: an unsigned one holding magnitude << 1, with bit 0
 * set for negative values. Returns 0 with *v set, or -1.
 */
static int loc_cursor__svarint(struct loc_cursor *c, long long *v)
{
	uint64_t u;

	if (loc_cursor__varint(c, &u))
		return -1;
	*v = (u & 1) ? -(long long)(u >> 1) : (long long)(u >> 1);
	return 0;
}

/* Location entry kinds: bits 3-6 of an entry's first byte. */
enum {
	LOC_SHORT_MAX = 9, /* 0-9: same line, short column form (one byte) */
	LOC_ONE_LINE_0 = 10, /* 10-12: line + (kind - 10), two column bytes */
	LOC_ONE_LINE_2 = 12,
	LOC_NO_COLUMNS = 13, /* line delta (svarint), no columns */
	LOC_LONG = 14, /* line delta (svarint), end line, column, end column (varints) */
	LOC_NONE = 15, /* no location: the instruction has no line */
};

/*
 * Skips the rest of one entry whose first byte has kind `kind`, applying its
 * line delta to *line. Returns 0, or -1 when the entry is cut or malformed.
 */
static int loc_cursor__entry(struct loc_cursor *c, int kind, long long *line)
{
	long long delta = 0;
	uint64_t skip;
	int i;

	if (kind <= LOC_SHORT_MAX)
		return loc_cursor__byte(c) < 0 ? -1 : 0;
	if (kind >= LOC_ONE_LINE_0 && kind <= LOC_ONE_LINE_2) {
		if (loc_cursor__byte(c) < 0 || loc_cursor__byte(c) < 0)
			return -1;
		delta = kind - LOC_ONE_LINE_0;
	} else if (kind == LOC_NO_COLUMNS || kind == LOC_LONG) {
		if (loc_cursor__svarint(c, &delta))
			return -1;
		/* the long form's end line delta, column and end column: not needed */
		for (i = 0; kind == LOC_LONG && i < 3; i++)
			if (loc_cursor__varint(c, &skip))
				return -1;
	} else {
		return 0; /* LOC_NONE: nothing follows, the line is unchanged */
	}
	*line += delta;
	return line__overflows(*line) ? -1 : 0;
}

/*
 * 3.11+ location table: entries back to back from code unit 0, each a first
 * byte (bit 7 set, kind in bits 3-6, code units covered - 1 in bits 0-2) and
 * kind-specific bytes; the line is a running delta from co_firstlineno.
 * Offsets inside an instruction's inline caches fall in its entry. Returns the
 * line, 0 for an entry with no location, -1 past the last entry or for a
 * malformed entry before the one covering the offset.
 */
static int loctable__addr2line(const unsigned char *t, size_t len, int firstlineno,
			       unsigned long lasti)
{
	struct loc_cursor c = { .t = t, .len = len };
	unsigned long unit = lasti / 2, addr = 0, n;
	long long line = firstlineno;
	unsigned char first;
	int kind;

	while (c.pos < c.len) {
		first = c.t[c.pos++];
		if (!(first & 0x80))
			return -1;
		kind = (first >> 3) & 15;
		n = (first & 7) + 1;
		if (loc_cursor__entry(&c, kind, &line))
			return -1;
		if (unit >= addr && unit < addr + n)
			return kind == LOC_NONE ? 0 : line__result(line);
		addr += n;
	}
	return -1;
}

int pyline_addr2line(int minor, const unsigned char *table, size_t len, int firstlineno,
		     long lasti_bytes)
{
	if (lasti_bytes < 0 || (!table && len) || firstlineno < 0)
		return -1;
	if (!table)
		table = (const unsigned char *)"";
	switch (minor) {
	case 8:
	case 9:
		return lnotab__addr2line(table, len, firstlineno, lasti_bytes);
	case 10:
		return linetable310__addr2line(table, len, firstlineno, lasti_bytes);
	case 11:
	case 12:
	case 13:
		return loctable__addr2line(table, len, firstlineno, lasti_bytes);
	default:
		return -1;
	}
}
