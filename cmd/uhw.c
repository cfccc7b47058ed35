/*
 * uhw.c — the command line: a table of verbs.
 *
 *   uhw serve [--listen ADDR]... [CONFIG]           run in the foreground
 *   uhw check [--dump] [--listen ADDR]... [CONFIG]  validate; --dump prints the effective configuration
 *   uhw status|ps|tail|reload|stop|restart|scale    talk to a running server over its control socket
 *                                                   (ctl_verbs.c, ps.c, tail.c, reload.c)
 *   uhw ready|recv|reply|...                        helpers that make a shell script a worker
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "cli.h"
#include "config.h"
#include "ctl_verbs.h"
#include "helpers.h"
#include "log.h"
#include "proc.h"
#include "ps.h"
#include "reload.h"
#include "replay.h"
#include "server.h"
#include "suggest.h"
#include "tail.h"
#include "version.h"

#define DEFAULT_CONFIG "pools.yaml"

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

static void print_verb_usage(FILE *out, const verb_t *v)
{
    cli_print_usage(out, v->name, v->args, v->summary);
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
            cli_usage_error(verb, "unknown option or missing argument: '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (argc - optind > 1) {
        cli_usage_error(verb, "too many arguments (expected one CONFIG): '%s'", argv[optind + 1]);
        return -1;
    }
    a->path = optind < argc ? argv[optind] : DEFAULT_CONFIG;
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    config_args_t a;
    if (cli_wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("serve"));
        return CLI_OK;
    }
    if (parse_config_args("serve", argc, argv, 0, &a) != 0) {
        free(a.listen);
        return CLI_USAGE;
    }
    log_init();
    uhw_config_t *cfg = load_config(a.path, 1, a.listen, a.nlisten);
    free(a.listen);
    if (cfg == NULL)
        return CLI_USAGE;
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
        return CLI_USAGE;
    fputs(text, stdout);
    free(text);
    return CLI_OK;
}

static int cmd_check(int argc, char **argv)
{
    config_args_t a;
    if (cli_wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("check"));
        return CLI_OK;
    }
    if (parse_config_args("check", argc, argv, 1, &a) != 0) {
        free(a.listen);
        return CLI_USAGE;
    }
    uhw_config_t *cfg = load_config(a.path, 1, a.listen, a.nlisten);
    free(a.listen);
    if (cfg == NULL)
        return CLI_USAGE;
    int rc = CLI_OK;
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

/* ---------------------------------------------------------------- version, help */

static int cmd_version(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        print_verb_usage(stdout, find_verb("version"));
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "takes no arguments: '%s'", argv[1]);
    printf("uhw %s\n", UHW_VERSION);
    return CLI_OK;
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
    {"status", cmd_status, STATUS_USAGE_ARGS, STATUS_USAGE_TEXT},
    {"ps", cmd_ps, PS_USAGE_ARGS, PS_USAGE_TEXT},
    {"tail", cmd_tail, TAIL_USAGE_ARGS, TAIL_USAGE_TEXT},
    {"reload", cmd_reload, RELOAD_USAGE_ARGS, RELOAD_USAGE_TEXT},
    {"stop", cmd_stop, STOP_USAGE_ARGS, STOP_USAGE_TEXT},
    {"restart", cmd_restart, RESTART_USAGE_ARGS, RESTART_USAGE_TEXT},
    {"scale", cmd_scale, SCALE_USAGE_ARGS, SCALE_USAGE_TEXT},
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
    {"version", cmd_version, "", "Prints the version (also uhw --version, uhw -V)."},
    {"help", cmd_help, "[COMMAND]", "Shows help for uhw or one command."},
};

static const verb_t *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); ++i)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

/* "uhw: unknown command 'X' (did you mean 'Y'?)": one line, not the whole list. */
static int unknown_command(const char *who, const char *name)
{
    static const char *const options[] = {"--help", "--version"};
    const char *names[sizeof(verbs) / sizeof(verbs[0])];
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); ++i)
        names[i] = verbs[i].name;
    const char *near = name[0] == '-' ? suggest(name, options, sizeof(options) / sizeof(options[0]))
                                      : suggest(name, names, sizeof(verbs) / sizeof(verbs[0]));
    const char *what = name[0] == '-' ? "option" : "command";
    if (near != NULL)
        fprintf(stderr, "%s: unknown %s '%s' (did you mean '%s'?); 'uhw help' lists the commands\n", who, what, name,
                near);
    else
        fprintf(stderr, "%s: unknown %s '%s'; 'uhw help' lists the commands\n", who, what, name);
    return CLI_USAGE;
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
        return CLI_OK;
    }
    const verb_t *v = find_verb(argv[1]);
    if (v == NULL)
        return unknown_command("uhw help", argv[1]);
    const char *detail = helpers_usage(v->name); /* the shell helpers document themselves */
    if (detail != NULL)
        fputs(detail, stdout);
    else
        print_verb_usage(stdout, v);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    proc_sanitize_std_fds();
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(1, argv);
    const verb_t *v = find_verb(argv[1]);
    if (v == NULL)
        return unknown_command("uhw", argv[1]);
    return v->run(argc - 1, argv + 1);
}
