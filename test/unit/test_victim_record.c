/*
 * test_victim_record.c — reading victims.jsonl lines back (cmd/victim_record.c), as
 * supervisor/victims.c writes them: fields, base64 bodies and headers, redacted headers,
 * cut bodies, and lines that are not records; and the Request frame `uhw replay --exec`
 * and `--frame` build from a record (cmd/replay_exec.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "replay_exec.h"
#include "uhw.pb-c.h"
#include "victim_record.h"

/* A line as uhw writes it (from a real run, with a binary header added). */
static const char crash_line[] =
    "{\"time\":\"2026-11-21T21:42:47.465Z\",\"pool\":\"crash\",\"worker\":0,\"pid\":4885,\"reason\":\"died\","
    "\"detail\":\"killed by SIGSEGV\",\"exit_code\":null,\"signal\":\"SIGSEGV\",\"status\":500,"
    "\"request\":{\"id\":17,\"method\":\"POST\",\"path\":\"/crash\",\"query\":\"x=1\","
    "\"headers\":{\"user-agent\":\"curl/7.88.1\",\"authorization\":\"[redacted]\",\"x-bin\":{\"base64\":\"AP8=\"},"
    "\"accept\":\"text/html, */*\"},"
    "\"remote\":\"127.0.0.1:34456\",\"body_size\":16,\"body_base64\":\"dGhlIGJvZHkgaQ==\",\"body_truncated\":true}}\n";

static const victim_header_t *header(const victim_record_t *v, const char *name)
{
    for (size_t i = 0; i < v->nheaders; ++i)
        if (strcmp(v->headers[i].name, name) == 0)
            return &v->headers[i];
    return NULL;
}

static void test_crash_record(void **state)
{
    (void)state;
    victim_record_t v;
    char err[256];
    assert_int_equal(victim_record_parse(crash_line, strlen(crash_line), &v, err, sizeof(err)), 0);
    assert_string_equal(v.pool, "crash");
    assert_string_equal(v.reason, "died");
    assert_string_equal(v.detail, "killed by SIGSEGV");
    assert_string_equal(v.signal, "SIGSEGV");
    assert_int_equal(v.exit_code, -1);
    assert_int_equal(v.pid, 4885);
    assert_int_equal(v.status, 500);
    assert_int_equal(v.id, 17);
    assert_string_equal(v.method, "POST");
    assert_string_equal(v.path, "/crash");
    assert_string_equal(v.query, "x=1");
    assert_string_equal(v.remote, "127.0.0.1:34456");
    assert_int_equal(v.nheaders, 4);
    assert_string_equal(v.headers[0].name, "user-agent"); /* in the recorded order */
    assert_string_equal((const char *)header(&v, "accept")->value, "text/html, */*");
    assert_true(header(&v, "authorization")->redacted);
    assert_false(header(&v, "user-agent")->redacted);
    const victim_header_t *bin = header(&v, "x-bin");
    assert_int_equal(bin->value_len, 2);
    assert_memory_equal(bin->value, "\x00\xff", 2);
    assert_int_equal(v.body_len, 10);
    assert_memory_equal(v.body, "the body i", 10);
    assert_int_equal(v.body_size, 16);
    assert_true(v.body_truncated);
    victim_record_free(&v);
}

static void test_exit_record_whole_body(void **state)
{
    (void)state;
    static const char line[] =
        "{\"time\":\"t\",\"pool\":\"cgi\",\"worker\":2,\"pid\":9,\"reason\":\"exited\",\"detail\":\"exited with code 3\","
        "\"exit_code\":3,\"signal\":null,\"status\":500,\"request\":{\"id\":5,\"method\":\"GET\",\"path\":\"/x\","
        "\"query\":\"\",\"headers\":{},\"remote\":\"[::1]:80\",\"body_size\":4,\"body_base64\":\"AAECAw==\","
        "\"body_truncated\":false}}";
    victim_record_t v;
    char err[256];
    assert_int_equal(victim_record_parse(line, strlen(line), &v, err, sizeof(err)), 0);
    assert_int_equal(v.exit_code, 3);
    assert_null(v.signal);
    assert_int_equal(v.worker, 2);
    assert_int_equal(v.nheaders, 0);
    assert_int_equal(v.body_len, 4);
    assert_memory_equal(v.body, "\x00\x01\x02\x03", 4);
    assert_false(v.body_truncated);
    victim_record_free(&v);

    /* No body at all, no query: fine. */
    static const char bare[] = "{\"pool\":\"p\",\"request\":{\"id\":1,\"method\":\"GET\",\"path\":\"/\"}}";
    assert_int_equal(victim_record_parse(bare, strlen(bare), &v, err, sizeof(err)), 0);
    assert_string_equal(v.query, "");
    assert_int_equal(v.body_len, 0);
    assert_false(v.body_truncated);
    victim_record_free(&v);
}

static void test_not_records(void **state)
{
    (void)state;
    victim_record_t v;
    char err[256];
    static const char *const bad[] = {
        "not json at all",
        "{\"pool\":\"p\"}",                                                           /* no request */
        "{\"request\":{\"id\":1,\"path\":\"/\"}}",                                    /* no method */
        "{\"request\":{\"method\":\"GET\",\"path\":\"/\",\"body_base64\":\"***\"}}",  /* not base64 */
        "{\"request\":{\"method\":\"GET\",\"path\":\"/\",\"headers\":{\"a\":1}}}",    /* a number header */
        "[1,2]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        err[0] = '\0';
        assert_int_equal(victim_record_parse(bad[i], strlen(bad[i]), &v, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(victim_record_parse(bad[0], strlen(bad[0]), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(victim_record_parse(bad[3], strlen(bad[3]), &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "base64"));
}

static void test_request_frame(void **state)
{
    (void)state;
    victim_record_t v;
    char err[256];
    assert_int_equal(victim_record_parse(crash_line, strlen(crash_line), &v, err, sizeof(err)), 0);
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(replay_request_frame(&v, 1234, &b), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len), FRAME_OK);
    assert_int_equal(frame_buf_size(&b), 0); /* exactly one frame */
    Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, len, msg);
    assert_non_null(m);
    assert_int_equal(m->msg_case, UHW__V1__TO_WORKER__MSG_REQUEST);
    const Uhw__V1__Request *r = m->request;
    assert_int_equal(r->id, 17);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/crash");
    assert_string_equal(r->query, "x=1");
    assert_int_equal(r->n_headers, 3); /* authorization was redacted: left out */
    for (size_t i = 0; i < r->n_headers; ++i)
        assert_string_not_equal(r->headers[i]->name, "authorization");
    assert_string_equal(r->headers[1]->name, "x-bin");
    assert_int_equal(r->headers[1]->value.len, 2);
    assert_int_equal(r->body.len, 10);
    assert_memory_equal(r->body.data, "the body i", 10);
    assert_string_equal(r->remote_addr, "127.0.0.1");
    assert_int_equal(r->remote_port, 34456);
    assert_string_equal(r->pool, "crash");
    assert_int_equal(r->timeout_ms, 1234);
    uhw__v1__to_worker__free_unpacked(m, NULL);
    frame_buf_free(&b);
    victim_record_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_record),
        cmocka_unit_test(test_exit_record_whole_body),
        cmocka_unit_test(test_not_records),
        cmocka_unit_test(test_request_frame),
    };
    return cmocka_run_group_tests_name("victim_record", tests, NULL, NULL);
}
