/*
 * frame.h — varint-delimited framing of uhw messages (DESIGN.md §2).
 *
 * A frame is the message's encoded length as a protobuf base-128 varint, then
 * the encoded message. This module knows bytes and lengths only; decoding a
 * frame's payload is protobuf-c's job (uhw__v1__from_worker__unpack, ...).
 *
 * It is shared by the supervisor (non-blocking pipes, incremental parsing),
 * the C worker SDK and the shell helpers (blocking, one frame at a time), so
 * it depends on nothing but libc and libprotobuf-c.
 */
#ifndef UHW_FRAME_H
#define UHW_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define FRAME_VARINT_MAX 10                    /* bytes in the longest uint64 varint */
#define FRAME_DEFAULT_MAX ((size_t)16 << 20)   /* 16 MiB, the pool default max_frame */

/* A growable byte queue: bytes are appended at the end and consumed from the front. */
typedef struct frame_buf {
    uint8_t *data; /* allocation (NULL until first use) */
    size_t off;    /* first unconsumed byte */
    size_t len;    /* end of valid bytes; the readable range is [off, len) */
    size_t cap;    /* allocated size */
} frame_buf_t;

typedef enum frame_status {
    FRAME_OK = 1,           /* a whole frame is available */
    FRAME_NEED_MORE = 0,    /* a prefix of a valid frame; read more */
    FRAME_TOO_BIG = -1,     /* the length prefix exceeds max_frame */
    FRAME_BAD_VARINT = -2,  /* the length prefix is not a valid varint (over 10 bytes) */
    FRAME_TRUNCATED = -3,   /* end of input inside a frame */
    FRAME_IO_ERROR = -4,    /* read/write failed; errno says why */
} frame_status_t;

/* Human-readable name of a status, for log lines ("frame over max_frame"). */
const char *frame_status_str(frame_status_t st);

void frame_buf_init(frame_buf_t *b);
void frame_buf_free(frame_buf_t *b);
/* Drops every byte; keeps the allocation. */
void frame_buf_reset(frame_buf_t *b);
static inline size_t frame_buf_size(const frame_buf_t *b) { return b->len - b->off; }
/* The readable bytes; NULL while nothing was ever allocated (NULL + 0 is undefined in C). */
static inline const uint8_t *frame_buf_bytes(const frame_buf_t *b) { return b->data != NULL ? b->data + b->off : NULL; }
/* Returns room for at least `n` more bytes at the end (compacting or growing), or NULL on ENOMEM.
 * Write into it, then call frame_buf_commit with the number of bytes written. */
uint8_t *frame_buf_reserve(frame_buf_t *b, size_t n);
static inline void frame_buf_commit(frame_buf_t *b, size_t n) { b->len += n; }
/* Marks `n` bytes at the front as consumed. */
void frame_buf_consume(frame_buf_t *b, size_t n);
/* Appends raw bytes; 0 or -1 on ENOMEM. */
int frame_buf_append(frame_buf_t *b, const void *p, size_t n);

/* Encodes `v` as a varint into `out`; returns the number of bytes (1..10). */
size_t frame_varint_encode(uint64_t v, uint8_t out[FRAME_VARINT_MAX]);

/* Looks for one frame at the front of [p, p+n). On FRAME_OK sets *hdr_len (varint bytes)
 * and *msg_len (payload bytes); the frame occupies hdr_len + msg_len bytes.
 * FRAME_TOO_BIG is reported as soon as the prefix is complete, before the payload
 * has arrived, so a caller never buffers more than max_frame + 10 bytes. */
frame_status_t frame_parse(const uint8_t *p, size_t n, size_t max_frame, size_t *hdr_len, size_t *msg_len);

/* Whether the bytes at the front of `b` can still be the start of a FromWorker/ToWorker frame.
 * Every top-level field of those messages is length-delimited (wire type 2) — a rule the
 * protocol keeps for future fields too — so the payload seen so far must be a sequence of
 * (tag with wire type 2, length, bytes) that fits in the announced length. Text written to
 * stdout by mistake ("hello world") fails this after a byte or two, long before the bogus
 * length it announces would have arrived. Returns 1 if plausible (or undecided), 0 if not. */
int frame_plausible(const uint8_t *p, size_t n, size_t max_frame);

/* Takes the next whole frame out of `b`. On FRAME_OK, *msg and *msg_len give the payload,
 * which stays valid until the next reserve/append on `b`. Other results leave `b` as is. */
frame_status_t frame_take(frame_buf_t *b, size_t max_frame, const uint8_t **msg, size_t *msg_len);

/* Appends `msg` as one frame (length prefix + encoding) to `b`; 0 or -1 on ENOMEM. */
int frame_append(frame_buf_t *b, const ProtobufCMessage *msg);

/* Blocking I/O for workers and the shell helpers. */

/* The largest frame a worker should accept: $UHW_MAX_FRAME (the pool's max_frame, which uhw
 * puts in every worker's environment) when it is a positive decimal, else FRAME_DEFAULT_MAX. */
size_t frame_max_from_env(void);

/* Reads exactly one frame from `fd` into `b` (replacing its contents) and never a byte past it,
 * so another process can read the next frame from the same pipe. Returns FRAME_OK, FRAME_NEED_MORE
 * for a clean end of input before the first byte, or an error status. Memory grows with the
 * bytes that arrive, not with the length the prefix announces. */
frame_status_t frame_read_fd(int fd, frame_buf_t *b, size_t max_frame);
/* Writes `msg` as one frame to `fd`, retrying short writes and EINTR. 0, or -1 with errno. */
int frame_write_fd(int fd, const ProtobufCMessage *msg);
/* Writes all of [p, p+n) to `fd` (blocking; waits with poll() if fd is non-blocking). 0 or -1. */
int frame_write_all(int fd, const void *p, size_t n);

#endif
