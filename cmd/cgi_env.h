/*
 * cgi_env.h — the environment a CGI script runs with (RFC 3875 §4.1).
 *
 * The worker's own environment (as fcgiwrap passes its own on: PATH, HOME, the pool's
 * env...), minus anything a request sets, then the request's meta-variables:
 *
 *   GATEWAY_INTERFACE=CGI/1.1  SERVER_SOFTWARE=uhw/VERSION  SERVER_PROTOCOL  REQUEST_METHOD
 *   SERVER_NAME, SERVER_PORT   from the Host header (default port by scheme)
 *   SCRIPT_NAME, SCRIPT_FILENAME, DOCUMENT_ROOT, PATH_INFO and PATH_TRANSLATED (when there
 *   is a PATH_INFO), QUERY_STRING (always, maybe empty), REQUEST_URI (path?query as sent),
 *   REMOTE_ADDR, REMOTE_PORT, CONTENT_TYPE, CONTENT_LENGTH (when there is a body),
 *   REQUEST_SCHEME, HTTPS=on for https, REDIRECT_STATUS=200 (php-cgi refuses to run
 *   without it), UHW_REQUEST_ID (the id in uhw's logs and victims records),
 *   HTTP_<NAME> for every other header: upper case, '-' → '_'.
 *
 * Header names that contain '_' are dropped (X_Foo and X-Foo would both become
 * HTTP_X_FOO: a client could forge a header a front proxy set), as are names with other
 * characters an environment name cannot carry and the Proxy header (httpoxy: scripts
 * read HTTP_PROXY as their proxy setting). Repeated headers are joined with ", " (Cookie
 * with "; "), as RFC 3875 §4.1.18 asks.
 *
 * Pure: builds strings, no I/O.
 */
#ifndef UHW_CGI_ENV_H
#define UHW_CGI_ENV_H

#include "cgi_map.h"
#include "libuhw.h"

/* The worker's environment without the variables a request sets (CGI meta-variables,
 * HTTP_*), with a default PATH added when it has none. A malloc'd NULL-terminated array
 * of pointers into `environ` (not copies): free() it, and keep `environ` unchanged. */
char **cgi_env_base(char *const *environ);

/* base + the meta-variables of `req` running `t` (DOCUMENT_ROOT = document_root), as one
 * allocation holding the array and the strings: free() it. NULL on ENOMEM. */
char **cgi_env_build(char *const *base, const uhw_req_t *req, const cgi_target_t *t, const char *document_root);

#endif
