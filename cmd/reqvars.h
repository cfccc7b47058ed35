/*
 * reqvars.h — a Request as the variables a shell worker sees, named as in CGI/1.1
 * (RFC 3875). One list, printed as sh code by `uhw recv` (recv_print.h) and as NUL-delimited
 * fields by the bash fast path (fields.h), so both forms see the same names and values.
 *
 * Order: the REQVARS_FIXED variables below, always present and in this order, then one
 * HTTP_<NAME> per request header name (see reqvars_header_var for which are kept).
 * Values are the request's bytes without NUL bytes (a shell variable cannot hold NUL).
 */
#ifndef UHW_REQVARS_H
#define UHW_REQVARS_H

#include <stddef.h>

#include "uhw.pb-c.h"

#define REQVARS_FIXED 11 /* UHW_REQUEST_ID REQUEST_METHOD PATH_INFO QUERY_STRING CONTENT_TYPE
                            CONTENT_LENGTH REMOTE_ADDR REMOTE_PORT REQUEST_SCHEME SERVER_PROTOCOL
                            UHW_TIMEOUT_MS */

typedef struct reqvar {
    char *name;  /* a shell variable name: [A-Z_][A-Z0-9_]* */
    char *value; /* len bytes, no NUL among them, NUL-terminated */
    size_t len;
} reqvar_t;

typedef struct reqvars {
    reqvar_t *v;
    size_t n, cap;
} reqvars_t;

void reqvars_init(reqvars_t *vars);
void reqvars_free(reqvars_t *vars);

/* Appends the variables of `q`. 0, or -1 on ENOMEM. */
int reqvars_request(reqvars_t *vars, const Uhw__V1__Request *q);

/* Appends UHW_SETTING_<KEY> for each setting (KEY upper-cased, other characters as '_').
 * 0, or -1 on ENOMEM. */
int reqvars_settings(reqvars_t *vars, const Uhw__V1__Configure *c);

/* The variable for header `name` into out (size at least strlen(name) + 6): HTTP_ + the name
 * upper-cased with '-' as '_'. Returns 0, or -1 when the header gets no variable:
 *  - a name with any byte outside [A-Za-z0-9-] (X_Forwarded_For, X.Forwarded.For): it would
 *    share HTTP_X_FORWARDED_FOR with X-Forwarded-For, so a client could forge its proxy's header;
 *  - Content-Type and Content-Length (they are CONTENT_TYPE and CONTENT_LENGTH);
 *  - Proxy (HTTP_PROXY would point curl & co. at a client-chosen proxy: "httpoxy"). */
int reqvars_header_var(const char *name, char *out);

#endif
