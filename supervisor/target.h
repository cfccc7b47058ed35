/*
 * target.h — what uhw accepts as a request before any handler (a static directory, the health
 * path, a pool) sees it, and the one path everything routes on.
 *
 * h2o 2.2.5 is lenient where a server on the internet must not be:
 *   - framing (RFC 9112 §6.3): two different Content-Length values, or Content-Length together
 *     with Transfer-Encoding, are refused and the connection is closed — h2o would use the first
 *     length and parse the rest of the body as another request (request smuggling);
 *   - the target: the path is percent-decoded and normalized once (h2o's path_normalized) and
 *     that decoded path is what routes, what static directories serve and what workers receive;
 *     a path with "." or ".." segments (also encoded), or with control bytes once decoded (%00),
 *     is refused; an absolute-form target (GET http://host/x) routes like its path; any other
 *     target that is not a path (HTTP/2 ":path: x") is refused.
 */
#ifndef UHW_TARGET_H
#define UHW_TARGET_H

#include <h2o.h>

/* Checks `req` and sets req->path_normalized to the path it routes on. Returns NULL when the
 * request may go on, else why it gets 400 (and then the connection must not be kept alive). */
const char *target_check(h2o_req_t *req);

#endif
