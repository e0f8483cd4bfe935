/* memcached's text protocol on the wire: the kernel's guess of a send's protocol from its first bytes. */
#ifndef SCOOBY_WIRE_MEMCACHED_BPF_H
#define SCOOBY_WIRE_MEMCACHED_BPF_H

#include "vmlinux.h"
#include "scooby/events.h"

/* True when p (8 bytes) starts with the memcached verb v followed by ' ' or '\r'. */
static __always_inline bool mc_verb(const __u8 *p, const char *v, int n)
{
	int i;

	for (i = 0; i < n && i < 7; i++)
		if (p[i] != v[i])
			return false;
	return p[n & 7] == ' ' || p[n & 7] == '\r';
}

/* True when the 8 bytes p start with a memcached text or meta command verb. */
static __always_inline bool mc_guess8(const __u8 *p)
{
	switch (p[0]) {
	case 'g':
		if (mc_verb(p, "get", 3) || mc_verb(p, "gets", 4) || mc_verb(p, "gat", 3) ||
		    mc_verb(p, "gats", 4))
			return true;
		break;
	case 's':
		if (mc_verb(p, "set", 3) || mc_verb(p, "stats", 5))
			return true;
		break;
	case 'a':
		if (mc_verb(p, "add", 3) || mc_verb(p, "append", 6))
			return true;
		break;
	case 'r':
		if (mc_verb(p, "replace", 7))
			return true;
		break;
	case 'p':
		if (mc_verb(p, "prepend", 7))
			return true;
		break;
	case 'c':
		if (mc_verb(p, "cas", 3))
			return true;
		break;
	case 'd':
		if (mc_verb(p, "delete", 6) || mc_verb(p, "decr", 4))
			return true;
		break;
	case 'i':
		if (mc_verb(p, "incr", 4))
			return true;
		break;
	case 't':
		if (mc_verb(p, "touch", 5))
			return true;
		break;
	case 'f':
		if (p[1] == 'l' && p[2] == 'u' && p[3] == 's' && p[4] == 'h' && p[5] == '_' &&
		    p[6] == 'a' && p[7] == 'l')
			return true;
		break;
	case 'v':
		if (mc_verb(p, "version", 7))
			return true;
		break;
	case 'm':
		if ((p[1] == 'g' || p[1] == 's' || p[1] == 'd' || p[1] == 'a' || p[1] == 'n' ||
		     p[1] == 'e') &&
		    (p[2] == ' ' || p[2] == '\r'))
			return true;
		break;
	}
	return false;
}

/* Returns SC_CL_MEMCACHE when the 8 bytes p start a memcached command, SC_CL_NONE otherwise
 * (wire_guess8, bpf/wire.bpf.h; guess_memcache in src/stores/memcached/wire_memcache.c). */
static __always_inline __u32 memcached_wire_guess8(const __u8 *p, __u64 len)
{
	return mc_guess8(p) ? SC_CL_MEMCACHE : SC_CL_NONE;
}

#endif /* SCOOBY_WIRE_MEMCACHED_BPF_H */
