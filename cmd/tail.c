/*
 * tail.c — see tail.h.
 */
#include "tail.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"

#define TAIL_LINES_MAX 1000000 /* what the server reads as a number */

/* Non-negative decimal up to `max`; -1 otherwise. */
static long number(const char *s, long max)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9' || v > max)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v <= max ? v : -1;
}

/* Each piece of the body goes out as it comes: a follower must see lines at once. */
static int on_chunk(void *arg, const char *bytes, size_t len)
{
    int *write_error = arg;
    if (fwrite(bytes, 1, len, stdout) != len || fflush(stdout) != 0) {
        *write_error = errno != 0 ? errno : EIO;
        return -1;
    }
    return 0;
}

int cmd_tail(int argc, char **argv)
{
    static const struct option opts[] = {CTL_SOCKET_OPTION,
                                         {"lines", required_argument, NULL, 'n'},
                                         {"follow", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    if (cli_wants_help(argc, argv)) {
        cli_print_usage(stdout, "tail", TAIL_USAGE_ARGS, TAIL_USAGE_TEXT);
        return CLI_OK;
    }
    const char *socket = NULL;
    long lines = 10;
    int follow = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:n:f", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            socket = optarg;
            break;
        case 'n':
            if ((lines = number(optarg, TAIL_LINES_MAX)) < 0)
                return cli_usage_error("tail", "-n takes a number of lines (0 to %d), not '%s'", TAIL_LINES_MAX,
                                       optarg);
            break;
        case 'f':
            follow = 1;
            break;
        default:
            return cli_usage_error("tail", "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("tail", "missing POOL (or POOL#SLOT)");
    char pool[256];
    snprintf(pool, sizeof(pool), "%s", argv[optind]);
    long slot = -1;
    char *hash = strchr(pool, '#');
    if (hash != NULL) {
        *hash = '\0';
        if ((slot = number(hash + 1, 1023)) < 0)
            return cli_usage_error("tail", "'%s': SLOT must be a worker's slot number (0 to 1023)", argv[optind]);
    }
    if (!ctl_pool_name_ok(pool) || strlen(argv[optind]) >= sizeof(pool))
        return cli_usage_error("tail", "'%s' is not a pool name (a-z, 0-9, '_' and '-')", argv[optind]);
    ctl_target_t target;
    if (ctl_target_set(&target, "tail", socket, argc - optind - 1, argv + optind + 1) != 0)
        return CLI_USAGE;
    char *sock = ctl_socket(&target);
    if (sock == NULL)
        return CLI_USAGE;

    char path[400], slot_arg[32] = "";
    if (slot >= 0)
        snprintf(slot_arg, sizeof(slot_arg), "&slot=%ld", slot);
    snprintf(path, sizeof(path), "/pools/%s/tail?lines=%ld%s%s", pool, lines, slot_arg, follow ? "&follow=1" : "");
    int write_error = 0;
    client_options_t o = {.on_chunk = on_chunk, .arg = &write_error, .interruptible = follow};
    if (follow)
        o.timeout_ms = CLIENT_WAIT_FOREVER; /* lines come when workers write them */
    client_result_t res;
    int rc = ctl_call("tail", sock, "GET", path, &o, &res);
    if (rc != 0) {
        free(sock);
        return res.interrupted ? CLI_OK : rc;
    }
    if (res.status / 100 != 2) {
        rc = ctl_refused("tail", &res);
    } else if (write_error != 0) {
        rc = CLI_FAILED; /* stdout went away (a pipe closed): nothing left to say it to */
    } else if (res.error[0] != '\0' && !res.interrupted) {
        fprintf(stderr, "uhw tail: the connection to %s broke: %s\n", sock, res.error);
        rc = CLI_FAILED;
    }
    free(sock);
    client_result_free(&res);
    return rc;
}
