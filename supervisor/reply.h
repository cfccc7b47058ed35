/*
 * reply.h — uhw's own HTTP answers: a JSON body ({"error": ..., "reason": ...,
 * "request_id": ...}) with the status's reason phrase, sent in one h2o call.
 */
#ifndef UHW_REPLY_H
#define UHW_REPLY_H

#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

/* The reason phrase of an HTTP status ("Gateway Timeout"). */
const char *reply_reason(int status);
/* Sends `o` (stolen) as the whole response. */
void reply_json(h2o_req_t *req, int status, json_t *o);
/* {"error": error, "reason": reason, "request_id": id}; reason may be NULL, id 0 for none;
 * retry_after > 0 adds Retry-After. */
void reply_error(h2o_req_t *req, int status, const char *error, const char *reason, int retry_after, uint64_t id);
/* JSON text as uhw writes it: compact, durations in seconds rounded to the millisecond print
 * as 41.529, not 41.529000000000003. Caller frees. */
char *reply_dumps(const json_t *o, size_t flags);

#endif
