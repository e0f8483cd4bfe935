/* --profile state per thread: samples counted in BPF and off-CPU time, sent in one record. */
#ifndef SCOOBY_PROFILE_BPF_H
#define SCOOBY_PROFILE_BPF_H

#include "common.bpf.h"

const volatile __u32 profiling __weak = 0; /* --profile given */

/*
 * Per traced thread, by tid. A plain hash: task storage may refuse a lookup in the
 * scheduler hook or a sample when the CPU is already inside another program using it, and
 * every interval and sample must be counted. Every access is by the thread itself (its
 * samples, its syscalls, its own switches), so its fields need no lock.
 */
struct prof_thread {
	__u64 t_off; /* when it left the CPU; 0 while it runs */
	__u64 off_ns; /* off-CPU time of the intervals that ended since the last record */
	__u32 nslots;
	__u32 pad;
	struct sc_prof_slot slots[SC_PROF_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct prof_thread);
} prof_threads SEC(".maps") __weak;

static const struct prof_thread prof_zero = {};

/* Sends what the thread pt counted (SC_EV_PROFCOUNT) and empties it; nothing when it
 * counted nothing. A full ring counts the record lost. */
static __always_inline void prof_flush(__u64 pid_tgid, struct prof_thread *pt)
{
	struct sc_profcount_event *e;

	if (!pt->nslots && !pt->off_ns)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		sc_hdr_fill(&e->hdr, SC_EV_PROFCOUNT, sizeof(*e), pid_tgid, bpf_ktime_get_ns());
		e->off_ns = pt->off_ns;
		e->nslots = pt->nslots;
		e->pad = 0;
		__builtin_memcpy(e->slots, pt->slots, sizeof(e->slots));
		bpf_ringbuf_submit(e, sc_wakeup_flags());
	} else {
		sc_count_lost(SC_EV_PROFCOUNT);
	}
	pt->nslots = 0;
	pt->off_ns = 0;
}

/* Before the calling thread's next HTTP record: sends what it counted, so that userspace
 * adds it to the request that was open then, as it did per sample. */
static __always_inline void prof_flush_self(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = pid_tgid;
	struct prof_thread *pt;

	if (!profiling)
		return;
	pt = bpf_map_lookup_elem(&prof_threads, &tid);
	if (pt)
		prof_flush(pid_tgid, pt);
}

/* Gives the calling traced thread its profile state (its off-CPU time counts from now on). */
static __always_inline void prof_thread_add(void)
{
	__u32 tid = bpf_get_current_pid_tgid();

	if (profiling)
		bpf_map_update_elem(&prof_threads, &tid, &prof_zero, BPF_NOEXIST);
}

#endif /* SCOOBY_PROFILE_BPF_H */
