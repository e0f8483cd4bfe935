/* The interpreter's probes, and the lookup of the library a mapped file is (the stores' or the interpreter's). */
#include <string.h>
#include "targets.h"

/* The interpreter: where the framework's dispatcher hands a request to its view
 * (bpf/pyview.bpf.c). A pyenv python3.X executable only starts libpython, which holds
 * the symbol: optional, so the one without it is skipped quietly. */
static const struct probe_spec python_probes[] = {
	/* the eval loop's own calls only: PyObject_Call's entry runs ~100 times a Django
	 * request (C code calling back), a trap each; the loop's 4 sites far fewer */
	{ "PyObject_Call", "py_call", false, 0, true, .inside = "_PyEval_EvalFrameDefault" },
};

/* 3.12 and 3.13 push the view's frame in the eval loop (a local symbol in 3.12) */
static const struct probe_spec python312_probes[] = {
	{ "_PyEvalFramePushAndInit", "py_push", false, 0, true },
};

/* The probe reads the interpreter through py_procs (src/python/pystack.c): no offsets here. */
static int python_configure(const char *path, struct sc_lib_cfg *cfg)
{
	return 0;
}

#define PYTHON(name, prefix, probes)                                                             \
	{                                                                                        \
		name, prefix, probes, sizeof(probes) / sizeof(probes[0]), python_configure, true \
	}

static const struct target_lib targets[] = {
	/* first match wins: the versions that push frames before the others */
	PYTHON("libpython", "libpython3.12", python312_probes),
	PYTHON("libpython", "libpython3.13", python312_probes),
	PYTHON("python", "python3.12", python312_probes),
	PYTHON("python", "python3.13", python312_probes),
	PYTHON("libpython", "libpython3.", python_probes),
	PYTHON("python", "python3.", python_probes),
};

/* The stores' libraries first (src/stores/registry.h), then the interpreter's. */
const struct target_lib *targets__match(const char *path)
{
	const struct store *const *s;
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (s = stores; *s; s++)
		for (i = 0; i < (*s)->nlibs; i++)
			if (strncmp(base, (*s)->libs[i].prefix, strlen((*s)->libs[i].prefix)) == 0)
				return &(*s)->libs[i];
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strncmp(base, targets[i].prefix, strlen(targets[i].prefix)) == 0)
			return &targets[i];
	return NULL;
}

bool targets__early(const struct target_lib *t, const char *sym)
{
	const char *const *e;

	for (e = t->early; e && *e; e++)
		if (strcmp(sym, *e) == 0)
			return true;
	return false;
}
