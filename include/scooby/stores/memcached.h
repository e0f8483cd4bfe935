/* libmemcached calls: the entry points of their SC_EV_CALL records, and the text protocol's value. */
#ifndef SCOOBY_STORES_MEMCACHED_H
#define SCOOBY_STORES_MEMCACHED_H

/* Included by scooby/events.h (through the build's list of this folder), after struct sc_hdr. */

/* memcached text protocol (enum sc_client) */
enum { SC_CL_MEMCACHE = 4 };

/* Entry points of its SC_EV_CALL* records, in sc_call_event.func (the cookie's high half). */
enum sc_mc_func {
	SC_MC_GET = 1, /* memcached_get: status in its 6th argument (memcached_return_t *) */
	SC_MC_MGET, /* memcached_mget(memc, keys, key_lengths, n): text = keys, arg = n */
	SC_MC_FETCH, /* memcached_fetch_result(memc, result, error *): part of the mget */
	SC_MC_SET,
	SC_MC_ADD,
	SC_MC_REPLACE,
	SC_MC_APPEND,
	SC_MC_PREPEND,
	SC_MC_CAS,
	SC_MC_DELETE,
	SC_MC_INCR,
	SC_MC_DECR,
	SC_MC_TOUCH,
	SC_MC_NFUNCS,
};

#endif /* SCOOBY_STORES_MEMCACHED_H */
