/*
 * ctl_verbs.c — see ctl_verbs.h.
 */
#include "ctl_verbs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ctl.h"

#define SOCKET_GONE_WAIT_MS (30 * 1000) /* stop --wait: from the answer to the socket's removal */

/* Which of the verb-specific options a verb takes. */
enum { OPT_COMPACT = 1, OPT_POOL = 2, OPT_WAIT = 4 };

typedef struct args {
    ctl_target_t target;
    char *operands[2]; /* POOL [WORKERS] */
    int compact, wait;
    const char *pool;  /* --pool */
} args_t;

/* Parses [options] OPERANDS... [CONFIG | -s SOCKET]: `names` are the operands, for messages.
 * Returns 0, or CLI_USAGE after printing why. */
static int parse(const char *verb, int argc, char **argv, unsigned allowed, const char *const *names, int noperands,
                 args_t *a)
{
    static const struct option opts[] = {CTL_SOCKET_OPTION,
                                         {"compact", no_argument, NULL, 'c'},
                                         {"pool", required_argument, NULL, 'p'},
                                         {"wait", no_argument, NULL, 'w'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    const char *socket = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        if (c == 's')
            socket = optarg;
        else if (c == 'c' && (allowed & OPT_COMPACT))
            a->compact = 1;
        else if (c == 'p' && (allowed & OPT_POOL))
            a->pool = optarg;
        else if (c == 'w' && (allowed & OPT_WAIT))
            a->wait = 1;
        else
            return cli_usage_error(verb, "unknown option or missing argument: '%s'", argv[optind - 1]);
    }
    for (int i = 0; i < noperands; ++i) {
        if (optind >= argc)
            return cli_usage_error(verb, "missing %s", names[i]);
        a->operands[i] = argv[optind++];
    }
    return ctl_target_set(&a->target, verb, socket, argc - optind, argv + optind);
}

/* The answer's JSON object, or NULL (the caller prints the raw body then). */
static json_t *answer(const client_result_t *res)
{
    return res->body != NULL ? json_loads(res->body, 0, NULL) : NULL;
}

/* One request; the refusal printed, or the answer handed to `print`. */
static int call(const char *verb, const ctl_target_t *t, const char *method, const char *path,
                const client_options_t *opts, int (*print)(const char *verb, json_t *answer, void *arg), void *arg)
{
    char *sock = ctl_socket(t);
    if (sock == NULL)
        return CLI_USAGE;
    client_result_t res;
    int rc = ctl_call(verb, sock, method, path, opts, &res);
    free(sock);
    if (rc != 0)
        return rc;
    if (res.status / 100 != 2) {
        rc = ctl_refused(verb, &res);
    } else {
        json_t *o = answer(&res);
        if (o == NULL) {
            fprintf(stderr, "uhw %s: the server's answer is not JSON: %.200s\n", verb, res.body);
            rc = CLI_FAILED;
        } else {
            rc = print(verb, o, arg);
            json_decref(o);
        }
    }
    client_result_free(&res);
    return rc;
}

/* ---------------------------------------------------------------- status */

static int print_status(const char *verb, json_t *doc, void *arg)
{
    const args_t *a = arg;
    json_t *out = doc;
    if (a->pool != NULL) {
        out = NULL;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(doc, "pools"), i, p)
        {
            const char *name = json_string_value(json_object_get(p, "name"));
            if (name != NULL && strcmp(name, a->pool) == 0)
                out = p;
        }
        if (out == NULL) {
            fprintf(stderr, "uhw %s: no pool named '%s'\n", verb, a->pool);
            return CLI_FAILED;
        }
    }
    /* The server's precision: durations rounded to the millisecond read 41.529, not 41.529000000000003. */
    char *s = json_dumps(out, (a->compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_REAL_PRECISION(15));
    printf("%s\n", s);
    free(s);
    return CLI_OK;
}

int cmd_status(int argc, char **argv)
{
    args_t a;
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "status", STATUS_USAGE_ARGS, STATUS_USAGE_TEXT);
        return CLI_OK;
    }
    if (parse("status", argc, argv, OPT_COMPACT | OPT_POOL, NULL, 0, &a) != 0)
        return CLI_USAGE;
    return call("status", &a.target, "GET", "/status", NULL, print_status, &a);
}

/* ---------------------------------------------------------------- stop */

static int print_stopping(const char *verb, json_t *o, void *arg)
{
    (void)arg;
    json_t *pid = json_object_get(o, "pid");
    if (json_is_integer(pid))
        printf("uhw %s: stopping (pid %" JSON_INTEGER_FORMAT ")\n", verb, json_integer_value(pid));
    else
        printf("uhw %s: stopping\n", verb);
    return CLI_OK;
}

/* The server answers `stop --wait` just before it closes its listeners and removes its control
 * socket on the way out; once the socket is gone, `uhw serve` may start again at once. */
static void wait_socket_gone(const char *sock, const struct stat *before)
{
    for (int i = 0; i < SOCKET_GONE_WAIT_MS / 20; ++i) {
        struct stat st;
        if (stat(sock, &st) != 0 || st.st_ino != before->st_ino || st.st_dev != before->st_dev)
            return;
        usleep(20 * 1000);
    }
    fprintf(stderr, "uhw stop: the server said it stopped, but %s is still there after %d s\n", sock,
            SOCKET_GONE_WAIT_MS / 1000);
}

/* `uhw stop --wait`: the answer comes just before the server exits, with its exit code. */
static int stop_wait(const ctl_target_t *t)
{
    char *sock = ctl_socket(t);
    if (sock == NULL)
        return CLI_USAGE;
    struct stat before;
    int had_socket = stat(sock, &before) == 0;
    client_options_t o = {.timeout_ms = CLIENT_WAIT_FOREVER}; /* stopping takes what shutdown_timeout allows */
    client_result_t res;
    int rc;
    if (client_request_opts(sock, "POST", "/stop?wait=1", &o, &res) != 0) {
        if (res.connected) {
            fprintf(stderr, "uhw stop: the server on %s closed the connection before it said how it exited (%s)\n",
                    sock, res.error);
            rc = CLI_FAILED;
        } else {
            rc = ctl_no_server("stop", sock, &res);
        }
    } else if (res.status / 100 != 2) {
        rc = ctl_refused("stop", &res);
    } else {
        json_t *a = answer(&res);
        json_t *code = json_object_get(a, "exit_code");
        if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) <= 255) {
            rc = (int)json_integer_value(code);
            if (had_socket)
                wait_socket_gone(sock, &before);
            printf("uhw stop: stopped (exit code %d)\n", rc);
        } else {
            fprintf(stderr, "uhw stop: the server stopped without an exit code: %.200s\n", res.body);
            rc = CLI_FAILED;
        }
        json_decref(a);
    }
    free(sock);
    client_result_free(&res);
    return rc;
}

int cmd_stop(int argc, char **argv)
{
    args_t a;
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "stop", STOP_USAGE_ARGS, STOP_USAGE_TEXT);
        return CLI_OK;
    }
    if (parse("stop", argc, argv, OPT_WAIT, NULL, 0, &a) != 0)
        return CLI_USAGE;
    if (a.wait)
        return stop_wait(&a.target);
    return call("stop", &a.target, "POST", "/stop", NULL, print_stopping, NULL);
}

/* ---------------------------------------------------------------- restart, scale */

static int print_restarting(const char *verb, json_t *o, void *arg)
{
    (void)o;
    printf("uhw %s: pool '%s': replacing its workers one by one\n", verb, (const char *)arg);
    return CLI_OK;
}

int cmd_restart(int argc, char **argv)
{
    static const char *const names[] = {"POOL"};
    args_t a;
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "restart", RESTART_USAGE_ARGS, RESTART_USAGE_TEXT);
        return CLI_OK;
    }
    if (parse("restart", argc, argv, 0, names, 1, &a) != 0)
        return CLI_USAGE;
    if (!ctl_pool_name_ok(a.operands[0]) || strlen(a.operands[0]) > 200)
        return cli_usage_error("restart", "'%s' is not a pool name (a-z, 0-9, '_' and '-')", a.operands[0]);
    char path[256];
    snprintf(path, sizeof(path), "/pools/%s/restart", a.operands[0]);
    return call("restart", &a.target, "POST", path, NULL, print_restarting, a.operands[0]);
}

typedef struct scaled {
    const char *pool;
    long workers;
} scaled_t;

static int print_scaled(const char *verb, json_t *o, void *arg)
{
    (void)o;
    const scaled_t *s = arg;
    printf("uhw %s: pool '%s' now has %ld worker%s (until a reload returns to the file's)\n", verb, s->pool,
           s->workers, s->workers == 1 ? "" : "s");
    return CLI_OK;
}

int cmd_scale(int argc, char **argv)
{
    static const char *const names[] = {"POOL", "WORKERS"};
    args_t a;
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "scale", SCALE_USAGE_ARGS, SCALE_USAGE_TEXT);
        return CLI_OK;
    }
    if (parse("scale", argc, argv, 0, names, 2, &a) != 0)
        return CLI_USAGE;
    if (!ctl_pool_name_ok(a.operands[0]) || strlen(a.operands[0]) > 200)
        return cli_usage_error("scale", "'%s' is not a pool name (a-z, 0-9, '_' and '-')", a.operands[0]);
    const char *n = a.operands[1];
    char *end = NULL;
    long workers = (*n >= '0' && *n <= '9') ? strtol(n, &end, 10) : -1;
    if (workers < 1 || workers > 1024 || end == NULL || *end != '\0')
        return cli_usage_error("scale", "WORKERS must be a number from 1 to 1024, not '%s'", n);
    char path[256];
    snprintf(path, sizeof(path), "/pools/%s/scale?workers=%ld", a.operands[0], workers);
    scaled_t s = {a.operands[0], workers};
    return call("scale", &a.target, "POST", path, NULL, print_scaled, &s);
}
