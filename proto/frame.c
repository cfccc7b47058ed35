/*
 * frame.c — varint-delimited framing; see frame.h.
 */
#include "frame.h"

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_STEP ((size_t)64 << 10) /* frame_read_fd's first read of a payload */

const char *frame_status_str(frame_status_t st)
{
    switch (st) {
    case FRAME_OK:
        return "ok";
    case FRAME_NEED_MORE:
        return "incomplete frame";
    case FRAME_TOO_BIG:
        return "frame longer than max_frame";
    case FRAME_BAD_VARINT:
        return "invalid length prefix";
    case FRAME_TRUNCATED:
        return "truncated frame";
    case FRAME_IO_ERROR:
        return "I/O error";
    }
    return "unknown frame status";
}

void frame_buf_init(frame_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}

void frame_buf_free(frame_buf_t *b)
{
    free(b->data);
    frame_buf_init(b);
}

void frame_buf_reset(frame_buf_t *b)
{
    b->off = b->len = 0;
}

uint8_t *frame_buf_reserve(frame_buf_t *b, size_t n)
{
    if (b->cap - b->len >= n && b->data != NULL)
        return b->data + b->len;
    /* Compact first: consumed bytes at the front are free space. */
    if (b->off != 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return b->data + b->len;
    }
    size_t need = b->len + n, cap = b->cap != 0 ? b->cap : 4096;
    if (need < b->len) /* overflow */
        return NULL;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

void frame_buf_consume(frame_buf_t *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) /* empty: restart at the front, nothing to move */
        b->off = b->len = 0;
}

int frame_buf_append(frame_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = frame_buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    memcpy(dst, p, n);
    frame_buf_commit(b, n);
    return 0;
}

size_t frame_varint_encode(uint64_t v, uint8_t out[FRAME_VARINT_MAX])
{
    size_t i = 0;
    while (v >= 0x80) {
        out[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[i++] = (uint8_t)v;
    return i;
}

/* Decodes the length prefix at p. FRAME_OK with *value and *used, FRAME_NEED_MORE, FRAME_BAD_VARINT,
 * or FRAME_TOO_BIG as soon as the bits seen exceed max_frame (more bytes could only make it larger). */
static frame_status_t varint_decode(const uint8_t *p, size_t n, size_t max_frame, uint64_t *value, size_t *used)
{
    uint64_t v = 0;
    for (size_t i = 0; i < FRAME_VARINT_MAX; ++i) {
        if (i == n)
            return FRAME_NEED_MORE;
        uint64_t byte = p[i];
        if (i == FRAME_VARINT_MAX - 1 && byte > 1) /* a 10th byte may only carry bit 63 */
            return FRAME_BAD_VARINT;
        v |= (byte & 0x7f) << (7 * i);
        if (v > max_frame)
            return FRAME_TOO_BIG;
        if ((byte & 0x80) == 0) {
            *value = v;
            *used = i + 1;
            return FRAME_OK;
        }
    }
    return FRAME_BAD_VARINT;
}

frame_status_t frame_parse(const uint8_t *p, size_t n, size_t max_frame, size_t *hdr_len, size_t *msg_len)
{
    uint64_t len;
    frame_status_t st = varint_decode(p, n, max_frame, &len, hdr_len);
    if (st != FRAME_OK)
        return st;
    *msg_len = (size_t)len;
    return n - *hdr_len < *msg_len ? FRAME_NEED_MORE : FRAME_OK;
}

int frame_plausible(const uint8_t *p, size_t n, size_t max_frame)
{
    uint64_t len;
    size_t hdr;
    frame_status_t st = varint_decode(p, n, max_frame, &len, &hdr);
    if (st == FRAME_NEED_MORE)
        return 1;
    if (st != FRAME_OK)
        return 0;
    const uint8_t *msg = p + hdr;
    size_t have = n - hdr < len ? n - hdr : (size_t)len, pos = 0;
    while (pos < have) {
        uint64_t tag, flen;
        size_t used;
        /* tags and lengths are bounded by the frame length, which is <= max_frame */
        st = varint_decode(msg + pos, have - pos, UINT64_MAX >> 1, &tag, &used);
        if (st == FRAME_NEED_MORE)
            return 1;
        if (st != FRAME_OK || (tag & 7) != 2 || (tag >> 3) == 0)
            return 0;
        pos += used;
        st = varint_decode(msg + pos, have - pos, UINT64_MAX >> 1, &flen, &used);
        if (st == FRAME_NEED_MORE)
            return 1;
        if (st != FRAME_OK || flen > len - pos - used)
            return 0;
        pos += used + (size_t)flen;
    }
    return 1;
}

frame_status_t frame_take(frame_buf_t *b, size_t max_frame, const uint8_t **msg, size_t *msg_len)
{
    size_t hdr, len;
    frame_status_t st = frame_parse(frame_buf_bytes(b), frame_buf_size(b), max_frame, &hdr, &len);
    if (st != FRAME_OK)
        return st;
    *msg = frame_buf_bytes(b) + hdr;
    *msg_len = len;
    /* Advance without frame_buf_consume's reset so the payload pointer stays valid. */
    b->off += hdr + len;
    return FRAME_OK;
}

int frame_append(frame_buf_t *b, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *dst = frame_buf_reserve(b, FRAME_VARINT_MAX + len);
    if (dst == NULL)
        return -1;
    size_t hdr = frame_varint_encode(len, dst);
    size_t packed = protobuf_c_message_pack(msg, dst + hdr);
    frame_buf_commit(b, hdr + packed);
    return 0;
}

/* Reads exactly n bytes; returns n, 0..n-1 on EOF, -1 on error. */
static ssize_t read_exact(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        } else {
            return -1;
        }
    }
    return (ssize_t)got;
}

size_t frame_max_from_env(void)
{
    const char *s = getenv("UHW_MAX_FRAME");
    if (s == NULL || *s < '0' || *s > '9')
        return FRAME_DEFAULT_MAX;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX)
        return FRAME_DEFAULT_MAX;
    return (size_t)v;
}

frame_status_t frame_read_fd(int fd, frame_buf_t *b, size_t max_frame)
{
    uint8_t hdr[FRAME_VARINT_MAX];
    size_t hdr_len, msg_len, n = 0;
    frame_buf_reset(b);
    /* The prefix is read one byte at a time: reading ahead would steal bytes of the next
     * frame from whoever reads the pipe after us (the shell helpers share stdin). */
    uint64_t len;
    frame_status_t st;
    do {
        ssize_t r = read_exact(fd, hdr + n, 1);
        if (r < 0)
            return FRAME_IO_ERROR;
        if (r == 0)
            return n == 0 ? FRAME_NEED_MORE : FRAME_TRUNCATED;
        ++n;
        st = varint_decode(hdr, n, max_frame, &len, &hdr_len);
    } while (st == FRAME_NEED_MORE);
    if (st != FRAME_OK)
        return st;
    msg_len = (size_t)len;
    /* Grow with what arrives (at most doubling what we hold), not with what the prefix
     * announces: a bogus prefix must not reserve max_frame bytes up front. */
    size_t got = 0;
    while (got < msg_len) {
        size_t want = msg_len - got, step = got < READ_STEP ? READ_STEP : got;
        if (want > step)
            want = step;
        uint8_t *dst = frame_buf_reserve(b, want);
        if (dst == NULL)
            return FRAME_IO_ERROR;
        ssize_t r = read_exact(fd, dst, want);
        if (r < 0)
            return FRAME_IO_ERROR;
        frame_buf_commit(b, (size_t)r);
        got += (size_t)r;
        if ((size_t)r < want)
            return FRAME_TRUNCATED;
    }
    return FRAME_OK;
}

int frame_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n != 0) {
        ssize_t w = write(fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int frame_write_fd(int fd, const ProtobufCMessage *msg)
{
    frame_buf_t b;
    frame_buf_init(&b);
    int ret = -1;
    if (frame_append(&b, msg) == 0)
        ret = frame_write_all(fd, frame_buf_bytes(&b), frame_buf_size(&b));
    int saved = errno;
    frame_buf_free(&b);
    errno = saved;
    return ret;
}
