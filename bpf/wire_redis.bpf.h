/* RESP on the wire: the kernel's guess of a send's protocol from its first bytes. */
#ifndef SCOOBY_WIRE_REDIS_BPF_H
#define SCOOBY_WIRE_REDIS_BPF_H

#include "vmlinux.h"
#include "scooby/events.h"

/* Returns SC_CL_REDIS when the 8 bytes p start a RESP array ('*' and a digit), SC_CL_NONE
 * otherwise (wire_guess8, bpf/wire.bpf.h; guess_redis in src/stores/redis/wire_redis.c). */
static __always_inline __u32 redis_wire_guess8(const __u8 *p, __u64 len)
{
	return p[0] == '*' && p[1] >= '0' && p[1] <= '9' ? SC_CL_REDIS : SC_CL_NONE;
}

#endif /* SCOOBY_WIRE_REDIS_BPF_H */
