/*
 * ctl.c — see ctl.h.
 */
#include "ctl.h"

#include <getopt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"

int ctl_target_set(ctl_target_t *t, const char *verb, const char *socket, int nrest, char **rest)
{
    t->socket = socket;
    t->config = NULL;
    if (nrest > 1)
        return cli_usage_error(verb, "too many arguments: '%s'", rest[1]);
    if (nrest == 1)
        t->config = rest[0];
    if (t->socket != NULL && t->config != NULL)
        return cli_usage_error(verb, "give either CONFIG or -s SOCKET, not both");
    return 0;
}

int ctl_target_parse(ctl_target_t *t, const char *verb, int argc, char **argv)
{
    static const struct option opts[] = {CTL_SOCKET_OPTION, {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        if (c != 's')
            return cli_usage_error(verb, "unknown option or missing argument: '%s'", argv[optind - 1]);
        socket = optarg;
    }
    return ctl_target_set(t, verb, socket, argc - optind, argv + optind);
}

char *ctl_socket(const ctl_target_t *t)
{
    if (t->socket != NULL)
        return strdup(t->socket);
    const char *path = t->config != NULL ? t->config : CTL_DEFAULT_CONFIG;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(path, &errs);
    char *sock = NULL;
    if (cfg != NULL) {
        sock = strdup(cfg->control);
        config_free(cfg);
    } else {
        for (size_t i = 0; i < errs.len; ++i)
            fprintf(stderr, "%s\n", errs.items[i]);
        fprintf(stderr, "%s: %zu error%s\n", path, errs.len, errs.len == 1 ? "" : "s");
    }
    cfg_errors_free(&errs);
    return sock;
}

int ctl_no_server(const char *verb, const char *sock, const client_result_t *res)
{
    if (res->interrupted)
        return CLI_NO_SERVER; /* Ctrl-C: the user knows */
    if (res->connected)
        fprintf(stderr, "uhw %s: the server on control socket %s closed the connection without answering (%s)\n", verb,
                sock, res->error);
    else
        fprintf(stderr, "uhw %s: no uhw server answers on control socket %s (%s)\n", verb, sock, res->error);
    return CLI_NO_SERVER;
}

int ctl_call(const char *verb, const char *sock, const char *method, const char *path, const client_options_t *opts,
             client_result_t *res)
{
    if (client_request_opts(sock, method, path, opts, res) != 0)
        return ctl_no_server(verb, sock, res);
    return 0;
}

int ctl_refused(const char *verb, const client_result_t *res)
{
    json_t *o = json_loads(res->body != NULL ? res->body : "", 0, NULL);
    const char *error = json_string_value(json_object_get(o, "error"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    fprintf(stderr, "uhw %s: refused (HTTP %d): %s%s%s\n", verb, res->status,
            error != NULL ? error : res->body != NULL ? res->body : "", reason != NULL ? ": " : "",
            reason != NULL ? reason : "");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "errors"), i, e)
    {
        if (json_is_string(e))
            fprintf(stderr, "%s\n", json_string_value(e));
    }
    json_decref(o);
    return CLI_FAILED;
}

int ctl_pool_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; ++s)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}
