/*
 * fuzz_libuhw.c — libFuzzer target for the C worker SDK (workers/libuhw.c), run in-process the
 * way a worker runs: uhw_run_opts with fd 0 a pipe that the harness fills with the input's
 * ToWorker bytes a piece at a time, from a 0 ms timer (so frames arrive split, as from the
 * supervisor), and fd 1 a memfd that the harness reads back after every call. No seam in
 * libuhw is needed.
 *
 * Input: byte 0 is the length L of a script, byte 1 seeds the sizes of the pieces written to
 * stdin, then come the L bytes of the script, then the stream.
 * The script drives the application: what each request gets (an answer, a stream, SSE, NDJSON,
 * a failure, a later step from a timer, a wait for Cancel or Shutdown), with which status and
 * headers (allowed or not), and the names and buffer sizes it looks up. Its first two bytes
 * choose the concurrency and info of Ready. An exhausted script reads as zeros: answer 200 at once.
 *
 * The harness decodes the stream itself (frame_take with libuhw's limit, then protobuf-c) and
 * checks, against libuhw.h:
 *  - callbacks follow the frames in order: the handler once per Request before Shutdown or EOF
 *    (every field, header and body byte as sent), none after (the SDK answers 503 itself);
 *    on_cancel once, for the open request with the Cancel's id and with its reason (request
 *    ids are unique: the stream is cut before a repeated one);
 *    on_configure with the frame's settings; on_shutdown once, with grace_ms or 0 at EOF; and a
 *    frame written to stdin one turn earlier has been acted upon by the time the next piece is
 *    written;
 *  - uhw_run returns 0 after Shutdown or EOF with every request finished, and -1 only at a
 *    frame that does not decode or a bad length prefix, nothing after it delivered;
 *  - the output is exactly the frames the calls asked for: Ready, then Response, StreamStart,
 *    StreamData, StreamEnd, RequestFailed, KeepAlive, Log, Capacity with the ids, statuses,
 *    headers and bytes given, SSE and NDJSON text as libuhw.h describes it; a call libuhw.h says
 *    must be refused (rules.h's status and header rules, the stream's state, a cancelled
 *    request) returns -1 with the errno it names and sends nothing; every request is finished
 *    exactly once; the output decodes as FromWorker frames;
 *  - uhw_header_get, uhw_query_param (any name; buffers of exactly the size given) and
 *    uhw_setting agree with a reference reading of the request and of the latest Configure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "libuhw.h"
#include "rules.h"
#include "uhw.pb-c.h"

#define IN_MAX_FRAME ((size_t)1 << 31) /* libuhw.c's limit on the length prefixes it reads */
#define MAX_REQS 4096                  /* requests per input (a Request frame takes 3 bytes or more) */
#define MAX_STEPS 6                    /* actions on one request before it is ended for sure */
#define MAX_HDRS 16                    /* headers copied from a request into an answer */
#define PIPE_MAX 65536                 /* larger inputs could fill the pipe: not checked turn by turn */

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz_libuhw:%d: %s\n", __LINE__, #cond);                                                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* FUZZ_LIBUHW_TRACE=1 in the environment: what happens, on stderr (to read a crash's input). */
static int TRACE;
#define TRACEF(...) (TRACE ? (void)fprintf(stderr, "trace: " __VA_ARGS__) : (void)0)

/* ---------------------------------------------------------------- the script */

static const uint8_t *SCRIPT;
static size_t SCRIPT_LEN, SCRIPT_POS;

/* The next script byte modulo n (0 once the script is used up). */
static unsigned pick(unsigned n)
{
    unsigned b = SCRIPT_POS < SCRIPT_LEN ? SCRIPT[SCRIPT_POS++] : 0;
    return b % n;
}

/* ---------------------------------------------------------------- the model of the input */

typedef enum { MF_REQUEST, MF_CANCEL, MF_SHUTDOWN, MF_CONFIGURE, MF_OTHER, MF_BAD, MF_END } mf_kind_t;

typedef struct mframe {
    mf_kind_t kind;
    Uhw__V1__ToWorker *msg; /* NULL for MF_BAD and MF_END */
    size_t end;             /* stream bytes libuhw needs to act on it */
} mframe_t;

typedef enum { CB_REQUEST, CB_CANCEL, CB_CONFIGURE, CB_SHUTDOWN } cb_kind_t;

/* One request the handler was given. */
typedef struct hreq {
    uhw_req_t *req;             /* NULL once finished */
    const Uhw__V1__Request *q;  /* the harness's own decoding of it */
    int cancelled, started, waiting, steps;
    uhw_timer_t *timer;         /* a pending step */
} hreq_t;

static struct model {
    mframe_t *f;
    size_t n, cur;
    int stopping;                  /* Shutdown or EOF delivered */
    const Uhw__V1__Configure *conf; /* the latest Configure delivered */
} M;

static hreq_t H[MAX_REQS];
static size_t NH;

/* Whether an earlier Request frame of the model has this id. */
static int id_seen(uint64_t id)
{
    for (size_t i = 0; i < M.n; ++i)
        if (M.f[i].kind == MF_REQUEST && M.f[i].msg->request->id == id)
            return 1;
    return 0;
}

/* Decodes the stream as libuhw must: frames up to the first bad one, then the end. Returns how
 * many stream bytes to feed: the stream ends before a Request that repeats an earlier id. The
 * supervisor never does that; libuhw's rule for it ("a Cancel goes to the latest open request
 * with its id") would make whether a Cancel causes a callback depend on whether a timer
 * finished the other request earlier in the same loop turn, which the harness cannot see. */
static size_t model_build(const uint8_t *s, size_t n)
{
    M = (struct model){0};
    M.f = malloc((n + 1) * sizeof(*M.f)); /* every frame takes a byte at least */
    frame_buf_t b = {.data = (uint8_t *)s, .off = 0, .len = n, .cap = n};
    for (;;) {
        const uint8_t *p = frame_buf_bytes(&b), *msg;
        size_t len, at = b.off;
        frame_status_t st = frame_take(&b, IN_MAX_FRAME, &msg, &len);
        if (st == FRAME_NEED_MORE) {
            M.f[M.n++] = (mframe_t){MF_END, NULL, n};
            return n;
        }
        if (st != FRAME_OK) {
            size_t k = 1, h, l; /* the prefix is refused as soon as its first k bytes are in */
            while (frame_parse(p, k, IN_MAX_FRAME, &h, &l) == FRAME_NEED_MORE)
                ++k;
            M.f[M.n++] = (mframe_t){MF_BAD, NULL, at + k};
            return n;
        }
        Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, len, msg);
        if (m == NULL) {
            M.f[M.n++] = (mframe_t){MF_BAD, NULL, b.off};
            return n;
        }
        if (m->msg_case == UHW__V1__TO_WORKER__MSG_REQUEST && id_seen(m->request->id)) {
            uhw__v1__to_worker__free_unpacked(m, NULL);
            M.f[M.n++] = (mframe_t){MF_END, NULL, at};
            return at;
        }
        mf_kind_t k = m->msg_case == UHW__V1__TO_WORKER__MSG_REQUEST     ? MF_REQUEST
                      : m->msg_case == UHW__V1__TO_WORKER__MSG_CANCEL    ? MF_CANCEL
                      : m->msg_case == UHW__V1__TO_WORKER__MSG_SHUTDOWN  ? MF_SHUTDOWN
                      : m->msg_case == UHW__V1__TO_WORKER__MSG_CONFIGURE ? MF_CONFIGURE
                                                                          : MF_OTHER;
        M.f[M.n++] = (mframe_t){k, m, b.off};
    }
}

static void model_free(void)
{
    for (size_t i = 0; i < M.n; ++i)
        if (M.f[i].msg != NULL)
            uhw__v1__to_worker__free_unpacked(M.f[i].msg, NULL);
    free(M.f);
    M.f = NULL;
}

static size_t count_requests(void)
{
    size_t k = 0;
    for (size_t i = 0; i < M.n; ++i)
        k += M.f[i].kind == MF_REQUEST;
    return k;
}

/* ---------------------------------------------------------------- expected output */

static frame_buf_t EXP; /* frames the calls asked for, not yet compared with the output */
static size_t OUT_POS;  /* output bytes compared so far */

static void expect(Uhw__V1__FromWorker *m)
{
    CHECK(frame_append(&EXP, &m->base) == 0);
}

static int needs_callback(const mframe_t *f);

/* The output written since the last look must be exactly the expected frames. Frames that
 * cause no callback are read by libuhw without the harness knowing when: a Request after
 * Shutdown is answered 503 by the SDK itself. Those ahead of the model are taken as read when
 * the output shows more than the calls asked for. */
static void drain(void)
{
    struct stat st;
    uhw_flush(); /* libuhw gathers a loop turn's output into one write; the check needs it written */
    CHECK(fstat(STDOUT_FILENO, &st) == 0 && (size_t)st.st_size >= OUT_POS);
    size_t n = (size_t)st.st_size - OUT_POS;
    while (n > frame_buf_size(&EXP) && M.cur < M.n && M.f[M.cur].kind != MF_BAD && needs_callback(&M.f[M.cur]) == 0)
        ++M.cur;
    if (n != frame_buf_size(&EXP)) {
        fprintf(stderr, "fuzz_libuhw: %zu output bytes, %zu expected\n", n, frame_buf_size(&EXP));
        abort();
    }
    if (n != 0) {
        uint8_t *got = malloc(n);
        CHECK(pread(STDOUT_FILENO, got, n, (off_t)OUT_POS) == (ssize_t)n);
        CHECK(memcmp(got, frame_buf_bytes(&EXP), n) == 0);
        free(got);
    }
    OUT_POS += n;
    frame_buf_reset(&EXP);
}

static Uhw__V1__Header **pb_headers(const uhw_header_t *h, size_t n, Uhw__V1__Header *hs, Uhw__V1__Header **hp)
{
    for (size_t i = 0; i < n; ++i) {
        Uhw__V1__Header init = UHW__V1__HEADER__INIT;
        hs[i] = init;
        hs[i].name = (char *)h[i].name;
        hs[i].value.data = (uint8_t *)h[i].value;
        hs[i].value.len = h[i].value_len;
        hp[i] = &hs[i];
    }
    return n != 0 ? hp : NULL;
}

static void expect_response(uint64_t id, unsigned status, const uhw_header_t *h, size_t n, const void *body, size_t len)
{
    Uhw__V1__Header hs[MAX_HDRS + 2], *hp[MAX_HDRS + 2];
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Response r = UHW__V1__RESPONSE__INIT;
    r.id = id;
    r.status = status;
    r.headers = pb_headers(h, n, hs, hp);
    r.n_headers = n;
    r.body.data = (uint8_t *)body;
    r.body.len = len;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
    m.response = &r;
    expect(&m);
}

static void expect_stream_start(uint64_t id, unsigned status, const uhw_header_t *h, size_t n)
{
    Uhw__V1__Header hs[MAX_HDRS + 2], *hp[MAX_HDRS + 2];
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__StreamStart s = UHW__V1__STREAM_START__INIT;
    s.id = id;
    s.status = status;
    s.headers = pb_headers(h, n, hs, hp);
    s.n_headers = n;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_START;
    m.stream_start = &s;
    expect(&m);
}

static void expect_data(uint64_t id, const void *p, size_t n)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__StreamData d = UHW__V1__STREAM_DATA__INIT;
    d.id = id;
    d.data.data = (uint8_t *)p;
    d.data.len = n;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_DATA;
    m.stream_data = &d;
    expect(&m);
}

/* ---------------------------------------------------------------- following the model */

/* The latest open request with this id (libuhw's rule for duplicate ids, which the supervisor
 * never sends), or NULL. */
static hreq_t *latest_open(uint64_t id)
{
    for (size_t i = NH; i-- > 0;)
        if (H[i].req != NULL && H[i].q->id == id)
            return &H[i];
    return NULL;
}

/* Whether frame f, now, must cause a callback (1) or not (0: what the SDK writes for it is
 * then expected), or -1: libuhw must stop at it. */
static int needs_callback(const mframe_t *f)
{
    switch (f->kind) {
    case MF_REQUEST:
        if (!M.stopping)
            return 1;
        static const char text[] = "worker shutting down\n";
        expect_response(f->msg->request->id, 503, NULL, 0, text, sizeof(text) - 1);
        return 0;
    case MF_CANCEL: {
        const hreq_t *h = latest_open(f->msg->cancel->id);
        return h != NULL && !h->cancelled;
    }
    case MF_SHUTDOWN:
    case MF_END:
        return !M.stopping;
    case MF_CONFIGURE:
        return 1;
    case MF_OTHER:
        return 0;
    case MF_BAD:
        break;
    }
    return -1;
}

static void bad_frame_passed(void)
{
    fprintf(stderr, "fuzz_libuhw: libuhw went on past a frame it must refuse\n");
    abort();
}

/* Steps over the frames that cause no callback up to the one that causes callback `k`. */
static const mframe_t *advance(cb_kind_t k)
{
    for (;;) {
        CHECK(M.cur < M.n); /* a callback with no frame left to cause it */
        const mframe_t *f = &M.f[M.cur++];
        int need = needs_callback(f);
        if (need < 0)
            bad_frame_passed();
        if (need == 0)
            continue;
        static const mf_kind_t cause[] = {[CB_REQUEST] = MF_REQUEST, [CB_CANCEL] = MF_CANCEL,
                                          [CB_CONFIGURE] = MF_CONFIGURE, [CB_SHUTDOWN] = MF_SHUTDOWN};
        if (f->kind != cause[k] && !(k == CB_SHUTDOWN && f->kind == MF_END)) {
            fprintf(stderr, "fuzz_libuhw: callback %d, but frame %zu (kind %d) is due first\n", (int)k, M.cur - 1,
                    (int)f->kind);
            abort();
        }
        return f;
    }
}

/* Every frame of the first `fed` bytes has been read: none may still wait for its callback. */
static void model_sync(size_t fed)
{
    while (M.cur < M.n && M.f[M.cur].kind != MF_END && M.f[M.cur].end <= fed) {
        const mframe_t *f = &M.f[M.cur++];
        int need = needs_callback(f);
        if (need < 0)
            bad_frame_passed();
        if (need != 0) {
            fprintf(stderr, "fuzz_libuhw: frame %zu (kind %d) was read a turn ago and not delivered\n", M.cur - 1,
                    (int)f->kind);
            abort();
        }
    }
}

/* ---------------------------------------------------------------- reference lookups */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ascii_caseeq(const char *a, const char *b)
{
    for (; *a != '\0' && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b); ++a, ++b)
        ;
    return *a == '\0' && *b == '\0';
}

static void check_header_get(const hreq_t *h, const char *name)
{
    const Uhw__V1__Request *q = h->q;
    const char *got = uhw_header_get(h->req, name);
    for (size_t i = 0; i < q->n_headers; ++i) {
        if (!ascii_caseeq(q->headers[i]->name, name))
            continue;
        size_t len = q->headers[i]->value.len;
        CHECK(got != NULL && (len == 0 || memcmp(got, q->headers[i]->value.data, len) == 0) && got[len] == '\0');
        return;
    }
    CHECK(got == NULL);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Form-decodes [s, s+n) into out (n bytes at most); returns the length. */
static size_t form_decode(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '+') {
            out[k++] = ' ';
            ++i;
        } else if (s[i] == '%' && n - i >= 3 && hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
            out[k++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 3;
        } else {
            out[k++] = s[i++];
        }
    }
    return k;
}

/* The query's parameters: '&'-separated, a trailing empty one not counted; the key is what
 * precedes the first '=', form-decoded. Calls fn for each until it returns nonzero. */
static void for_each_param(const char *query, int (*fn)(const char *key, size_t klen, const char *val, size_t vlen, void *arg),
                           void *arg)
{
    size_t qn = strlen(query);
    char *key = malloc(qn + 1), *val = malloc(qn + 1);
    for (size_t start = 0; start < qn;) {
        const char *seg = query + start, *amp = memchr(seg, '&', qn - start);
        size_t slen = amp != NULL ? (size_t)(amp - seg) : qn - start;
        const char *eq = memchr(seg, '=', slen);
        size_t kraw = eq != NULL ? (size_t)(eq - seg) : slen;
        size_t klen = form_decode(seg, kraw, key);
        size_t vlen = eq != NULL ? form_decode(eq + 1, slen - kraw - 1, val) : 0;
        if (fn(key, klen, val, vlen, arg))
            break;
        start += slen + 1;
    }
    free(key);
    free(val);
}

typedef struct qlookup {
    const char *name;
    int found;
    char *val;
    size_t vlen;
} qlookup_t;

static int match_param(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
    qlookup_t *l = arg;
    if (klen != strlen(l->name) || memcmp(key, l->name, klen) != 0)
        return 0;
    l->found = 1;
    l->val = malloc(vlen + 1);
    memcpy(l->val, val, vlen);
    l->vlen = vlen;
    return 1;
}

static void check_query_param(const hreq_t *h, const char *name, size_t bufsz)
{
    qlookup_t l = {name, 0, NULL, 0};
    for_each_param(h->q->query, match_param, &l);
    char *buf = malloc(bufsz); /* exactly bufsz bytes: writing past them is an ASan report */
    errno = 0;
    const char *got = uhw_query_param(h->req, name, buf, bufsz);
    if (!l.found) {
        CHECK(got == NULL && errno == ENOENT);
    } else if (bufsz <= l.vlen) {
        CHECK(got == NULL && errno == ERANGE);
    } else {
        CHECK(got == buf && memcmp(buf, l.val, l.vlen) == 0 && buf[l.vlen] == '\0');
    }
    free(l.val);
    free(buf);
}

/* A name the script spells (no NUL), into buf (at least 9 bytes). */
static const char *script_name(char *buf)
{
    static const char *const common[] = {"", "a", "content-type", "Host", "x", "q"};
    unsigned n = pick(9);
    if (n < 3)
        return common[pick(6)];
    size_t len = n - 3;
    for (size_t i = 0; i < len; ++i)
        buf[i] = (char)(1 + pick(255));
    buf[len] = '\0';
    return buf;
}

/* The first n decoded key of the query that is a C string, or NULL. */
typedef struct qkey {
    unsigned want;
    char *name;
} qkey_t;

static int nth_key(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
    (void)val;
    (void)vlen;
    qkey_t *k = arg;
    if (memchr(key, '\0', klen) != NULL || k->want-- != 0)
        return 0;
    k->name = strndup(key, klen);
    return 1;
}

/* Every header and query parameter of the request looked up by its own name, the header in
 * upper case too, the parameter with a buffer one byte short and one just big enough. */
static void check_own_names(const hreq_t *h)
{
    for (size_t i = 0; i < h->q->n_headers; ++i) {
        char *s = strdup(h->q->headers[i]->name);
        check_header_get(h, s);
        for (char *c = s; *c != '\0'; ++c)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 32);
        check_header_get(h, s);
        free(s);
    }
    for (unsigned i = 0;; ++i) {
        qkey_t k = {i, NULL};
        for_each_param(h->q->query, nth_key, &k);
        if (k.name == NULL)
            break;
        qlookup_t l = {k.name, 0, NULL, 0};
        for_each_param(h->q->query, match_param, &l);
        check_query_param(h, k.name, l.vlen);
        check_query_param(h, k.name, l.vlen + 1);
        free(l.val);
        free(k.name);
    }
}

/* Lookups the script chooses: names changed or made up, any buffer size. */
static void check_lookups(const hreq_t *h)
{
    char name[16];
    /* headers: a header's own name with its case changed, or any name */
    for (unsigned i = 0, n = 1 + pick(3); i < n; ++i) {
        if (h->q->n_headers != 0 && pick(2) == 0) {
            char *s = strdup(h->q->headers[pick(256) % h->q->n_headers]->name);
            for (char *c = s; *c != '\0'; ++c)
                if (pick(2))
                    *c = (char)(*c ^ 0x20);
            check_header_get(h, s);
            free(s);
        } else {
            check_header_get(h, script_name(name));
        }
    }
    /* query parameters: a key of the query, or any name, with any buffer size */
    for (unsigned i = 0, n = 1 + pick(3); i < n; ++i) {
        qkey_t k = {pick(4), NULL};
        if (pick(2) == 0)
            for_each_param(h->q->query, nth_key, &k);
        const char *nm = k.name != NULL ? k.name : script_name(name);
        qlookup_t l = {nm, 0, NULL, 0};
        for_each_param(h->q->query, match_param, &l);
        static const size_t sizes[] = {0, 1, 2, 8, 64, 4096};
        unsigned how = pick(8);
        size_t bufsz = how < 6 ? sizes[how] : l.vlen + (how - 6); /* one short, then exact */
        free(l.val);
        check_query_param(h, nm, bufsz);
        free(k.name);
    }
    CHECK(uhw_cancelled(h->req) == h->cancelled);
    CHECK(uhw_stopping() == M.stopping);
}

/* uhw_setting for every key of the latest Configure, and (made_up) for a key the script spells. */
static void check_settings(int made_up)
{
    const Uhw__V1__Configure *c = M.conf;
    size_t n = c != NULL ? c->n_settings : 0;
    for (size_t i = 0; i < n; ++i) {
        const char *got = uhw_setting(c->settings[i]->key);
        size_t first = 0;
        while (strcmp(c->settings[first]->key, c->settings[i]->key) != 0)
            ++first;
        CHECK(got != NULL && strcmp(got, c->settings[first]->value) == 0);
    }
    if (!made_up)
        return;
    char buf[16];
    const char *key = script_name(buf), *want = NULL;
    for (size_t i = 0; i < n && want == NULL; ++i)
        if (strcmp(c->settings[i]->key, key) == 0)
            want = c->settings[i]->value;
    const char *got = uhw_setting(key);
    CHECK(want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0);
}

/* ---------------------------------------------------------------- what the application does */

enum { A_TEXT, A_RESPOND, A_START, A_WRITE, A_SSE, A_COMMENT, A_NDJSON, A_END, A_FAIL, A_KEEPALIVE, A_LOG,
       A_CAPACITY, A_LOOKUPS, A_LATER, A_WAIT, A_COUNT };

static const unsigned STATUSES[] = {200, 201, 204, 302, 404, 500, 503, 599, 0, 199, 600, 1000};

static unsigned pick_status(void)
{
    return STATUSES[pick(sizeof(STATUSES) / sizeof(STATUSES[0]))];
}

/* Headers to answer with: none, a good one, the request's own (any bytes), or a hop-by-hop one. */
static size_t pick_headers(const hreq_t *h, uhw_header_t *out)
{
    switch (pick(4)) {
    case 0:
        return 0;
    case 1:
        out[0] = (uhw_header_t){"X-Fuzz", (const uint8_t *)"1\t2", 3};
        return 1;
    case 2: {
        size_t n = h->req->nheaders < MAX_HDRS ? h->req->nheaders : MAX_HDRS;
        if (n != 0)
            memcpy(out, h->req->headers, n * sizeof(*out));
        return n;
    }
    default:
        out[0] = (uhw_header_t){pick(2) ? "Connection" : "tE", (const uint8_t *)"close", 5};
        return 1;
    }
}

static int head_ok(unsigned status, const uhw_header_t *hs, size_t n)
{
    if (!rules_status_ok(status))
        return 0;
    for (size_t i = 0; i < n; ++i)
        if (rules_header_problem(hs[i].name, strlen(hs[i].name), hs[i].value, hs[i].value_len) != NULL)
            return 0;
    return 1;
}

/* Some text from the request or the script: NULL, "", the path, a header value or the body
 * as C strings (so with CR and LF, which some calls refuse). *buf is to free. */
static const char *pick_text(const hreq_t *h, char **buf)
{
    *buf = NULL;
    switch (pick(6)) {
    case 0:
        return h->req->path;
    case 1:
        return NULL;
    case 2:
        return "";
    case 3:
        return h->req->nheaders != 0 ? (const char *)h->req->headers[pick(256) % h->req->nheaders].value : "x";
    case 4:
        return *buf = strndup(h->req->body != NULL ? (const char *)h->req->body : "", h->req->body_len);
    default:
        return h->req->query;
    }
}

static void finished(hreq_t *h)
{
    h->req = NULL;
    if (h->timer != NULL) {
        uhw_timer_cancel(h->timer);
        h->timer = NULL;
    }
}

/* Finishing calls free the request, and with it the bytes they were given from it: what they
 * must send is expected before the call, and taken back (unexpect) if they must refuse. */
static size_t expected_mark(void)
{
    return frame_buf_size(&EXP);
}

static void unexpect(size_t mark)
{
    EXP.len = EXP.off + mark;
}

static void do_respond(hreq_t *h, int text)
{
    uhw_req_t *r = h->req;
    uhw_header_t hs[MAX_HDRS];
    unsigned status = pick_status();
    size_t n, len;
    const void *body;
    char *tmp = NULL, *ctbuf = NULL;
    const char *ct = NULL, *t = NULL;
    if (text) {
        ct = pick(2) ? pick_text(h, &ctbuf) : NULL;
        t = pick_text(h, &tmp);
        const char *ctv = ct != NULL ? ct : "text/plain; charset=utf-8";
        hs[0] = (uhw_header_t){"Content-Type", (const uint8_t *)ctv, strlen(ctv)};
        n = 1;
        body = t;
        len = t != NULL ? strlen(t) : 0;
    } else {
        n = pick_headers(h, hs);
        int use_body = pick(2);
        body = use_body ? (const void *)r->body : r->path;
        len = use_body ? r->body_len : strlen(r->path);
    }
    size_t mark = expected_mark();
    int refuse = h->started || (!h->cancelled && !head_ok(status, hs, n));
    if (h->cancelled) /* sent bare: only the slot matters */
        expect_response(h->q->id, rules_status_ok(status) ? status : 200, NULL, 0, NULL, 0);
    else
        expect_response(h->q->id, status, hs, n, body, len);
    int ret = text ? uhw_respond_text(r, status, ct, t) : uhw_respond(r, status, hs, n, body, len);
    if (refuse) {
        CHECK(ret == -1 && errno == EINVAL);
        unexpect(mark);
    } else {
        CHECK(ret == 0);
        finished(h);
    }
    drain();
    free(tmp);
    free(ctbuf);
}

static void do_start(hreq_t *h)
{
    uhw_header_t hs[MAX_HDRS];
    unsigned status = pick_status();
    size_t n = pick_headers(h, hs);
    int ret = uhw_stream_start(h->req, status, hs, n);
    if (h->started) {
        CHECK(ret == -1 && errno == EINVAL);
    } else if (h->cancelled) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else if (!head_ok(status, hs, n)) {
        CHECK(ret == -1 && errno == EINVAL);
    } else {
        CHECK(ret == 0);
        expect_stream_start(h->q->id, status, hs, n);
        h->started = 1;
    }
    drain();
}

/* What a stream call that starts the stream itself expects; 0 if it may go on. */
static int auto_start(hreq_t *h, const char *ct, int sse)
{
    if (h->cancelled)
        return -1;
    if (!h->started) {
        uhw_header_t hs[2] = {{"Content-Type", (const uint8_t *)ct, strlen(ct)},
                              {"Cache-Control", (const uint8_t *)"no-cache", 8}};
        expect_stream_start(h->q->id, 200, hs, sse ? 2 : 1);
        h->started = 1;
    }
    return 0;
}

static void do_write(hreq_t *h)
{
    const uhw_req_t *r = h->req;
    size_t len = r->body_len != 0 ? pick(256) % (r->body_len + 1) : 0;
    const void *p = r->body;
    int ret = uhw_stream_write(h->req, p, len);
    if (h->cancelled) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else if (!h->started) {
        CHECK(ret == -1 && errno == EINVAL);
    } else {
        CHECK(ret == 0);
        if (len != 0)
            expect_data(h->q->id, p, len);
    }
    drain();
}

static int has_newline(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* An SSE event as libuhw.h describes it. */
static void sse_text(frame_buf_t *b, const char *event, const char *id, const char *data, unsigned retry)
{
    char num[32];
    if (event != NULL && event[0] != '\0') {
        frame_buf_append(b, "event: ", 7);
        frame_buf_append(b, event, strlen(event));
        frame_buf_append(b, "\n", 1);
    }
    if (id != NULL) {
        frame_buf_append(b, "id: ", 4);
        frame_buf_append(b, id, strlen(id));
        frame_buf_append(b, "\n", 1);
    }
    if (retry > 0)
        frame_buf_append(b, num, (size_t)snprintf(num, sizeof(num), "retry: %u\n", retry));
    if (data != NULL) {
        /* one data: line per line; lines end at LF, CRLF or CR; the text after the last end is a line too */
        size_t start = 0, n = strlen(data);
        for (size_t i = 0; i <= n; ++i) {
            if (i < n && data[i] != '\r' && data[i] != '\n')
                continue;
            frame_buf_append(b, "data: ", 6);
            frame_buf_append(b, data + start, i - start);
            frame_buf_append(b, "\n", 1);
            if (i + 1 < n && data[i] == '\r' && data[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
    }
    frame_buf_append(b, "\n", 1);
}

static void do_sse(hreq_t *h)
{
    char *b1, *b2, *b3;
    const char *event = pick_text(h, &b1), *id = pick_text(h, &b2), *data = pick_text(h, &b3);
    unsigned retry = pick(3) == 0 ? pick(256) * 100u : 0;
    int ret = uhw_sse_event(h->req, event, id, data, retry);
    if (has_newline(event) || has_newline(id)) {
        CHECK(ret == -1 && errno == EINVAL);
    } else if (auto_start(h, "text/event-stream", 1) != 0) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else {
        CHECK(ret == 0);
        frame_buf_t t;
        frame_buf_init(&t);
        sse_text(&t, event, id, data, retry);
        expect_data(h->q->id, frame_buf_bytes(&t), frame_buf_size(&t));
        frame_buf_free(&t);
    }
    drain();
    free(b1);
    free(b2);
    free(b3);
}

static void do_comment(hreq_t *h)
{
    char *b;
    const char *text = pick_text(h, &b);
    int ret = uhw_sse_comment(h->req, text);
    if (has_newline(text)) {
        CHECK(ret == -1 && errno == EINVAL);
    } else if (auto_start(h, "text/event-stream", 1) != 0) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else {
        CHECK(ret == 0);
        char *line;
        CHECK(asprintf(&line, ": %s\n\n", text != NULL ? text : "") >= 0);
        expect_data(h->q->id, line, strlen(line));
        free(line);
    }
    drain();
    free(b);
}

static void do_ndjson(hreq_t *h)
{
    char *b;
    const char *json = pick_text(h, &b);
    int ret = uhw_ndjson(h->req, json);
    if (json == NULL || has_newline(json)) {
        CHECK(ret == -1 && errno == EINVAL);
    } else if (auto_start(h, "application/x-ndjson", 0) != 0) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else {
        CHECK(ret == 0);
        size_t n = strlen(json);
        char *line = malloc(n + 1);
        memcpy(line, json, n);
        line[n] = '\n';
        expect_data(h->q->id, line, n + 1);
        free(line);
    }
    drain();
    free(b);
}

static void do_end(hreq_t *h)
{
    char *b;
    const char *error = pick_text(h, &b);
    int failed = error != NULL && error[0] != '\0';
    if (!h->started) {
        expect_response(h->q->id, failed ? 500 : 200, NULL, 0, NULL, 0);
    } else {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamEnd e = UHW__V1__STREAM_END__INIT;
        e.id = h->q->id;
        e.error = (char *)(failed ? error : "");
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
        m.stream_end = &e;
        expect(&m);
    }
    CHECK(uhw_stream_end(h->req, error) == 0); /* always sent, even when cancelled */
    finished(h);
    drain();
    free(b);
}

static void do_fail(hreq_t *h)
{
    static const unsigned statuses[] = {0, 500, 503, 504, 599, 200, 499, 600};
    unsigned status = statuses[pick(8)];
    char *b1, *b2;
    const char *reason = pick_text(h, &b1), *detail = pick_text(h, &b2);
    int code = (int)pick(256) - 1, sig = (int)pick(16) - 3;
    unsigned pid = pick(256) * 1000u;
    size_t mark = expected_mark();
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__RequestFailed f = UHW__V1__REQUEST_FAILED__INIT;
    f.id = h->q->id;
    f.status = status != 0 ? status : 500;
    f.reason = (char *)(reason != NULL ? reason : "died");
    f.exit_code = code;
    f.signal = sig > 0 ? (uint32_t)sig : 0;
    f.detail = (char *)(detail != NULL ? detail : "");
    f.pid = pid;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED;
    m.request_failed = &f;
    expect(&m);
    int ret = uhw_fail(h->req, status, reason, code, sig, pid, detail);
    if (status != 0 && (status < 500 || status > 599)) {
        CHECK(ret == -1 && errno == EINVAL);
        unexpect(mark);
    } else {
        CHECK(ret == 0);
        finished(h);
    }
    drain();
    free(b1);
    free(b2);
}

static void do_keepalive(hreq_t *h)
{
    int whole = pick(4) == 0; /* a NULL request: the worker's stuck clock only */
    int ret = uhw_keepalive(whole ? NULL : h->req);
    if (!whole && h->cancelled) {
        CHECK(ret == -1 && errno == ECANCELED);
    } else {
        CHECK(ret == 0);
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__KeepAlive k = UHW__V1__KEEP_ALIVE__INIT;
        k.id = whole ? 0 : h->q->id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE;
        m.keep_alive = &k;
        expect(&m);
    }
    drain();
}

static void do_log(hreq_t *h)
{
    int level = (int)pick(8) - 2, about = pick(2);
    if (about)
        uhw_log_req(h->req, level, "%s", h->req->path);
    else
        uhw_log(level, "%s", h->req->path);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Log lg = UHW__V1__LOG__INIT;
    lg.level = level < UHW_LOG_DEBUG ? UHW_LOG_DEBUG : level > UHW_LOG_CRITICAL ? UHW_LOG_CRITICAL : level;
    lg.message = (char *)h->req->path;
    lg.id = about ? h->q->id : 0;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
    m.log = &lg;
    expect(&m);
    drain();
}

static void do_capacity(void)
{
    unsigned n = pick(3);
    CHECK(uhw_set_capacity(n) == 0);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Capacity c = UHW__V1__CAPACITY__INIT;
    c.concurrency = n;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_CAPACITY;
    m.capacity = &c;
    expect(&m);
    drain();
}

static void on_timer(void *arg);

/* Acts on an open request until it is finished or waits (for a timer, a Cancel or Shutdown). */
static void act(hreq_t *h)
{
    while (h->req != NULL) {
        unsigned a = ++h->steps > MAX_STEPS ? A_END : pick(A_COUNT);
        if (a == A_WAIT && (h->cancelled || M.stopping))
            a = A_LATER; /* no Cancel or Shutdown is still to come for it */
        static const char *const names[] = {"text", "respond", "start", "write", "sse", "comment", "ndjson", "end",
                                            "fail", "keepalive", "log", "capacity", "lookups", "later", "wait"};
        TRACEF("request %zu (id %llu): %s\n", (size_t)(h - H), (unsigned long long)h->q->id, names[a]);
        switch (a) {
        case A_TEXT: do_respond(h, 1); break;
        case A_RESPOND: do_respond(h, 0); break;
        case A_START: do_start(h); break;
        case A_WRITE: do_write(h); break;
        case A_SSE: do_sse(h); break;
        case A_COMMENT: do_comment(h); break;
        case A_NDJSON: do_ndjson(h); break;
        case A_END: do_end(h); break;
        case A_FAIL: do_fail(h); break;
        case A_KEEPALIVE: do_keepalive(h); break;
        case A_LOG: do_log(h); break;
        case A_CAPACITY: do_capacity(); break;
        case A_LOOKUPS: check_lookups(h); break;
        case A_LATER:
            h->timer = uhw_after(0, on_timer, h);
            CHECK(h->timer != NULL);
            return;
        default: /* A_WAIT */
            h->waiting = 1;
            return;
        }
    }
}

static void on_timer(void *arg)
{
    hreq_t *h = arg;
    h->timer = NULL;
    drain();
    act(h);
}

/* ---------------------------------------------------------------- the callbacks */

static int streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void handler(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    drain();
    const Uhw__V1__Request *q = advance(CB_REQUEST)->msg->request;
    CHECK(req->id == q->id && streq(req->method, q->method) && streq(req->path, q->path) && streq(req->query, q->query));
    CHECK(streq(req->remote_addr, q->remote_addr) && req->remote_port == q->remote_port && streq(req->scheme, q->scheme));
    CHECK(streq(req->http_version, q->http_version) && streq(req->pool, q->pool) && req->timeout_ms == q->timeout_ms);
    CHECK(req->body_len == q->body.len && (q->body.len == 0 ? req->body == NULL : memcmp(req->body, q->body.data, q->body.len) == 0));
    CHECK(req->nheaders == q->n_headers);
    for (size_t i = 0; i < q->n_headers; ++i) {
        const uhw_header_t *hd = &req->headers[i];
        size_t len = q->headers[i]->value.len;
        CHECK(streq(hd->name, q->headers[i]->name) && hd->value_len == len && hd->value[len] == '\0');
        CHECK(len == 0 || memcmp(hd->value, q->headers[i]->value.data, len) == 0);
    }
    CHECK(NH < MAX_REQS && req->user == NULL);
    hreq_t *h = &H[NH++];
    TRACEF("handler: request %zu (id %llu)\n", NH - 1, (unsigned long long)q->id);
    *h = (hreq_t){.req = req, .q = q};
    req->user = h;
    check_own_names(h);
    check_settings(0);
    act(h);
}

static void on_cancel(uhw_req_t *req, int reason, void *ctx)
{
    (void)ctx;
    drain();
    const Uhw__V1__Cancel *c = advance(CB_CANCEL)->msg->cancel;
    hreq_t *h = req->user;
    CHECK(h != NULL && h->req == req && h == latest_open(c->id) && !h->cancelled && reason == (int)c->reason);
    h->cancelled = 1;
    TRACEF("on_cancel: request %zu, reason %d\n", (size_t)(h - H), reason);
    CHECK(uhw_cancelled(req) == 1);
    if (h->waiting || pick(2) == 0) {
        h->waiting = 0;
        act(h);
    }
}

static void on_configure(const uhw_setting_t *settings, size_t n, void *ctx)
{
    (void)ctx;
    drain();
    const Uhw__V1__Configure *c = advance(CB_CONFIGURE)->msg->configure;
    CHECK(n == c->n_settings && (n == 0 || settings != NULL));
    for (size_t i = 0; i < n; ++i)
        CHECK(streq(settings[i].key, c->settings[i]->key) && streq(settings[i].value, c->settings[i]->value));
    M.conf = c;
    TRACEF("on_configure: %zu settings\n", n);
    check_settings(1);
}

static void on_shutdown(unsigned grace_ms, void *ctx)
{
    (void)ctx;
    drain();
    const mframe_t *f = advance(CB_SHUTDOWN);
    CHECK(grace_ms == (f->kind == MF_SHUTDOWN ? f->msg->shutdown->grace_ms : 0));
    M.stopping = 1;
    TRACEF("on_shutdown: grace %u\n", grace_ms);
    CHECK(uhw_stopping() == 1);
    check_settings(0);
    for (size_t i = 0; i < NH; ++i) {
        if (H[i].req != NULL && H[i].waiting) {
            H[i].waiting = 0;
            act(&H[i]);
        }
    }
}

/* ---------------------------------------------------------------- stdin */

static struct feed {
    int fd; /* the pipe's write end, -1 once closed */
    const uint8_t *s;
    size_t n, pos;
    int sync;     /* the stream fits in the pipe: check turn by turn */
    uint32_t rng; /* piece sizes (the script is the application's) */
} F;

/* Writes the next piece: 1..16 bytes, up to half of what is left, or all of it. */
static void feed_piece(void)
{
    size_t left = F.n - F.pos, want;
    F.rng ^= F.rng << 13;
    F.rng ^= F.rng >> 17;
    F.rng ^= F.rng << 5;
    switch (F.rng & 3) {
    case 0: want = 1 + (F.rng >> 2) % 16; break;
    case 1: want = 1 + (F.rng >> 2) % (left / 2 + 1); break;
    default: want = left; break;
    }
    if (want > left)
        want = left;
    if (want > PIPE_MAX)
        want = PIPE_MAX;
    ssize_t w = want != 0 ? write(F.fd, F.s + F.pos, want) : 0;
    if (w > 0)
        F.pos += (size_t)w;
    if (F.pos == F.n) {
        close(F.fd);
        F.fd = -1;
    }
}

static void feed(void *arg)
{
    (void)arg;
    drain();
    TRACEF("feed: %zu of %zu bytes written\n", F.pos, F.n);
    if (F.sync)
        model_sync(F.pos); /* libuhw read the pipe this turn, before running timers */
    feed_piece();
    if (F.fd >= 0)
        CHECK(uhw_after(0, feed, NULL) != NULL);
}

/* ---------------------------------------------------------------- the run */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int fd = memfd_create("fuzz_libuhw-stdout", MFD_CLOEXEC);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) != STDOUT_FILENO) {
        perror("fuzz_libuhw: stdout");
        exit(1);
    }
    close(fd);
    frame_buf_init(&EXP);
    TRACE = getenv("FUZZ_LIBUHW_TRACE") != NULL;
    return 0;
}

static void check_output_decodes(void)
{
    struct stat st;
    CHECK(fstat(STDOUT_FILENO, &st) == 0);
    frame_buf_t b;
    frame_buf_init(&b);
    uint8_t *dst = frame_buf_reserve(&b, (size_t)st.st_size + 1);
    CHECK(dst != NULL && pread(STDOUT_FILENO, dst, (size_t)st.st_size, 0) == st.st_size);
    frame_buf_commit(&b, (size_t)st.st_size);
    const uint8_t *msg;
    size_t len, frames = 0;
    while (frame_buf_size(&b) != 0) {
        CHECK(frame_take(&b, FRAME_DEFAULT_MAX, &msg, &len) == FRAME_OK);
        Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, len, msg);
        CHECK(m != NULL && m->msg_case != UHW__V1__FROM_WORKER__MSG__NOT_SET);
        CHECK(frames++ != 0 || m->msg_case == UHW__V1__FROM_WORKER__MSG_READY); /* Ready first */
        uhw__v1__from_worker__free_unpacked(m, NULL);
    }
    frame_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    SCRIPT_LEN = data[0] < size - 2 ? data[0] : size - 2;
    SCRIPT = data + 2;
    SCRIPT_POS = 0;
    const uint8_t *s = data + 2 + SCRIPT_LEN;
    size_t n = size - 2 - SCRIPT_LEN;
    unsigned conc = pick(4);
    const char *info = pick(2) ? "fuzz" : NULL;

    n = model_build(s, n);
    if (count_requests() > MAX_REQS) {
        model_free();
        return 0;
    }
    NH = 0;
    CHECK(ftruncate(STDOUT_FILENO, 0) == 0 && lseek(STDOUT_FILENO, 0, SEEK_SET) == 0);
    OUT_POS = 0;
    frame_buf_reset(&EXP);

    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0 && dup2(p[0], STDIN_FILENO) == STDIN_FILENO);
    close(p[0]);
    CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
    F = (struct feed){.fd = p[1], .s = s, .n = n, .pos = 0, .sync = n <= PIPE_MAX, .rng = data[1] * 2654435761u + 1};
    if (n == 0) {
        close(F.fd);
        F.fd = -1;
    } else {
        feed_piece(); /* the first piece is there before the loop starts; the rest comes from a timer */
        if (F.fd >= 0)
            CHECK(uhw_after(0, feed, NULL) != NULL);
    }

    uhw_options_t o = {.concurrency = conc, .info = info, .on_cancel = on_cancel,
                       .on_configure = on_configure, .on_shutdown = on_shutdown};
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Ready ready = UHW__V1__READY__INIT;
    ready.protocol = UHW_PROTOCOL;
    ready.concurrency = conc != 0 ? conc : 1;
    ready.info = (char *)(o.info != NULL ? o.info : "");
    m.msg_case = UHW__V1__FROM_WORKER__MSG_READY;
    m.ready = &ready;
    expect(&m);

    int ret = uhw_run_opts(&o, handler, NULL);
    TRACEF("uhw_run: %d\n", ret);
    if (ret == 0) {
        drain();
        CHECK(M.stopping);
        for (size_t i = 0; i < NH; ++i)
            CHECK(H[i].req == NULL); /* every request finished */
    } else {
        /* Only a frame libuhw must refuse ends the run early; the frames before it were all delivered. */
        while (M.cur < M.n && M.f[M.cur].kind != MF_BAD) {
            CHECK(M.f[M.cur].kind != MF_END);
            CHECK(needs_callback(&M.f[M.cur++]) == 0);
        }
        CHECK(M.cur < M.n);
        drain();
        for (size_t i = 0; i < NH; ++i)
            H[i].req = NULL; /* freed by uhw_run */
    }
    if (F.fd >= 0)
        close(F.fd);
    check_output_decodes();
    model_free();
    return 0;
}
