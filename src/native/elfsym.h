/* ELF symbol lookups in client libraries: a function's bytes, and struct offsets read from accessors. */
#ifndef SCOOBY_ELFSYM_H
#define SCOOBY_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>

/* Copies up to len bytes of the code of function name in the ELF file at path into buf.
 * Returns the count copied, or -ENOENT when the symbol is absent, -errno on I/O errors. */
int elfsym_func_bytes(const char *path, const char *name, unsigned char *buf, size_t len);

/* Finds the file offset of function name in the ELF file at path (the first symbol of that
 * name: versioned duplicates such as libmariadb's mysql_* share one address), for a uprobe
 * libbpf's own lookup refuses as ambiguous. Returns 0, -ENOENT when absent, -errno. */
int elfsym_func_offset(const char *path, const char *name, unsigned long long *off);

/* Finds the direct calls ("call rel32") of function callee inside function func, both in
 * the ELF file at path, and stores up to max of their file offsets in offs: the sites where
 * a uprobe sees callee called from func only (its arguments already in their registers).
 * Returns how many, or -ENOENT when either symbol is absent, -errno. A byte 0xe8 followed
 * by exactly callee's displacement from there is taken for the call; inside another
 * instruction it would need those 5 bytes to match by chance. */
int elfsym_call_sites(const char *path, const char *func, const char *callee,
		      unsigned long long *offs, size_t max);

/* Looks up symbol name (any type) in the ELF file at path: *value gets its st_value and
 * *exec_delta the p_vaddr - p_offset of the executable PT_LOAD, so that a mapping of that
 * segment at start with file offset off puts the symbol at value + start - (off + delta).
 * Returns 0, -ENOENT when absent, -errno on I/O errors. */
int elfsym_find(const char *path, const char *name, unsigned long long *value,
		long long *exec_delta);

/* Finds the displacement of the first load "mov disp(%rdi), %reg" in x86-64 code: the field
 * offset a one-line accessor (`return p->field;`) reads. Returns it, or -1 when none. */
long x86_first_rdi_load_disp(const unsigned char *code, size_t len);

/* Finds the displacement of the first "lea disp(%rdi), %reg": the field offset an accessor
 * returning the address of an embedded array (`return p->field;` for char field[N]) computes.
 * Returns it, or -1 when none. */
long x86_first_rdi_lea_disp(const unsigned char *code, size_t len);

/* Finds the first "cmpb $imm, disp(%rdi)" in x86-64 code: the field and value a one-line
 * predicate (`return p->state == RUN;`) tests. Returns 0 with *disp and *imm, or -1. */
int x86_first_rdi_cmpb(const unsigned char *code, size_t len, long *disp, unsigned char *imm);

/* True when the instruction at code is one the kernel emulates at a uprobe (push of a
 * register, call/jmp rel32, jmp rel8): any other is single-stepped out of line, a debug
 * exception after the breakpoint's, which on these VMs costs more than the breakpoint. */
bool x86_uprobe_emulated(const unsigned char *code, size_t len);

/* Finds the first "call rel32" in code, the bytes of a function at file offset off.
 * Returns the file offset of its target, or -1 when none. A byte 0xe8 inside another
 * instruction would be taken for one: callers confirm the target another way. */
long long x86_first_call_target(const unsigned char *code, size_t len, unsigned long long off);

/* Decodes a thin wrapper: its first "call rel32" followed by "add $imm8,%rsp; ret", the
 * frame it set up for the call taken down again. Returns the call's target as a file offset
 * (code is the wrapper's bytes at file offset off), with *ret_at the offset in code of the
 * call's return address and *frame the bytes the wrapper had pushed or reserved (imm8), or
 * -1 for any other code. */
long long x86_wrapper_call(const unsigned char *code, size_t len, unsigned long long off,
			   unsigned *ret_at, unsigned *frame);

#endif /* SCOOBY_ELFSYM_H */
