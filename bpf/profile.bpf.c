// SPDX-License-Identifier: GPL-2.0
/* --profile: CPU samples of traced threads (perf events), counted per stack in BPF. */
#include "vmlinux.h"
#include "common.bpf.h"
#include "pystack.bpf.h"
#include "profile.bpf.h"

#define PF_EXITING 0x00000004

/* a known stack is sent whole again after this long: userspace resolves it anew, as its
 * caches re-check a code object's identity once a second */
#define PROF_RESEND_NS 1000000000ULL
/* counts older than this go out with the thread's next sample */
#define PROF_FLUSH_NS 200000000ULL

/*
 * A stack userspace has resolved, by hash: laid out as struct sc_pystack_event from
 * hdr.pid on, so that the sent record is stored as it is. The frame list is kept so that
 * two stacks of one hash are never counted as one: a sample must match it frame by frame.
 */
struct prof_known {
	__u32 tgid;
	__u32 tid;
	__u64 ts;
	__u64 sent_ns; /* the record's key_ts: when it was last sent whole */
	__u32 nframes;
	__u32 flags;
	__u64 task, task_coro;
	struct sc_py_frame frames[SC_PY_MAX_FRAMES];
};

#define PROF_KNOWN_OFF 8 /* offsetof(struct sc_pystack_event, hdr.pid) */
_Static_assert(sizeof(struct prof_known) == sizeof(struct sc_pystack_event) - PROF_KNOWN_OFF,
	       "prof_known is the tail of a stack record");
_Static_assert(__builtin_offsetof(struct sc_pystack_event, key_ts) ==
		       PROF_KNOWN_OFF + __builtin_offsetof(struct prof_known, sent_ns),
	       "prof_known.sent_ns is the record's key_ts");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SC_PROF_KNOWN_MAX);
	__type(key, __u64);
	__type(value, struct prof_known);
} prof_known SEC(".maps");

/* hashes of stacks lately sent whole and not kept, by their low bits: a stack is kept
 * (its frame list copied into prof_known) only when it comes again, as most stacks of a
 * web request never do. A hint, shared by every CPU without a lock: a lost or overwritten
 * slot only sends a stack whole once more. */
#define PROF_SEEN_SLOTS 4096
struct prof_seen {
	__u64 hash[PROF_SEEN_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prof_seen);
} prof_seen SEC(".maps");

/* Returns true when hash was lately sent whole, and remembers it. */
static __always_inline bool prof_seen_before(__u64 hash)
{
	__u32 zero = 0, i = hash & (PROF_SEEN_SLOTS - 1);
	struct prof_seen *s = bpf_map_lookup_elem(&prof_seen, &zero);

	if (!s)
		return false;
	if (s->hash[i] == hash)
		return true;
	s->hash[i] = hash;
	return false;
}

/* True when the walked stack e of tgid is the one k holds. */
static __always_inline bool prof_same(const struct prof_known *k, const struct sc_pystack_event *e,
				      __u32 tgid)
{
	__u32 i, n = e->nframes;

	if (k->tgid != tgid || k->nframes != n || k->flags != e->flags)
		return false;
	for (i = 0; i < SC_PY_MAX_FRAMES; i++) {
		if (i >= n)
			break;
		if (k->frames[i].code != e->frames[i].code ||
		    k->frames[i].instr != e->frames[i].instr ||
		    k->frames[i].ctx != e->frames[i].ctx)
			return false;
	}
	return true;
}

/* Counts one sample of the stack hash on the thread pt: userspace does nothing for it
 * until the thread's next record. */
static __always_inline void prof_count(__u64 pid_tgid, struct prof_thread *pt, __u64 hash,
				       __u64 now)
{
	__u32 i;

	if (pt->nslots && now - pt->slots[0].first_ts > PROF_FLUSH_NS)
		prof_flush(pid_tgid, pt);
	for (i = 0; i < SC_PROF_SLOTS; i++) {
		if (i >= pt->nslots)
			break;
		if (pt->slots[i].hash == hash) {
			pt->slots[i].count++;
			return;
		}
	}
	if (pt->nslots >= SC_PROF_SLOTS)
		prof_flush(pid_tgid, pt);
	i = pt->nslots & (SC_PROF_SLOTS - 1);
	pt->slots[i].hash = hash;
	pt->slots[i].first_ts = now;
	pt->slots[i].count = 1;
	pt->nslots = i + 1;
}

/* Takes a Python sample of the calling thread: a count when BPF knows the stack, else the
 * stack whole; one BPF keeps (SC_PY_F_KNOWN) is stored before it is sent, so that no
 * count of it can reach the ring before it. */
static __always_inline void prof_py_sample(const struct sc_py_cfg *cfg, __u64 pid_tgid)
{
	__u32 tid = pid_tgid, tgid = pid_tgid >> 32;
	struct sc_pystack_event *e;
	struct prof_thread *pt;
	struct prof_known *k;
	__u64 hash, now;
	bool fresh = false;

	e = py_walk_frames(cfg, tgid, &hash, NULL);
	if (!e)
		return;
	now = bpf_ktime_get_ns();
	pt = bpf_map_lookup_elem(&prof_threads, &tid);
	/* an exiting thread has left its entry for good (see prof_thread_exit) */
	if (!pt && !(bpf_get_current_task_btf()->flags & PF_EXITING)) {
		bpf_map_update_elem(&prof_threads, &tid, &prof_zero, BPF_NOEXIST);
		pt = bpf_map_lookup_elem(&prof_threads, &tid);
	}
	k = bpf_map_lookup_elem(&prof_known, &hash);
	if (k && !prof_same(k, e, tgid)) {
		pt = NULL; /* another stack of that hash: this one goes whole, every time */
	} else if (!k && pt && !prof_seen_before(hash)) {
		pt = NULL; /* its first time: sent whole, not kept */
	} else if (k && pt && now - k->sent_ns < PROF_RESEND_NS) {
		prof_count(pid_tgid, pt, hash, now);
		return;
	}
	sc_hdr_fill(&e->hdr, SC_EV_PYSAMPLE, 0, pid_tgid, now);
	e->hdr.size = py_event_size(e);
	if (pt) {
		e->key_ts = now;
		fresh = !k;
		if (bpf_map_update_elem(&prof_known, &hash, (void *)e + PROF_KNOWN_OFF, BPF_ANY))
			pt = NULL;
	}
	e->key_ts = pt ? hash : 0;
	if (pt)
		e->flags |= SC_PY_F_KNOWN;
	if (bpf_ringbuf_output(&events, e, e->hdr.size & 0x1fff, sc_wakeup_flags())) {
		sc_count_lost(SC_EV_PYSAMPLE);
		/* userspace never saw it: no count of it may follow */
		if (fresh && pt)
			bpf_map_delete_elem(&prof_known, &hash);
	}
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct sc_py_cfg *cfg;

	if (!tgid || !sc_traced(tgid))
		return 0;
	/* Python processes get their Python stack, others their native one */
	cfg = bpf_map_lookup_elem(&py_procs, &tgid);
	if (cfg)
		prof_py_sample(cfg, pid_tgid);
	else
		nat_capture(ctx, pid_tgid, 0, SC_EV_NATSAMPLE, false);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
