/*
 * replay.c — `uhw replay`, see replay.h: options, choosing records, and the two replays
 * that need no worker of ours (--to, over HTTP; --frame, to a file). --exec is
 * replay_exec.c.
 */
#include "replay.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/url.h>

#include "client.h"
#include "config.h"
#include "frame.h"
#include "replay_exec.h"
#include "rules.h"
#include "victim_record.h"

typedef struct replay_opts {
    const char *file;
    int have_id;
    uint64_t id;
    int all;               /* --all; otherwise the last matching record */
    const char *pool;
    const char *to;        /* --to URL */
    char **exec_argv;      /* --exec -- COMMAND... */
    const char *frame;     /* --frame FILE */
    unsigned timeout_ms, ready_timeout_ms;
} replay_opts_t;

typedef struct records {
    victim_record_t *items;
    size_t len, cap;
    size_t lines;          /* records read, matching or not */
} records_t;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "uhw replay: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'uhw help replay'.\n");
    return REPLAY_USAGE;
}

/* ---------------------------------------------------------------- choosing records */

static int matches(const replay_opts_t *o, const victim_record_t *v)
{
    return (!o->have_id || v->id == o->id) && (o->pool == NULL || (v->pool != NULL && strcmp(v->pool, o->pool) == 0));
}

/* Reads the victims log; keeps the matching records (only the last one unless --all).
 * Lines that are not records are reported and skipped. -1 if the file cannot be read. */
static int read_records(const replay_opts_t *o, records_t *out)
{
    FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
    if (f == NULL) {
        fprintf(stderr, "uhw replay: cannot read %s: %s\n", o->file, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        ++lineno;
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        victim_record_t v;
        char err[256];
        if (victim_record_parse(line, (size_t)n, &v, err, sizeof(err)) != 0) {
            fprintf(stderr, "uhw replay: %s:%zu: skipped: %s\n", o->file, lineno, err);
            continue;
        }
        ++out->lines;
        if (!matches(o, &v)) {
            victim_record_free(&v);
            continue;
        }
        if (!o->all && out->len == 1) { /* the last one wins */
            victim_record_free(&out->items[0]);
            out->len = 0;
        }
        if (out->len == out->cap) {
            size_t c = out->cap != 0 ? out->cap * 2 : 4;
            victim_record_t *p = realloc(out->items, c * sizeof(*p));
            if (p == NULL) {
                fprintf(stderr, "uhw replay: out of memory\n");
                victim_record_free(&v);
                break;
            }
            out->items = p;
            out->cap = c;
        }
        out->items[out->len++] = v;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

static void records_free(records_t *r)
{
    for (size_t i = 0; i < r->len; ++i)
        victim_record_free(&r->items[i]);
    free(r->items);
}

/* ---------------------------------------------------------------- reporting */

static void print_record(const victim_record_t *v)
{
    printf("== victim id=%llu pool=%s worker=%d pid=%ld at %s: %s%s%s (answered %d)\n", (unsigned long long)v->id,
           v->pool != NULL ? v->pool : "?", v->worker, v->pid, v->time != NULL ? v->time : "?",
           v->reason != NULL ? v->reason : "?", v->detail != NULL && v->detail[0] ? ", " : "",
           v->detail != NULL ? v->detail : "", v->status);
    printf("> %s %s%s%s, %zu bytes of body, from %s\n", v->method, v->path, v->query[0] ? "?" : "", v->query,
           v->body_len, v->remote != NULL ? v->remote : "?");
    for (size_t i = 0; i < v->nheaders; ++i)
        if (v->headers[i].redacted)
            printf("-- note: header %s was redacted in the record (victims.redact_headers): not sent\n",
                   v->headers[i].name);
    if (v->body_truncated)
        printf("-- warning: the body was cut at victims.max_body: %zu of %zu bytes recorded; this replay is "
               "partial and may not reproduce the crash\n",
               v->body_len, v->body_size);
}

/* ---------------------------------------------------------------- --to URL */

/* Headers --to does not resend as recorded: ours (Host, Content-Length) and hop-by-hop. */
static int not_resent(const victim_header_t *h)
{
    return h->redacted || strcasecmp(h->name, "host") == 0 || strcasecmp(h->name, "content-length") == 0 ||
           rules_hop_by_hop(h->name, strlen(h->name));
}

typedef struct target {
    struct sockaddr_storage sa;
    socklen_t salen;
    char authority[300];   /* host:port, for Host */
} target_t;

static int resolve_target(const char *url, target_t *t)
{
    h2o_url_t u;
    if (h2o_url_parse(url, strlen(url), &u) != 0 || u.scheme != &H2O_URL_SCHEME_HTTP) {
        fprintf(stderr, "uhw replay: --to wants http://HOST:PORT (https is not supported), not '%s'\n", url);
        return -1;
    }
    char host[256], port[16];
    snprintf(host, sizeof(host), "%.*s", (int)u.host.len, u.host.base);
    snprintf(port, sizeof(port), "%u", (unsigned)h2o_url_get_port(&u));
    snprintf(t->authority, sizeof(t->authority), "%.*s", (int)u.authority.len, u.authority.base);
    if (host[0] == '[') { /* h2o keeps the brackets of an IPv6 literal */
        size_t n = strlen(host);
        memmove(host, host + 1, n);
        if (n >= 2)
            host[n - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "uhw replay: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&t->sa, ai->ai_addr, ai->ai_addrlen);
    t->salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int replay_to(const replay_opts_t *o, const target_t *t, const victim_record_t *v)
{
    client_header_t *hs = calloc(v->nheaders + 1, sizeof(*hs));
    if (hs == NULL)
        return REPLAY_CANNOT;
    size_t n = 0;
    for (size_t i = 0; i < v->nheaders; ++i) {
        if (not_resent(&v->headers[i]))
            continue;
        hs[n++] = (client_header_t){v->headers[i].name, (char *)v->headers[i].value, v->headers[i].value_len};
    }
    size_t tlen = strlen(v->path) + 1 + strlen(v->query) + 1;
    char *target = malloc(tlen);
    if (target == NULL) {
        free(hs);
        return REPLAY_CANNOT;
    }
    snprintf(target, tlen, "%s%s%s", v->path, v->query[0] ? "?" : "", v->query);
    client_http_request_t rq = {.method = v->method, .target = target, .host = t->authority, .headers = hs,
                                .nheaders = n, .body = v->body, .body_len = v->body_len, .timeout_ms = o->timeout_ms};
    client_result_t res;
    printf("-- sending it to %s\n", o->to);
    fflush(stdout);
    int rc = client_http((const struct sockaddr *)&t->sa, t->salen, &rq, &res);
    free(target);
    free(hs);
    if (rc != 0) {
        printf("-- no answer from %s: %s\n", o->to, res.error);
        client_result_free(&res);
        return REPLAY_CANNOT;
    }
    printf("< HTTP/1.%d %d %s\n", res.minor_version, res.status, res.reason);
    for (size_t i = 0; i < res.nheaders; ++i)
        printf("< %s: %.*s\n", res.headers[i].name, (int)res.headers[i].value_len, res.headers[i].value);
    printf("<\n");
    replay_print_body(stdout, res.body, res.len);
    int result = res.status >= 500 ? REPLAY_FAILED : REPLAY_ANSWERED;
    printf("-- %s\n", result == REPLAY_FAILED ? "reproduced: the server answered with a 5xx" : "answered");
    client_result_free(&res);
    return result;
}

/* ---------------------------------------------------------------- --frame FILE */

static int write_frame(const replay_opts_t *o, const victim_record_t *v)
{
    frame_buf_t b;
    frame_buf_init(&b);
    int rc = REPLAY_ANSWERED;
    FILE *f = NULL;
    if (replay_request_frame(v, o->timeout_ms, &b) != 0 || (f = fopen(o->frame, "w")) == NULL ||
        fwrite(frame_buf_bytes(&b), 1, frame_buf_size(&b), f) != frame_buf_size(&b)) {
        fprintf(stderr, "uhw replay: cannot write %s: %s\n", o->frame, strerror(errno));
        rc = REPLAY_CANNOT;
    }
    if (f != NULL && fclose(f) != 0 && rc == REPLAY_ANSWERED) {
        fprintf(stderr, "uhw replay: cannot write %s: %s\n", o->frame, strerror(errno));
        rc = REPLAY_CANNOT;
    }
    if (rc == REPLAY_ANSWERED)
        printf("-- wrote the Request frame (%zu bytes) to %s; run a worker with it as stdin, e.g.\n"
               "   gdb -ex 'run <%s >/dev/null' --args WORKER...\n",
               frame_buf_size(&b), o->frame, o->frame);
    frame_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- the verb */

static char *self_dir(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return strdup(dirname(path));
}

static int parse_ms(const char *opt, const char *s, unsigned *ms)
{
    uint64_t v;
    if (config_parse_duration(s, &v) != 0 || v == 0 || v > 86400000) {
        usage_error("%s wants a duration such as 500ms, 30s or 2m", opt);
        return -1;
    }
    *ms = (unsigned)v;
    return 0;
}

static int parse_args(int argc, char **argv, replay_opts_t *o)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"last", no_argument, NULL, 'l'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"pool", required_argument, NULL, 'p'},
                                         {"to", required_argument, NULL, 't'},
                                         {"exec", no_argument, NULL, 'e'},
                                         {"frame", required_argument, NULL, 'f'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"ready-timeout", required_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int exec = 0, last = 0, c;
    optind = 1;
    opterr = 0;
    /* Options may come before or after the file; everything after "--" is the command
     * (getopt stops there and leaves it as operands). */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': {
            char *end;
            errno = 0;
            unsigned long long id = strtoull(optarg, &end, 10);
            if (*end != '\0' || errno != 0 || optarg[0] == '-')
                return usage_error("--id wants a request id (a number), not '%s'", optarg);
            o->have_id = 1;
            o->id = id;
            break;
        }
        case 'l':
            last = 1;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'p':
            o->pool = optarg;
            break;
        case 't':
            o->to = optarg;
            break;
        case 'e':
            exec = 1;
            break;
        case 'f':
            o->frame = optarg;
            break;
        case 'T':
            if (parse_ms("--timeout", optarg, &o->timeout_ms) != 0)
                return REPLAY_USAGE;
            break;
        case 'R':
            if (parse_ms("--ready-timeout", optarg, &o->ready_timeout_ms) != 0)
                return REPLAY_USAGE;
            break;
        case 'h':
            printf("usage: uhw replay %s\n\n%s\n", REPLAY_USAGE_ARGS, REPLAY_USAGE_TEXT);
            return -1;
        default:
            return usage_error("unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    /* getopt moved the operands to the end: the file, then (after "--") the command. */
    int dashdash = 0;
    for (int i = 1; i < optind; ++i)
        dashdash |= strcmp(argv[i], "--") == 0;
    if (optind >= argc)
        return usage_error("%s", "missing VICTIMS.jsonl (a victims log; - for stdin)");
    o->file = argv[optind++];
    if (exec) {
        if (!dashdash && optind < argc && strcmp(argv[optind], "--") == 0)
            ++optind;
        if (optind >= argc)
            return usage_error("%s", "--exec wants the worker's command after --: --exec -- COMMAND [ARGS...]");
        o->exec_argv = argv + optind;
    } else if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if ((o->to != NULL) + exec + (o->frame != NULL) != 1)
        return usage_error("%s", "say how to replay: one of --to URL, --exec -- COMMAND..., --frame FILE");
    if (last + o->all + o->have_id > 1)
        return usage_error("%s", "--id, --last and --all choose records in different ways: give one");
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    replay_opts_t o = {.timeout_ms = 30000, .ready_timeout_ms = 10000};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (o.have_id && !o.all)
        o.all = 1; /* every record with that id (ids start again when uhw restarts) */
    signal(SIGPIPE, SIG_IGN); /* a worker that dies while we write to it is a finding, not our end */

    target_t target;
    if (o.to != NULL && resolve_target(o.to, &target) != 0)
        return REPLAY_CANNOT;
    records_t recs = {0};
    if (read_records(&o, &recs) != 0)
        return REPLAY_CANNOT;
    if (recs.len == 0) {
        fprintf(stderr, "uhw replay: no victim record in %s matches (%zu record%s read)\n", o.file, recs.lines,
                recs.lines == 1 ? "" : "s");
        records_free(&recs);
        return REPLAY_CANNOT;
    }
    if (o.frame != NULL && recs.len > 1) {
        fprintf(stderr, "uhw replay: --frame writes one request: %zu records match (use --id or --last)\n", recs.len);
        records_free(&recs);
        return REPLAY_USAGE;
    }
    char *dir = o.exec_argv != NULL ? self_dir() : NULL;
    replay_exec_opts_t eo = {.timeout_ms = o.timeout_ms, .ready_timeout_ms = o.ready_timeout_ms, .self_dir = dir};
    int worst = REPLAY_ANSWERED;
    for (size_t i = 0; i < recs.len; ++i) {
        const victim_record_t *v = &recs.items[i];
        print_record(v);
        int r = o.to != NULL ? replay_to(&o, &target, v)
                : o.frame != NULL ? write_frame(&o, v)
                                  : replay_exec(v, o.exec_argv, &eo, stdout);
        fflush(stdout);
        if (r == REPLAY_CANNOT || (r == REPLAY_FAILED && worst != REPLAY_CANNOT))
            worst = r;
    }
    free(dir);
    records_free(&recs);
    return worst;
}
