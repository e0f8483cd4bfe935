/* Native frames: return addresses -> module, symbol and offset, with ELF symbols cached per build-id. */
#ifndef SCOOBY_SYMBOLIZE_H
#define SCOOBY_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "record/record.h"

struct symbolizer;

/* Returns an empty symbolizer, or NULL on ENOMEM. */
struct symbolizer *symbolizer__new(void);
void symbolizer__free(struct symbolizer *s);

/* Fills the native frame f for address ip in pid (return addresses are looked up one byte
 * back so a call at a function's end names that function). Returns 0, or -ENOENT when no
 * mapping holds ip (f->module NULL, f->offset = ip) or the module has no symbol for it
 * (f->symbol NULL, f->offset from the module's start). */
int symbolizer__resolve(struct symbolizer *s, pid_t pid, uint64_t ip, bool is_return,
			struct frame *f);
void symbolizer__proc_gone(struct symbolizer *s, pid_t pid);

/* True when sym is where a complete user stack ends (process or thread entry). */
bool symbolizer__is_stack_base(const char *sym);

#endif /* SCOOBY_SYMBOLIZE_H */
