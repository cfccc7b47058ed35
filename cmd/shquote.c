/*
 * shquote.c — POSIX sh quoting; see shquote.h.
 */
#include "shquote.h"

#include <stdlib.h>
#include <string.h>

/* Inside single quotes every byte is literal except the closing quote itself, so a quote
 * is written as: close, escaped quote, reopen ('\''). */
int shquote_append(frame_buf_t *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t len = 2;
    for (size_t i = 0; i < n; ++i)
        len += s[i] == '\'' ? 4 : s[i] != '\0';
    uint8_t *o = frame_buf_reserve(out, len);
    if (o == NULL)
        return -1;
    size_t k = 0;
    o[k++] = '\'';
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\0')
            continue;
        if (s[i] == '\'') {
            memcpy(o + k, "'\\''", 4);
            k += 4;
        } else {
            o[k++] = s[i];
        }
    }
    o[k++] = '\'';
    frame_buf_commit(out, k);
    return 0;
}

char *shquote(const void *p, size_t n)
{
    frame_buf_t b;
    frame_buf_init(&b);
    if (shquote_append(&b, p, n) != 0 || frame_buf_append(&b, "", 1) != 0) {
        frame_buf_free(&b);
        return NULL;
    }
    return (char *)b.data; /* off is 0: nothing was consumed */
}

int shquote_is_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}
