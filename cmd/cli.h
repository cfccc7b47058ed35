/*
 * cli.h — what every verb of the command line shares: the exit codes of DESIGN.md §6, the
 * one-line usage error, and --help.
 */
#ifndef UHW_CLI_H
#define UHW_CLI_H

#include <stdio.h>

enum {
    CLI_OK = 0,
    CLI_FAILED = 1,    /* runtime error; a control verb refused (the server's reason is printed) */
    CLI_USAGE = 2,     /* bad usage or bad configuration */
    CLI_STARTUP = 3,   /* `uhw serve`: a worker failed at start-up */
    CLI_NO_SERVER = 4, /* control verbs: no server answers on the control socket */
};

/* Prints "uhw VERB: MESSAGE" and "Try 'uhw help VERB'." on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether -h or --help comes before any "--". */
int cli_wants_help(int argc, char **argv);

/* "usage: uhw VERB ARGS", a blank line, then TEXT: what `uhw help VERB` and `--help` print. */
void cli_print_usage(FILE *out, const char *verb, const char *args, const char *text);

#endif
