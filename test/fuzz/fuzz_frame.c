/*
 * fuzz_frame.c — libFuzzer target for proto/frame.c: the same bytes read three ways agree.
 *
 *   whole    every byte in one buffer of exactly their size, frames taken one after the
 *            other with frame_take and checked with frame_plausible, as supervisor/worker.c
 *            process_input does;
 *   chunked  the bytes arriving in pieces whose sizes are drawn from the input, appended with
 *            frame_buf_reserve/commit and parsed after each piece, as the supervisor reads a
 *            worker's stdout pipe (bytes outside [off, len) are poisoned for ASan meanwhile);
 *   fd       frame_read_fd on a pipe holding the bytes (the blocking reader of the shell
 *            helpers), which must never read a byte past the frame it returns.
 *
 * Properties: the three give the same frames (stream offset, prefix and payload length) and
 * the same verdict on the stream — a clean end, an incomplete frame at the end, or the same
 * error (over max_frame, bad varint, not plausible) at the same frame — so a frame is valid
 * or invalid by its bytes alone, never by how a read split it. Every frame_take agrees with
 * the length prefix as frame.h specifies it (ref_prefix), respects max_frame, and leaves the
 * buffer as it was unless it returns a frame. A frame that decodes (as FromWorker or as
 * ToWorker) re-encodes to a canonical form that decodes and re-encodes to the same bytes,
 * and frame_append of it gives a frame that frame_take and frame_plausible accept.
 *
 * Input: byte 0 picks max_frame (MAXES), bytes 1-2 seed the chunk sizes, the rest is the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "uhw.pb-c.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MAX_FRAMES 4096 /* more than a 4 KiB input can hold (a frame is at least 1 byte) */
#define FD_FRAMES 64    /* frames the fd reader reads (two or more syscalls each) */
#define DECODE_FRAMES 32 /* frames decoded and re-encoded (allocations: the bulk of the time) */

static const size_t MAXES[] = {
    FRAME_DEFAULT_MAX, 0, 1, 2, 3, 7, 16, 127, 128, 129, 300, 4096, 16383, 16384, 65536, (size_t)1 << 31, SIZE_MAX,
};

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz_frame:%d: %s\n", __LINE__, #cond);                                                   \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef enum { V_END, V_PARTIAL, V_TOO_BIG, V_BAD_VARINT, V_IMPLAUSIBLE } verdict_kind_t;

typedef struct verdict {
    verdict_kind_t kind;
    size_t at; /* stream offset of the frame it is about (the end, for V_END) */
} verdict_t;

typedef struct frame_rec {
    size_t off, hdr, len;
} frame_rec_t;

typedef struct pass {
    frame_rec_t frames[MAX_FRAMES];
    size_t n;
    verdict_t v;
} pass_t;

static pass_t WHOLE, CHUNKED; /* static: too big for the stack */

/* The length prefix as frame.h specifies it, written independently of frame.c: a base-128
 * varint of at most 10 bytes whose 10th byte holds bit 63 only; FRAME_TOO_BIG as soon as the
 * bits seen exceed max_frame (more bytes can only add to them). */
static frame_status_t ref_prefix(const uint8_t *p, size_t n, size_t max_frame, uint64_t *value, size_t *hdr)
{
    unsigned __int128 v = 0;
    for (size_t i = 0; i < FRAME_VARINT_MAX; ++i) {
        if (i == n)
            return FRAME_NEED_MORE;
        if (i == FRAME_VARINT_MAX - 1 && p[i] > 1)
            return FRAME_BAD_VARINT;
        v += (unsigned __int128)(p[i] & 0x7f) << (7 * i);
        if (v > max_frame)
            return FRAME_TOO_BIG;
        if ((p[i] & 0x80) == 0) {
            *value = (uint64_t)v;
            *hdr = i + 1;
            return FRAME_OK;
        }
    }
    return FRAME_BAD_VARINT;
}

/* What frame_take must answer for [p, p+n): the reference prefix, then whether the payload is all there. */
static frame_status_t ref_take(const uint8_t *p, size_t n, size_t max_frame, size_t *hdr, size_t *len)
{
    uint64_t v;
    frame_status_t st = ref_prefix(p, n, max_frame, &v, hdr);
    if (st != FRAME_OK)
        return st;
    *len = (size_t)v;
    return n - *hdr >= v ? FRAME_OK : FRAME_NEED_MORE;
}

static verdict_kind_t kind_of(frame_status_t st)
{
    CHECK(st == FRAME_TOO_BIG || st == FRAME_BAD_VARINT);
    return st == FRAME_TOO_BIG ? V_TOO_BIG : V_BAD_VARINT;
}

/* Whether m or a message inside it kept an unknown field numbered 0. protobuf-c 1.4.1 refuses a
 * tag whose first byte says field 0 but accepts one spelled in more bytes (0x80 0x00) and keeps
 * it as an unknown field, which it packs back in the short form that it refuses: such a message
 * does not survive a round trip. Harmless to uhw, which never re-encodes what it received (and
 * frame_plausible refuses field 0 at the top level, however it is spelled). */
static int has_field_zero(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; ++i)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < m->descriptor->n_fields; ++i) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(const void *)(base + f->offset);
            for (size_t k = 0; k < n; ++k)
                if (has_field_zero(v[k]))
                    return 1;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof shares the storage */
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(const void *)(base + f->offset);
        if (sub != NULL && has_field_zero(sub))
            return 1;
    }
    return 0;
}

/* pack(m) must decode, and re-encode to the same bytes; frame_append(m) gives a good frame. */
static void check_reencode(const ProtobufCMessage *m, ProtobufCMessage *(*unpack)(size_t, const uint8_t *),
                           void (*free_unpacked)(ProtobufCMessage *))
{
    size_t n1 = protobuf_c_message_get_packed_size(m);
    uint8_t *c1 = malloc(n1 + 1);
    CHECK(protobuf_c_message_pack(m, c1) == n1);
    ProtobufCMessage *m2 = unpack(n1, c1);
    if (m2 == NULL) {
        CHECK(has_field_zero(m)); /* the only way a message protobuf-c decoded can fail to decode again */
        free(c1);
        return;
    }
    size_t n2 = protobuf_c_message_get_packed_size(m2);
    uint8_t *c2 = malloc(n2 + 1);
    CHECK(protobuf_c_message_pack(m2, c2) == n2);
    CHECK(n1 == n2 && memcmp(c1, c2, n1) == 0);
    free_unpacked(m2);

    frame_buf_t b;
    frame_buf_init(&b);
    CHECK(frame_append(&b, m) == 0);
    const uint8_t *p = frame_buf_bytes(&b), *msg;
    size_t n = frame_buf_size(&b), len;
    CHECK(frame_plausible(p, n, SIZE_MAX) == 1);
    CHECK(frame_take(&b, SIZE_MAX, &msg, &len) == FRAME_OK);
    CHECK(len == n1 && memcmp(msg, c1, n1) == 0 && frame_buf_size(&b) == 0);
    frame_buf_free(&b);
    free(c2);
    free(c1);
}

static ProtobufCMessage *unpack_from(size_t n, const uint8_t *p)
{
    return (ProtobufCMessage *)uhw__v1__from_worker__unpack(NULL, n, p);
}
static void free_from(ProtobufCMessage *m)
{
    uhw__v1__from_worker__free_unpacked((Uhw__V1__FromWorker *)m, NULL);
}
static ProtobufCMessage *unpack_to(size_t n, const uint8_t *p)
{
    return (ProtobufCMessage *)uhw__v1__to_worker__unpack(NULL, n, p);
}
static void free_to(ProtobufCMessage *m)
{
    uhw__v1__to_worker__free_unpacked((Uhw__V1__ToWorker *)m, NULL);
}

static void check_payload(const uint8_t *msg, size_t len)
{
    Uhw__V1__FromWorker *f = uhw__v1__from_worker__unpack(NULL, len, msg);
    if (f != NULL) {
        check_reencode(&f->base, unpack_from, free_from);
        uhw__v1__from_worker__free_unpacked(f, NULL);
    }
    Uhw__V1__ToWorker *t = uhw__v1__to_worker__unpack(NULL, len, msg);
    if (t != NULL) {
        check_reencode(&t->base, unpack_to, free_to);
        uhw__v1__to_worker__free_unpacked(t, NULL);
    }
}

/* One frame_take on `b` (whose front is at stream offset `at`), checked against the reference.
 * Returns 1 with the frame recorded in `ps` (its payload checked if it is one of the first `decode`),
 * or 0 with ps->v set (*more: the frame is incomplete but plausible: read more). */
static int take_one(frame_buf_t *b, size_t at, size_t max_frame, pass_t *ps, int *more, size_t decode)
{
    const uint8_t *p = frame_buf_bytes(b), *msg = NULL;
    size_t n = frame_buf_size(b), len = 0, off = b->off, rhdr = 0, rlen = 0;
    *more = 0;
    frame_status_t st = frame_take(b, max_frame, &msg, &len);
    CHECK(st == ref_take(p, n, max_frame, &rhdr, &rlen));
    if (st != FRAME_OK) {
        CHECK(b->off == off && frame_buf_size(b) == n && frame_buf_bytes(b) == p); /* left as is */
        ps->v.at = at;
        if (st == FRAME_NEED_MORE) {
            CHECK(n < FRAME_VARINT_MAX || n - rhdr < rlen); /* never more than one frame held */
            if (frame_plausible(p, n, max_frame)) {
                *more = 1;
                ps->v.kind = V_PARTIAL;
            } else {
                ps->v.kind = V_IMPLAUSIBLE;
            }
        } else {
            CHECK(frame_plausible(p, n, max_frame) == 0); /* a bad prefix is never plausible */
            ps->v.kind = kind_of(st);
        }
        return 0;
    }
    size_t hdr = (size_t)(msg - p);
    CHECK(hdr == rhdr && len == rlen && len <= max_frame && b->off == off + hdr + len);
    if (!frame_plausible(p, hdr + len, max_frame)) { /* as when it came in pieces */
        ps->v = (verdict_t){V_IMPLAUSIBLE, at};
        return 0;
    }
    CHECK(ps->n < MAX_FRAMES);
    ps->frames[ps->n++] = (frame_rec_t){at, hdr, len};
    if (ps->n <= decode)
        check_payload(msg, len);
    return 1;
}

static void whole(const uint8_t *s, size_t n, size_t max_frame)
{
    /* A buffer of exactly n bytes: a read past them is an ASan report. */
    uint8_t *copy = malloc(n != 0 ? n : 1);
    memcpy(copy, s, n);
    frame_buf_t b = {.data = copy, .off = 0, .len = n, .cap = n};
    WHOLE.n = 0;
    int more;
    for (;;) {
        if (frame_buf_size(&b) == 0) {
            WHOLE.v = (verdict_t){V_END, n};
            break;
        }
        if (!take_one(&b, b.off, max_frame, &WHOLE, &more, DECODE_FRAMES))
            break;
    }
    free(copy);
}

static uint32_t rng_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Poisons what frame_take and frame_plausible have no business reading: [0, off) and [len, cap). */
static void guard(frame_buf_t *b)
{
    if (b->data == NULL)
        return;
    POISON(b->data, b->off);
    POISON(b->data + b->len, b->cap - b->len);
}

static void unguard(frame_buf_t *b)
{
    if (b->data != NULL)
        UNPOISON(b->data, b->cap);
}

static void chunked(const uint8_t *s, size_t n, size_t max_frame, uint32_t seed)
{
    frame_buf_t b;
    frame_buf_init(&b);
    CHUNKED.n = 0;
    size_t fed = 0, front = 0; /* bytes appended so far; stream offset of b's front */
    for (;;) {
        int stop = 0, more;
        while (frame_buf_size(&b) != 0) {
            guard(&b);
            size_t before = b.off;
            if (!take_one(&b, front, max_frame, &CHUNKED, &more, 0)) {
                stop = !more; /* an error: the supervisor stops reading this worker */
                break;
            }
            front += b.off - before;
        }
        unguard(&b);
        if (stop)
            break;
        if (fed == n) {
            CHUNKED.v = (verdict_t){frame_buf_size(&b) == 0 ? V_END : V_PARTIAL, frame_buf_size(&b) == 0 ? n : front};
            break;
        }
        uint32_t r = rng_next(&seed);
        size_t left = n - fed, want;
        switch (r & 3) {
        case 0: want = 1; break;
        case 1: want = 1 + (r >> 2) % 16; break;
        case 2: want = 1 + (r >> 2) % 512; break;
        default: want = left; break;
        }
        if (want > left)
            want = left;
        /* Reserve more than arrives now and then, as a read into a large buffer does. */
        size_t room = want + ((r >> 20) % 3 == 0 ? (r >> 22) % 8192 : 0);
        uint8_t *dst = frame_buf_reserve(&b, room);
        CHECK(dst != NULL && b.cap - b.len >= room);
        memcpy(dst, s + fed, want);
        frame_buf_commit(&b, want);
        fed += want;
    }
    frame_buf_free(&b);
}

/* frame_read_fd over a pipe holding the stream: the frames of the whole pass, in order, then
 * the status the verdict implies. */
static void from_fd(const uint8_t *s, size_t n, size_t max_frame)
{
    int fds[2];
    if (n > 65536 || pipe2(fds, O_CLOEXEC) != 0)
        return;
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    ssize_t w = n != 0 ? write(fds[1], s, n) : 0;
    close(fds[1]);
    if (w != (ssize_t)n) { /* a pipe smaller than 64 KiB: not this target's business */
        close(fds[0]);
        return;
    }
    frame_buf_t b;
    frame_buf_init(&b);
    size_t i = 0;
    for (; i < WHOLE.n && i < FD_FRAMES; ++i) {
        const frame_rec_t *f = &WHOLE.frames[i];
        CHECK(frame_read_fd(fds[0], &b, max_frame) == FRAME_OK);
        CHECK(frame_buf_size(&b) == f->len && (f->len == 0 || memcmp(frame_buf_bytes(&b), s + f->off + f->hdr, f->len) == 0));
    }
    if (i == WHOLE.n) {
        frame_status_t st = frame_read_fd(fds[0], &b, max_frame);
        size_t at = WHOLE.v.at, hdr, len;
        switch (WHOLE.v.kind) {
        case V_END:
            CHECK(st == FRAME_NEED_MORE); /* a clean end of input */
            break;
        case V_PARTIAL:
            CHECK(st == FRAME_TRUNCATED);
            break;
        case V_TOO_BIG:
        case V_BAD_VARINT:
            CHECK(kind_of(st) == WHOLE.v.kind);
            break;
        case V_IMPLAUSIBLE: /* the fd reader does not look inside: the frame, or truncated */
            CHECK(st == (ref_take(s + at, n - at, max_frame, &hdr, &len) == FRAME_OK ? FRAME_OK : FRAME_TRUNCATED));
            if (st == FRAME_OK)
                CHECK(frame_buf_size(&b) == len && (len == 0 || memcmp(frame_buf_bytes(&b), s + at + hdr, len) == 0));
            break;
        }
    }
    frame_buf_free(&b);
    close(fds[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t max_frame = MAXES[data[0] % (sizeof(MAXES) / sizeof(MAXES[0]))];
    uint32_t seed = ((uint32_t)data[1] << 8 | data[2]) * 2654435761u + 1;
    const uint8_t *s = data + 3;
    size_t n = size - 3;

    whole(s, n, max_frame);
    chunked(s, n, max_frame, seed);
    CHECK(WHOLE.n == CHUNKED.n);
    for (size_t i = 0; i < WHOLE.n; ++i)
        CHECK(memcmp(&WHOLE.frames[i], &CHUNKED.frames[i], sizeof(frame_rec_t)) == 0);
    CHECK(WHOLE.v.kind == CHUNKED.v.kind && WHOLE.v.at == CHUNKED.v.at);
    /* The frames tile the stream up to the verdict. */
    size_t end = 0;
    for (size_t i = 0; i < WHOLE.n; ++i) {
        CHECK(WHOLE.frames[i].off == end);
        end += WHOLE.frames[i].hdr + WHOLE.frames[i].len;
    }
    CHECK(WHOLE.v.at == end);
    from_fd(s, n, max_frame);
    return 0;
}
