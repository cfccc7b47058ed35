/*
 * target.c — see target.h.
 */
#include "target.h"

#include <string.h>
#include <strings.h>

/* picohttpparser, the HTTP/1 parser inside libh2o: h2o keeps Content-Length and Transfer-Encoding
 * out of req->headers, so the request head is read again, with the same parser, from the
 * connection's input buffer (where it stays until the response is complete). libh2o-evloop
 * exports these symbols but Debian ships no header for them: these are picohttpparser's own
 * declarations. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

#define MAX_HEADERS 128 /* h2o's own limit is 100 */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void trim(const char **v, size_t *n)
{
    while (*n != 0 && (**v == ' ' || **v == '\t'))
        ++*v, --*n;
    while (*n != 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        --*n;
}

/* RFC 9112 §6.3: the message length must be unambiguous. */
static const char *check_framing(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return NULL; /* HTTP/2 frames its messages itself */
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL || sock->input->size == 0)
        return NULL;
    const char *method, *path, *cl = NULL;
    size_t method_len, path_len, num = MAX_HEADERS, cl_len = 0;
    int minor;
    struct phr_header hs[MAX_HEADERS];
    if (phr_parse_request(sock->input->bytes, sock->input->size, &method, &method_len, &path, &path_len, &minor, hs, &num,
                          0) <= 0)
        return NULL; /* not the head of this request (h2o parsed it: it is well-formed) */
    int te = 0;
    for (size_t i = 0; i < num; ++i) {
        const char *v = hs[i].value;
        size_t vn = hs[i].value_len;
        trim(&v, &vn);
        if (hs[i].name_len == 17 && strncasecmp(hs[i].name, "transfer-encoding", 17) == 0) {
            te = 1;
        } else if (hs[i].name_len == 14 && strncasecmp(hs[i].name, "content-length", 14) == 0) {
            if (cl != NULL && (cl_len != vn || memcmp(cl, v, vn) != 0))
                return "two different Content-Length headers";
            cl = v;
            cl_len = vn;
        }
    }
    if (te && cl != NULL)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

/* Whether the raw path, percent-decoded, has a "." or ".." segment (%2e%2e counts). */
static int has_dot_segments(const char *p, size_t n)
{
    size_t seg = 0; /* length of the current segment, decoded */
    int dots = 1;   /* the current segment is all dots so far */
    for (size_t i = 0; i <= n; ++i) {
        char c;
        if (i == n) {
            c = '/';
        } else if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            c = p[i];
        }
        if (c == '/') {
            if (dots && (seg == 1 || seg == 2))
                return 1;
            seg = 0;
            dots = 1;
        } else {
            ++seg;
            dots = dots && c == '.';
        }
    }
    return 0;
}

const char *target_check(h2o_req_t *req)
{
    const char *why = check_framing(req);
    if (why != NULL)
        return why;
    h2o_iovec_t raw = req->path;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : raw.len;
    if (path_len == 0 || raw.base[0] != '/') {
        /* absolute-form (RFC 9112 §3.2.2): the URL's path routes, its authority is the host */
        h2o_url_t url;
        if (path_len == 0 || h2o_url_parse(raw.base, path_len, &url) != 0)
            return "the request target is neither a path nor an absolute URL";
        req->authority = url.authority;
        raw = url.path;
        path_len = raw.len;
        size_t query_at;
        size_t *norm_indexes;
        req->path_normalized = h2o_url_normalize_path(&req->pool, raw.base, raw.len, &query_at, &norm_indexes);
    }
    if (has_dot_segments(raw.base, path_len))
        return "the path has '.' or '..' segments";
    for (size_t i = 0; i < req->path_normalized.len; ++i) {
        unsigned char c = (unsigned char)req->path_normalized.base[i];
        if (c < 0x20 || c == 0x7f)
            return "the path has control characters";
    }
    return NULL;
}
