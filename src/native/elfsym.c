/* ELF symbol lookups in client libraries: a function's bytes, and struct offsets read from accessors. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

/* Looks name up in one symbol table; returns 1 and its value (and size) when found. */
static int find_in_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, const char *name,
			  GElf_Addr *value, GElf_Xword *size, bool funcs_only)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;
	const char *s;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getsym(data, i, &sym) || !sym.st_value ||
		    (funcs_only && GELF_ST_TYPE(sym.st_info) != STT_FUNC))
			continue;
		s = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (s && strcmp(s, name) == 0) {
			*value = sym.st_value;
			if (size)
				*size = sym.st_size;
			return 1;
		}
	}
	return 0;
}

/* Looks name up in every symbol table of elf; returns 1 and its value when found. */
static int find_symbol_sized(Elf *elf, const char *name, bool funcs_only, GElf_Addr *value,
			     GElf_Xword *size)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB) &&
		    find_in_symtab(elf, scn, &sh, name, value, size, funcs_only))
			return 1;
	return 0;
}

static int find_symbol(Elf *elf, const char *name, bool funcs_only, GElf_Addr *value)
{
	return find_symbol_sized(elf, name, funcs_only, value, NULL);
}

/* Translates a virtual address to a file offset through the program headers. */
static long vaddr_to_offset(Elf *elf, GElf_Addr addr)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_filesz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return -1;
}

int elfsym_func_offset(const char *path, const char *name, unsigned long long *off)
{
	GElf_Addr value = 0;
	Elf *elf = NULL;
	int fd, err = -ENOENT;
	long o;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		err = -EINVAL;
		goto cleanup;
	}
	if (!find_symbol(elf, name, true, &value))
		goto cleanup;
	o = vaddr_to_offset(elf, value);
	if (o < 0) {
		err = -EINVAL;
		goto cleanup;
	}
	*off = o;
	err = 0;
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

/* Reads len bytes at file offset off of path; 0 or -errno (-EIO when short). */
static int elfsym_read_at(const char *path, long off, unsigned char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, off);
	if (n != (ssize_t)len)
		err = n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

/* Finds function name's file offset and size; 0, -ENOENT, -errno. */
static int func_extent(const char *path, const char *name, long *off, size_t *size)
{
	GElf_Addr value = 0;
	GElf_Xword sz = 0;
	Elf *elf = NULL;
	int fd, err = -ENOENT;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && find_symbol_sized(elf, name, true, &value, &sz)) {
		*off = vaddr_to_offset(elf, value);
		*size = sz;
		err = *off < 0 ? -EINVAL : 0;
	}
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym_call_sites(const char *path, const char *func, const char *callee,
		      unsigned long long *offs, size_t max)
{
	long foff, coff, target;
	size_t fsize, csize, i, n = 0;
	unsigned char *code = NULL;
	int32_t rel;
	int err;

	err = func_extent(path, func, &foff, &fsize);
	if (!err)
		err = func_extent(path, callee, &coff, &csize);
	if (err)
		return err;
	if (fsize < 5 || fsize > (1 << 20) || !(code = malloc(fsize)))
		return -EINVAL;
	err = elfsym_read_at(path, foff, code, fsize);
	if (err)
		goto cleanup;
	/* one executable segment holds both: file offsets differ as addresses do */
	target = coff - foff;
	for (i = 0; i + 5 <= fsize && n < max; i++) {
		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		if ((long)i + 5 + rel == target)
			offs[n++] = foff + i;
	}
	err = n;
cleanup:
	free(code);
	return err;
}

int elfsym_func_bytes(const char *path, const char *name, unsigned char *buf, size_t len)
{
	unsigned long long off;
	int fd, err = elfsym_func_offset(path, name, &off);
	ssize_t n;

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, off);
	err = n < 0 ? -errno : (int)n;
	close(fd);
	return err;
}

/* The displacement of the first `opcode disp(%rdi), %reg` (ModRM rm=111, mod 01 or 10). */
static long first_rdi_disp(const unsigned char *code, size_t len, unsigned char opcode)
{
	size_t i;
	unsigned char modrm;

	for (i = 0; i + 2 < len; i++) {
		if (code[i] != opcode)
			continue;
		/* a REX prefix with its B bit set makes rm=111 mean r15, not rdi */
		if (i > 0 && (code[i - 1] & 0xf0) == 0x40 && (code[i - 1] & 1))
			continue;
		modrm = code[i + 1];
		if ((modrm & 7) != 7)
			continue;
		if ((modrm >> 6) == 1)
			return code[i + 2];
		if ((modrm >> 6) == 2 && i + 5 < len)
			return (long)(code[i + 2] | code[i + 3] << 8 | code[i + 4] << 16 |
				      (unsigned long)code[i + 5] << 24);
	}
	return -1;
}

long x86_first_rdi_load_disp(const unsigned char *code, size_t len)
{
	/* mov r/m -> reg is opcode 8b, optionally after a REX.W (48) prefix */
	return first_rdi_disp(code, len, 0x8b);
}

long x86_first_rdi_lea_disp(const unsigned char *code, size_t len)
{
	/* lea m -> reg is opcode 8d (after REX.W for a 64-bit register) */
	return first_rdi_disp(code, len, 0x8d);
}

bool x86_uprobe_emulated(const unsigned char *code, size_t len)
{
	if (len >= 1 && code[0] >= 0x50 && code[0] <= 0x57)
		return true; /* push %reg */
	if (len >= 2 && code[0] == 0x41 && code[1] >= 0x50 && code[1] <= 0x57)
		return true; /* push %r8-%r15 */
	if (len >= 5 && (code[0] == 0xe8 || code[0] == 0xe9))
		return true; /* call/jmp rel32 */
	return len >= 2 && code[0] == 0xeb; /* jmp rel8 */
}

long long x86_first_call_target(const unsigned char *code, size_t len, unsigned long long off)
{
	size_t i;
	int32_t rel;

	for (i = 0; i + 5 <= len; i++) {
		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		return (long long)(off + i + 5) + rel;
	}
	return -1;
}

long long x86_wrapper_call(const unsigned char *code, size_t len, unsigned long long off,
			   unsigned *ret_at, unsigned *frame)
{
	size_t i;

	for (i = 0; i + 5 <= len && code[i] != 0xe8; i++)
		;
	/* add $imm8,%rsp (48 83 c4 ib), then ret */
	if (i + 10 > len || code[i + 5] != 0x48 || code[i + 6] != 0x83 || code[i + 7] != 0xc4 ||
	    code[i + 9] != 0xc3)
		return -1;
	*ret_at = i + 5;
	*frame = code[i + 8];
	return x86_first_call_target(code + i, 5, off + i);
}

int elfsym_find(const char *path, const char *name, unsigned long long *value,
		long long *exec_delta)
{
	GElf_Addr v = 0;
	GElf_Phdr ph;
	Elf *elf = NULL;
	int fd, err = -ENOENT;
	size_t i, n;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		err = -EINVAL;
		goto cleanup;
	}
	if (!find_symbol(elf, name, false, &v))
		goto cleanup;
	*value = v;
	*exec_delta = 0;
	if (elf_getphdrnum(elf, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD &&
			    (ph.p_flags & PF_X)) {
				/* unsigned: a corrupt file must not overflow it */
				*exec_delta = (long long)((ph.p_vaddr & ~0xfffULL) -
							  (ph.p_offset & ~0xfffULL));
				break;
			}
		}
	}
	err = 0;
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

int x86_first_rdi_cmpb(const unsigned char *code, size_t len, long *disp, unsigned char *imm)
{
	size_t i;

	/* opcode 80 /7 ib; ModRM 0x7f: disp8(%rdi), 0xbf: disp32(%rdi) */
	for (i = 0; i + 3 < len; i++) {
		if (code[i] != 0x80 || (i > 0 && (code[i - 1] & 0xf0) == 0x40 && (code[i - 1] & 1)))
			continue;
		if (code[i + 1] == 0x7f) {
			*disp = code[i + 2];
			*imm = code[i + 3];
			return 0;
		}
		if (code[i + 1] == 0xbf && i + 6 < len) {
			*disp = (long)(code[i + 2] | code[i + 3] << 8 | code[i + 4] << 16 |
				       (unsigned long)code[i + 5] << 24);
			*imm = code[i + 6];
			return 0;
		}
	}
	return -1;
}
