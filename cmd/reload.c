/*
 * reload.c — see reload.h.
 */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "ctl.h"

/* The server answers when the reload is applied: validating users and commands happens off its
 * loop and may take a while on a busy machine. */
#define RELOAD_TIMEOUT_MS (120 * 1000)

static void print_errors(const cfg_errors_t *errs)
{
    for (size_t i = 0; i < errs->len; ++i)
        fprintf(stderr, "%s\n", errs->items[i]);
}

static void print_changes(const client_result_t *res)
{
    json_t *o = json_loads(res->body, 0, NULL);
    const char *result = json_string_value(json_object_get(o, "result"));
    printf("uhw reload: %s\n", result != NULL ? result : "ok");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "changes"), i, c)
    {
        if (json_is_string(c))
            printf("  %s\n", json_string_value(c));
    }
    json_decref(o);
}

int cmd_reload(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "reload", RELOAD_USAGE_ARGS, RELOAD_USAGE_TEXT);
        return CLI_OK;
    }
    ctl_target_t t;
    if (ctl_target_parse(&t, "reload", argc, argv) != 0)
        return CLI_USAGE;

    /* The file is checked here first, to find its socket; its errors are the server's to report. */
    const char *path = t.config != NULL ? t.config : CTL_DEFAULT_CONFIG;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    char *sock = NULL;
    if (t.socket != NULL) {
        sock = strdup(t.socket);
    } else {
        uhw_config_t *cfg = config_load(path, &errs);
        sock = cfg != NULL ? strdup(cfg->control) : config_control_socket(path);
        config_free(cfg);
        if (sock == NULL) {
            print_errors(&errs);
            fprintf(stderr, "uhw reload: cannot tell which server runs %s (its directory does not exist)\n", path);
            cfg_errors_free(&errs);
            return CLI_USAGE;
        }
    }

    client_options_t o = {.timeout_ms = RELOAD_TIMEOUT_MS};
    client_result_t res;
    int rc = CLI_OK;
    if (client_request_opts(sock, "POST", "/reload", &o, &res) != 0) {
        rc = ctl_no_server("reload", sock, &res);
        if (errs.len != 0) {
            fprintf(stderr, "%s has errors too:\n", path);
            print_errors(&errs);
        }
    } else if (res.status / 100 != 2) {
        rc = ctl_refused("reload", &res); /* the server's errors, which are those of its file */
    } else {
        print_changes(&res);
        if (errs.len != 0) { /* the server runs another file than CONFIG, which is broken */
            fprintf(stderr, "uhw reload: warning: the server reloaded the file it runs, but %s has errors:\n", path);
            print_errors(&errs);
        }
    }
    client_result_free(&res);
    cfg_errors_free(&errs);
    free(sock);
    return rc;
}
