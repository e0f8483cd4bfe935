/* MySQL's protocol on the wire: the kernel's guess of a send's protocol from its first bytes. */
#ifndef SCOOBY_WIRE_MYSQL_BPF_H
#define SCOOBY_WIRE_MYSQL_BPF_H

#include "vmlinux.h"
#include "scooby/events.h"

/* Returns SC_CL_MYSQL when the 8 bytes p start a command packet (length >= 1, sequence 0,
 * a known command byte), SC_CL_NONE otherwise (wire_guess8, bpf/wire.bpf.h; guess_mysql in
 * src/stores/mysql/wire_mysql.c). */
static __always_inline __u32 mysql_wire_guess8(const __u8 *p, __u64 len)
{
	__u32 mlen = p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16;

	if (mlen >= 1 && p[3] == 0) {
		switch (p[4]) {
		case 0x01:
		case 0x02:
		case 0x03:
		case 0x0e:
		case 0x16:
		case 0x17:
		case 0x18:
		case 0x19:
		case 0x1a:
		case 0x1f:
			return SC_CL_MYSQL;
		}
	}
	return SC_CL_NONE;
}

#endif /* SCOOBY_WIRE_MYSQL_BPF_H */
