/*
 * rules.h — what a worker may put in a response, as one copy of the rules shared by the
 * supervisor (which kills a worker that breaks them), the C SDK and the shell helpers
 * (which refuse to send what the supervisor would refuse).
 *
 *   status   200..599 (0 in a frame means 200; 1xx is h2o's business, not a worker's)
 *   name     a non-empty HTTP token (RFC 9110 §5.1), not hop-by-hop
 *   value    field-content (RFC 9110 §5.5): no control bytes except HTAB (so no CR, LF, NUL, DEL)
 *
 * Hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE,
 * Trailer, Upgrade) describe one connection, which uhw manages; a worker may not set them.
 * Pure functions over bytes: no allocation, no protobuf, no h2o.
 */
#ifndef UHW_RULES_H
#define UHW_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Whether `status` is one a worker may answer with (200..599). */
int rules_status_ok(unsigned status);
/* Whether `c` may appear in a header name (an RFC 9110 tchar). */
int rules_tchar(unsigned char c);
/* Whether the header named [name, name+len) is hop-by-hop (ASCII case-insensitive). */
int rules_hop_by_hop(const char *name, size_t len);
/* Why this header may not be sent, or NULL when it may: "empty header name",
 * "header name with a character not allowed in HTTP", "hop-by-hop header ...",
 * "header value with a control character". */
const char *rules_header_problem(const char *name, size_t nlen, const uint8_t *value, size_t vlen);

#endif
