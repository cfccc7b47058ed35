/*
 * helpers.c — the shell-worker verbs of the uhw CLI; see helpers.h.
 *
 * Each verb is a short-lived process that reads at most one frame (recv) or writes one
 * frame, so a shell loop and the helpers it runs share the worker's pipes frame by
 * frame. Nothing here buffers stdin: frame_read_fd never reads past its frame.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "frame.h"
#include "rules.h"
#include "uhw.pb-c.h"

extern char **environ;

#define RECV_MAX_FRAME ((size_t)1 << 31) /* sanity bound; the supervisor enforces max_frame */
#define DATA_CHUNK ((size_t)1 << 20)      /* largest StreamData frame written */

/* ---------------------------------------------------------------- usage */

static const struct verb_doc {
    const char *verb, *summary, *usage;
} DOCS[] = {
    {"ready", "announce the worker (once, after setup)",
     "usage: uhw ready [-c N] [-i INFO]\n"
     "Tells the supervisor that this worker is ready for requests (Ready frame).\n"
     "  -c N      requests in flight at once (default 1)\n"
     "  -i INFO   free text shown in the supervisor's logs and status\n"},
    {"recv", "read one request; prints sh code to eval",
     "usage: uhw recv\n"
     "Reads the next request from stdin and prints sh code that sets its variables:\n"
     "  uhw ready\n"
     "  while req=$(uhw recv); do eval \"$req\"; ...; uhw reply ...; done\n"
     "Variables (every value single-quoted, so no request byte can run code):\n"
     "  UHW_REQUEST_ID REQUEST_METHOD PATH_INFO QUERY_STRING CONTENT_TYPE CONTENT_LENGTH\n"
     "  REMOTE_ADDR REMOTE_PORT REQUEST_SCHEME SERVER_PROTOCOL UHW_TIMEOUT_MS UHW_BODY_FILE,\n"
     "  HTTP_<NAME> for every other header (upper case, other characters as _; repeated\n"
     "  headers joined with \", \"; a Proxy header is dropped), UHW_SETTING_<KEY> for the\n"
     "  pool's settings. HTTP_* variables of the previous request are unset.\n"
     "The body is written to the file $UHW_BODY_FILE (default ${TMPDIR:-/tmp}/uhw-body.PID,\n"
     "PID being the shell's). Exits 1 with no output at end of input or on Shutdown.\n"},
    {"reply", "answer a request",
     "usage: uhw reply [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE | -]\n"
     "Answers a request with one complete response (empty body when no BODY is given).\n"
     "  -i ID       request id (default $UHW_REQUEST_ID)\n"
     "  -s STATUS   HTTP status, 200..599 (default 200)\n"
     "  -t TYPE     Content-Type\n"
     "  -H 'N: V'   a response header (repeatable; no CR, LF, or hop-by-hop names)\n"
     "  -f FILE     body read from FILE;  -  body read from stdin\n"
     "Options come first; put -- before a BODY that starts with '-'.\n"},
    {"stream", "send a response in parts (start, data, end)",
     "usage: uhw stream start [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']...\n"
     "       uhw stream data [-i ID] [DATA | -f FILE | -]\n"
     "       uhw stream end [-i ID] [--error MSG]\n"
     "Streams a response: start (status, headers), any number of data, then end.\n"
     "--error MSG aborts the response, so the client sees it truncated.\n"},
    {"sse", "send one Server-Sent Event on a started stream",
     "usage: uhw sse [-i ID] [--event E] [--id I] [--retry MS] DATA | -f FILE | -\n"
     "Sends one event on a stream started with: uhw stream start -t text/event-stream\n"
     "Each line of DATA becomes a \"data:\" line; a blank line ends the event.\n"},
    {"ndjson", "send one JSON line on a started stream",
     "usage: uhw ndjson [-i ID] JSON | -\n"
     "Sends JSON (validated, whitespace removed) and a newline on a stream started with:\n"
     "  uhw stream start -t application/x-ndjson\n"
     "Invalid JSON: exit 2, nothing sent.\n"},
    {"log", "log a line through the supervisor",
     "usage: uhw log LEVEL MESSAGE...\n"
     "Logs MESSAGE through the supervisor at LEVEL: debug, info, warning, error, critical.\n"
     "The line names the request $UHW_REQUEST_ID when it is set.\n"},
    {"keepalive", "reset a request's timeout",
     "usage: uhw keepalive [-i ID]\n"
     "Says a long request is still being worked on: resets its timeout and the worker's\n"
     "stuck clock.\n"},
};

static const struct verb_doc *find_doc(const char *verb)
{
    for (size_t i = 0; i < sizeof(DOCS) / sizeof(DOCS[0]); ++i)
        if (strcmp(DOCS[i].verb, verb) == 0)
            return &DOCS[i];
    return NULL;
}

const char *helpers_usage(const char *verb)
{
    const struct verb_doc *d = verb != NULL ? find_doc(verb) : NULL;
    return d != NULL ? d->usage : NULL;
}

const char *helpers_summary(void)
{
    static char text[2048];
    if (text[0] == '\0') {
        size_t n = 0;
        for (size_t i = 0; i < sizeof(DOCS) / sizeof(DOCS[0]) && n < sizeof(text); ++i)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "  %-10s  %s\n", DOCS[i].verb, DOCS[i].summary);
    }
    return text;
}

/* --help: stdout is usually the protocol pipe, so only a terminal gets the text there. */
static int show_usage(const char *verb)
{
    fputs(helpers_usage(verb), isatty(STDOUT_FILENO) ? stdout : stderr);
    return 0;
}

/* "uhw VERB: message" on stderr. */
static void vreport(const char *verb, const char *fmt, va_list ap)
{
    fprintf(stderr, "uhw %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* Reports bad usage with the usage line; returns 2, the exit status for it. */
static int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(verb, fmt, ap);
    va_end(ap);
    const char *u = helpers_usage(verb);
    fprintf(stderr, "%.*s(uhw %s --help for more)\n", (int)strcspn(u, "\n") + 1, u, verb);
    return 2;
}

/* Reports a failure; returns 1. */
static int fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(verb, fmt, ap);
    va_end(ap);
    return 1;
}

/* ---------------------------------------------------------------- option parsing */

/* POSIX-style: options come first; the first operand, "-" or "--" ends them, so a body
 * that starts with '-' can follow "--". Values are separate ("-s 404") or attached
 * ("-s404", "--error=msg"). No global state, unlike getopt. */
typedef struct optspec {
    int code;         /* returned when the option is found */
    char short_name;  /* 0: long only */
    const char *long_name;
    int has_arg;
} optspec_t;

enum { OPT_END = 0, OPT_ERR = -1, OPT_HELP = 'h' };

static int next_opt(int argc, char **argv, int *ip, const optspec_t *specs, const char **val, const char *verb)
{
    int i = *ip;
    if (i >= argc)
        return OPT_END;
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
        *ip = i + 1;
        return OPT_END;
    }
    if (a[0] != '-' || a[1] == '\0')
        return OPT_END;
    const optspec_t *o = NULL;
    const char *attached = NULL;
    if (a[1] == '-') {
        size_t len = strcspn(a + 2, "=");
        for (const optspec_t *s = specs; s->code != 0 && o == NULL; ++s)
            if (s->long_name != NULL && strlen(s->long_name) == len && strncmp(s->long_name, a + 2, len) == 0)
                o = s;
        if (a[2 + len] == '=')
            attached = a + 3 + len;
    } else {
        for (const optspec_t *s = specs; s->code != 0 && o == NULL; ++s)
            if (s->short_name == a[1])
                o = s;
        if (a[2] != '\0')
            attached = a + 2;
    }
    if (o == NULL) {
        usage_error(verb, "unknown option %s", a);
        return OPT_ERR;
    }
    if (o->has_arg) {
        if (attached != NULL) {
            *val = attached;
        } else if (i + 1 < argc) {
            *val = argv[++i];
        } else {
            usage_error(verb, "option %s needs a value", a);
            return OPT_ERR;
        }
    } else if (attached != NULL) {
        usage_error(verb, "option %s takes no value", a);
        return OPT_ERR;
    }
    *ip = i + 1;
    return o->code;
}

/* Strict unsigned decimal; 0 or -1. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* The request id from -i, else $UHW_REQUEST_ID; 0 when neither and !required.
 * Returns 0, or 2 after a usage message. */
static int resolve_id(const char *verb, const char *opt, int required, uint64_t *id)
{
    const char *s = opt;
    const char *from = "-i";
    if (s == NULL) {
        s = getenv("UHW_REQUEST_ID");
        from = "UHW_REQUEST_ID";
        if (s == NULL || s[0] == '\0') {
            if (!required) {
                *id = 0;
                return 0;
            }
            return usage_error(verb, "no request id: pass -i ID, or eval the output of uhw recv first");
        }
    }
    if (parse_u64(s, UINT64_MAX, id) != 0)
        return usage_error(verb, "invalid request id '%s' (%s)", s, from);
    return 0;
}

static int parse_status(const char *verb, const char *s, uint32_t *status)
{
    uint64_t v;
    if (parse_u64(s, 999, &v) != 0 || v < 200 || v > 599)
        return usage_error(verb, "invalid status '%s': expected 200..599", s);
    *status = (uint32_t)v;
    return 0;
}

/* ---------------------------------------------------------------- headers */

typedef struct heads {
    Uhw__V1__Header **pp; /* n pointers into hs */
    Uhw__V1__Header *hs;
    size_t n;
} heads_t;

static int heads_init(heads_t *h, size_t max)
{
    h->n = 0;
    h->pp = calloc(max + 1, sizeof(*h->pp));
    h->hs = calloc(max + 1, sizeof(*h->hs));
    return h->pp != NULL && h->hs != NULL ? 0 : -1;
}

static void heads_free(heads_t *h)
{
    for (size_t i = 0; i < h->n; ++i)
        free(h->hs[i].name);
    free(h->pp);
    free(h->hs);
}

/* Adds "Name: value" (or name and value apart when `value` is given); 0 or 2. */
static int heads_add(heads_t *h, const char *verb, const char *spec, const char *value)
{
    size_t nlen;
    const char *v;
    if (value != NULL) {
        nlen = strlen(spec);
        v = value;
    } else {
        const char *colon = strchr(spec, ':');
        if (colon == NULL)
            return usage_error(verb, "header '%s' is not 'Name: value'", spec);
        nlen = (size_t)(colon - spec);
        v = colon + 1;
    }
    while (*v == ' ' || *v == '\t')
        ++v;
    size_t vlen = strlen(v);
    while (vlen != 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        --vlen;
    const char *why = rules_header_problem(spec, nlen, (const uint8_t *)v, vlen);
    if (why != NULL)
        return usage_error(verb, "refused header '%.*s': %s", (int)nlen, spec, why);
    Uhw__V1__Header init = UHW__V1__HEADER__INIT;
    Uhw__V1__Header *x = &h->hs[h->n];
    *x = init;
    if ((x->name = strndup(spec, nlen)) == NULL)
        return fail(verb, "out of memory");
    x->value.data = (uint8_t *)v;
    x->value.len = vlen;
    h->pp[h->n++] = x;
    return 0;
}

/* ---------------------------------------------------------------- I/O */

/* Appends everything readable from fd to b; 0 or -1 with errno. */
static int slurp_fd(int fd, frame_buf_t *b)
{
    for (;;) {
        uint8_t *dst = frame_buf_reserve(b, 65536);
        if (dst == NULL)
            return -1;
        ssize_t r = read(fd, dst, 65536);
        if (r > 0)
            frame_buf_commit(b, (size_t)r);
        else if (r == 0)
            return 0;
        else if (errno != EINTR)
            return -1;
    }
}

/* Fills b from an operand (text), a file (-f) or stdin ("-"); 0, 1 (I/O error), 2 (usage). */
static int read_payload(const char *verb, const char *file, int argc, char **argv, int i, int required,
                        frame_buf_t *b)
{
    if (argc - i > 1)
        return usage_error(verb, "too many arguments (quote the data as one argument)");
    if (file != NULL && argc - i == 1)
        return usage_error(verb, "give either -f FILE or data, not both");
    if (file == NULL && argc - i == 0) {
        if (required)
            return usage_error(verb, "missing data (use \"\" for none, - for stdin)");
        return 0;
    }
    if (file == NULL && strcmp(argv[i], "-") != 0)
        return frame_buf_append(b, argv[i], strlen(argv[i])) == 0 ? 0 : fail(verb, "out of memory");
    int fd = file != NULL ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0)
        return fail(verb, "%s: %s", file, strerror(errno));
    int r = slurp_fd(fd, b);
    int saved = errno;
    if (fd != STDIN_FILENO)
        close(fd);
    if (r != 0)
        return fail(verb, "reading %s: %s", file != NULL ? file : "stdin", strerror(saved));
    return 0;
}

static int send_frame(const char *verb, Uhw__V1__FromWorker *m)
{
    if (frame_write_fd(STDOUT_FILENO, &m->base) != 0)
        return fail(verb, "cannot write to the supervisor (stdout): %s", strerror(errno));
    return 0;
}

/* StreamData frames of at most DATA_CHUNK bytes (one frame for short data, also when empty). */
static int send_data(const char *verb, uint64_t id, const uint8_t *p, size_t n)
{
    do {
        size_t k = n < DATA_CHUNK ? n : DATA_CHUNK;
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamData sd = UHW__V1__STREAM_DATA__INIT;
        sd.id = id;
        sd.data.data = (uint8_t *)p;
        sd.data.len = k;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_DATA;
        m.stream_data = &sd;
        if (send_frame(verb, &m) != 0)
            return 1;
        p += k;
        n -= k;
    } while (n != 0);
    return 0;
}

/* ---------------------------------------------------------------- ready, keepalive, log */

int cmd_ready(int argc, char **argv)
{
    static const optspec_t specs[] = {{'c', 'c', "concurrency", 1}, {'i', 'i', "info", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "ready", *val = NULL, *info = "";
    uint64_t conc = 1;
    int i = 1, c;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        if (c == OPT_HELP)
            return show_usage(verb);
        if (c == 'c' && parse_u64(val, UINT32_MAX, &conc) != 0)
            return usage_error(verb, "invalid concurrency '%s'", val);
        if (c == 'i')
            info = val;
    }
    if (i < argc)
        return usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Ready r = UHW__V1__READY__INIT;
    r.protocol = 1;
    r.concurrency = (uint32_t)conc;
    r.info = (char *)info;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_READY;
    m.ready = &r;
    return send_frame(verb, &m);
}

/* Options of the verbs that take only -i ID (and --help). Sets *first to the first operand.
 * Returns -1 to go on, or the exit status (2 bad usage, 0 after --help). */
static int parse_id_only(const char *verb, int argc, char **argv, int *first, const char **ids)
{
    static const optspec_t specs[] = {{'i', 'i', "id", 1}, {'h', 'h', "help", 0}, {0}};
    const char *val = NULL;
    int c;
    *first = 1;
    while ((c = next_opt(argc, argv, first, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        if (c == OPT_HELP)
            return show_usage(verb);
        *ids = val;
    }
    return -1;
}

int cmd_keepalive(int argc, char **argv)
{
    const char *verb = "keepalive", *ids = NULL;
    int i, rc = parse_id_only(verb, argc, argv, &i, &ids);
    if (rc >= 0)
        return rc;
    if (i < argc)
        return usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__KeepAlive ka = UHW__V1__KEEP_ALIVE__INIT;
    if (resolve_id(verb, ids, 0, &ka.id) != 0)
        return 2;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE;
    m.keep_alive = &ka;
    return send_frame(verb, &m);
}

int cmd_log(int argc, char **argv)
{
    static const optspec_t specs[] = {{'h', 'h', "help", 0}, {0}};
    static const struct { const char *name; Uhw__V1__Log__Level level; } levels[] = {
        {"debug", UHW__V1__LOG__LEVEL__DEBUG},     {"info", UHW__V1__LOG__LEVEL__INFO},
        {"warning", UHW__V1__LOG__LEVEL__WARNING}, {"warn", UHW__V1__LOG__LEVEL__WARNING},
        {"error", UHW__V1__LOG__LEVEL__ERROR},     {"critical", UHW__V1__LOG__LEVEL__CRITICAL},
    };
    const char *verb = "log", *val = NULL;
    int i = 1, c;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        return show_usage(verb);
    }
    if (argc - i < 2)
        return usage_error(verb, argc - i == 0 ? "missing LEVEL and MESSAGE" : "missing MESSAGE");
    size_t k;
    for (k = 0; k < sizeof(levels) / sizeof(levels[0]); ++k)
        if (strcasecmp(argv[i], levels[k].name) == 0)
            break;
    if (k == sizeof(levels) / sizeof(levels[0]))
        return usage_error(verb, "unknown level '%s': debug, info, warning, error or critical", argv[i]);
    uint64_t id = 0;
    const char *env = getenv("UHW_REQUEST_ID");
    if (env != NULL && parse_u64(env, UINT64_MAX, &id) != 0)
        id = 0; /* a log line is never refused for a stray variable */
    frame_buf_t msg;
    frame_buf_init(&msg);
    int err = 0;
    for (int a = i + 1; a < argc; ++a)
        err = err || (a > i + 1 && frame_buf_append(&msg, " ", 1) != 0) ||
              frame_buf_append(&msg, argv[a], strlen(argv[a])) != 0;
    err = err || frame_buf_append(&msg, "", 1) != 0;
    int ret;
    if (err) {
        ret = fail(verb, "out of memory");
    } else {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__Log lg = UHW__V1__LOG__INIT;
        lg.level = levels[k].level;
        lg.message = (char *)frame_buf_bytes(&msg);
        lg.id = id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
        m.log = &lg;
        ret = send_frame(verb, &m);
    }
    frame_buf_free(&msg);
    return ret;
}

/* ---------------------------------------------------------------- reply, stream */

/* Options shared by reply and stream start: -i -s -t -H. Returns 0 or an exit status
 * (2; or 0 with *help set). Leaves i at the first operand. */
static int parse_head_opts(const char *verb, int argc, char **argv, int *i, int with_file, uint64_t *id,
                           uint32_t *status, heads_t *h, const char **file, int *help)
{
    static const optspec_t specs[] = {{'i', 'i', "id", 1},     {'s', 's', "status", 1}, {'t', 't', "type", 1},
                                      {'H', 'H', "header", 1}, {'f', 'f', "file", 1},   {'h', 'h', "help", 0},
                                      {0}};
    const char *val = NULL, *ids = NULL;
    int c;
    *help = 0;
    while ((c = next_opt(argc, argv, i, specs, &val, verb)) != OPT_END) {
        int r = 0;
        switch (c) {
        case OPT_ERR:
            return 2;
        case OPT_HELP:
            *help = 1;
            return 0;
        case 'i':
            ids = val;
            break;
        case 's':
            r = parse_status(verb, val, status);
            break;
        case 't':
            r = heads_add(h, verb, "Content-Type", val);
            break;
        case 'H':
            r = heads_add(h, verb, val, NULL);
            break;
        case 'f':
            if (!with_file)
                return usage_error(verb, "unknown option -f");
            *file = val;
            break;
        }
        if (r != 0)
            return r;
    }
    return resolve_id(verb, ids, 1, id);
}

int cmd_reply(int argc, char **argv)
{
    const char *verb = "reply", *file = NULL;
    uint64_t id = 0;
    uint32_t status = 200;
    heads_t h;
    frame_buf_t body;
    frame_buf_init(&body);
    if (heads_init(&h, (size_t)argc) != 0) {
        heads_free(&h);
        return fail(verb, "out of memory");
    }
    int i = 1, help = 0;
    int ret = parse_head_opts(verb, argc, argv, &i, 1, &id, &status, &h, &file, &help);
    if (ret == 0 && help)
        ret = show_usage(verb);
    else if (ret == 0 && (ret = read_payload(verb, file, argc, argv, i, 0, &body)) == 0) {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__Response r = UHW__V1__RESPONSE__INIT;
        r.id = id;
        r.status = status;
        r.headers = h.pp;
        r.n_headers = h.n;
        r.body.data = (uint8_t *)frame_buf_bytes(&body);
        r.body.len = frame_buf_size(&body);
        m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
        m.response = &r;
        ret = send_frame(verb, &m);
    }
    heads_free(&h);
    frame_buf_free(&body);
    return ret;
}

static int stream_start(int argc, char **argv)
{
    const char *verb = "stream", *file = NULL;
    uint64_t id = 0;
    uint32_t status = 200;
    heads_t h;
    if (heads_init(&h, (size_t)argc) != 0) {
        heads_free(&h);
        return fail(verb, "out of memory");
    }
    int i = 1, help = 0;
    int ret = parse_head_opts(verb, argc, argv, &i, 0, &id, &status, &h, &file, &help);
    if (ret == 0 && help) {
        ret = show_usage(verb);
    } else if (ret == 0 && i < argc) {
        ret = usage_error(verb, "unexpected argument '%s' (stream start sends no data)", argv[i]);
    } else if (ret == 0) {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamStart ss = UHW__V1__STREAM_START__INIT;
        ss.id = id;
        ss.status = status;
        ss.headers = h.pp;
        ss.n_headers = h.n;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_START;
        m.stream_start = &ss;
        ret = send_frame(verb, &m);
    }
    heads_free(&h);
    return ret;
}

static int stream_data(int argc, char **argv)
{
    static const optspec_t specs[] = {{'i', 'i', "id", 1}, {'f', 'f', "file", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "stream", *val = NULL, *ids = NULL, *file = NULL;
    int i = 1, c;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        if (c == OPT_HELP)
            return show_usage(verb);
        if (c == 'i')
            ids = val;
        else
            file = val;
    }
    uint64_t id;
    if (resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t data;
    frame_buf_init(&data);
    int ret = read_payload(verb, file, argc, argv, i, 1, &data);
    if (ret == 0)
        ret = send_data(verb, id, frame_buf_bytes(&data), frame_buf_size(&data));
    frame_buf_free(&data);
    return ret;
}

static int stream_end(int argc, char **argv)
{
    static const optspec_t specs[] = {{'i', 'i', "id", 1}, {'e', 0, "error", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "stream", *val = NULL, *ids = NULL, *error = "";
    int i = 1, c;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        if (c == OPT_HELP)
            return show_usage(verb);
        if (c == 'i')
            ids = val;
        else
            error = val;
    }
    if (i < argc)
        return usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__StreamEnd se = UHW__V1__STREAM_END__INIT;
    if (resolve_id(verb, ids, 1, &se.id) != 0)
        return 2;
    se.error = (char *)error;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
    m.stream_end = &se;
    return send_frame(verb, &m);
}

int cmd_stream(int argc, char **argv)
{
    const char *verb = "stream";
    if (argc < 2)
        return usage_error(verb, "missing start, data or end");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return show_usage(verb);
    /* The subverb takes the place of argv[0]. */
    if (strcmp(sub, "start") == 0)
        return stream_start(argc - 1, argv + 1);
    if (strcmp(sub, "data") == 0)
        return stream_data(argc - 1, argv + 1);
    if (strcmp(sub, "end") == 0)
        return stream_end(argc - 1, argv + 1);
    return usage_error(verb, "unknown subcommand '%s': start, data or end", sub);
}

/* ---------------------------------------------------------------- sse, ndjson */

static int buf_puts(frame_buf_t *b, const char *s)
{
    return frame_buf_append(b, s, strlen(s));
}

/* The text of one SSE event (same format as libuhw's uhw_sse_event); 0 or -1 (ENOMEM). */
static int sse_format(frame_buf_t *b, const char *event, const char *id, const char *retry, const uint8_t *data,
                      size_t n)
{
    int err = 0;
    if (event != NULL && event[0] != '\0')
        err = err || buf_puts(b, "event: ") || buf_puts(b, event) || buf_puts(b, "\n");
    if (id != NULL)
        err = err || buf_puts(b, "id: ") || buf_puts(b, id) || buf_puts(b, "\n");
    if (retry != NULL)
        err = err || buf_puts(b, "retry: ") || buf_puts(b, retry) || buf_puts(b, "\n");
    /* One data: line per line (LF, CRLF or CR end a line, as for the client). */
    size_t pos = 0;
    for (;;) {
        size_t k = pos;
        while (k < n && data[k] != '\r' && data[k] != '\n')
            ++k;
        err = err || buf_puts(b, "data: ") || (k > pos && frame_buf_append(b, data + pos, k - pos)) ||
              buf_puts(b, "\n");
        if (k == n)
            break;
        pos = k + ((data[k] == '\r' && k + 1 < n && data[k + 1] == '\n') ? 2 : 1);
    }
    err = err || buf_puts(b, "\n");
    return err ? -1 : 0;
}

int cmd_sse(int argc, char **argv)
{
    /* -i is the request's id, --id the event's. */
    static const optspec_t specs[] = {{'i', 'i', NULL, 1},      {'E', 0, "event", 1}, {'I', 0, "id", 1},
                                      {'r', 0, "retry", 1},     {'f', 'f', "file", 1}, {'h', 'h', "help", 0},
                                      {0}};
    const char *verb = "sse", *val = NULL, *ids = NULL, *event = NULL, *evid = NULL, *retry = NULL, *file = NULL;
    int i = 1, c;
    uint64_t ms;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        switch (c) {
        case OPT_ERR:
            return 2;
        case OPT_HELP:
            return show_usage(verb);
        case 'i':
            ids = val;
            break;
        case 'I':
            evid = val;
            break;
        case 'E':
            event = val;
            break;
        case 'r':
            if (parse_u64(val, UINT32_MAX, &ms) != 0)
                return usage_error(verb, "invalid --retry '%s': milliseconds expected", val);
            retry = val;
            break;
        case 'f':
            file = val;
            break;
        }
    }
    if ((event != NULL && strpbrk(event, "\r\n") != NULL) || (evid != NULL && strpbrk(evid, "\r\n") != NULL))
        return usage_error(verb, "--event and --id may not contain CR or LF");
    uint64_t id;
    if (resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t data, ev;
    frame_buf_init(&data);
    frame_buf_init(&ev);
    int ret = read_payload(verb, file, argc, argv, i, 1, &data);
    if (ret == 0) {
        if (sse_format(&ev, event, evid, retry, frame_buf_bytes(&data), frame_buf_size(&data)) != 0)
            ret = fail(verb, "out of memory");
        else
            ret = send_data(verb, id, frame_buf_bytes(&ev), frame_buf_size(&ev));
    }
    frame_buf_free(&data);
    frame_buf_free(&ev);
    return ret;
}

/* Copies JSON text without the whitespace between tokens (valid JSON only: strings
 * are copied as they are, escapes included). Keeps numbers and key order exactly as
 * written, which re-encoding through jansson would not. */
static int json_compact(const char *s, size_t n, frame_buf_t *out)
{
    uint8_t *o = frame_buf_reserve(out, n + 1);
    if (o == NULL)
        return -1;
    size_t k = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (in_str) {
            o[k++] = (uint8_t)c;
            if (c == '\\' && i + 1 < n)
                o[k++] = (uint8_t)s[++i];
            else if (c == '"')
                in_str = 0;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            o[k++] = (uint8_t)c;
            in_str = c == '"';
        }
    }
    o[k++] = '\n';
    frame_buf_commit(out, k);
    return 0;
}

int cmd_ndjson(int argc, char **argv)
{
    const char *verb = "ndjson", *ids = NULL;
    int i, rc = parse_id_only(verb, argc, argv, &i, &ids);
    if (rc >= 0)
        return rc;
    uint64_t id;
    if (resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t text, line;
    frame_buf_init(&text);
    frame_buf_init(&line);
    int ret = read_payload(verb, NULL, argc, argv, i, 1, &text);
    if (ret == 0) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)frame_buf_bytes(&text), frame_buf_size(&text), JSON_DECODE_ANY, &jerr);
        if (j == NULL) {
            ret = usage_error(verb, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        } else if (json_compact((const char *)frame_buf_bytes(&text), frame_buf_size(&text), &line) != 0) {
            ret = fail(verb, "out of memory");
        } else {
            ret = send_data(verb, id, frame_buf_bytes(&line), frame_buf_size(&line));
        }
        json_decref(j);
    }
    frame_buf_free(&text);
    frame_buf_free(&line);
    return ret;
}

/* ---------------------------------------------------------------- recv */

char *helpers_sh_quote(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t len = 3;
    for (size_t i = 0; i < n; ++i)
        len += s[i] == '\'' ? 4 : 1;
    char *out = malloc(len), *o = out;
    if (out == NULL)
        return NULL;
    *o++ = '\'';
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\0')
            continue; /* a shell variable cannot hold NUL */
        if (s[i] == '\'') {
            memcpy(o, "'\\''", 4); /* close, escaped quote, reopen */
            o += 4;
        } else {
            *o++ = (char)s[i];
        }
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* Appends `export NAME='value'\n`; 0 or -1. */
static int put_export(frame_buf_t *out, const char *name, const void *value, size_t n)
{
    char *q = helpers_sh_quote(value, n);
    if (q == NULL)
        return -1;
    int err = buf_puts(out, "export ") || buf_puts(out, name) || buf_puts(out, "=") || buf_puts(out, q) ||
              buf_puts(out, "\n");
    free(q);
    return err ? -1 : 0;
}

static int put_export_str(frame_buf_t *out, const char *name, const char *value)
{
    return put_export(out, name, value, value != NULL ? strlen(value) : 0);
}

static int put_export_u64(frame_buf_t *out, const char *name, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    return put_export_str(out, name, num);
}

/* PREFIX + name upper-cased, every character outside [A-Z0-9] as '_'. malloc'd. */
static char *var_name(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    char *v = malloc(pl + nl + 1);
    if (v == NULL)
        return NULL;
    memcpy(v, prefix, pl);
    for (size_t i = 0; i < nl; ++i) {
        char c = name[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        v[pl + i] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    v[pl + nl] = '\0';
    return v;
}

/* Appends `unset NAME` for every variable of our environment starting with `prefix`
 * (except `keep`): variables exported for the previous request must not linger. */
static int put_unsets(frame_buf_t *out, const char *prefix, const char *keep)
{
    size_t pl = strlen(prefix);
    int err = 0;
    for (char **e = environ; e != NULL && *e != NULL && !err; ++e) {
        size_t nl = strcspn(*e, "=");
        if (nl < pl || strncmp(*e, prefix, pl) != 0)
            continue;
        if (keep != NULL && strlen(keep) == nl && strncmp(*e, keep, nl) == 0)
            continue;
        /* Only names the shell could have set (it cannot unset others anyway). */
        size_t k;
        for (k = 0; k < nl; ++k) {
            char c = (*e)[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                break;
        }
        if (k == nl)
            err = buf_puts(out, "unset ") || frame_buf_append(out, *e, nl) || buf_puts(out, "\n");
    }
    return err ? -1 : 0;
}

static int put_settings(frame_buf_t *out, const Uhw__V1__Configure *c)
{
    if (put_unsets(out, "UHW_SETTING_", NULL) != 0)
        return -1;
    for (size_t i = 0; i < c->n_settings; ++i) {
        char *name = var_name("UHW_SETTING_", c->settings[i]->key);
        int err = name == NULL || put_export_str(out, name, c->settings[i]->value) != 0;
        free(name);
        if (err)
            return -1;
    }
    return 0;
}

/* HTTP_<NAME> for each header but Content-Type/Content-Length (CGI names) and Proxy
 * (HTTP_PROXY would point curl & co. at a client-chosen proxy: "httpoxy"). Headers that
 * map to the same variable are joined with ", " in order. */
static int put_headers(frame_buf_t *out, const Uhw__V1__Request *q)
{
    size_t n = q->n_headers;
    char **names = calloc(n + 1, sizeof(*names));
    int err = names == NULL;
    for (size_t i = 0; i < n && !err; ++i)
        err = (names[i] = var_name("HTTP_", q->headers[i]->name)) == NULL;
    frame_buf_t val;
    frame_buf_init(&val);
    for (size_t i = 0; i < n && !err; ++i) {
        if (strcmp(names[i], "HTTP_CONTENT_TYPE") == 0 || strcmp(names[i], "HTTP_CONTENT_LENGTH") == 0 ||
            strcmp(names[i], "HTTP_PROXY") == 0)
            continue;
        size_t k;
        for (k = 0; k < i && strcmp(names[k], names[i]) != 0; ++k)
            ;
        if (k < i)
            continue; /* joined at its first occurrence */
        frame_buf_reset(&val);
        for (k = i; k < n && !err; ++k) {
            if (strcmp(names[k], names[i]) != 0)
                continue;
            err = (k != i && frame_buf_append(&val, ", ", 2) != 0) ||
                  frame_buf_append(&val, q->headers[k]->value.data, q->headers[k]->value.len) != 0;
        }
        err = err || put_export(out, names[i], frame_buf_bytes(&val), frame_buf_size(&val)) != 0;
    }
    frame_buf_free(&val);
    for (size_t i = 0; names != NULL && i < n; ++i)
        free(names[i]);
    free(names);
    return err ? -1 : 0;
}

/* Writes the body to a private file, truncated each time; returns its path (malloc'd). */
static char *write_body(const char *verb, const Uhw__V1__Request *q)
{
    char *path;
    const char *set = getenv("UHW_BODY_FILE");
    if (set != NULL && set[0] != '\0') {
        path = strdup(set);
    } else {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || tmp[0] == '\0')
            tmp = "/tmp";
        if (asprintf(&path, "%s/uhw-body.%ld", tmp, (long)getppid()) < 0)
            path = NULL;
    }
    if (path == NULL) {
        fail(verb, "out of memory");
        return NULL;
    }
    /* O_NOFOLLOW: in a shared /tmp, a planted symlink must not redirect the body. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || frame_write_all(fd, q->body.data, q->body.len) != 0) {
        fail(verb, "body file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

/* Appends the sh code for one request; 0, or 1 after a message. */
static int put_request(const char *verb, frame_buf_t *out, const Uhw__V1__Request *q)
{
    const ProtobufCBinaryData *ctype = NULL;
    for (size_t i = 0; i < q->n_headers && ctype == NULL; ++i)
        if (strcasecmp(q->headers[i]->name, "content-type") == 0)
            ctype = &q->headers[i]->value;
    char *body_file = write_body(verb, q);
    if (body_file == NULL)
        return 1;
    int err = put_unsets(out, "HTTP_", "HTTP_PROXY") || put_export_u64(out, "UHW_REQUEST_ID", q->id) ||
              put_export_str(out, "REQUEST_METHOD", q->method) || put_export_str(out, "PATH_INFO", q->path) ||
              put_export_str(out, "QUERY_STRING", q->query) ||
              put_export(out, "CONTENT_TYPE", ctype != NULL ? ctype->data : NULL, ctype != NULL ? ctype->len : 0) ||
              put_export_u64(out, "CONTENT_LENGTH", q->body.len) ||
              put_export_str(out, "REMOTE_ADDR", q->remote_addr) ||
              put_export_u64(out, "REMOTE_PORT", q->remote_port) || put_export_str(out, "REQUEST_SCHEME", q->scheme) ||
              put_export_str(out, "SERVER_PROTOCOL", q->http_version) ||
              put_export_u64(out, "UHW_TIMEOUT_MS", q->timeout_ms) || put_headers(out, q) ||
              put_export_str(out, "UHW_BODY_FILE", body_file);
    free(body_file);
    return err ? fail(verb, "out of memory") : 0;
}

int cmd_recv(int argc, char **argv)
{
    static const optspec_t specs[] = {{'h', 'h', "help", 0}, {0}};
    const char *verb = "recv", *val = NULL;
    int i = 1, c;
    while ((c = next_opt(argc, argv, &i, specs, &val, verb)) != OPT_END) {
        if (c == OPT_ERR)
            return 2;
        return show_usage(verb);
    }
    if (i < argc)
        return usage_error(verb, "unexpected argument '%s'", argv[i]);
    frame_buf_t in, out;
    frame_buf_init(&in);
    frame_buf_init(&out);
    int ret = -1;
    while (ret < 0) {
        frame_status_t st = frame_read_fd(STDIN_FILENO, &in, RECV_MAX_FRAME);
        if (st == FRAME_NEED_MORE) { /* clean end of input: the loop is over */
            ret = 1;
            break;
        }
        if (st != FRAME_OK) {
            ret = fail(verb, "protocol error on stdin: %s%s%s", frame_status_str(st),
                       st == FRAME_IO_ERROR ? ": " : "", st == FRAME_IO_ERROR ? strerror(errno) : "");
            break;
        }
        Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, frame_buf_size(&in), frame_buf_bytes(&in));
        if (m == NULL) {
            ret = fail(verb, "protocol error on stdin: a frame does not decode");
            break;
        }
        switch (m->msg_case) {
        case UHW__V1__TO_WORKER__MSG_REQUEST:
            ret = put_request(verb, &out, m->request);
            break;
        case UHW__V1__TO_WORKER__MSG_CANCEL:
            fprintf(stderr, "uhw recv: skipped Cancel for request %" PRIu64 " (a shell worker cannot stop a request)\n",
                    m->cancel->id);
            break;
        case UHW__V1__TO_WORKER__MSG_SHUTDOWN:
            ret = 1;
            break;
        case UHW__V1__TO_WORKER__MSG_CONFIGURE:
            if (put_settings(&out, m->configure) != 0)
                ret = fail(verb, "out of memory");
            break;
        default:
            break; /* newer protocol: ignored */
        }
        uhw__v1__to_worker__free_unpacked(m, NULL);
    }
    /* Output only for a whole request, all at once. */
    if (ret == 0 && frame_write_all(STDOUT_FILENO, frame_buf_bytes(&out), frame_buf_size(&out)) != 0)
        ret = fail(verb, "writing stdout: %s", strerror(errno));
    frame_buf_free(&in);
    frame_buf_free(&out);
    return ret;
}
