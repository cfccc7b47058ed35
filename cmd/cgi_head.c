/*
 * cgi_head.c — see cgi_head.h.
 */
#include "cgi_head.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

size_t cgi_head_end(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return 0;
        /* The line [p, nl) is blank if it is empty or a lone CR. */
        if (nl == p || (nl == p + 1 && *p == '\r'))
            return (size_t)(nl + 1 - buf);
        p = nl + 1;
    }
    return 0;
}

/* Up to 40 bytes of [p, p+n) for a log line, with anything unprintable shown as '?'. */
static const char *excerpt(char *out, size_t outsz, const char *p, size_t n)
{
    size_t k = 0, max = outsz - 4 < 40 ? outsz - 4 : 40;
    for (size_t i = 0; i < n && k < max; ++i)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
    if (n > max)
        out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = '\0';
    return out;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static int bad(cgi_head_t *out, const char *what, const char *p, size_t n)
{
    char ex[48];
    if (n == 0)
        snprintf(out->problem, sizeof(out->problem), "%s", what);
    else
        snprintf(out->problem, sizeof(out->problem), "%s: \"%s\"", what, excerpt(ex, sizeof(ex), p, n));
    return -1;
}

/* "404", "404 Not Found" → 404; 0 when it is not three digits then the end or a space. */
static unsigned parse_status(const char *v, size_t n)
{
    if (n < 3 || (n > 3 && !is_ws(v[3])))
        return 0;
    unsigned s = 0;
    for (int i = 0; i < 3; ++i) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        s = s * 10 + (unsigned)(v[i] - '0');
    }
    return s;
}

int cgi_head_parse(char *buf, size_t head_len, cgi_head_t *out, cgi_head_drop_fn drop, void *arg)
{
    out->status = 0;
    out->nheaders = 0;
    out->problem[0] = '\0';
    int location = 0, last_kept = 0; /* last_kept: the previous line is headers[nheaders - 1] */
    int complete = 0;                /* the blank line was seen */
    char *p = buf, *end = buf + head_len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return bad(out, "header block without its ending blank line", p, (size_t)(end - p));
        char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl; /* line is [p, le) */
        char *next = nl + 1;
        if (le == p) {
            complete = 1; /* the blank line */
            break;
        }
        if (is_ws(*p)) {
            /* obs-fold: the previous header went on over this line. HTTP forbids sending it
             * that way; the folded header is dropped rather than guessed at. */
            if (last_kept) {
                uhw_header_t *h = &out->headers[--out->nheaders];
                if (drop != NULL)
                    drop(arg, h->name, strlen(h->name), "folded over several lines (obs-fold)");
            }
            last_kept = 0;
            p = next;
            continue;
        }
        last_kept = 0;
        char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon == NULL)
            return bad(out, "not a header line (no colon; did the script print its body first?)", p,
                       (size_t)(le - p));
        const char *name = p;
        size_t nlen = (size_t)(colon - p);
        char *v = colon + 1, *ve = le;
        while (v < ve && is_ws(*v))
            ++v;
        while (ve > v && is_ws(ve[-1]))
            --ve;
        size_t vlen = (size_t)(ve - v);
        p = next;
        if (nlen == 6 && strncasecmp(name, "Status", 6) == 0) {
            unsigned s = parse_status(v, vlen);
            if (!rules_status_ok(s))
                return bad(out, "invalid Status header (want 3 digits, 200..599)", v, vlen);
            out->status = s;
            continue;
        }
        if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0)
            continue; /* uhw sends the body it got, and h2o says how long it is */
        const char *why = rules_header_problem(name, nlen, (const uint8_t *)v, vlen);
        if (why != NULL) {
            if (drop != NULL)
                drop(arg, name, nlen, why);
            continue;
        }
        if (out->nheaders == CGI_HEAD_MAX_HEADERS)
            return bad(out, "too many header lines", name, nlen);
        if (nlen == 8 && strncasecmp(name, "Location", 8) == 0 && vlen != 0)
            location = 1;
        *colon = '\0';
        out->headers[out->nheaders++] = (uhw_header_t){name, (const uint8_t *)v, vlen};
        last_kept = 1;
    }
    if (!complete)
        return bad(out, "the output ended before the blank line that ends the header block", "", 0);
    if (out->status == 0)
        out->status = location ? 302 : 200;
    return 0;
}
