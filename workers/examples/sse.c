/*
 * sse — streaming examples; one process serves up to 256 streams at once.
 *
 *   /events?count=N&interval_ms=M   N Server-Sent Events, M ms apart (defaults 10, 1000):
 *                                   "id: K" and "data: {"i":K}" for K = 0..N-1
 *   /ndjson?count=N                 N lines {"i":0} .. {"i":N-1} (default 10), application/x-ndjson
 *   /bytes?size=N                   N bytes of application/octet-stream (default 1MiB); N may end
 *                                   in K, M, G, KiB, MiB or GiB (powers of 1024)
 *   anything else                   404
 *
 * Nothing blocks: each stream advances from a timer, one event or one 64 KiB chunk per
 * turn of the loop, so a Cancel is noticed between two chunks. On Cancel the stream is
 * stopped and "cancelled request ID (reason)" is written to stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libuhw.h"

#define CHUNK 65536

typedef struct job {
    uhw_req_t *req;
    uhw_timer_t *timer;    /* the next step, or NULL */
    uint64_t i, count;     /* events / lines sent and to send */
    unsigned interval_ms;  /* between events */
    uint64_t left;         /* bytes still to send */
} job_t;

static void job_end(job_t *j, const char *error)
{
    uhw_timer_cancel(j->timer);
    j->req->user = NULL;
    uhw_stream_end(j->req, error);
    free(j);
}

static void events_step(void *arg)
{
    job_t *j = arg;
    j->timer = NULL;
    if (j->i >= j->count) {
        job_end(j, NULL);
        return;
    }
    char id[32], data[64];
    snprintf(id, sizeof(id), "%" PRIu64, j->i);
    snprintf(data, sizeof(data), "{\"i\":%" PRIu64 "}", j->i);
    if (uhw_sse_event(j->req, NULL, id, data, 0) != 0) {
        job_end(j, "cannot send event");
        return;
    }
    if (++j->i >= j->count)
        job_end(j, NULL);
    else if ((j->timer = uhw_after(j->interval_ms, events_step, j)) == NULL)
        job_end(j, "out of memory");
}

static void ndjson_step(void *arg)
{
    job_t *j = arg;
    j->timer = NULL;
    static char buf[CHUNK];
    size_t n = 0;
    /* A batch of whole lines, at most one chunk. */
    while (j->i < j->count && n < sizeof(buf) - 32)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"i\":%" PRIu64 "}\n", j->i++);
    if (n != 0 && uhw_stream_write(j->req, buf, n) != 0) {
        job_end(j, "cannot write");
        return;
    }
    if (j->i >= j->count)
        job_end(j, NULL);
    else if ((j->timer = uhw_after(0, ndjson_step, j)) == NULL)
        job_end(j, "out of memory");
}

static void bytes_step(void *arg)
{
    job_t *j = arg;
    j->timer = NULL;
    static char buf[CHUNK];
    if (buf[0] == '\0')
        for (size_t k = 0; k < sizeof(buf); ++k)
            buf[k] = "0123456789abcdef"[k % 16];
    size_t n = j->left < sizeof(buf) ? (size_t)j->left : sizeof(buf);
    if (n != 0 && uhw_stream_write(j->req, buf, n) != 0) {
        job_end(j, "cannot write");
        return;
    }
    j->left -= n;
    if (j->left == 0)
        job_end(j, NULL);
    else if ((j->timer = uhw_after(0, bytes_step, j)) == NULL)
        job_end(j, "out of memory");
}

/* Parses a decimal number with an optional K/M/G/KiB/MiB/GiB suffix; -1 if invalid. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end != '\0') {
        static const struct { const char *a, *b; unsigned shift; } suf[] = {
            {"K", "KiB", 10}, {"M", "MiB", 20}, {"G", "GiB", 30}};
        size_t k;
        for (k = 0; k < sizeof(suf) / sizeof(suf[0]); ++k)
            if (strcasecmp(end, suf[k].a) == 0 || strcasecmp(end, suf[k].b) == 0)
                break;
        if (k == sizeof(suf) / sizeof(suf[0]))
            return -1;
        shift = suf[k].shift;
    }
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* The query parameter `name` as a number (def when absent); -1 if not a number. */
static int param_u64(uhw_req_t *req, const char *name, uint64_t def, uint64_t *out)
{
    char buf[64];
    if (uhw_query_param(req, name, buf, sizeof(buf)) == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    if (buf[0] < '0' || buf[0] > '9')
        return -1;
    *out = strtoull(buf, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static void handle(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    int events = strcmp(req->path, "/events") == 0, ndjson = strcmp(req->path, "/ndjson") == 0,
        bytes = strcmp(req->path, "/bytes") == 0;
    if (!events && !ndjson && !bytes) {
        uhw_respond_text(req, 404, "text/plain", "not found\n");
        return;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        uhw_respond_text(req, 500, "text/plain", "out of memory\n");
        return;
    }
    j->req = req;
    uint64_t interval = 0;
    char sizebuf[64];
    const char *size = NULL;
    int bad = 0;
    if (bytes) {
        size = uhw_query_param(req, "size", sizebuf, sizeof(sizebuf));
        if (size == NULL)
            j->left = (uint64_t)1 << 20;
        else
            bad = parse_size(size, &j->left) != 0;
    } else {
        bad = param_u64(req, "count", 10, &j->count) != 0 ||
              (events && (param_u64(req, "interval_ms", 1000, &interval) != 0 || interval > 86400000));
        j->interval_ms = (unsigned)interval;
    }
    if (bad) {
        free(j);
        uhw_respond_text(req, 400, "text/plain", "bad query parameter\n");
        return;
    }
    req->user = j;
    static const uhw_header_t sse_h[] = {
        {"Content-Type", (const uint8_t *)"text/event-stream", 17},
        {"Cache-Control", (const uint8_t *)"no-cache", 8},
    };
    static const uhw_header_t nd_h[] = {{"Content-Type", (const uint8_t *)"application/x-ndjson", 20}};
    static const uhw_header_t bin_h[] = {{"Content-Type", (const uint8_t *)"application/octet-stream", 24}};
    if (events)
        uhw_stream_start(req, 200, sse_h, 2);
    else if (ndjson)
        uhw_stream_start(req, 200, nd_h, 1);
    else
        uhw_stream_start(req, 200, bin_h, 1);
    /* The first step runs right away; the next ones from timers. */
    if (events)
        events_step(j);
    else if (ndjson)
        ndjson_step(j);
    else
        bytes_step(j);
}

static void on_cancel(uhw_req_t *req, int reason, void *ctx)
{
    (void)ctx;
    static const char *const names[] = {"client_gone", "timeout", "shutdown"};
    fprintf(stderr, "cancelled request %" PRIu64 " (%s)\n", req->id,
            reason >= 0 && reason <= 2 ? names[reason] : "unknown");
    if (req->user != NULL)
        job_end(req->user, "cancelled");
    else
        uhw_stream_end(req, "cancelled");
}

int main(void)
{
    uhw_options_t o = {.concurrency = 256, .info = "sse (libuhw)", .on_cancel = on_cancel};
    return uhw_run_opts(&o, handle, NULL) == 0 ? 0 : 1;
}
