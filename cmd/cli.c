/*
 * cli.c — see cli.h.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "uhw %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'uhw help %s'.\n", verb);
    va_end(ap);
    return CLI_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

void cli_print_usage(FILE *out, const char *verb, const char *args, const char *text)
{
    fprintf(out, "usage: uhw %s %s\n\n%s\n", verb, args, text);
}
