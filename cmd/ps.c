/*
 * ps.c — see ps.h.
 */
#include "ps.h"

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ctl.h"
#include "ps_table.h"

/* https://no-color.org: any non-empty NO_COLOR turns colours off. */
static int use_color(void)
{
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && (no == NULL || *no == '\0');
}

int cmd_ps(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "ps", PS_USAGE_ARGS, PS_USAGE_TEXT);
        return CLI_OK;
    }
    ctl_target_t target;
    if (ctl_target_parse(&target, "ps", argc, argv) != 0)
        return CLI_USAGE;
    char *sock = ctl_socket(&target);
    if (sock == NULL)
        return CLI_USAGE;
    client_result_t res;
    int rc = ctl_call("ps", sock, "GET", "/status", NULL, &res);
    free(sock);
    if (rc != 0)
        return rc;
    if (res.status != 200) {
        rc = ctl_refused("ps", &res);
        client_result_free(&res);
        return rc;
    }
    json_error_t jerr;
    json_t *doc = json_loads(res.body, 0, &jerr);
    client_result_free(&res);
    if (doc == NULL || ps_table_write(stdout, doc, use_color()) != 0) {
        fprintf(stderr, "uhw ps: the server sent no status document%s%s\n", doc == NULL ? ": " : "",
                doc == NULL ? jerr.text : "");
        json_decref(doc);
        return CLI_FAILED;
    }
    json_decref(doc);
    return CLI_OK;
}
