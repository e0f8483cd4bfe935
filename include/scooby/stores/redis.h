/* hiredis calls: the entry points of their SC_EV_CALL records, and RESP's protocol value. */
#ifndef SCOOBY_STORES_REDIS_H
#define SCOOBY_STORES_REDIS_H

/* Included by scooby/events.h (through the build's list of this folder), after struct sc_hdr. */

/* RESP (enum sc_client) */
enum { SC_CL_REDIS = 3 };

/* Entry points of its SC_EV_CALL* records, in sc_call_event.func (the cookie's high half). */
enum sc_redis_func {
	SC_RD_COMMAND = 1, /* redisCommand, redisvCommand, redisCommandArgv: append + reply */
	SC_RD_APPEND, /* redis*AppendCommand*: queue a command on the context */
	SC_RD_GET_REPLY, /* redisGetReply(redisContext *, void **): the oldest one's reply */
	SC_RD_TEXT, /* __redisAppendCommand(c, cmd, len): SC_EV_CALL_TEXT with the RESP bytes */
};

#endif /* SCOOBY_STORES_REDIS_H */
