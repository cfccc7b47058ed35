/*
 * libuhw.c — the C worker SDK; see libuhw.h.
 *
 * One process-wide `struct sdk` holds the loop: the input buffer, the open requests
 * (a doubly linked list, looked up by id on Cancel), the timers (sorted by due time,
 * then creation order), the fd watches and the latest settings.
 *
 * Output is gathered: every frame is packed into one per-process buffer (`out`), in the
 * order it was produced, and the buffer is written with one blocking write before the
 * loop waits in poll() again. A worker that got several requests in one read answers
 * them all with one write, so the supervisor wakes up once for all of them. The buffer is
 * written earlier when it passes OUT_FLUSH_AT (a large stream goes out as it is made, and
 * memory stays bounded), by uhw_keepalive and uhw_flush (their point is to arrive now),
 * outside uhw_run, and at exit() of the process that buffered it.
 */
#include "libuhw.h"

#include <errno.h>
#include <poll.h>
#include <stdalign.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "rules.h"
#include "uhw.pb-c.h"

/* The supervisor bounds what it sends with the pool's max_frame (at most 1 GiB); this is
 * only a sanity limit on the length prefix. */
#define IN_MAX_FRAME ((size_t)1 << 31)
#define READ_CHUNK 65536
#define STREAM_CHUNK ((size_t)1 << 20) /* largest StreamData frame we write */
#define OUT_FLUSH_AT ((size_t)64 << 10)  /* pending output written at once from this size (a pipe's worth) */
#define OUT_KEEP ((size_t)4 << 20)       /* a larger output buffer is freed once written */

/* A request's memory is its own: protobuf-c unpacks the frame through an allocator that
 * carves from the request's inline block (ARENA_INLINE bytes; a bigger request spills into
 * extra blocks), and the header table goes there too. A finished request is kept for the
 * next one (up to SPARE_MAX), so an ordinary request costs no malloc at all. Sanitizer
 * builds keep none, so a use after finish is caught as one. */
#define ARENA_INLINE 4096
#define SPARE_MAX 64
#if defined(__SANITIZE_ADDRESS__)
#define KEEP_SPARES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP_SPARES 0
#endif
#endif
#ifndef KEEP_SPARES
#define KEEP_SPARES 1
#endif

typedef struct arena_blk {
    struct arena_blk *next;
    max_align_t mem[];
} arena_blk_t;

typedef struct req_impl {
    uhw_req_t pub;          /* first member: a uhw_req_t * is a req_impl_t * */
    int started;            /* StreamStart sent */
    int cancelled;
    struct req_impl *prev, *next; /* open requests; `next` links the spare list too */
    ProtobufCAllocator pb;  /* unpacks into this request's memory (allocator_data = it) */
    uint8_t *cur, *end;     /* free part of the current block */
    arena_blk_t *extra;     /* blocks past `mem`, freed when the request is finished */
    alignas(max_align_t) uint8_t mem[ARENA_INLINE];
} req_impl_t;

enum { TIMER_PENDING, TIMER_RUNNING, TIMER_CANCELLED };

struct uhw_timer {
    uint64_t due;  /* CLOCK_MONOTONIC ms */
    uint64_t seq;  /* creation order: ties, and timers set by a timer wait a turn */
    void (*cb)(void *arg);
    void *arg;
    int state;
    struct uhw_timer *prev, *next;
};

struct uhw_watch {
    int fd;
    short events;
    int dead; /* unwatched; freed at the next sweep */
    void (*cb)(int fd, short revents, void *arg);
    void *arg;
};

static struct sdk {
    int init;                          /* SIGPIPE ignored, exit flush registered */
    pid_t pid;                         /* the process whose output `out` holds */
    int running;                       /* inside uhw_run */
    int stopping;                      /* Shutdown or EOF seen */
    int eof;                           /* stdin ended */
    const uhw_options_t *opts;
    uhw_handler_fn handler;
    void *ctx;
    frame_buf_t in;                    /* bytes read from stdin, not yet parsed */
    frame_buf_t out;                   /* whole frames not yet written to stdout */
    req_impl_t *reqs;                  /* open requests */
    size_t nreqs;
    req_impl_t *spare;                 /* finished, kept for reuse */
    size_t nspare;
    struct uhw_timer *timers, *timers_tail;
    uint64_t timer_seq;
    struct uhw_watch **watches;
    size_t nwatches, watches_cap;
    Uhw__V1__ToWorker *configure;      /* latest Configure; owns the setting strings */
    uhw_setting_t *settings;
    size_t nsettings;
} S;

/* ---------------------------------------------------------------- output */

/* Writes every pending frame to stdout (blocking, whole frames, in order). A supervisor
 * that stopped reading means nobody can ever get our output: leave quietly (EPIPE) or
 * with a note (anything else). */
static void out_flush(void)
{
    size_t n = frame_buf_size(&S.out);
    if (n != 0 && frame_write_all(STDOUT_FILENO, frame_buf_bytes(&S.out), n) != 0) {
        if (errno != EPIPE)
            fprintf(stderr, "uhw: cannot write to the supervisor: %s\n", strerror(errno));
        _exit(errno == EPIPE ? 0 : 1);
    }
    frame_buf_reset(&S.out);
    if (S.out.cap > OUT_KEEP) /* after a large response: do not keep its memory */
        frame_buf_free(&S.out);
}

/* exit() while output is pending (a handler that answers, then exits to be replaced):
 * the answer still goes out. Not in a child fork()ed by the worker, which inherited a
 * copy of the buffer: those frames are its parent's to write. Errors are ignored: the
 * process is ending anyway, with its own exit status. */
static void out_flush_at_exit(void)
{
    if (getpid() == S.pid && frame_buf_size(&S.out) != 0)
        (void)frame_write_all(STDOUT_FILENO, frame_buf_bytes(&S.out), frame_buf_size(&S.out));
    frame_buf_free(&S.out);
}

static void sdk_init(void)
{
    if (!S.init) {
        signal(SIGPIPE, SIG_IGN);
        atexit(out_flush_at_exit);
        S.pid = getpid();
        S.init = 1;
    }
}

/* Queues one frame for stdout; written at the end of the loop turn, or now when it is
 * sent outside uhw_run or the pending output has grown past OUT_FLUSH_AT. */
static void send_msg(Uhw__V1__FromWorker *m)
{
    sdk_init();
    if (frame_append(&S.out, &m->base) != 0) {
        fprintf(stderr, "uhw: out of memory encoding a frame\n");
        _exit(1);
    }
    if (!S.running || frame_buf_size(&S.out) >= OUT_FLUSH_AT)
        out_flush();
}

void uhw_flush(void)
{
    out_flush();
}

/* The supervisor's rules (proto/rules.h): a violation there kills the worker. */
static int check_head(unsigned status, const uhw_header_t *h, size_t n)
{
    if (!rules_status_ok(status) || (n != 0 && h == NULL))
        return -1;
    for (size_t i = 0; i < n; ++i) {
        if (h[i].name == NULL || (h[i].value == NULL && h[i].value_len != 0))
            return -1;
        if (rules_header_problem(h[i].name, strlen(h[i].name), h[i].value, h[i].value_len) != NULL)
            return -1;
    }
    return 0;
}

/* protobuf-c wants an array of pointers to Header messages; they borrow the caller's bytes.
 * Up to HEAD_INLINE headers live in the caller's head_t (no malloc); more are allocated. */
#define HEAD_INLINE 8
typedef struct head {
    Uhw__V1__Header **pp;       /* what goes into the message; NULL when there is none */
    void *heap;                 /* to free, when more than HEAD_INLINE */
    Uhw__V1__Header *pp_inline[HEAD_INLINE];
    Uhw__V1__Header hs_inline[HEAD_INLINE];
} head_t;

static int make_headers(head_t *hd, const uhw_header_t *h, size_t n)
{
    hd->pp = NULL;
    hd->heap = NULL;
    if (n == 0)
        return 0;
    Uhw__V1__Header **pp = hd->pp_inline;
    Uhw__V1__Header *hs = hd->hs_inline;
    if (n > HEAD_INLINE) {
        if ((hd->heap = malloc(n * (sizeof(*pp) + sizeof(*hs)))) == NULL)
            return -1;
        pp = hd->heap;
        hs = (Uhw__V1__Header *)(pp + n);
    }
    for (size_t i = 0; i < n; ++i) {
        Uhw__V1__Header init = UHW__V1__HEADER__INIT;
        hs[i] = init;
        hs[i].name = (char *)h[i].name;
        hs[i].value.data = (uint8_t *)h[i].value;
        hs[i].value.len = h[i].value_len;
        pp[i] = &hs[i];
    }
    hd->pp = pp;
    return 0;
}

/* Checks a status and headers the way the supervisor will, and builds the protobuf headers
 * in *hd (release with head_free). -1 with errno EINVAL or ENOMEM. */
static int build_head(unsigned status, const uhw_header_t *h, size_t n, head_t *hd)
{
    if (check_head(status, h, n) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (make_headers(hd, h, n) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static void head_free(head_t *hd)
{
    if (hd->heap != NULL)
        free(hd->heap);
}

/* ---------------------------------------------------------------- requests */

/* `size` bytes from the request's memory, aligned like malloc's; NULL on ENOMEM. */
static void *arena_alloc(req_impl_t *r, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    if ((size_t)(r->end - r->cur) < size) {
        size_t bsz = size > 2 * ARENA_INLINE ? size : 2 * ARENA_INLINE;
        arena_blk_t *b = malloc(sizeof(*b) + bsz);
        if (b == NULL)
            return NULL;
        b->next = r->extra;
        r->extra = b;
        r->cur = (uint8_t *)b->mem;
        r->end = r->cur + bsz;
    }
    void *p = r->cur;
    r->cur += size;
    return p;
}

static void *pb_alloc(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void pb_free(void *data, void *p)
{
    /* Freed with the request, all at once. */
    (void)data;
    (void)p;
}

/* A request with empty memory (a spare one when there is), not yet open; NULL on ENOMEM. */
static req_impl_t *req_get(void)
{
    req_impl_t *r = S.spare;
    if (r != NULL) {
        S.spare = r->next;
        --S.nspare;
    } else if ((r = malloc(sizeof(*r))) == NULL) {
        return NULL;
    }
    memset(&r->pub, 0, sizeof(r->pub));
    r->started = r->cancelled = 0;
    r->prev = r->next = NULL;
    r->pb = (ProtobufCAllocator){.alloc = pb_alloc, .free = pb_free, .allocator_data = r};
    r->cur = r->mem;
    r->end = r->mem + sizeof(r->mem);
    r->extra = NULL;
    return r;
}

/* Releases a request's memory (and everything unpacked into it); keeps it as a spare. */
static void req_put(req_impl_t *r)
{
    while (r->extra != NULL) {
        arena_blk_t *b = r->extra;
        r->extra = b->next;
        free(b);
    }
    if (KEEP_SPARES && S.nspare < SPARE_MAX) {
        r->next = S.spare;
        S.spare = r;
        ++S.nspare;
    } else {
        free(r);
    }
}

/* Finishes an open request. */
static void req_free(req_impl_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        S.reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    --S.nreqs;
    req_put(r);
}

static req_impl_t *req_find(uint64_t id)
{
    for (req_impl_t *r = S.reqs; r != NULL; r = r->next)
        if (r->pub.id == id)
            return r;
    return NULL;
}

/* Opens `r`, whose memory holds the unpacked Request `q`; -1 on ENOMEM (r stays closed). */
static int req_open(req_impl_t *r, const Uhw__V1__Request *q)
{
    /* Header values are bytes; copy them with a NUL after each so uhw_header_get can
     * hand out C strings. */
    size_t bytes = q->n_headers * sizeof(uhw_header_t);
    for (size_t i = 0; i < q->n_headers; ++i)
        bytes += q->headers[i]->value.len + 1;
    uhw_header_t *hs = NULL;
    if (bytes != 0 && (hs = arena_alloc(r, bytes)) == NULL)
        return -1;
    char *val = hs != NULL ? (char *)(hs + q->n_headers) : NULL; /* no arithmetic on NULL (UBSan) */
    for (size_t i = 0; i < q->n_headers; ++i) {
        const Uhw__V1__Header *h = q->headers[i];
        if (h->value.len != 0)
            memcpy(val, h->value.data, h->value.len);
        val[h->value.len] = '\0';
        hs[i].name = h->name;
        hs[i].value = (const uint8_t *)val;
        hs[i].value_len = h->value.len;
        val += h->value.len + 1;
    }
    r->pub.id = q->id;
    r->pub.method = q->method;
    r->pub.path = q->path;
    r->pub.query = q->query;
    r->pub.headers = hs;
    r->pub.nheaders = q->n_headers;
    r->pub.body = q->body.len != 0 ? q->body.data : NULL;
    r->pub.body_len = q->body.len;
    r->pub.remote_addr = q->remote_addr;
    r->pub.remote_port = q->remote_port;
    r->pub.scheme = q->scheme;
    r->pub.http_version = q->http_version;
    r->pub.pool = q->pool;
    r->pub.timeout_ms = q->timeout_ms;
    r->pub.target = q->target != NULL ? q->target : "";
    r->next = S.reqs;
    if (S.reqs != NULL)
        S.reqs->prev = r;
    S.reqs = r;
    ++S.nreqs;
    return 0;
}

int uhw_cancelled(const uhw_req_t *req)
{
    return ((const req_impl_t *)req)->cancelled;
}

/* Sends Response{id, status, headers, body} (no validation). */
static void send_response(uint64_t id, unsigned status, Uhw__V1__Header **hs, size_t n, const void *body, size_t len)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Response resp = UHW__V1__RESPONSE__INIT;
    resp.id = id;
    resp.status = status;
    resp.headers = hs;
    resp.n_headers = n;
    resp.body.data = (uint8_t *)body;
    resp.body.len = len;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
    m.response = &resp;
    send_msg(&m);
}

int uhw_respond(uhw_req_t *req, unsigned status, const uhw_header_t *headers, size_t nheaders, const void *body,
                size_t len)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || r->started || (body == NULL && len != 0)) {
        errno = EINVAL;
        return -1;
    }
    if (r->cancelled) {
        /* Nobody will see it: only the slot matters. */
        send_response(r->pub.id, status >= 200 && status <= 599 ? status : 200, NULL, 0, NULL, 0);
        req_free(r);
        return 0;
    }
    head_t hd;
    if (build_head(status, headers, nheaders, &hd) != 0)
        return -1;
    send_response(r->pub.id, status, hd.pp, nheaders, body, len);
    head_free(&hd);
    req_free(r);
    return 0;
}

int uhw_respond_text(uhw_req_t *req, unsigned status, const char *content_type, const char *text)
{
    const char *ct = content_type != NULL ? content_type : "text/plain; charset=utf-8";
    uhw_header_t h = {"Content-Type", (const uint8_t *)ct, strlen(ct)};
    return uhw_respond(req, status, &h, 1, text, text != NULL ? strlen(text) : 0);
}

int uhw_stream_start(uhw_req_t *req, unsigned status, const uhw_header_t *headers, size_t n)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || r->started) {
        errno = EINVAL;
        return -1;
    }
    if (r->cancelled) {
        errno = ECANCELED;
        return -1;
    }
    head_t hd;
    if (build_head(status, headers, n, &hd) != 0)
        return -1;
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__StreamStart ss = UHW__V1__STREAM_START__INIT;
    ss.id = r->pub.id;
    ss.status = status;
    ss.headers = hd.pp;
    ss.n_headers = n;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_START;
    m.stream_start = &ss;
    send_msg(&m);
    head_free(&hd);
    r->started = 1;
    return 0;
}

int uhw_stream_write(uhw_req_t *req, const void *data, size_t len)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || (data == NULL && len != 0)) {
        errno = EINVAL;
        return -1;
    }
    if (r->cancelled) {
        errno = ECANCELED;
        return -1;
    }
    if (!r->started) {
        errno = EINVAL;
        return -1;
    }
    const uint8_t *p = data;
    while (len != 0) {
        size_t n = len < STREAM_CHUNK ? len : STREAM_CHUNK;
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamData sd = UHW__V1__STREAM_DATA__INIT;
        sd.id = r->pub.id;
        sd.data.data = (uint8_t *)p;
        sd.data.len = n;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_DATA;
        m.stream_data = &sd;
        send_msg(&m);
        p += n;
        len -= n;
    }
    return 0;
}

int uhw_stream_end(uhw_req_t *req, const char *error)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL) {
        errno = EINVAL;
        return -1;
    }
    int failed = error != NULL && error[0] != '\0';
    if (!r->started) {
        /* The supervisor wants StreamStart before StreamEnd; an empty Response says the
         * same in one frame (500 for an abort: the client has seen nothing yet). */
        send_response(r->pub.id, failed ? 500 : 200, NULL, 0, NULL, 0);
    } else {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamEnd se = UHW__V1__STREAM_END__INIT;
        se.id = r->pub.id;
        se.error = failed ? (char *)error : (char *)"";
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
        m.stream_end = &se;
        send_msg(&m);
    }
    req_free(r);
    return 0;
}

int uhw_fail(uhw_req_t *req, unsigned status, const char *reason, int exit_code, int signal, unsigned pid,
             const char *detail)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || (status != 0 && (status < 500 || status > 599))) {
        errno = EINVAL;
        return -1;
    }
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__RequestFailed f = UHW__V1__REQUEST_FAILED__INIT;
    f.id = r->pub.id;
    f.status = status != 0 ? status : 500;
    f.reason = (char *)(reason != NULL ? reason : "died");
    f.exit_code = exit_code;
    f.signal = signal > 0 ? (uint32_t)signal : 0;
    f.detail = (char *)(detail != NULL ? detail : "");
    f.pid = pid;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED;
    m.request_failed = &f;
    send_msg(&m);
    req_free(r);
    return 0;
}

/* Starts the stream with one Content-Type (and no-cache) unless already started. */
static int ensure_started(req_impl_t *r, const char *content_type)
{
    if (r->cancelled) {
        errno = ECANCELED;
        return -1;
    }
    if (r->started)
        return 0;
    uhw_header_t h[2] = {
        {"Content-Type", (const uint8_t *)content_type, strlen(content_type)},
        {"Cache-Control", (const uint8_t *)"no-cache", 8},
    };
    return uhw_stream_start(&r->pub, 200, h, 2);
}

static int has_newline(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Appends a NUL-terminated string; 0 or -1 (ENOMEM). */
static int buf_puts(frame_buf_t *b, const char *s)
{
    return frame_buf_append(b, s, strlen(s));
}

int uhw_sse_event(uhw_req_t *req, const char *event, const char *id, const char *data, unsigned retry_ms)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || has_newline(event) || has_newline(id)) {
        errno = EINVAL;
        return -1;
    }
    if (ensure_started(r, "text/event-stream") != 0)
        return -1;
    frame_buf_t b;
    frame_buf_init(&b);
    int err = 0;
    if (event != NULL && event[0] != '\0')
        err = err || buf_puts(&b, "event: ") || buf_puts(&b, event) || buf_puts(&b, "\n");
    if (id != NULL)
        err = err || buf_puts(&b, "id: ") || buf_puts(&b, id) || buf_puts(&b, "\n");
    if (retry_ms > 0) {
        char num[32];
        snprintf(num, sizeof(num), "retry: %u\n", retry_ms);
        err = err || buf_puts(&b, num);
    }
    if (data != NULL) {
        /* One data: line per line; the client joins them back with LF. */
        const char *p = data;
        for (;;) {
            size_t n = strcspn(p, "\r\n");
            err = err || buf_puts(&b, "data: ") || frame_buf_append(&b, p, n) || buf_puts(&b, "\n");
            p += n;
            if (*p == '\0')
                break;
            p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
        }
    }
    err = err || buf_puts(&b, "\n");
    int ret = -1;
    if (err != 0)
        errno = ENOMEM;
    else
        ret = uhw_stream_write(req, frame_buf_bytes(&b), frame_buf_size(&b));
    frame_buf_free(&b);
    return ret;
}

int uhw_sse_comment(uhw_req_t *req, const char *text)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || has_newline(text)) {
        errno = EINVAL;
        return -1;
    }
    if (ensure_started(r, "text/event-stream") != 0)
        return -1;
    char *line;
    if (asprintf(&line, ": %s\n\n", text != NULL ? text : "") < 0) {
        errno = ENOMEM;
        return -1;
    }
    int ret = uhw_stream_write(req, line, strlen(line));
    free(line);
    return ret;
}

int uhw_ndjson(uhw_req_t *req, const char *json_text)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r == NULL || json_text == NULL || has_newline(json_text)) {
        errno = EINVAL;
        return -1;
    }
    if (r->cancelled) {
        errno = ECANCELED;
        return -1;
    }
    if (!r->started) {
        uhw_header_t h = {"Content-Type", (const uint8_t *)"application/x-ndjson", 20};
        if (uhw_stream_start(req, 200, &h, 1) != 0)
            return -1;
    }
    size_t n = strlen(json_text);
    char *line = malloc(n + 1);
    if (line == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(line, json_text, n);
    line[n] = '\n';
    int ret = uhw_stream_write(req, line, n + 1);
    free(line);
    return ret;
}

int uhw_keepalive(uhw_req_t *req)
{
    req_impl_t *r = (req_impl_t *)req;
    if (r != NULL && r->cancelled) {
        errno = ECANCELED;
        return -1;
    }
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__KeepAlive ka = UHW__V1__KEEP_ALIVE__INIT;
    ka.id = r != NULL ? r->pub.id : 0;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE;
    m.keep_alive = &ka;
    send_msg(&m);
    out_flush(); /* it resets clocks: it must not wait for the end of a long callback */
    return 0;
}

int uhw_set_capacity(unsigned concurrency)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Capacity c = UHW__V1__CAPACITY__INIT;
    c.concurrency = concurrency;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_CAPACITY;
    m.capacity = &c;
    send_msg(&m);
    return 0;
}

int uhw_stopping(void)
{
    return S.stopping;
}

/* ---------------------------------------------------------------- logging */

static void vlog_id(uint64_t id, int level, const char *fmt, va_list ap)
{
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Log lg = UHW__V1__LOG__INIT;
    lg.level = level < UHW_LOG_DEBUG ? UHW_LOG_DEBUG : level > UHW_LOG_CRITICAL ? UHW_LOG_CRITICAL : level;
    lg.message = msg;
    lg.id = id;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
    m.log = &lg;
    send_msg(&m);
    free(msg);
}

void uhw_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_id(0, level, fmt, ap);
    va_end(ap);
}

void uhw_log_req(const uhw_req_t *req, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_id(req != NULL ? req->id : 0, level, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- reading requests */

const char *uhw_header_get(const uhw_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; ++i)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return (const char *)req->headers[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Form-decodes the next byte of [*p, end) and advances *p. */
static char decode_next(const char **p, const char *end)
{
    const char *s = *p;
    if (*s == '+') {
        *p = s + 1;
        return ' ';
    }
    if (*s == '%' && end - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
        *p = s + 3;
        return (char)(hexval(s[1]) * 16 + hexval(s[2]));
    }
    *p = s + 1;
    return *s;
}

const char *uhw_query_param(const uhw_req_t *req, const char *name, char *buf, size_t bufsz)
{
    const char *q = req->query != NULL ? req->query : "";
    while (*q != '\0') {
        const char *end = q + strcspn(q, "&");
        const char *eq = memchr(q, '=', (size_t)(end - q));
        const char *kend = eq != NULL ? eq : end;
        /* Compare the decoded key with name. */
        const char *p = q, *n = name;
        while (p < kend && *n != '\0' && decode_next(&p, kend) == *n)
            ++n;
        if (p == kend && *n == '\0' && (kend != q || name[0] == '\0')) {
            size_t len = 0;
            p = eq != NULL ? eq + 1 : end;
            while (p < end) {
                char c = decode_next(&p, end);
                if (len + 1 >= bufsz) {
                    errno = ERANGE;
                    return NULL;
                }
                buf[len++] = c;
            }
            if (bufsz == 0) {
                errno = ERANGE;
                return NULL;
            }
            buf[len] = '\0';
            return buf;
        }
        q = *end == '&' ? end + 1 : end;
    }
    errno = ENOENT;
    return NULL;
}

/* ---------------------------------------------------------------- timers and watches */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void timer_unlink(struct uhw_timer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        S.timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        S.timers_tail = t->prev;
    t->prev = t->next = NULL;
}

uhw_timer_t *uhw_after(unsigned ms, void (*cb)(void *arg), void *arg)
{
    if (cb == NULL) {
        errno = EINVAL;
        return NULL;
    }
    struct uhw_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->due = now_ms() + ms;
    t->seq = S.timer_seq++;
    t->cb = cb;
    t->arg = arg;
    t->state = TIMER_PENDING;
    /* Insert after the last timer due at or before ours (scan from the tail: new timers
     * are usually the latest). */
    struct uhw_timer *after = S.timers_tail;
    while (after != NULL && after->due > t->due)
        after = after->prev;
    t->prev = after;
    t->next = after != NULL ? after->next : S.timers;
    if (t->next != NULL)
        t->next->prev = t;
    else
        S.timers_tail = t;
    if (after != NULL)
        after->next = t;
    else
        S.timers = t;
    return t;
}

void uhw_timer_cancel(uhw_timer_t *t)
{
    if (t == NULL)
        return;
    if (t->state == TIMER_PENDING) {
        timer_unlink(t);
        free(t);
    } else if (t->state == TIMER_RUNNING) {
        t->state = TIMER_CANCELLED; /* freed when its callback returns */
    }
}

/* Runs the timers due at `now` that existed when this turn began. */
static void run_timers(uint64_t now)
{
    uint64_t limit = S.timer_seq;
    while (S.timers != NULL && S.timers->due <= now && S.timers->seq < limit) {
        struct uhw_timer *t = S.timers;
        timer_unlink(t);
        t->state = TIMER_RUNNING;
        t->cb(t->arg);
        free(t);
    }
}

uhw_watch_t *uhw_watch(int fd, short events, void (*cb)(int fd, short revents, void *arg), void *arg)
{
    if (fd < 0 || fd == STDIN_FILENO || fd == STDOUT_FILENO || cb == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (S.nwatches == S.watches_cap) {
        size_t cap = S.watches_cap != 0 ? S.watches_cap * 2 : 8;
        struct uhw_watch **p = realloc(S.watches, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        S.watches = p;
        S.watches_cap = cap;
    }
    struct uhw_watch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->arg = arg;
    S.watches[S.nwatches++] = w;
    return w;
}

void uhw_unwatch(uhw_watch_t *w)
{
    if (w != NULL)
        w->dead = 1;
}

/* Frees unwatched entries (never while their callbacks may be running). */
static void sweep_watches(void)
{
    size_t k = 0;
    for (size_t i = 0; i < S.nwatches; ++i) {
        if (S.watches[i]->dead)
            free(S.watches[i]);
        else
            S.watches[k++] = S.watches[i];
    }
    S.nwatches = k;
}

static size_t live_watches(void)
{
    size_t n = 0;
    for (size_t i = 0; i < S.nwatches; ++i)
        n += !S.watches[i]->dead;
    return n;
}

/* ---------------------------------------------------------------- settings */

const char *uhw_setting(const char *key)
{
    for (size_t i = 0; i < S.nsettings; ++i)
        if (strcmp(S.settings[i].key, key) == 0)
            return S.settings[i].value;
    return NULL;
}

static void settings_free(void)
{
    if (S.configure != NULL)
        uhw__v1__to_worker__free_unpacked(S.configure, NULL);
    free(S.settings);
    S.configure = NULL;
    S.settings = NULL;
    S.nsettings = 0;
}

/* Takes ownership of msg. */
static void on_configure(Uhw__V1__ToWorker *msg)
{
    const Uhw__V1__Configure *c = msg->configure;
    uhw_setting_t *set = c->n_settings != 0 ? calloc(c->n_settings, sizeof(*set)) : NULL;
    if (c->n_settings != 0 && set == NULL) {
        fprintf(stderr, "uhw: out of memory storing settings\n");
        uhw__v1__to_worker__free_unpacked(msg, NULL);
        return;
    }
    settings_free();
    for (size_t i = 0; i < c->n_settings; ++i) {
        set[i].key = c->settings[i]->key;
        set[i].value = c->settings[i]->value;
    }
    S.configure = msg;
    S.settings = set;
    S.nsettings = c->n_settings;
    if (S.opts->on_configure != NULL)
        S.opts->on_configure(S.settings, S.nsettings, S.ctx);
}

/* ---------------------------------------------------------------- the loop */

static void begin_stop(unsigned grace_ms)
{
    if (S.stopping)
        return;
    S.stopping = 1;
    if (S.opts->on_shutdown != NULL)
        S.opts->on_shutdown(grace_ms, S.ctx);
}

/* Handles one ToWorker payload; -1 on a protocol error. */
static int on_frame(const uint8_t *p, size_t n)
{
    /* Unpacked into a request's memory: a Request stays there until it is finished; any
     * other message is read and the memory given back at once. */
    req_impl_t *r = req_get();
    if (r == NULL) {
        fprintf(stderr, "uhw: out of memory reading a frame\n");
        return -1;
    }
    Uhw__V1__ToWorker *msg = uhw__v1__to_worker__unpack(&r->pb, n, p);
    if (msg == NULL) {
        req_put(r);
        fprintf(stderr, "uhw: protocol error: a frame from the supervisor does not decode\n");
        return -1;
    }
    switch (msg->msg_case) {
    case UHW__V1__TO_WORKER__MSG_REQUEST: {
        if (S.stopping) {
            /* Not expected after Shutdown; answer rather than leave it hanging. */
            static const char text[] = "worker shutting down\n";
            send_response(msg->request->id, 503, NULL, 0, text, sizeof(text) - 1);
            break;
        }
        if (req_open(r, msg->request) != 0) {
            send_response(msg->request->id, 500, NULL, 0, NULL, 0);
            break;
        }
        S.handler(&r->pub, S.ctx); /* may finish (free) r */
        return 0;
    }
    case UHW__V1__TO_WORKER__MSG_CANCEL: {
        uint64_t id = msg->cancel->id;
        int reason = (int)msg->cancel->reason;
        req_put(r);
        req_impl_t *c = req_find(id);
        if (c != NULL && !c->cancelled) {
            c->cancelled = 1;
            if (S.opts->on_cancel != NULL)
                S.opts->on_cancel(&c->pub, reason, S.ctx); /* may finish (free) c */
        }
        return 0;
    }
    case UHW__V1__TO_WORKER__MSG_SHUTDOWN: {
        unsigned grace = msg->shutdown->grace_ms;
        req_put(r);
        begin_stop(grace);
        return 0;
    }
    case UHW__V1__TO_WORKER__MSG_CONFIGURE: {
        /* The settings outlive this frame: unpack it again into memory of their own. */
        req_put(r);
        Uhw__V1__ToWorker *own = uhw__v1__to_worker__unpack(NULL, n, p);
        if (own == NULL) {
            fprintf(stderr, "uhw: out of memory storing settings\n");
            return 0;
        }
        on_configure(own);
        return 0;
    }
    default:
        break; /* a message of a newer protocol: ignored */
    }
    req_put(r);
    return 0;
}

/* Reads what stdin has (poll said so) and handles every whole frame; -1 on error. */
static int read_input(void)
{
    uint8_t *dst = frame_buf_reserve(&S.in, READ_CHUNK);
    if (dst == NULL) {
        fprintf(stderr, "uhw: out of memory reading stdin\n");
        return -1;
    }
    ssize_t r = read(STDIN_FILENO, dst, READ_CHUNK);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return 0;
        fprintf(stderr, "uhw: reading stdin: %s\n", strerror(errno));
        return -1;
    }
    if (r == 0) {
        S.eof = 1;
        if (frame_buf_size(&S.in) != 0)
            fprintf(stderr, "uhw: stdin ended inside a frame (%zu bytes dropped)\n", frame_buf_size(&S.in));
        begin_stop(0);
        return 0;
    }
    frame_buf_commit(&S.in, (size_t)r);
    for (;;) {
        const uint8_t *msg;
        size_t len;
        frame_status_t st = frame_take(&S.in, IN_MAX_FRAME, &msg, &len);
        if (st == FRAME_NEED_MORE)
            return 0;
        if (st != FRAME_OK) {
            fprintf(stderr, "uhw: protocol error on stdin: %s\n", frame_status_str(st));
            return -1;
        }
        if (on_frame(msg, len) != 0)
            return -1;
    }
}

static void loop_free(void)
{
    while (S.reqs != NULL)
        req_free(S.reqs);
    while (S.spare != NULL) {
        req_impl_t *r = S.spare;
        S.spare = r->next;
        free(r);
    }
    S.nspare = 0;
    while (S.timers != NULL) {
        struct uhw_timer *t = S.timers;
        timer_unlink(t);
        free(t);
    }
    for (size_t i = 0; i < S.nwatches; ++i)
        free(S.watches[i]);
    free(S.watches);
    S.watches = NULL;
    S.nwatches = S.watches_cap = 0;
    frame_buf_free(&S.in);
    settings_free();
}

int uhw_run(uhw_handler_fn handler, void *ctx)
{
    uhw_options_t o = {.concurrency = 1};
    return uhw_run_opts(&o, handler, ctx);
}

int uhw_run_opts(const uhw_options_t *opts, uhw_handler_fn handler, void *ctx)
{
    if (opts == NULL || handler == NULL || S.running) {
        errno = EINVAL;
        return -1;
    }
    sdk_init();
    S.pid = getpid();
    S.running = 1;
    S.stopping = S.eof = 0;
    S.opts = opts;
    S.handler = handler;
    S.ctx = ctx;
    frame_buf_init(&S.in);

    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Ready ready = UHW__V1__READY__INIT;
    ready.protocol = UHW_PROTOCOL;
    ready.concurrency = opts->concurrency != 0 ? opts->concurrency : 1;
    ready.info = (char *)(opts->info != NULL ? opts->info : "");
    m.msg_case = UHW__V1__FROM_WORKER__MSG_READY;
    m.ready = &ready;
    send_msg(&m);

    int ret = 0;
    struct pollfd *pfds = NULL;
    size_t pfds_cap = 0;
    for (;;) {
        if (S.stopping && S.nreqs == 0)
            break;
        sweep_watches();
        if (S.eof && S.nreqs != 0 && S.timers == NULL && live_watches() == 0) {
            fprintf(stderr, "uhw: stdin closed with %zu request(s) open and nothing left to finish them\n", S.nreqs);
            ret = -1;
            break;
        }
        if (pfds_cap < S.nwatches + 1) {
            struct pollfd *p = realloc(pfds, (S.nwatches + 1) * sizeof(*p));
            if (p == NULL) {
                fprintf(stderr, "uhw: out of memory\n");
                ret = -1;
                break;
            }
            pfds = p;
            pfds_cap = S.nwatches + 1;
        }
        /* pfds[0] is stdin (fd -1 once it ended: poll ignores it), then the watches. */
        size_t nw = S.nwatches;
        pfds[0] = (struct pollfd){.fd = S.eof ? -1 : STDIN_FILENO, .events = POLLIN};
        for (size_t i = 0; i < nw; ++i)
            pfds[i + 1] = (struct pollfd){.fd = S.watches[i]->fd, .events = S.watches[i]->events};
        int timeout = -1;
        if (S.timers != NULL) {
            uint64_t now = now_ms();
            uint64_t wait = S.timers->due > now ? S.timers->due - now : 0;
            timeout = wait > 60000 ? 60000 : (int)wait;
        }
        out_flush(); /* everything this turn produced, in one write */
        int n = poll(pfds, nw + 1, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "uhw: poll: %s\n", strerror(errno));
            ret = -1;
            break;
        }
        if (n > 0) {
            if (pfds[0].revents != 0 && read_input() != 0) {
                ret = -1;
                break;
            }
            for (size_t i = 0; i < nw; ++i) {
                struct uhw_watch *w = S.watches[i];
                if (pfds[i + 1].revents != 0 && !w->dead)
                    w->cb(w->fd, pfds[i + 1].revents, w->arg);
            }
        }
        run_timers(now_ms());
    }
    free(pfds);
    out_flush();
    loop_free();
    S.running = 0;
    return ret;
}
