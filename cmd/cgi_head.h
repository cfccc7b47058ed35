/*
 * cgi_head.h — the header block a CGI script prints before its body (RFC 3875 §6).
 *
 *     Status: 404 Not Found          → the HTTP status (3 digits, 200..599)
 *     Location: https://x/           → a redirect: 302 unless Status says otherwise
 *     Content-Type: text/html        → passed on, like any other header
 *     <blank line>                   → the body follows
 *
 * Lines end with LF or CRLF. A line without a colon (a script that printed its body
 * first), a bad Status or a block without its blank line is a bad block: the request gets
 * 502. A header the supervisor would refuse (proto/rules.h: not a token, hop-by-hop,
 * control bytes in the value, or folded over two lines) is dropped and reported through
 * the `drop` callback, so one odd header never costs the whole response. Content-Length is
 * dropped silently: the body uhw sends is what counts.
 *
 * Pure: no I/O, no allocation. The parser writes a NUL over the colon of each kept header
 * so names can be handed out as C strings; values are (pointer, length) into the block.
 */
#ifndef UHW_CGI_HEAD_H
#define UHW_CGI_HEAD_H

#include <stddef.h>

#include "libuhw.h"

#define CGI_HEAD_MAX_HEADERS 100       /* more is a bad block */
#define CGI_HEAD_MAX_BYTES (64 * 1024) /* a header block longer than this is a bad block */

typedef struct cgi_head {
    unsigned status;                             /* from Status:, else 302 with Location, else 200 */
    uhw_header_t headers[CGI_HEAD_MAX_HEADERS];  /* kept headers, names NUL-terminated in the block */
    size_t nheaders;
    char problem[160];                           /* why the block is bad */
} cgi_head_t;

/* Length of the header block at the front of buf[0, len), including the blank line that
 * ends it, or 0 while that blank line has not arrived. */
size_t cgi_head_end(const char *buf, size_t len);

/* Called for each header dropped, with its name (not NUL-terminated) and why. */
typedef void (*cgi_head_drop_fn)(void *arg, const char *name, size_t name_len, const char *why);

/* Parses the block buf[0, head_len) (head_len from cgi_head_end). Returns 0, or -1 with
 * out->problem saying why the block is bad. Given output that ended before its blank line
 * (head_len = all of it), it says what is wrong with it: a line without a colon, or the
 * missing blank line. `drop` may be NULL. */
int cgi_head_parse(char *buf, size_t head_len, cgi_head_t *out, cgi_head_drop_fn drop, void *arg);

#endif
