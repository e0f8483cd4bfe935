/* What every store's library probing may share: offsets read from the code of a library's accessors. */
#include <errno.h>
#include "native/elfsym.h"
#include "store.h"

/* Reads the field offset a one-line accessor loads; -ENOENT when it cannot be found. */
int store__accessor_offset(const char *path, const char *func, __u32 *off)
{
	unsigned char code[48];
	int n = elfsym_func_bytes(path, func, code, sizeof(code));
	long disp;

	if (n < 0)
		return n;
	disp = x86_first_rdi_load_disp(code, n);
	if (disp <= 0 || disp > 4096)
		return -ENOENT;
	*off = disp;
	return 0;
}

/* Reads the offset of the embedded array an accessor returns the address of
 * (`return p->field;` for a char field[N]: an lea). */
int store__accessor_lea_offset(const char *path, const char *func, __u32 *off)
{
	unsigned char code[48];
	int n = elfsym_func_bytes(path, func, code, sizeof(code));
	long disp;

	if (n < 0)
		return n;
	disp = x86_first_rdi_lea_disp(code, n);
	if (disp <= 0 || disp > 65536)
		return -ENOENT;
	*off = disp;
	return 0;
}
