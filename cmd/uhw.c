/*
 * uhw.c — the command line: a table of verbs.
 *
 *   uhw serve [--listen ADDR]... [CONFIG]           run in the foreground
 *   uhw check [--dump] [--listen ADDR]... [CONFIG]  validate; --dump prints the effective configuration
 *   uhw status|reload|stop ...                      talk to a running server over its control socket
 *   uhw ready|recv|reply|...                        helpers that make a shell script a worker
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cgi.h"
#include "client.h"
#include "config.h"
#include "helpers.h"
#include "log.h"
#include "proc.h"
#include "replay.h"
#include "server.h"
#include "version.h"

#define DEFAULT_CONFIG "pools.yaml"

/* Exit codes (DESIGN.md §6). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_STARTUP = 3, EXIT_NO_SERVER = 4 };

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *args;
    const char *summary;
} verb_t;

static const verb_t *find_verb(const char *name);

/* Directory of the running executable: workers find the shell helpers there. */
static char *self_dir(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return strdup(dirname(path));
}

static int usage_error(const char *verb, const char *fmt, const char *arg)
{
    fprintf(stderr, "uhw %s: ", verb);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'uhw help %s'.\n", verb);
    return EXIT_USAGE;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

static void print_verb_usage(FILE *out, const verb_t *v)
{
    fprintf(out, "usage: uhw %s %s\n\n%s\n", v->name, v->args, v->summary);
}

/* Loads and validates CONFIG, with its listen replaced by `listen` when there are any (--listen);
 * prints every error. NULL on failure. */
static uhw_config_t *load_config(const char *path, int runtime_checks, char *const *listen, size_t nlisten)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(path, &errs);
    if (cfg != NULL && nlisten > 0)
        config_set_listen(cfg, listen, nlisten, &errs);
    if (cfg != NULL && runtime_checks) {
        char *dir = self_dir();
        config_check_runtime(cfg, dir, &errs);
        free(dir);
    }
    if (errs.len != 0) {
        for (size_t i = 0; i < errs.len; ++i)
            fprintf(stderr, "%s\n", errs.items[i]);
        fprintf(stderr, "%s: %zu error%s\n", path, errs.len, errs.len == 1 ? "" : "s");
        config_free(cfg);
        cfg = NULL;
    }
    cfg_errors_free(&errs);
    return cfg;
}

/* ---------------------------------------------------------------- serve, check */

/* What serve and check take: [--listen ADDR]... [--dump] [CONFIG]. */
typedef struct config_args {
    const char *path;
    char **listen; /* the --listen values, in order (pointers into argv) */
    size_t nlisten;
    int dump;
} config_args_t;

/* -1 after printing a usage error. The caller frees a->listen. */
static int parse_config_args(const char *verb, int argc, char **argv, int allow_dump, config_args_t *a)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"dump", no_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    if ((a->listen = calloc((size_t)argc, sizeof(*a->listen))) == NULL)
        abort();
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l') {
            a->listen[a->nlisten++] = optarg;
        } else if (c == 'd' && allow_dump) {
            a->dump = 1;
        } else {
            usage_error(verb, "unknown option or missing argument: '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (argc - optind > 1) {
        usage_error(verb, "too many arguments (expected one CONFIG): '%s'", argv[optind + 1]);
        return -1;
    }
    a->path = optind < argc ? argv[optind] : DEFAULT_CONFIG;
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    config_args_t a;
    if (wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("serve"));
        return EXIT_OK;
    }
    if (parse_config_args("serve", argc, argv, 0, &a) != 0) {
        free(a.listen);
        return EXIT_USAGE;
    }
    log_init();
    uhw_config_t *cfg = load_config(a.path, 1, a.listen, a.nlisten);
    free(a.listen);
    if (cfg == NULL)
        return EXIT_USAGE;
    char *dir = self_dir();
    int rc = server_run(cfg, dir);
    free(dir);
    return rc;
}

/* Prints the configuration with every default filled in, as YAML that `uhw check` accepts. */
static int print_dump(const uhw_config_t *cfg)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    char *text = config_dump(cfg, &errs);
    for (size_t i = 0; i < errs.len; ++i)
        fprintf(stderr, "%s\n", errs.items[i]);
    cfg_errors_free(&errs);
    if (text == NULL)
        return EXIT_USAGE;
    fputs(text, stdout);
    free(text);
    return EXIT_OK;
}

static int cmd_check(int argc, char **argv)
{
    config_args_t a;
    if (wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("check"));
        return EXIT_OK;
    }
    if (parse_config_args("check", argc, argv, 1, &a) != 0) {
        free(a.listen);
        return EXIT_USAGE;
    }
    uhw_config_t *cfg = load_config(a.path, 1, a.listen, a.nlisten);
    free(a.listen);
    if (cfg == NULL)
        return EXIT_USAGE;
    int rc = EXIT_OK;
    if (a.dump) {
        rc = print_dump(cfg);
    } else {
        unsigned workers = config_total_workers(cfg);
        printf("%s: ok (%zu pool%s, %u worker%s)\n", a.path, cfg->npools, cfg->npools == 1 ? "" : "s", workers,
               workers == 1 ? "" : "s");
    }
    config_free(cfg);
    return rc;
}

/* ---------------------------------------------------------------- control verbs */

typedef struct control_args {
    const char *socket;   /* -s SOCKET */
    const char *config;   /* CONFIG */
    const char *pool;     /* --pool NAME (status) */
    int compact;          /* --compact (status) */
    const char *operand;  /* POOL (restart) */
} control_args_t;

/* Parses [CONFIG | -s SOCKET] plus the verb's own options. -1 after printing a usage error. */
static int parse_control_args(const char *verb, int argc, char **argv, int want_operand, int status_opts,
                              control_args_t *a)
{
    static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                         {"compact", no_argument, NULL, 'c'},
                                         {"pool", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->socket = optarg;
            break;
        case 'c':
            if (!status_opts)
                goto Unknown;
            a->compact = 1;
            break;
        case 'p':
            if (!status_opts)
                goto Unknown;
            a->pool = optarg;
            break;
        default:
        Unknown:
            usage_error(verb, "unknown option or missing argument: '%s'", argv[optind - 1]);
            return -1;
        }
    }
    int rest = argc - optind;
    if (want_operand) {
        if (rest < 1) {
            usage_error(verb, "%s", "missing POOL");
            return -1;
        }
        a->operand = argv[optind++];
        --rest;
    }
    if (rest > 1) {
        usage_error(verb, "too many arguments: '%s'", argv[optind + 1]);
        return -1;
    }
    if (rest == 1)
        a->config = argv[optind];
    if (a->socket != NULL && a->config != NULL) {
        usage_error(verb, "%s", "give either CONFIG or -s SOCKET, not both");
        return -1;
    }
    return 0;
}

/* Resolves the socket path from -s or from the config's `control`. Caller frees. */
static char *resolve_socket(const control_args_t *a)
{
    if (a->socket != NULL)
        return strdup(a->socket);
    const char *path = a->config != NULL ? a->config : DEFAULT_CONFIG;
    uhw_config_t *cfg = load_config(path, 0, NULL, 0);
    if (cfg == NULL)
        return NULL;
    char *sock = strdup(cfg->control);
    config_free(cfg);
    return sock;
}

/* Sends the request; prints a clear message and returns 4 when nobody answers. */
static int control_call(const char *verb, const char *sock, const char *method, const char *path,
                        client_result_t *res)
{
    if (client_request(sock, method, path, res) != 0) {
        fprintf(stderr, "uhw %s: no uhw server answers on control socket %s (%s)\n", verb, sock, res->error);
        return EXIT_NO_SERVER;
    }
    return EXIT_OK;
}

/* Prints a refusal from the server ({"error":..., "reason":...}); returns 1. */
static int refused(const char *verb, const client_result_t *res)
{
    json_t *o = json_loads(res->body, 0, NULL);
    const char *error = o != NULL ? json_string_value(json_object_get(o, "error")) : NULL;
    const char *reason = o != NULL ? json_string_value(json_object_get(o, "reason")) : NULL;
    fprintf(stderr, "uhw %s: refused (HTTP %d): %s%s%s\n", verb, res->status, error != NULL ? error : res->body,
            reason != NULL ? ": " : "", reason != NULL ? reason : "");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "errors"), i, e) fprintf(stderr, "%s\n", json_string_value(e));
    json_decref(o);
    return EXIT_RUNTIME;
}

static int cmd_status(int argc, char **argv)
{
    control_args_t a;
    if (wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("status"));
        return EXIT_OK;
    }
    if (parse_control_args("status", argc, argv, 0, 1, &a) != 0)
        return EXIT_USAGE;
    char *sock = resolve_socket(&a);
    if (sock == NULL)
        return EXIT_USAGE;
    client_result_t res;
    int rc = control_call("status", sock, "GET", "/status", &res);
    free(sock);
    if (rc != EXIT_OK)
        return rc;
    if (res.status != 200) {
        rc = refused("status", &res);
        free(res.body);
        return rc;
    }
    json_error_t jerr;
    json_t *doc = json_loads(res.body, 0, &jerr);
    free(res.body);
    if (doc == NULL) {
        fprintf(stderr, "uhw status: the server sent invalid JSON: %s\n", jerr.text);
        return EXIT_RUNTIME;
    }
    json_t *out = doc;
    if (a.pool != NULL) {
        out = NULL;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(doc, "pools"), i, p)
        {
            if (strcmp(json_string_value(json_object_get(p, "name")), a.pool) == 0)
                out = p;
        }
        if (out == NULL) {
            fprintf(stderr, "uhw status: no pool named '%s'\n", a.pool);
            json_decref(doc);
            return EXIT_RUNTIME;
        }
    }
    char *s = json_dumps(out, a.compact ? JSON_COMPACT : JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(doc);
    return EXIT_OK;
}

/* reload, stop, restart: POST, print the result, 1 if refused. */
static int control_post(const char *verb, int argc, char **argv, int want_pool)
{
    control_args_t a;
    if (wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb(verb));
        return EXIT_OK;
    }
    if (parse_control_args(verb, argc, argv, want_pool, 0, &a) != 0)
        return EXIT_USAGE;
    char path[300];
    if (want_pool)
        snprintf(path, sizeof(path), "/pools/%s/restart", a.operand);
    else
        snprintf(path, sizeof(path), "/%s", verb);
    char *sock = resolve_socket(&a);
    if (sock == NULL) {
        if (strcmp(verb, "reload") != 0)
            return EXIT_USAGE;
        /* The file to reload is broken: that is a refusal, whatever the server would say. */
        fprintf(stderr, "uhw reload: not reloaded: %s has errors; the server keeps its configuration\n",
                a.config != NULL ? a.config : DEFAULT_CONFIG);
        return EXIT_RUNTIME;
    }
    client_result_t res;
    int rc = control_call(verb, sock, "POST", path, &res);
    free(sock);
    if (rc != EXIT_OK)
        return rc;
    if (res.status / 100 != 2) {
        rc = refused(verb, &res);
    } else {
        json_t *o = json_loads(res.body, 0, NULL);
        const char *result = o != NULL ? json_string_value(json_object_get(o, "result")) : NULL;
        printf("uhw %s: %s\n", verb, result != NULL ? result : "ok");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(o, "changes"), i, c) printf("  %s\n", json_string_value(c));
        json_decref(o);
    }
    free(res.body);
    return rc;
}

static int cmd_reload(int argc, char **argv)
{
    return control_post("reload", argc, argv, 0);
}

static int cmd_stop(int argc, char **argv)
{
    return control_post("stop", argc, argv, 0);
}

static int cmd_restart(int argc, char **argv)
{
    return control_post("restart", argc, argv, 1);
}

/* ---------------------------------------------------------------- version, help */

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("uhw %s\n", UHW_VERSION);
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const verb_t verbs[] = {
    {"serve", cmd_serve, "[--listen ADDR]... [CONFIG]",
     "Runs the server in the foreground with CONFIG (default pools.yaml); logs go to stderr.\n"
     "--listen ADDR  listen on ADDR (HOST:PORT, [IPv6]:PORT or a port) instead of CONFIG's listen;\n"
     "               repeat it for several addresses.\n"
     "Exit: 0 stopped, 1 runtime error (e.g. port in use), 2 bad config, 3 a worker failed at start-up.\n"
     "Signals: TERM/INT graceful stop (a second INT stops at once), HUP reload."},
    {"check", cmd_check, "[--dump] [--listen ADDR]... [CONFIG]",
     "Validates CONFIG and the pools' commands; prints 'CONFIG: ok (N pools, M workers)' or every error\n"
     "as FILE:LINE:COL: message. Exit 0 or 2.\n"
     "--dump        print the effective configuration instead, every default filled in, as YAML that\n"
     "              uhw check accepts (paths absolute, durations and sizes in their units).\n"
     "--listen ADDR as for serve: validate (and dump) CONFIG with these addresses instead of its listen."},
    {"status", cmd_status, "[CONFIG | -s SOCKET] [--compact] [--pool NAME]",
     "Prints the running server's status as JSON (pretty; --compact for one line; --pool for one pool).\n"
     "Exit 4 when no server answers on the control socket."},
    {"reload", cmd_reload, "[CONFIG | -s SOCKET]", "Asks the running server to reload its configuration."},
    {"stop", cmd_stop, "[CONFIG | -s SOCKET]", "Asks the running server to stop gracefully."},
    {"restart", cmd_restart, "POOL [CONFIG | -s SOCKET]",
     "Replaces every worker of POOL one by one; brings a degraded pool back."},
    {"ready", cmd_ready, "[-c CONCURRENCY] [-i INFO]", "Worker helper: announces the worker is ready."},
    {"recv", cmd_recv, "", "Worker helper: reads one request; prints shell assignments to eval."},
    {"reply", cmd_reply, "[-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE | -]",
     "Worker helper: answers a request."},
    {"stream", cmd_stream, "start|data|end [...]", "Worker helper: streams a response."},
    {"sse", cmd_sse, "[-i ID] [--event E] [--id I] [--retry MS] DATA", "Worker helper: sends one SSE event."},
    {"ndjson", cmd_ndjson, "[-i ID] JSON", "Worker helper: sends one JSON line."},
    {"log", cmd_log, "LEVEL MESSAGE...", "Worker helper: logs through the supervisor."},
    {"keepalive", cmd_keepalive, "[-i ID]", "Worker helper: resets the request's timeout."},
    {"cgi", cmd_cgi, CGI_USAGE_ARGS, CGI_USAGE_TEXT},
    {"replay", cmd_replay, REPLAY_USAGE_ARGS, REPLAY_USAGE_TEXT},
    {"json", cmd_json, "[--] KEY=VALUE | KEY:=JSON ...", "Prints a JSON object, escaped (no jq needed)."},
    {"coproc", cmd_coproc, "", "Worker helper: the helper process of uhw.sh (bash workers)."},
    {"version", cmd_version, "", "Prints the version."},
    {"help", cmd_help, "[COMMAND]", "Shows help for uhw or one command."},
};

static const verb_t *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); ++i)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static void print_usage(FILE *out)
{
    fprintf(out, "uhw %s — serve HTTP from pools of worker processes written in any language\n\n"
                 "usage: uhw COMMAND [ARGS]\n\n",
            UHW_VERSION);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); ++i) {
        const char *nl = strchr(verbs[i].summary, '\n');
        int len = nl != NULL ? (int)(nl - verbs[i].summary) : (int)strlen(verbs[i].summary);
        fprintf(out, "  %-10s %.*s\n", verbs[i].name, len, verbs[i].summary);
    }
    fprintf(out, "\nRun 'uhw help COMMAND' for details. Quick start: uhw serve pools.yaml\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return EXIT_OK;
    }
    const verb_t *v = find_verb(argv[1]);
    if (v == NULL) {
        fprintf(stderr, "uhw help: unknown command '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    const char *detail = helpers_usage(v->name); /* the shell helpers document themselves */
    if (detail != NULL)
        fputs(detail, stdout);
    else
        print_verb_usage(stdout, v);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    proc_sanitize_std_fds();
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv);
    const verb_t *v = find_verb(argv[1]);
    if (v == NULL) {
        fprintf(stderr, "uhw: unknown command '%s'\n\n", argv[1]);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    return v->run(argc - 1, argv + 1);
}
