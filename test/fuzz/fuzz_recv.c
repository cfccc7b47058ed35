/*
 * fuzz_recv.c — libFuzzer target for what `uhw recv` prints (recv_print.h), the sh code a
 * worker evaluates. Whatever the request, the output must be statements of exactly two
 * forms, one per line:
 *
 *     unset NAME
 *     export NAME='...'        ('\'' for a quote; no other byte is special inside '...')
 *
 * with NAME a valid shell identifier (and, for unset, one of the request-owned prefixes),
 * and the request's values must come back byte for byte (NUL bytes dropped).
 *
 * Input: first byte 0 — the rest is a ToWorker frame payload (protobuf-c decodes it, as
 * recv does); otherwise the rest is split at 0xff bytes into method, path, query, then
 * header name/value pairs, so values reach the printer with any bytes at all.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "recv_print.h"
#include "reqvars.h"
#include "shquote.h"
#include "uhw.pb-c.h"

/* What the previous request "exported": valid names to unset, and names that are not. */
static char *const ENV[] = {
    "HTTP_OLD=1", "HTTP_PROXY=keep", "HTTP_X-BAD=1", "HTTP_=x", "UHW_SETTING_A=1", "PATH=/bin", "HTTP_A[0]=x", "NOEQUALS", NULL,
};

/* One parsed statement of the output. */
typedef struct stmt {
    int is_export;
    const char *name; /* into the output, name_len bytes */
    size_t name_len;
    uint8_t *value;
    size_t len;
} stmt_t;

/* Parses the statement at out[*pos]; aborts (a finding) on anything else. */
static void parse_stmt(const uint8_t *out, size_t n, size_t *pos, stmt_t *st)
{
    size_t p = *pos;
    if (n - p > 6 && memcmp(out + p, "unset ", 6) == 0) {
        st->is_export = 0;
        p += 6;
    } else if (n - p > 7 && memcmp(out + p, "export ", 7) == 0) {
        st->is_export = 1;
        p += 7;
    } else {
        fprintf(stderr, "statement neither unset nor export at %zu\n", p);
        abort();
    }
    size_t start = p;
    while (p < n && out[p] != (st->is_export ? '=' : '\n'))
        ++p;
    if (p == n || !shquote_is_name((const char *)out + start, p - start)) {
        fprintf(stderr, "invalid name at %zu\n", start);
        abort();
    }
    st->name = (const char *)out + start;
    st->name_len = p - start;
    st->len = 0;
    if (!st->is_export) {
        *pos = p + 1;
        return;
    }
    ++p; /* '=' */
    /* word := "'" [^']* "'" ( "\'" "'" [^']* "'" )*  then '\n' */
    st->value = malloc(n - p + 1);
    for (;;) {
        if (p == n || out[p] != '\'')
            abort(); /* unquoted byte in a value */
        ++p;
        while (p < n && out[p] != '\'') {
            if (out[p] == '\0')
                abort(); /* NUL cannot be in a shell variable */
            st->value[st->len++] = out[p++];
        }
        if (p == n)
            abort(); /* unterminated quote */
        ++p;
        if (n - p >= 2 && out[p] == '\\' && out[p + 1] == '\'') {
            st->value[st->len++] = '\'';
            p += 2;
            continue;
        }
        break;
    }
    if (p == n || out[p] != '\n')
        abort(); /* something after the closing quote */
    *pos = p + 1;
}

static int name_is(const stmt_t *st, const char *s)
{
    return st->name_len == strlen(s) && memcmp(st->name, s, st->name_len) == 0;
}

static int name_starts(const stmt_t *st, const char *prefix)
{
    return st->name_len >= strlen(prefix) && memcmp(st->name, prefix, strlen(prefix)) == 0;
}

/* Checks the whole output; returns the value exported for `want` in *got (malloc'd). */
static void check_output(const frame_buf_t *out, const char *want, uint8_t **got, size_t *got_len)
{
    size_t pos = 0, n = frame_buf_size(out);
    const uint8_t *p = frame_buf_bytes(out);
    *got = NULL;
    while (pos < n) {
        stmt_t st;
        parse_stmt(p, n, &pos, &st);
        if (!st.is_export && !name_starts(&st, "HTTP_") && !name_starts(&st, "UHW_SETTING_"))
            abort(); /* unset of a variable the request does not own */
        if (name_is(&st, "HTTP_PROXY"))
            abort(); /* never unset (it is the script's own), never set (httpoxy) */
        if (st.is_export && want != NULL && name_is(&st, want) && *got == NULL) {
            *got = st.value;
            *got_len = st.len;
        } else if (st.is_export) {
            free(st.value);
        }
    }
}

/* The bytes of s without NUL. */
static int same_without_nul(const uint8_t *s, size_t n, const uint8_t *v, size_t vlen)
{
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\0')
            continue;
        if (k == vlen || v[k] != s[i])
            return 0;
        ++k;
    }
    return k == vlen;
}

static void check_request(const Uhw__V1__Request *q)
{
    frame_buf_t out;
    frame_buf_init(&out);
    if (recv_print_request(&out, q, "/tmp/body'$(x)", ENV) != 0)
        abort();
    uint8_t *got;
    size_t len;
    check_output(&out, "PATH_INFO", &got, &len);
    const char *path = q->path != NULL ? q->path : "";
    if (got == NULL || !same_without_nul((const uint8_t *)path, strlen(path), got, len))
        abort();
    free(got);
    frame_buf_free(&out);
}

/* Mode 1: fields split at 0xff. Strings in a Request are C strings (protobuf-c gives them
 * NUL-terminated), so a field's NUL bytes end it early, as they would after decoding. */
static void from_fields(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *parts[64];
    size_t lens[64], np = 0, start = 0;
    for (size_t i = 0; i <= size && np < 64; ++i) {
        if (i == size || (uint8_t)copy[i] == 0xff) {
            copy[i] = '\0';
            parts[np] = copy + start;
            lens[np++] = i - start;
            start = i + 1;
        }
    }
    Uhw__V1__Request q = UHW__V1__REQUEST__INIT;
    q.method = np > 0 ? parts[0] : "";
    q.path = np > 1 ? parts[1] : "";
    q.query = np > 2 ? parts[2] : "";
    Uhw__V1__Header hs[32], *hp[32];
    size_t nh = 0;
    for (size_t i = 3; i + 1 < np && nh < 32; i += 2, ++nh) {
        Uhw__V1__Header init = UHW__V1__HEADER__INIT;
        hs[nh] = init;
        hs[nh].name = parts[i];
        hs[nh].value.data = (uint8_t *)parts[i + 1];
        hs[nh].value.len = lens[i + 1]; /* bytes: NUL included */
        hp[nh] = &hs[nh];
    }
    q.headers = hp;
    q.n_headers = nh;
    check_request(&q);
    /* The same pieces as settings. */
    Uhw__V1__Setting ss[32], *sp[32];
    size_t ns = 0;
    for (size_t i = 0; i + 1 < np && ns < 32; i += 2, ++ns) {
        Uhw__V1__Setting init = UHW__V1__SETTING__INIT;
        ss[ns] = init;
        ss[ns].key = parts[i];
        ss[ns].value = parts[i + 1];
        sp[ns] = &ss[ns];
    }
    Uhw__V1__Configure c = UHW__V1__CONFIGURE__INIT;
    c.settings = sp;
    c.n_settings = ns;
    frame_buf_t out;
    frame_buf_init(&out);
    if (recv_print_settings(&out, &c, ENV) != 0)
        abort();
    uint8_t *got;
    size_t len;
    check_output(&out, NULL, &got, &len);
    frame_buf_free(&out);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] != 0) {
        from_fields(data + 1, size - 1);
        return 0;
    }
    Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, size - 1, data + 1);
    if (m == NULL)
        return 0;
    if (m->msg_case == UHW__V1__TO_WORKER__MSG_REQUEST) {
        check_request(m->request);
    } else if (m->msg_case == UHW__V1__TO_WORKER__MSG_CONFIGURE) {
        frame_buf_t out;
        frame_buf_init(&out);
        if (recv_print_settings(&out, m->configure, ENV) != 0)
            abort();
        uint8_t *got;
        size_t len;
        check_output(&out, NULL, &got, &len);
        frame_buf_free(&out);
    }
    uhw__v1__to_worker__free_unpacked(m, NULL);
    return 0;
}
