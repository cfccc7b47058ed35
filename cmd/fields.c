/*
 * fields.c — the NUL-delimited exchange of the bash fast path; see fields.h.
 */
#include "fields.h"

#include <stdlib.h>
#include <string.h>

#include "reqvars.h"

static int put_field(frame_buf_t *out, const void *p, size_t n)
{
    return (n != 0 && frame_buf_append(out, p, n) != 0) || frame_buf_append(out, "", 1) != 0 ? -1 : 0;
}

static int put_str(frame_buf_t *out, const char *s)
{
    return put_field(out, s, strlen(s));
}

int fields_request(frame_buf_t *out, const Uhw__V1__Request *q, const char *body_file,
                   const Uhw__V1__Configure *settings)
{
    reqvars_t vars;
    reqvars_init(&vars);
    int err = reqvars_request(&vars, q) != 0 || (settings != NULL && reqvars_settings(&vars, settings) != 0);
    /* reqvars values hold no NUL, and a body file name none either (it is a C string). */
    for (size_t i = 0; i < vars.n && i < REQVARS_FIXED && !err; ++i)
        err = put_field(out, vars.v[i].value, vars.v[i].len);
    err = err || put_str(out, body_file) || put_str(out, settings != NULL ? "1" : "0");
    for (size_t i = REQVARS_FIXED; i < vars.n && !err; ++i)
        err = put_str(out, vars.v[i].name) || put_field(out, vars.v[i].value, vars.v[i].len);
    reqvars_free(&vars);
    return err ? -1 : 0;
}

/* The NUL-terminated field at p[*pos..n): its start, *pos moved past it; NULL if incomplete. */
static char *next_field(char *p, size_t n, size_t *pos)
{
    char *s = p + *pos, *nul = memchr(s, '\0', n - *pos);
    if (nul == NULL)
        return NULL;
    *pos = (size_t)(nul - p) + 1;
    return s;
}

int fields_command(char *p, size_t n, size_t *used, fields_cmd_t *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    size_t pos = 0;
    const char *cwd = next_field(p, n, &pos), *count = cwd != NULL ? next_field(p, n, &pos) : NULL;
    if (count == NULL)
        return 0;
    long argc = 0;
    for (const char *c = count; *c != '\0'; ++c) {
        if (*c < '0' || *c > '9' || argc > FIELDS_MAX_ARGS)
            return -1;
        argc = argc * 10 + (*c - '0');
    }
    if (argc < 1 || argc > FIELDS_MAX_ARGS)
        return -1;
    /* All arguments present before allocating anything: a partial command costs nothing. */
    size_t end = pos;
    for (long i = 0; i < argc; ++i)
        if (next_field(p, n, &end) == NULL)
            return 0;
    char **argv = malloc(((size_t)argc + 1) * sizeof(*argv));
    if (argv == NULL)
        return -1;
    for (long i = 0; i < argc; ++i)
        argv[i] = next_field(p, n, &pos);
    argv[argc] = NULL;
    cmd->cwd = cwd;
    cmd->argc = (int)argc;
    cmd->argv = argv;
    *used = pos;
    return 1;
}

void fields_command_free(fields_cmd_t *cmd)
{
    free(cmd->argv);
    memset(cmd, 0, sizeof(*cmd));
}
