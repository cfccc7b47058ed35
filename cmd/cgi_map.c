/*
 * cgi_map.c — see cgi_map.h.
 */
#include "cgi_map.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_nph(const char *name, size_t len)
{
    return len >= 4 && strncmp(name, "nph-", 4) == 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* The interpreter whose extension ends `name` (len bytes), or NULL. */
static const cgi_interp_t *interp_for(const cgi_map_t *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->ninterps; ++i) {
        size_t el = strlen(m->interps[i].ext);
        if (len > el && memcmp(name + len - el, m->interps[i].ext, el) == 0)
            return &m->interps[i];
    }
    return NULL;
}

/* Finds PROGRAM on $PATH (or takes it as is when it has a '/'); malloc'd absolute path or NULL. */
static char *find_program(const char *prog)
{
    if (strchr(prog, '/') != NULL)
        return access(prog, X_OK) == 0 ? realpath(prog, NULL) : NULL;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        char cand[PATH_MAX];
        if (n != 0 && (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, prog) < sizeof(cand)) {
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return realpath(cand, NULL);
        }
        path += n;
        if (*path == ':')
            ++path;
    }
    return NULL;
}

/* "EXT=PROGRAM [ARGS...]" → m->interps[m->ninterps++]. */
static int add_interp(cgi_map_t *m, const char *spec, char *err, size_t errsz)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || spec[0] != '.' || eq == spec + 1 || eq[1] == '\0' || memchr(spec, '/', (size_t)(eq - spec))) {
        snprintf(err, errsz, "-x %s: expected .EXT=PROGRAM, e.g. -x .php=php-cgi", spec);
        return -1;
    }
    if (m->ninterps == CGI_MAP_MAX_INTERPS) {
        snprintf(err, errsz, "-x %s: at most %d interpreters", spec, CGI_MAP_MAX_INTERPS);
        return -1;
    }
    cgi_interp_t *in = &m->interps[m->ninterps];
    char *words = strdup(eq + 1);
    in->ext = strndup(spec, (size_t)(eq - spec));
    in->argv = calloc(strlen(eq + 1) / 2 + 3, sizeof(char *)); /* words + the script + NULL */
    if (words == NULL || in->ext == NULL || in->argv == NULL)
        goto NoMem;
    in->argc = 0;
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
        if (in->argc == 0) {
            if ((in->argv[0] = find_program(w)) == NULL) {
                snprintf(err, errsz, "-x %s: interpreter '%s' not found on PATH (or not executable)", spec, w);
                in->argc = 0;
                free(words);
                goto Fail;
            }
        } else if (in->argc == CGI_MAP_MAX_ARGS) {
            snprintf(err, errsz, "-x %s: at most %d words", spec, CGI_MAP_MAX_ARGS);
            free(words);
            goto Fail;
        } else if ((in->argv[in->argc] = strdup(w)) == NULL) {
            goto NoMem;
        }
        ++in->argc;
    }
    free(words);
    if (in->argc == 0) {
        snprintf(err, errsz, "-x %s: no interpreter given", spec);
        goto Fail;
    }
    ++m->ninterps;
    return 0;
NoMem:
    free(words);
    snprintf(err, errsz, "out of memory");
Fail:
    for (size_t i = 0; i < in->argc; ++i)
        free(in->argv[i]);
    free(in->argv);
    free(in->ext);
    memset(in, 0, sizeof(*in));
    return -1;
}

int cgi_map_init(cgi_map_t *m, const char *script_or_dir, const char *prefix, char *const *interp_specs,
                 size_t ninterp, char *err, size_t errsz)
{
    memset(m, 0, sizeof(*m));
    if (prefix == NULL)
        prefix = "";
    if (prefix[0] != '\0' && prefix[0] != '/') {
        snprintf(err, errsz, "the prefix must start with '/': %s", prefix);
        return -1;
    }
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/')
        --plen;
    m->prefix = strndup(prefix, plen);
    char *real = realpath(script_or_dir, NULL);
    struct stat st;
    if (m->prefix == NULL || real == NULL || stat(real, &st) != 0) {
        snprintf(err, errsz, "%s: %s", script_or_dir, strerror(errno));
        free(real);
        cgi_map_free(m);
        return -1;
    }
    for (size_t i = 0; i < ninterp; ++i) {
        if (add_interp(m, interp_specs[i], err, errsz) != 0) {
            free(real);
            cgi_map_free(m);
            return -1;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        m->root = real;
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s: neither a script nor a directory", script_or_dir);
        free(real);
        cgi_map_free(m);
        return -1;
    }
    m->script = real;
    const char *name = base_name(real);
    if (is_nph(name, strlen(name))) {
        snprintf(err, errsz, "%s: nph- (non-parsed header) scripts are not supported: uhw answers the HTTP itself",
                 script_or_dir);
        cgi_map_free(m);
        return -1;
    }
    if (interp_for(m, name, strlen(name)) == NULL && access(real, X_OK) != 0) {
        snprintf(err, errsz, "%s: not executable (chmod +x it, or map its extension with -x .EXT=PROGRAM)",
                 script_or_dir);
        cgi_map_free(m);
        return -1;
    }
    m->root = strndup(real, (size_t)(name - 1 - real));
    if (m->root == NULL) {
        snprintf(err, errsz, "out of memory");
        cgi_map_free(m);
        return -1;
    }
    return 0;
}

void cgi_map_free(cgi_map_t *m)
{
    for (size_t i = 0; i < m->ninterps; ++i) {
        for (size_t k = 0; k < m->interps[i].argc; ++k)
            free(m->interps[i].argv[k]);
        free(m->interps[i].argv);
        free(m->interps[i].ext);
    }
    free(m->root);
    free(m->script);
    free(m->prefix);
    memset(m, 0, sizeof(*m));
}

/* Whether the path has a control character (NUL cannot occur: the path is a C string). */
static int has_control(const char *p)
{
    for (; *p != '\0'; ++p)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* Whether a decoded path has a "." or ".." segment. */
static int has_dot_segment(const char *p)
{
    while (*p != '\0') {
        while (*p == '/')
            ++p;
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 1;
        p += n;
    }
    return 0;
}

/* Fills t->mem and the strings: filename, its directory, SCRIPT_NAME = prefix + name,
 * PATH_INFO = info. */
static int make_target(cgi_target_t *t, const char *filename, const char *prefix, const char *name, size_t name_len,
                       const char *info)
{
    size_t flen = strlen(filename), plen = strlen(prefix), ilen = strlen(info);
    size_t dlen = (size_t)(base_name(filename) - 1 - filename);
    char *mem = malloc(flen + 1 + dlen + 2 + plen + name_len + 1 + ilen + 1);
    if (mem == NULL)
        return -1;
    char *p = mem;
    t->mem = mem;
    t->filename = memcpy(p, filename, flen + 1);
    p += flen + 1;
    t->dir = p;
    if (dlen == 0) { /* a script in "/" */
        p[0] = '/';
        p[1] = '\0';
        p += 2;
    } else {
        memcpy(p, filename, dlen);
        p[dlen] = '\0';
        p += dlen + 1;
    }
    t->script_name = p;
    memcpy(p, prefix, plen);
    memcpy(p + plen, name, name_len);
    p[plen + name_len] = '\0';
    p += plen + name_len + 1;
    t->path_info = memcpy(p, info, ilen + 1);
    return 0;
}

int cgi_map_resolve(const cgi_map_t *m, const char *path, cgi_target_t *t, const char **why)
{
    memset(t, 0, sizeof(*t));
    int status = 0;
    if (has_control(path)) {
        *why = "a control character in the path";
        status = 400;
        goto Out;
    }
    size_t plen = strlen(m->prefix);
    if (strncmp(path, m->prefix, plen) != 0 || (path[plen] != '\0' && path[plen] != '/')) {
        *why = "the path is not under the prefix given to uhw cgi -p";
        status = 404;
        goto Out;
    }
    const char *rest = path + plen; /* "" or "/..." */
    if (has_dot_segment(rest)) {
        *why = "'.' or '..' in the path (traversal refused)";
        status = 403;
        goto Out;
    }
    if (m->script != NULL) {
        t->interp = interp_for(m, m->script, strlen(m->script));
        if (make_target(t, m->script, m->prefix, "", 0, rest) != 0) {
            *why = "out of memory";
            status = 500;
        }
        goto Out;
    }

    /* Walk the directory: root + each segment, until a segment names a file. */
    char fs[PATH_MAX];
    size_t fl = (size_t)snprintf(fs, sizeof(fs), "%s", m->root);
    const char *p = rest, *seg = NULL;
    size_t seg_len = 0;
    for (;;) {
        while (*p == '/')
            ++p;
        if (*p == '\0') {
            *why = "the path names a directory, not a script";
            status = 404;
            goto Out;
        }
        seg = p;
        seg_len = strcspn(p, "/");
        p += seg_len;
        if (fl + 1 + seg_len >= sizeof(fs)) {
            *why = "path too long";
            status = 404;
            goto Out;
        }
        fs[fl++] = '/';
        memcpy(fs + fl, seg, seg_len);
        fl += seg_len;
        fs[fl] = '\0';
        struct stat st;
        if (stat(fs, &st) != 0) {
            *why = errno == ENOENT || errno == ENOTDIR ? "no such script" : "the script cannot be looked at";
            status = errno == ENOENT || errno == ENOTDIR ? 404 : 403;
            goto Out;
        }
        if (S_ISDIR(st.st_mode))
            continue;
        if (!S_ISREG(st.st_mode)) {
            *why = "not a regular file";
            status = 403;
            goto Out;
        }
        break;
    }
    char real[PATH_MAX];
    size_t rl = strlen(m->root);
    if (realpath(fs, real) == NULL || strncmp(real, m->root, rl) != 0 || (real[rl] != '/' && rl != 1)) {
        *why = "the script resolves to a file outside the directory (symlink refused)";
        status = 403;
        goto Out;
    }
    if (is_nph(seg, seg_len) || is_nph(base_name(real), strlen(base_name(real)))) {
        *why = "nph- (non-parsed header) scripts are not supported: uhw answers the HTTP itself";
        status = 501;
        goto Out;
    }
    const cgi_interp_t *in = interp_for(m, seg, seg_len);
    if (in == NULL && access(real, X_OK) != 0) {
        *why = "the script is not executable (chmod +x, or map its extension with -x)";
        status = 403;
        goto Out;
    }
    t->interp = in;
    if (make_target(t, real, m->prefix, rest, (size_t)(seg + seg_len - rest), p) != 0) {
        *why = "out of memory";
        status = 500;
    }
Out:
    if (status != 0)
        cgi_target_free(t);
    return status;
}

void cgi_target_free(cgi_target_t *t)
{
    free(t->mem);
    memset(t, 0, sizeof(*t));
}
