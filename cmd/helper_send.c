/*
 * helper_send.c — the verbs that send frames to the supervisor: ready, reply, stream (start,
 * data, end), sse, ndjson, log, keepalive; see helpers.h. Each checks its whole command line
 * first and sends nothing on bad usage; what a response may carry is rules.h's business.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frame.h"
#include "helper_args.h"
#include "helpers.h"
#include "rules.h"
#include "uhw.pb-c.h"

#define DATA_CHUNK ((size_t)1 << 20) /* largest StreamData frame written */

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
            return helper_usage_error(verb, "header '%s' is not 'Name: value'", spec);
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
        return helper_usage_error(verb, "refused header '%.*s': %s", (int)nlen, spec, why);
    Uhw__V1__Header init = UHW__V1__HEADER__INIT;
    Uhw__V1__Header *x = &h->hs[h->n];
    *x = init;
    if ((x->name = strndup(spec, nlen)) == NULL)
        return helper_fail(verb, "out of memory");
    x->value.data = (uint8_t *)v;
    x->value.len = vlen;
    h->pp[h->n++] = x;
    return 0;
}

static int send_frame(const helper_io_t *io, const char *verb, Uhw__V1__FromWorker *m)
{
    if (frame_write_fd(io->out, &m->base) != 0)
        return helper_fail(verb, "cannot write to the supervisor: %s", strerror(errno));
    return 0;
}

/* StreamData frames of at most DATA_CHUNK bytes (one frame for short data, also when empty). */
static int send_data(const helper_io_t *io, const char *verb, uint64_t id, const uint8_t *p, size_t n)
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
        if (send_frame(io, verb, &m) != 0)
            return 1;
        p += k;
        n -= k;
    } while (n != 0);
    return 0;
}

/* ---------------------------------------------------------------- ready, keepalive, log */

int helper_ready(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'c', 'c', "concurrency", 1}, {'i', 'i', "info", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "ready", *val = NULL, *info = "";
    uint64_t conc = 1;
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        if (c == HOPT_HELP)
            return helper_show_usage(io, verb);
        if (c == 'c' && helper_parse_u64(val, UINT32_MAX, &conc) != 0)
            return helper_usage_error(verb, "invalid concurrency '%s'", val);
        if (c == 'i')
            info = val;
    }
    if (i < argc)
        return helper_usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Ready r = UHW__V1__READY__INIT;
    r.protocol = 1;
    r.concurrency = (uint32_t)conc;
    r.info = (char *)info;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_READY;
    m.ready = &r;
    return send_frame(io, verb, &m);
}

/* Options of the verbs that take only -i ID (and --help). Sets *first to the first operand.
 * Returns -1 to go on, or the exit status (2 bad usage, 0 after --help). */
static int parse_id_only(const helper_io_t *io, const char *verb, int argc, char **argv, int *first, const char **ids)
{
    static const helper_opt_t specs[] = {{'i', 'i', "id", 1}, {'h', 'h', "help", 0}, {0}};
    const char *val = NULL;
    int c;
    *first = 1;
    while ((c = helper_next_opt(argc, argv, first, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        if (c == HOPT_HELP)
            return helper_show_usage(io, verb);
        *ids = val;
    }
    return -1;
}

int helper_keepalive(const helper_io_t *io, int argc, char **argv)
{
    const char *verb = "keepalive", *ids = NULL;
    int i, rc = parse_id_only(io, verb, argc, argv, &i, &ids);
    if (rc >= 0)
        return rc;
    if (i < argc)
        return helper_usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__KeepAlive ka = UHW__V1__KEEP_ALIVE__INIT;
    if (helper_resolve_id(verb, ids, 0, &ka.id) != 0)
        return 2;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE;
    m.keep_alive = &ka;
    return send_frame(io, verb, &m);
}

int helper_log(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'h', 'h', "help", 0}, {0}};
    static const struct { const char *name; Uhw__V1__Log__Level level; } levels[] = {
        {"debug", UHW__V1__LOG__LEVEL__DEBUG},     {"info", UHW__V1__LOG__LEVEL__INFO},
        {"warning", UHW__V1__LOG__LEVEL__WARNING}, {"warn", UHW__V1__LOG__LEVEL__WARNING},
        {"error", UHW__V1__LOG__LEVEL__ERROR},     {"critical", UHW__V1__LOG__LEVEL__CRITICAL},
    };
    const char *verb = "log", *val = NULL;
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        return helper_show_usage(io, verb);
    }
    if (argc - i < 2)
        return helper_usage_error(verb, argc - i == 0 ? "missing LEVEL and MESSAGE" : "missing MESSAGE");
    size_t k;
    for (k = 0; k < sizeof(levels) / sizeof(levels[0]); ++k)
        if (strcasecmp(argv[i], levels[k].name) == 0)
            break;
    if (k == sizeof(levels) / sizeof(levels[0]))
        return helper_usage_error(verb, "unknown level '%s': debug, info, warning, error or critical", argv[i]);
    uint64_t id = 0;
    const char *env = getenv("UHW_REQUEST_ID");
    if (env != NULL && helper_parse_u64(env, UINT64_MAX, &id) != 0)
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
        ret = helper_fail(verb, "out of memory");
    } else {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__Log lg = UHW__V1__LOG__INIT;
        lg.level = levels[k].level;
        lg.message = (char *)frame_buf_bytes(&msg);
        lg.id = id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
        m.log = &lg;
        ret = send_frame(io, verb, &m);
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
    static const helper_opt_t specs[] = {{'i', 'i', "id", 1},     {'s', 's', "status", 1}, {'t', 't', "type", 1},
                                      {'H', 'H', "header", 1}, {'f', 'f', "file", 1},   {'h', 'h', "help", 0},
                                      {0}};
    const char *val = NULL, *ids = NULL;
    int c;
    *help = 0;
    while ((c = helper_next_opt(argc, argv, i, specs, &val, verb)) != HOPT_END) {
        int r = 0;
        switch (c) {
        case HOPT_ERR:
            return 2;
        case HOPT_HELP:
            *help = 1;
            return 0;
        case 'i':
            ids = val;
            break;
        case 's':
            r = helper_parse_status(verb, val, status);
            break;
        case 't':
            r = heads_add(h, verb, "Content-Type", val);
            break;
        case 'H':
            r = heads_add(h, verb, val, NULL);
            break;
        case 'f':
            if (!with_file)
                return helper_usage_error(verb, "unknown option -f");
            *file = val;
            break;
        }
        if (r != 0)
            return r;
    }
    return helper_resolve_id(verb, ids, 1, id);
}

int helper_reply(const helper_io_t *io, int argc, char **argv)
{
    const char *verb = "reply", *file = NULL;
    uint64_t id = 0;
    uint32_t status = 200;
    heads_t h;
    frame_buf_t body;
    frame_buf_init(&body);
    if (heads_init(&h, (size_t)argc) != 0) {
        heads_free(&h);
        return helper_fail(verb, "out of memory");
    }
    int i = 1, help = 0;
    int ret = parse_head_opts(verb, argc, argv, &i, 1, &id, &status, &h, &file, &help);
    if (ret == 0 && help)
        ret = helper_show_usage(io, verb);
    else if (ret == 0 && (ret = helper_read_payload(io, verb, file, argc, argv, i, 0, &body)) == 0) {
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
        ret = send_frame(io, verb, &m);
    }
    heads_free(&h);
    frame_buf_free(&body);
    return ret;
}

static int stream_start(const helper_io_t *io, int argc, char **argv)
{
    const char *verb = "stream", *file = NULL;
    uint64_t id = 0;
    uint32_t status = 200;
    heads_t h;
    if (heads_init(&h, (size_t)argc) != 0) {
        heads_free(&h);
        return helper_fail(verb, "out of memory");
    }
    int i = 1, help = 0;
    int ret = parse_head_opts(verb, argc, argv, &i, 0, &id, &status, &h, &file, &help);
    if (ret == 0 && help) {
        ret = helper_show_usage(io, verb);
    } else if (ret == 0 && i < argc) {
        ret = helper_usage_error(verb, "unexpected argument '%s' (stream start sends no data)", argv[i]);
    } else if (ret == 0) {
        Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
        Uhw__V1__StreamStart ss = UHW__V1__STREAM_START__INIT;
        ss.id = id;
        ss.status = status;
        ss.headers = h.pp;
        ss.n_headers = h.n;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_START;
        m.stream_start = &ss;
        ret = send_frame(io, verb, &m);
    }
    heads_free(&h);
    return ret;
}

static int stream_data(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'i', 'i', "id", 1}, {'f', 'f', "file", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "stream", *val = NULL, *ids = NULL, *file = NULL;
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        if (c == HOPT_HELP)
            return helper_show_usage(io, verb);
        if (c == 'i')
            ids = val;
        else
            file = val;
    }
    uint64_t id;
    if (helper_resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t data;
    frame_buf_init(&data);
    int ret = helper_read_payload(io, verb, file, argc, argv, i, 1, &data);
    if (ret == 0)
        ret = send_data(io, verb, id, frame_buf_bytes(&data), frame_buf_size(&data));
    frame_buf_free(&data);
    return ret;
}

static int stream_end(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'i', 'i', "id", 1}, {'e', 0, "error", 1}, {'h', 'h', "help", 0}, {0}};
    const char *verb = "stream", *val = NULL, *ids = NULL, *error = "";
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        if (c == HOPT_HELP)
            return helper_show_usage(io, verb);
        if (c == 'i')
            ids = val;
        else
            error = val;
    }
    if (i < argc)
        return helper_usage_error(verb, "unexpected argument '%s'", argv[i]);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__StreamEnd se = UHW__V1__STREAM_END__INIT;
    if (helper_resolve_id(verb, ids, 1, &se.id) != 0)
        return 2;
    se.error = (char *)error;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
    m.stream_end = &se;
    return send_frame(io, verb, &m);
}

int helper_stream(const helper_io_t *io, int argc, char **argv)
{
    const char *verb = "stream";
    if (argc < 2)
        return helper_usage_error(verb, "missing start, data or end");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return helper_show_usage(io, verb);
    /* The subverb takes the place of argv[0]. */
    if (strcmp(sub, "start") == 0)
        return stream_start(io, argc - 1, argv + 1);
    if (strcmp(sub, "data") == 0)
        return stream_data(io, argc - 1, argv + 1);
    if (strcmp(sub, "end") == 0)
        return stream_end(io, argc - 1, argv + 1);
    return helper_usage_error(verb, "unknown subcommand '%s': start, data or end", sub);
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

int helper_sse(const helper_io_t *io, int argc, char **argv)
{
    /* -i is the request's id, --id the event's. */
    static const helper_opt_t specs[] = {{'i', 'i', NULL, 1},      {'E', 0, "event", 1}, {'I', 0, "id", 1},
                                      {'r', 0, "retry", 1},     {'f', 'f', "file", 1}, {'h', 'h', "help", 0},
                                      {0}};
    const char *verb = "sse", *val = NULL, *ids = NULL, *event = NULL, *evid = NULL, *retry = NULL, *file = NULL;
    int i = 1, c;
    uint64_t ms;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        switch (c) {
        case HOPT_ERR:
            return 2;
        case HOPT_HELP:
            return helper_show_usage(io, verb);
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
            if (helper_parse_u64(val, UINT32_MAX, &ms) != 0)
                return helper_usage_error(verb, "invalid --retry '%s': milliseconds expected", val);
            retry = val;
            break;
        case 'f':
            file = val;
            break;
        }
    }
    if ((event != NULL && strpbrk(event, "\r\n") != NULL) || (evid != NULL && strpbrk(evid, "\r\n") != NULL))
        return helper_usage_error(verb, "--event and --id may not contain CR or LF");
    uint64_t id;
    if (helper_resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t data, ev;
    frame_buf_init(&data);
    frame_buf_init(&ev);
    int ret = helper_read_payload(io, verb, file, argc, argv, i, 1, &data);
    if (ret == 0) {
        if (sse_format(&ev, event, evid, retry, frame_buf_bytes(&data), frame_buf_size(&data)) != 0)
            ret = helper_fail(verb, "out of memory");
        else
            ret = send_data(io, verb, id, frame_buf_bytes(&ev), frame_buf_size(&ev));
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

int helper_ndjson(const helper_io_t *io, int argc, char **argv)
{
    const char *verb = "ndjson", *ids = NULL;
    int i, rc = parse_id_only(io, verb, argc, argv, &i, &ids);
    if (rc >= 0)
        return rc;
    uint64_t id;
    if (helper_resolve_id(verb, ids, 1, &id) != 0)
        return 2;
    frame_buf_t text, line;
    frame_buf_init(&text);
    frame_buf_init(&line);
    int ret = helper_read_payload(io, verb, NULL, argc, argv, i, 1, &text);
    if (ret == 0) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)frame_buf_bytes(&text), frame_buf_size(&text), JSON_DECODE_ANY, &jerr);
        if (j == NULL) {
            ret = helper_usage_error(verb, "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        } else if (json_compact((const char *)frame_buf_bytes(&text), frame_buf_size(&text), &line) != 0) {
            ret = helper_fail(verb, "out of memory");
        } else {
            ret = send_data(io, verb, id, frame_buf_bytes(&line), frame_buf_size(&line));
        }
        json_decref(j);
    }
    frame_buf_free(&text);
    frame_buf_free(&line);
    return ret;
}

