/* Decodes CPython 3.8-3.13 line-number tables: instruction offset -> source line. */
#ifndef SCOOBY_PYLINE_H
#define SCOOBY_PYLINE_H

#include <stddef.h>

/* Oldest and newest CPython 3 minor versions whose tables pyline_addr2line reads. */
#define PYLINE_MIN_MINOR 8
#define PYLINE_MAX_MINOR 13

/*
 * Returns the line number for the instruction at byte offset lasti_bytes in a
 * code object of CPython 3.<minor> (8..13), given its line table bytes
 * (3.8/3.9: co_lnotab; 3.10: co_linetable in the 3.10 format; 3.11+:
 * co_linetable, the location table) and co_firstlineno.
 *
 * lasti_bytes is what CPython itself passes to PyCode_Addr2Line: 3.8/3.9
 * f_lasti as is (bytes); 3.10 f_lasti * 2 (the struct field counts code
 * units); 3.11/3.12 (prev_instr - _PyCode_CODE(code)) * 2 and 3.13
 * (instr_ptr - _PyCode_CODE(code)) * 2, i.e. the plain byte distance from
 * co_code_adaptive, with no +/-1: an offset inside an instruction's inline
 * caches has that instruction's line.
 *
 * Returns -1 when the offset is outside the table (negative, or at/after the
 * end of a 3.10+ table), when the table is malformed or minor unsupported; 0
 * when the table says the instruction has no line (3.11+ also reports line 0
 * for a module's first RESUME). A 3.8/3.9 co_lnotab does not record where the
 * code ends: past its last entry every offset has the last line, as in CPython.
 * Reads only table[0..len); never loops more than len times.
 */
int pyline_addr2line(int minor, const unsigned char *table, size_t len, int firstlineno,
		     long lasti_bytes);

#endif /* SCOOBY_PYLINE_H */
