/*
 * helper_args.c — command lines of the worker-side verbs; see helper_args.h.
 */
#include "helper_args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

int helper_show_usage(const helper_io_t *io, const char *verb)
{
    const char *u = helpers_usage(verb);
    if (isatty(io->out)) {
        (void)frame_write_all(io->out, u, strlen(u));
    } else {
        fputs(u, stderr);
        fflush(stderr);
    }
    return 0;
}

static void vreport(const char *verb, const char *fmt, va_list ap)
{
    fprintf(stderr, "uhw %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int helper_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(verb, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'uhw help %s'.\n", verb);
    return 2;
}

int helper_fail(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(verb, fmt, ap);
    va_end(ap);
    return 1;
}

int helper_next_opt(int argc, char **argv, int *ip, const helper_opt_t *specs, const char **val, const char *verb)
{
    int i = *ip;
    if (i >= argc)
        return HOPT_END;
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
        *ip = i + 1;
        return HOPT_END;
    }
    if (a[0] != '-' || a[1] == '\0')
        return HOPT_END;
    const helper_opt_t *o = NULL;
    const char *attached = NULL;
    if (a[1] == '-') {
        size_t len = strcspn(a + 2, "=");
        for (const helper_opt_t *s = specs; s->code != 0 && o == NULL; ++s)
            if (s->long_name != NULL && strlen(s->long_name) == len && strncmp(s->long_name, a + 2, len) == 0)
                o = s;
        if (a[2 + len] == '=')
            attached = a + 3 + len;
    } else {
        for (const helper_opt_t *s = specs; s->code != 0 && o == NULL; ++s)
            if (s->short_name == a[1])
                o = s;
        if (a[2] != '\0')
            attached = a + 2;
    }
    if (o == NULL) {
        helper_usage_error(verb, "unknown option %s", a);
        return HOPT_ERR;
    }
    if (o->has_arg) {
        if (attached != NULL) {
            *val = attached;
        } else if (i + 1 < argc) {
            *val = argv[++i];
        } else {
            helper_usage_error(verb, "option %s needs a value", a);
            return HOPT_ERR;
        }
    } else if (attached != NULL) {
        helper_usage_error(verb, "option %s takes no value", a);
        return HOPT_ERR;
    }
    *ip = i + 1;
    return o->code;
}

int helper_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int helper_resolve_id(const char *verb, const char *opt, int required, uint64_t *id)
{
    const char *s = opt;
    const char *from = "-i";
    if (s == NULL) {
        s = getenv("UHW_REQUEST_ID");
        from = "UHW_REQUEST_ID";
        if (s == NULL || s[0] == '\0') {
            if (!required) {
                *id = 0;
                return 0;
            }
            return helper_usage_error(verb, "no request id: pass -i ID, or eval the output of uhw recv first");
        }
    }
    if (helper_parse_u64(s, UINT64_MAX, id) != 0)
        return helper_usage_error(verb, "invalid request id '%s' (%s)", s, from);
    return 0;
}

int helper_parse_status(const char *verb, const char *s, uint32_t *status)
{
    uint64_t v;
    if (helper_parse_u64(s, 999, &v) != 0 || !rules_status_ok((unsigned)v))
        return helper_usage_error(verb, "invalid status '%s': expected 200..599", s);
    *status = (uint32_t)v;
    return 0;
}

/* Appends everything readable from fd to b; 0 or -1 with errno. */
static int slurp_fd(int fd, frame_buf_t *b)
{
    for (;;) {
        uint8_t *dst = frame_buf_reserve(b, 65536);
        if (dst == NULL)
            return -1;
        ssize_t r = read(fd, dst, 65536);
        if (r > 0)
            frame_buf_commit(b, (size_t)r);
        else if (r == 0)
            return 0;
        else if (errno != EINTR)
            return -1;
    }
}

int helper_read_payload(const helper_io_t *io, const char *verb, const char *file, int argc, char **argv, int i,
                        int required, frame_buf_t *b)
{
    if (argc - i > 1)
        return helper_usage_error(verb, "too many arguments (quote the data as one argument)");
    if (file != NULL && argc - i == 1)
        return helper_usage_error(verb, "give either -f FILE or data, not both");
    if (file == NULL && argc - i == 0) {
        if (required)
            return helper_usage_error(verb, "missing data (use \"\" for none, - for stdin)");
        return 0;
    }
    if (file == NULL && strcmp(argv[i], "-") != 0)
        return frame_buf_append(b, argv[i], strlen(argv[i])) == 0 ? 0 : helper_fail(verb, "out of memory");
    if (file == NULL && io->in < 0)
        return helper_usage_error(verb, "no stdin here: give the data, or -f FILE");
    int fd = file != NULL ? open(file, O_RDONLY | O_CLOEXEC) : io->in;
    if (fd < 0)
        return helper_fail(verb, "%s: %s", file, strerror(errno));
    int r = slurp_fd(fd, b);
    int saved = errno;
    if (file != NULL)
        close(fd);
    if (r != 0)
        return helper_fail(verb, "reading %s: %s", file != NULL ? file : "stdin", strerror(saved));
    return 0;
}
