/* PostgreSQL's protocol on the wire: the kernel's guess of a send's protocol from its first bytes. */
#ifndef SCOOBY_WIRE_POSTGRESQL_BPF_H
#define SCOOBY_WIRE_POSTGRESQL_BPF_H

#include "vmlinux.h"
#include "scooby/events.h"

static __always_inline __u32 pg_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Returns SC_CL_PG when the 8 bytes p start a typed frontend message (a known type and a
 * length in [4, 2^30)) or an SSLRequest or startup packet, SC_CL_NONE otherwise
 * (wire_guess8, bpf/wire.bpf.h; guess_pg in src/stores/postgresql/wire_pg.c). */
static __always_inline __u32 postgresql_wire_guess8(const __u8 *p, __u64 len)
{
	__u32 n = pg_be32(p + 1);

	switch (p[0]) {
	case 'Q':
	case 'P':
	case 'B':
	case 'E':
	case 'D':
	case 'S':
	case 'C':
	case 'H':
	case 'F':
	case 'X':
	case 'd':
	case 'c':
	case 'f':
		if (n >= 4 && n < (1u << 30))
			return SC_CL_PG;
	}
	n = pg_be32(p);
	if ((n == 8 && pg_be32(p + 4) == 80877103) || (pg_be32(p + 4) == 196608 && n < 10000))
		return SC_CL_PG;
	return SC_CL_NONE;
}

#endif /* SCOOBY_WIRE_POSTGRESQL_BPF_H */
