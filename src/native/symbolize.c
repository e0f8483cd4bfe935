/* Native frames: return addresses -> module, symbol and offset, with ELF symbols cached per build-id. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/hashmap.h"
#include "util/intern.h"
#include "procmaps.h"
#include "symbolize.h"

/* Symbol tables read, one per file */
static struct hashmap_table elf_files = HASHMAP_TABLE("ELF symbol tables", 64, 4096);

/* Processes whose mappings are known */
static struct hashmap_table native_procs = HASHMAP_TABLE("native processes", 64, 16384);

#define MAX_SYMS (1 << 22)
#define MAX_SEGS 16
#define MAPS_RELOAD_NS 1000000000ULL /* an unknown address re-reads maps at most once a second */

struct sym {
	uint64_t addr, size;
	const char *name; /* interned */
};

/* One ELF file's symbols, shared by every process that maps it. */
struct elf_syms {
	const char *path; /* interned, as first seen */
	struct sym *syms; /* sorted by addr */
	size_t nsyms;
	struct {
		uint64_t vaddr, offset, filesz;
	} segs[MAX_SEGS]; /* executable PT_LOADs */
	size_t nsegs;
};

struct mapping {
	uint64_t start, end, offset;
	struct elf_syms *file;
};

struct proc_maps {
	struct mapping *maps;
	size_t n;
	uint64_t loaded_ns;
};

struct symbolizer {
	struct hashmap *files; /* build-id hash (or dev/inode) -> struct elf_syms */
	struct hashmap *procs; /* pid -> struct proc_maps */
};

static void syms_free(void *p)
{
	struct elf_syms *f = p;

	if (f)
		free(f->syms);
	free(f);
}

static void maps_free(void *p)
{
	struct proc_maps *m = p;

	if (m)
		free(m->maps);
	free(m);
}

struct symbolizer *symbolizer__new(void)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->files = hashmap__new_in(&elf_files);
	s->procs = hashmap__new_in(&native_procs);
	if (!s->files || !s->procs) {
		symbolizer__free(s);
		return NULL;
	}
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	hashmap__free(s->files, syms_free);
	hashmap__free(s->procs, maps_free);
	free(s);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Returns a hash of the file's GNU build-id, or 0 when it has none. */
static uint64_t build_id_hash(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Nhdr nh;
	Elf_Data *data;
	size_t off, name_off, desc_off, i;
	uint64_t h;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		off = 0;
		while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_descsz == 0)
				continue;
			h = 1469598103934665603ULL;
			for (i = 0; i < nh.n_descsz; i++)
				h = (h ^ ((unsigned char *)data->d_buf)[desc_off + i]) *
				    1099511628211ULL;
			return h ? h : 1;
		}
	}
	return 0;
}

/* Adds the function symbols of one symbol table; returns false on ENOMEM. */
static bool add_symtab(struct elf_syms *f, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, size_t *cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	struct sym *grown;
	const char *name;
	GElf_Sym sym;

	for (i = 0; data && i < n && f->nsyms < MAX_SYMS; i++) {
		if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (f->nsyms == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			grown = realloc(f->syms, *cap * sizeof(*grown));
			if (!grown)
				return false;
			f->syms = grown;
		}
		f->syms[f->nsyms].addr = sym.st_value;
		f->syms[f->nsyms].size = sym.st_size;
		f->syms[f->nsyms].name = intern(name);
		f->nsyms++;
	}
	return true;
}

/* Reads the symbols and executable segments of the ELF file at path (through
 * /proc/PID/root), keyed by build-id; returns the cached entry, or NULL. */
static struct elf_syms *load_file(struct symbolizer *s, const char *path, const char *shown,
				  uint64_t fallback_key)
{
	struct elf_syms *f = NULL;
	Elf_Scn *scn = NULL;
	size_t i, n, cap = 0;
	GElf_Shdr sh;
	GElf_Phdr ph;
	uint64_t key;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		goto cleanup;
	key = build_id_hash(elf);
	if (!key)
		key = fallback_key;
	f = hashmap__get(s->files, key);
	if (f)
		goto cleanup;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto cleanup;
	f->path = intern(shown);
	if (elf_getphdrnum(elf, &n) == 0)
		for (i = 0; i < n && f->nsegs < MAX_SEGS; i++)
			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD &&
			    (ph.p_flags & PF_X)) {
				f->segs[f->nsegs].vaddr = ph.p_vaddr;
				f->segs[f->nsegs].offset = ph.p_offset;
				f->segs[f->nsegs++].filesz = ph.p_filesz;
			}
	/* .symtab when not stripped, .dynsym always: both, duplicates are harmless */
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			if (!add_symtab(f, elf, scn, &sh, &cap))
				break;
	qsort(f->syms, f->nsyms, sizeof(*f->syms), sym_cmp);
	if (hashmap__set(s->files, key, f, NULL)) {
		syms_free(f);
		f = NULL;
	}
cleanup:
	elf_end(elf);
	close(fd);
	return f;
}

struct maps_ctx {
	struct symbolizer *s;
	struct proc_maps *pm;
	pid_t pid;
	size_t cap;
};

static int add_mapping(const struct procmaps_entry *e, void *p)
{
	struct maps_ctx *c = p;
	struct mapping *grown;
	char path[4200];

	if (c->pm->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		grown = realloc(c->pm->maps, c->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->pm->maps = grown;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, e->path);
	c->pm->maps[c->pm->n].start = e->start;
	c->pm->maps[c->pm->n].end = e->end;
	c->pm->maps[c->pm->n].offset = e->offset;
	c->pm->maps[c->pm->n].file = load_file(c->s, path, e->path,
					       ((uint64_t)e->dev_major << 56) ^
						       ((uint64_t)e->dev_minor << 40) ^ e->inode);
	c->pm->n++;
	return 0;
}

/* Returns pid's executable mappings, reading /proc/PID/maps when asked to (or the first time). */
static struct proc_maps *proc_maps(struct symbolizer *s, pid_t pid, bool reload)
{
	struct proc_maps *pm = hashmap__get(s->procs, pid);
	struct maps_ctx c = { .s = s, .pid = pid };
	uint64_t now = mono_now_ns();

	if (pm && (!reload || now - pm->loaded_ns < MAPS_RELOAD_NS))
		return pm;
	if (!pm) {
		pm = calloc(1, sizeof(*pm));
		if (!pm || hashmap__set(s->procs, pid, pm, NULL)) {
			free(pm);
			return NULL;
		}
	}
	free(pm->maps);
	pm->maps = NULL;
	pm->n = 0;
	pm->loaded_ns = now;
	c.pm = pm;
	procmaps_foreach_exec(pid, add_mapping, &c);
	return pm;
}

static const struct mapping *find_mapping(const struct proc_maps *pm, uint64_t ip)
{
	size_t i;

	for (i = 0; pm && i < pm->n; i++)
		if (ip >= pm->maps[i].start && ip < pm->maps[i].end)
			return &pm->maps[i];
	return NULL;
}

/* Returns the symbol holding vaddr, or NULL. */
static const struct sym *find_sym(const struct elf_syms *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->nsyms;
	const struct sym *best;

	while (lo < hi) { /* the last symbol starting at or below vaddr */
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	best = &f->syms[lo - 1];
	if (best->size && vaddr >= best->addr + best->size)
		return NULL; /* in a gap between functions */
	return best;
}

int symbolizer__resolve(struct symbolizer *s, pid_t pid, uint64_t ip, bool is_return,
			struct frame *f)
{
	const struct mapping *m = find_mapping(proc_maps(s, pid, false), ip);
	uint64_t look = is_return && ip ? ip - 1 : ip, file_off, vaddr = 0;
	const struct sym *sym = NULL;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->native = true;
	f->offset = ip;
	if (!m) /* a library loaded since we read the maps */
		m = find_mapping(proc_maps(s, pid, true), ip);
	if (!m || !m->file)
		return -ENOENT;
	f->module = m->file->path;
	file_off = look - m->start + m->offset;
	f->offset = ip - m->start + m->offset;
	for (i = 0; i < m->file->nsegs; i++) {
		if (file_off >= m->file->segs[i].offset &&
		    file_off < m->file->segs[i].offset + m->file->segs[i].filesz) {
			vaddr = file_off - m->file->segs[i].offset + m->file->segs[i].vaddr;
			sym = find_sym(m->file, vaddr);
			break;
		}
	}
	if (!sym)
		return -ENOENT;
	f->symbol = sym->name;
	f->offset = vaddr + (ip - look) - sym->addr;
	return 0;
}

void symbolizer__proc_gone(struct symbolizer *s, pid_t pid)
{
	maps_free(hashmap__del(s->procs, pid));
}

bool symbolizer__is_stack_base(const char *sym)
{
	static const char *const bases[] = {
		"_start", "__libc_start_main", "__libc_start_call_main", "start_thread", "clone3",
		"clone"
	};
	size_t i;

	for (i = 0; sym && i < sizeof(bases) / sizeof(bases[0]); i++)
		if (strcmp(sym, bases[i]) == 0)
			return true;
	return false;
}
