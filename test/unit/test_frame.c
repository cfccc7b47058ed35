/*
 * test_frame.c — varint-delimited framing: round trips, frames split at every
 * byte offset, several frames per read, oversize, truncated and garbage input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "uhw.pb-c.h"

/* Builds a Response frame with a body of `body_len` bytes into `b`. */
static void append_response(frame_buf_t *b, uint64_t id, size_t body_len)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Response r = UHW__V1__RESPONSE__INIT;
    uint8_t *body = malloc(body_len + 1);
    for (size_t i = 0; i < body_len; ++i)
        body[i] = (uint8_t)(i * 7 + id);
    r.id = id;
    r.status = 200;
    r.body.data = body;
    r.body.len = body_len;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
    m.response = &r;
    assert_int_equal(frame_append(b, &m.base), 0);
    free(body);
}

static void check_response(const uint8_t *p, size_t n, uint64_t id, size_t body_len)
{
    Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, n, p);
    assert_non_null(m);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_RESPONSE);
    assert_int_equal(m->response->id, id);
    assert_int_equal(m->response->status, 200);
    assert_int_equal(m->response->body.len, body_len);
    for (size_t i = 0; i < body_len; ++i)
        assert_int_equal(m->response->body.data[i], (uint8_t)(i * 7 + id));
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void test_varint_round_trip(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, (1u << 21) - 1, 1u << 28, UINT32_MAX,
                                      (uint64_t)1 << 56, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
        uint8_t buf[FRAME_VARINT_MAX + 4];
        size_t n = frame_varint_encode(values[i], buf);
        assert_in_range(n, 1, FRAME_VARINT_MAX);
        size_t hdr, len;
        /* A limit of SIZE_MAX accepts any length; the payload is absent so we expect NEED_MORE
         * except for 0, which is a complete empty frame. */
        frame_status_t st = frame_parse(buf, n, SIZE_MAX, &hdr, &len);
        if (values[i] == 0) {
            assert_int_equal(st, FRAME_OK);
            assert_int_equal(hdr, 1);
            assert_int_equal(len, 0);
        } else {
            assert_int_equal(st, FRAME_NEED_MORE);
        }
    }
    uint8_t buf[FRAME_VARINT_MAX];
    assert_int_equal(frame_varint_encode(300, buf), 2);
    assert_int_equal(buf[0], 0xac);
    assert_int_equal(buf[1], 0x02);
}

static void test_round_trip_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 100, 127, 128, 4096, 70000, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        frame_buf_t b;
        frame_buf_init(&b);
        append_response(&b, i + 1, sizes[i]);
        const uint8_t *msg;
        size_t len;
        assert_int_equal(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len), FRAME_OK);
        check_response(msg, len, i + 1, sizes[i]);
        assert_int_equal(frame_buf_size(&b), 0);
        assert_int_equal(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len), FRAME_NEED_MORE);
        frame_buf_free(&b);
    }
}

/* Feeds two frames into a reader split at every possible offset: nothing is reported
 * before a frame is complete, and both come out intact. */
static void test_split_at_every_offset(void **state)
{
    (void)state;
    frame_buf_t src;
    frame_buf_init(&src);
    append_response(&src, 1, 300);
    append_response(&src, 2, 5);
    const size_t total = frame_buf_size(&src);
    for (size_t cut = 0; cut <= total; ++cut) {
        frame_buf_t rd;
        frame_buf_init(&rd);
        int got = 0;
        const uint8_t *msg;
        size_t len;
        /* first part */
        assert_int_equal(frame_buf_append(&rd, frame_buf_bytes(&src), cut), 0);
        while (frame_take(&rd, FRAME_DEFAULT_MAX, &msg, &len) == FRAME_OK) {
            check_response(msg, len, (uint64_t)got + 1, got == 0 ? 300 : 5);
            ++got;
        }
        /* the rest, one byte at a time */
        for (size_t i = cut; i < total; ++i) {
            assert_int_equal(frame_buf_append(&rd, frame_buf_bytes(&src) + i, 1), 0);
            frame_status_t st;
            while ((st = frame_take(&rd, FRAME_DEFAULT_MAX, &msg, &len)) == FRAME_OK) {
                check_response(msg, len, (uint64_t)got + 1, got == 0 ? 300 : 5);
                ++got;
            }
            assert_int_equal(st, FRAME_NEED_MORE);
        }
        assert_int_equal(got, 2);
        assert_int_equal(frame_buf_size(&rd), 0);
        frame_buf_free(&rd);
    }
    frame_buf_free(&src);
}

static void test_many_frames_one_read(void **state)
{
    (void)state;
    frame_buf_t b;
    frame_buf_init(&b);
    for (uint64_t id = 1; id <= 50; ++id)
        append_response(&b, id, (size_t)id * 3);
    const uint8_t *msg;
    size_t len;
    for (uint64_t id = 1; id <= 50; ++id) {
        assert_int_equal(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len), FRAME_OK);
        check_response(msg, len, id, (size_t)id * 3);
    }
    assert_int_equal(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len), FRAME_NEED_MORE);
    frame_buf_free(&b);
}

/* An oversize length is refused from its prefix alone, before any payload arrives. */
static void test_oversize_refused_from_prefix(void **state)
{
    (void)state;
    uint8_t buf[FRAME_VARINT_MAX];
    size_t n = frame_varint_encode(1025, buf), hdr, len;
    assert_int_equal(frame_parse(buf, n, 1024, &hdr, &len), FRAME_TOO_BIG);
    assert_int_equal(frame_parse(buf, n, 1025, &hdr, &len), FRAME_NEED_MORE);
    /* A huge length is refused after its first bytes, even with the prefix incomplete. */
    n = frame_varint_encode(UINT64_MAX / 2, buf);
    assert_int_equal(frame_parse(buf, 4, FRAME_DEFAULT_MAX, &hdr, &len), FRAME_TOO_BIG);
    /* A full frame one byte over the limit. */
    frame_buf_t b;
    frame_buf_init(&b);
    append_response(&b, 1, 2000);
    const uint8_t *msg;
    assert_int_equal(frame_take(&b, 2000, &msg, &len), FRAME_TOO_BIG);
    assert_int_equal(frame_take(&b, 4096, &msg, &len), FRAME_OK);
    frame_buf_free(&b);
}

static void test_bad_varint(void **state)
{
    (void)state;
    uint8_t buf[12];
    memset(buf, 0x80, sizeof(buf));
    size_t hdr, len;
    assert_int_equal(frame_parse(buf, sizeof(buf), SIZE_MAX, &hdr, &len), FRAME_BAD_VARINT);
    assert_int_equal(frame_parse(buf, 9, SIZE_MAX, &hdr, &len), FRAME_NEED_MORE);
}

/* Random bytes never crash the reader or the decoder, and never yield a frame that
 * claims more than max_frame. */
static void test_random_garbage(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 2000; ++round) {
        uint8_t junk[256];
        size_t n = (size_t)(rand() % (int)sizeof(junk)) + 1;
        for (size_t i = 0; i < n; ++i)
            junk[i] = (uint8_t)rand();
        frame_buf_t b;
        frame_buf_init(&b);
        assert_int_equal(frame_buf_append(&b, junk, n), 0);
        const uint8_t *msg;
        size_t len;
        frame_status_t st;
        while ((st = frame_take(&b, 128, &msg, &len)) == FRAME_OK) {
            assert_true(len <= 128);
            Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, len, msg);
            if (m != NULL)
                uhw__v1__from_worker__free_unpacked(m, NULL);
        }
        assert_true(st == FRAME_NEED_MORE || st == FRAME_TOO_BIG || st == FRAME_BAD_VARINT);
        frame_buf_free(&b);
    }
}

/* Bytes that are a valid frame prefix but not a valid message are reported by the decoder. */
static void test_undecodable_payload(void **state)
{
    (void)state;
    /* field 2 (response), wire type 2, length 5, but only garbage inside claiming more */
    const uint8_t bad[] = {4, 0x12, 0x05, 0x08, 0xff};
    const uint8_t *msg;
    size_t len;
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(frame_buf_append(&b, bad, sizeof(bad)), 0);
    assert_int_equal(frame_take(&b, 1024, &msg, &len), FRAME_OK);
    assert_null(uhw__v1__from_worker__unpack(NULL, len, msg));
    frame_buf_free(&b);
}

/* frame_read_fd: exactly one frame per call, never a byte past it; truncation and EOF. */
static void test_read_fd(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    frame_buf_t src, rd;
    frame_buf_init(&src);
    frame_buf_init(&rd);
    append_response(&src, 7, 10);
    append_response(&src, 8, 20);
    assert_int_equal(frame_write_all(fds[1], frame_buf_bytes(&src), frame_buf_size(&src)), 0);
    assert_int_equal(frame_read_fd(fds[0], &rd, FRAME_DEFAULT_MAX), FRAME_OK);
    check_response(frame_buf_bytes(&rd), frame_buf_size(&rd), 7, 10);
    assert_int_equal(frame_read_fd(fds[0], &rd, FRAME_DEFAULT_MAX), FRAME_OK);
    check_response(frame_buf_bytes(&rd), frame_buf_size(&rd), 8, 20);
    /* a truncated frame, then EOF */
    const uint8_t partial[] = {10, 1, 2};
    assert_int_equal(frame_write_all(fds[1], partial, sizeof(partial)), 0);
    close(fds[1]);
    assert_int_equal(frame_read_fd(fds[0], &rd, FRAME_DEFAULT_MAX), FRAME_TRUNCATED);
    assert_int_equal(frame_read_fd(fds[0], &rd, FRAME_DEFAULT_MAX), FRAME_NEED_MORE); /* clean EOF */
    close(fds[0]);
    frame_buf_free(&src);
    frame_buf_free(&rd);
}

static void test_read_fd_oversize(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    frame_buf_t src, rd;
    frame_buf_init(&src);
    frame_buf_init(&rd);
    append_response(&src, 1, 5000);
    assert_int_equal(frame_write_all(fds[1], frame_buf_bytes(&src), 4), 0);
    assert_int_equal(frame_read_fd(fds[0], &rd, 1024), FRAME_TOO_BIG);
    close(fds[0]);
    close(fds[1]);
    frame_buf_free(&src);
    frame_buf_free(&rd);
}

/* A frame's announced length is not a reason to allocate it: a 1.5 GiB prefix followed by
 * a few bytes and EOF must leave the buffer small (it grows as payload arrives). */
static void test_read_fd_grows_as_bytes_arrive(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    uint8_t prefix[FRAME_VARINT_MAX];
    size_t n = frame_varint_encode((uint64_t)3 << 29, prefix); /* 1.5 GiB */
    assert_int_equal(frame_write_all(fds[1], prefix, n), 0);
    assert_int_equal(frame_write_all(fds[1], "0123456789", 10), 0);
    close(fds[1]);
    frame_buf_t rd;
    frame_buf_init(&rd);
    assert_int_equal(frame_read_fd(fds[0], &rd, (size_t)1 << 31), FRAME_TRUNCATED);
    assert_true(rd.cap <= ((size_t)1 << 20));
    close(fds[0]);
    /* A large frame still arrives whole, through a pipe that holds less than it. */
    assert_int_equal(pipe(fds), 0);
    frame_buf_t src;
    frame_buf_init(&src);
    append_response(&src, 9, 3 << 20);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(frame_write_all(fds[1], frame_buf_bytes(&src), frame_buf_size(&src)) == 0 ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(frame_read_fd(fds[0], &rd, FRAME_DEFAULT_MAX), FRAME_OK);
    check_response(frame_buf_bytes(&rd), frame_buf_size(&rd), 9, 3 << 20);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fds[0]);
    frame_buf_free(&src);
    frame_buf_free(&rd);
}

/* UHW_MAX_FRAME (the pool's max_frame, set by uhw) bounds what a worker-side reader accepts. */
static void test_max_from_env(void **state)
{
    (void)state;
    unsetenv("UHW_MAX_FRAME");
    assert_int_equal(frame_max_from_env(), FRAME_DEFAULT_MAX);
    setenv("UHW_MAX_FRAME", "4096", 1);
    assert_int_equal(frame_max_from_env(), 4096);
    static const char *const bad[] = {"", "0", "-1", "12abc", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        setenv("UHW_MAX_FRAME", bad[i], 1);
        assert_int_equal(frame_max_from_env(), FRAME_DEFAULT_MAX);
    }
    unsetenv("UHW_MAX_FRAME");
}

/* An empty buffer has no bytes, and asking for them is not undefined behaviour
 * (clang's UBSan: "applying zero offset to null pointer"). */
static void test_empty_buf_bytes(void **state)
{
    (void)state;
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(frame_buf_size(&b), 0);
    assert_null(frame_buf_bytes(&b));
    assert_int_equal(frame_buf_append(&b, "", 0), 0);
    assert_null(frame_buf_bytes(&b));
    frame_buf_free(&b);
}

/* Text written to stdout by mistake is recognised long before its bogus length arrives,
 * while every prefix of a real frame stays plausible. */
static void test_plausible(void **state)
{
    (void)state;
    const char *text = "hello world, this is not a frame\n";
    assert_true(frame_plausible((const uint8_t *)text, 1, FRAME_DEFAULT_MAX)); /* 'h' alone: a length */
    assert_false(frame_plausible((const uint8_t *)text, strlen(text), FRAME_DEFAULT_MAX));
    assert_false(frame_plausible((const uint8_t *)"Listening on port 8080\n", 23, FRAME_DEFAULT_MAX));
    assert_false(frame_plausible((const uint8_t *)"DEBUG: starting\n", 16, FRAME_DEFAULT_MAX));
    frame_buf_t b;
    frame_buf_init(&b);
    append_response(&b, 42, 3000);
    append_response(&b, 43, 10);
    for (size_t n = 0; n <= frame_buf_size(&b); ++n)
        assert_true(frame_plausible(frame_buf_bytes(&b), n, FRAME_DEFAULT_MAX));
    frame_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_split_at_every_offset),
        cmocka_unit_test(test_many_frames_one_read),
        cmocka_unit_test(test_oversize_refused_from_prefix),
        cmocka_unit_test(test_bad_varint),
        cmocka_unit_test(test_random_garbage),
        cmocka_unit_test(test_undecodable_payload),
        cmocka_unit_test(test_read_fd),
        cmocka_unit_test(test_read_fd_oversize),
        cmocka_unit_test(test_plausible),
        cmocka_unit_test(test_read_fd_grows_as_bytes_arrive),
        cmocka_unit_test(test_max_from_env),
        cmocka_unit_test(test_empty_buf_bytes),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
