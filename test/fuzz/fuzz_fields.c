/*
 * fuzz_fields.c — libFuzzer target for the bash fast path's exchange (fields.h):
 *
 *  - fields_request, from a Request decoded from the input (first byte 0) or built from
 *    its pieces (otherwise, split at 0xff): the file bash maps with `mapfile -d ''` must
 *    hold the fixed fields, a settings flag, then NAME/VALUE pairs whose names are valid
 *    identifiers under HTTP_ or UHW_SETTING_, and the path must come back (NUL bytes
 *    dropped);
 *  - fields_command, the parser of what bash sends, fed the raw input: never reads out of
 *    bounds, and what it accepts re-encodes to exactly the bytes it consumed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "frame.h"
#include "reqvars.h"
#include "shquote.h"
#include "uhw.pb-c.h"

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_request(const Uhw__V1__Request *q, const Uhw__V1__Configure *settings)
{
    frame_buf_t out;
    frame_buf_init(&out);
    if (fields_request(&out, q, "/w/body", settings) != 0)
        abort();
    const char *p = (const char *)frame_buf_bytes(&out);
    size_t n = frame_buf_size(&out), nf = 0;
    if (n == 0 || p[n - 1] != '\0')
        abort(); /* every field NUL-terminated */
    const char *fields[4096];
    size_t total = 0;
    for (size_t i = 0; i < n; i += strlen(p + i) + 1, ++total)
        if (nf < 4096)
            fields[nf++] = p + i;
    if (total < REQVARS_FIXED + 2 || (total - REQVARS_FIXED - 2) % 2 != 0)
        abort();
    const char *path = q->path != NULL ? q->path : "";
    if (strcmp(fields[2], path) != 0) /* a C string: no NUL to drop */
        abort();
    if (strcmp(fields[REQVARS_FIXED], "/w/body") != 0)
        abort();
    if (strcmp(fields[REQVARS_FIXED + 1], settings != NULL ? "1" : "0") != 0)
        abort();
    for (size_t i = REQVARS_FIXED + 2; i + 1 < nf; i += 2) {
        const char *name = fields[i];
        if (!shquote_is_name(name, strlen(name)) || !(starts(name, "HTTP_") || starts(name, "UHW_SETTING_")))
            abort();
        if (strcmp(name, "HTTP_PROXY") == 0)
            abort();
        for (const char *c = name; *c != '\0'; ++c)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                abort(); /* what uhw.sh's glob check accepts */
    }
    frame_buf_free(&out);
}

static void from_pieces(const uint8_t *data, size_t size)
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
    Uhw__V1__Header hs[32], *hp[32];
    Uhw__V1__Setting ss[32], *sp[32];
    size_t nh = 0;
    for (size_t i = 2; i + 1 < np && nh < 32; i += 2, ++nh) {
        Uhw__V1__Header hinit = UHW__V1__HEADER__INIT;
        Uhw__V1__Setting sinit = UHW__V1__SETTING__INIT;
        hs[nh] = hinit;
        hs[nh].name = parts[i];
        hs[nh].value.data = (uint8_t *)parts[i + 1];
        hs[nh].value.len = lens[i + 1];
        hp[nh] = &hs[nh];
        ss[nh] = sinit;
        ss[nh].key = parts[i];
        ss[nh].value = parts[i + 1];
        sp[nh] = &ss[nh];
    }
    q.headers = hp;
    q.n_headers = nh;
    Uhw__V1__Configure c = UHW__V1__CONFIGURE__INIT;
    c.settings = sp;
    c.n_settings = nh;
    check_request(&q, NULL);
    check_request(&q, &c);
    free(copy);
}

/* The command parser over the raw input, then each command it accepts re-encoded. */
static void commands(const uint8_t *data, size_t size)
{
    char *buf = malloc(size != 0 ? size : 1);
    memcpy(buf, data, size);
    size_t pos = 0;
    while (pos < size) {
        fields_cmd_t cmd;
        size_t used = 0;
        int r = fields_command(buf + pos, size - pos, &used, &cmd);
        if (r <= 0)
            break;
        if (used == 0 || used > size - pos || cmd.argc < 1 || cmd.argv[cmd.argc] != NULL)
            abort();
        frame_buf_t re;
        frame_buf_init(&re);
        char num[32];
        snprintf(num, sizeof(num), "%d", cmd.argc);
        frame_buf_append(&re, cmd.cwd, strlen(cmd.cwd) + 1);
        frame_buf_append(&re, num, strlen(num) + 1);
        for (int i = 0; i < cmd.argc; ++i)
            frame_buf_append(&re, cmd.argv[i], strlen(cmd.argv[i]) + 1);
        /* Leading zeros in ARGC are accepted, so compare from the arguments on. */
        size_t head = strlen(cmd.cwd) + 1 + strlen(buf + pos + strlen(cmd.cwd) + 1) + 1;
        size_t rhead = strlen(cmd.cwd) + 1 + strlen(num) + 1;
        if (frame_buf_size(&re) - rhead != used - head ||
            memcmp(frame_buf_bytes(&re) + rhead, buf + pos + head, used - head) != 0)
            abort();
        frame_buf_free(&re);
        fields_command_free(&cmd);
        pos += used;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    commands(data, size);
    if (size == 0)
        return 0;
    if (data[0] != 0) {
        from_pieces(data + 1, size - 1);
        return 0;
    }
    Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, size - 1, data + 1);
    if (m != NULL && m->msg_case == UHW__V1__TO_WORKER__MSG_REQUEST)
        check_request(m->request, NULL);
    if (m != NULL)
        uhw__v1__to_worker__free_unpacked(m, NULL);
    return 0;
}
