/*
 * recv_print.c — a request as sh code to evaluate; see recv_print.h.
 */
#include "recv_print.h"

#include <string.h>

#include "reqvars.h"
#include "shquote.h"

static int puts_buf(frame_buf_t *out, const char *s)
{
    return frame_buf_append(out, s, strlen(s));
}

/* `unset NAME` for every variable of env whose name starts with prefix (but `keep`). Only
 * names the shell could have set: it cannot unset others anyway. */
static int put_unsets(frame_buf_t *out, char *const *env, const char *prefix, const char *keep)
{
    size_t pl = strlen(prefix);
    int err = 0;
    for (char *const *e = env; e != NULL && *e != NULL && !err; ++e) {
        size_t nl = strcspn(*e, "=");
        if (nl < pl || strncmp(*e, prefix, pl) != 0 || !shquote_is_name(*e, nl))
            continue;
        if (keep != NULL && strlen(keep) == nl && strncmp(*e, keep, nl) == 0)
            continue;
        err = puts_buf(out, "unset ") || frame_buf_append(out, *e, nl) || puts_buf(out, "\n");
    }
    return err ? -1 : 0;
}

static int put_export(frame_buf_t *out, const char *name, const void *value, size_t n)
{
    return puts_buf(out, "export ") || puts_buf(out, name) || puts_buf(out, "=") ||
                   shquote_append(out, value, n) || puts_buf(out, "\n")
               ? -1
               : 0;
}

static int put_vars(frame_buf_t *out, const reqvars_t *vars)
{
    for (size_t i = 0; i < vars->n; ++i)
        if (put_export(out, vars->v[i].name, vars->v[i].value, vars->v[i].len) != 0)
            return -1;
    return 0;
}

int recv_print_request(frame_buf_t *out, const Uhw__V1__Request *q, const char *body_file, char *const *env)
{
    reqvars_t vars;
    reqvars_init(&vars);
    int err = reqvars_request(&vars, q) || put_unsets(out, env, "HTTP_", "HTTP_PROXY") || put_vars(out, &vars) ||
              put_export(out, "UHW_BODY_FILE", body_file, strlen(body_file));
    reqvars_free(&vars);
    return err ? -1 : 0;
}

int recv_print_settings(frame_buf_t *out, const Uhw__V1__Configure *c, char *const *env)
{
    reqvars_t vars;
    reqvars_init(&vars);
    int err = reqvars_settings(&vars, c) || put_unsets(out, env, "UHW_SETTING_", NULL) || put_vars(out, &vars);
    reqvars_free(&vars);
    return err ? -1 : 0;
}

int recv_print_export(frame_buf_t *out, const char *name, const char *value)
{
    return put_export(out, name, value, strlen(value));
}
