/*
 * config_check.c — what can only be checked on this machine, after the file has been read:
 * commands (found on PATH and executable, as the workers will look them up), directories,
 * TLS files, users. Errors point at where the value was written.
 *
 * Users are resolved here (uid, gid, groups, home), when the configuration is validated,
 * because getpwnam and getgrouplist may block (NSS, LDAP): the event loop that applies a
 * reloaded configuration must not call them.
 */
#include "config_internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin" /* when the process has no PATH at all */

/* 0 if `path` can be exec'd, else ENOENT, EISDIR, EACCES or another errno. */
static int program_status(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOTDIR ? ENOENT : errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (access(path, X_OK) != 0)
        return EACCES;
    return 0;
}

/* Looks `name` up as execvp will in the worker: `self_dir` first, then each PATH entry
 * (empty and relative entries are relative to the worker's cwd). Like execvp, a file
 * found but not executable is reported over "not found". */
static int search_program(const char *name, const char *self_dir, const char *path, const char *cwd)
{
    int status = ENOENT;
    char *dirs = self_dir != NULL ? cfg_xasprintf("%s:%s", self_dir, path) : cfg_xstrdup(path);
    char *rest = dirs;
    for (;;) {
        char *dir = strsep(&rest, ":");
        if (dir == NULL)
            break;
        char *base = dir[0] == '/' ? cfg_xstrdup(dir) : cfg_path_resolve(cwd, *dir ? dir : ".");
        char *candidate = cfg_xasprintf("%s/%s", base, name);
        int st = program_status(candidate);
        free(base);
        free(candidate);
        if (st == 0) {
            status = 0;
            break;
        }
        if (status == ENOENT)
            status = st;
    }
    free(dirs);
    return status;
}

/* The PATH the worker will search: the pool's env PATH, else ours (clear_env keeps it). */
static const char *pool_path(const cfg_pool_t *p)
{
    for (size_t i = p->env.len; i-- > 0;)
        if (strcmp(p->env.items[i].key, "PATH") == 0)
            return p->env.items[i].value;
    const char *path = getenv("PATH");
    return path != NULL ? path : DEFAULT_PATH;
}

static void check_command(const uhw_config_t *cfg, const cfg_pool_t *p, const char *self_dir, cfg_errors_t *errs)
{
    if (p->argv == NULL || p->argv[0] == NULL)
        return;
    const char *prog = p->argv[0];
    int st;
    if (p->shell || strchr(prog, '/') != NULL)
        st = program_status(prog);
    else
        st = search_program(prog, self_dir, pool_path(p), p->cwd);
    if (st == 0)
        return;
    const char *shown = p->shell || p->command_text == NULL ? prog : p->command_text;
    const char *why = p->shell ? " (a string command runs with /bin/sh -c)" : "";
    if (st == ENOENT)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' not found%s", p->name, shown, why);
    else if (st == EISDIR)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' is a directory%s", p->name, shown, why);
    else if (st == EACCES)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' is not executable%s", p->name, shown,
                       why);
    else
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s': %s", p->name, shown, strerror(st));
}

static void check_dir(const uhw_config_t *cfg, cfg_pos_t pos, const char *what, const char *dir, cfg_errors_t *errs)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        cfg_errors_add(errs, cfg->path, pos, "%s '%s' %s", what, dir,
                       errno == ENOENT ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        cfg_errors_add(errs, cfg->path, pos, "%s '%s' is not a directory", what, dir);
}

static void check_readable(const uhw_config_t *cfg, const cfg_listen_t *l, const char *what, const char *file,
                           cfg_errors_t *errs)
{
    if (file != NULL && access(file, R_OK) != 0)
        cfg_errors_add(errs, cfg->path, l->pos, "listen '%s': TLS %s '%s' is not readable: %s", l->text, what, file,
                       strerror(errno));
}

/* A server replaces a stale socket at `control` (connect fails: unlink, bind): anything else
 * there would be destroyed, so only a socket, or nothing in an existing directory, will do. */
static void check_control(const uhw_config_t *cfg, cfg_errors_t *errs)
{
    struct stat st;
    if (lstat(cfg->control, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            cfg_errors_add(errs, cfg->path, cfg->control_pos,
                           "control: %s exists and is not a socket; refusing to replace it", cfg->control);
        return;
    }
    if (errno != ENOENT && errno != ENOTDIR) {
        cfg_errors_add(errs, cfg->path, cfg->control_pos, "control: cannot check %s: %s", cfg->control,
                       strerror(errno));
        return;
    }
    char *dir = cfg_xstrdup(cfg->control);
    *strrchr(dir, '/') = '\0'; /* the path is absolute */
    const char *shown = dir[0] != '\0' ? dir : "/";
    if (stat(shown, &st) != 0)
        cfg_errors_add(errs, cfg->path, cfg->control_pos, "control: the directory %s %s", shown,
                       errno == ENOENT || errno == ENOTDIR ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        cfg_errors_add(errs, cfg->path, cfg->control_pos, "control: %s is not a directory", shown);
    free(dir);
}

/* ------------------------------------------------------------------ users */

void cfg_identity_free(cfg_identity_t *id)
{
    if (id == NULL)
        return;
    free(id->groups);
    free(id->name);
    free(id->home);
    free(id);
}

/* Looks `user` up: NULL with errno (0: there is no such user) when it cannot. */
static cfg_identity_t *identity_of(const char *user)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL)
        return NULL;
    cfg_identity_t *id = cfg_xcalloc(1, sizeof(*id));
    id->uid = pw->pw_uid;
    id->gid = pw->pw_gid;
    id->name = cfg_xstrdup(pw->pw_name);
    id->home = cfg_xstrdup(pw->pw_dir);
    int n = 16;
    for (;;) {
        id->groups = realloc(id->groups, (size_t)n * sizeof(*id->groups));
        if (id->groups == NULL)
            abort();
        int want = n;
        if (getgrouplist(user, pw->pw_gid, id->groups, &want) >= 0) {
            n = want;
            break;
        }
        n = want > n ? want : n * 2; /* glibc says how many; others may not */
    }
    id->ngroups = (size_t)n;
    return id;
}

/* Checks that `user` exists; as root, resolves it into *run_as (replacing what was there). */
static void resolve_user(const uhw_config_t *cfg, cfg_pos_t pos, const char *what, const char *user,
                         cfg_identity_t **run_as, cfg_errors_t *errs)
{
    cfg_identity_free(*run_as);
    *run_as = NULL;
    if (user == NULL)
        return;
    cfg_identity_t *id = identity_of(user);
    if (id == NULL) {
        int e = errno;
        cfg_errors_add(errs, cfg->path, pos, "%s: user '%s' does not exist%s%s", what, user, e != 0 ? ": " : "",
                       e != 0 ? strerror(e) : "");
        return;
    }
    if (geteuid() == 0)
        *run_as = id;
    else
        cfg_identity_free(id); /* not root: workers simply run as the current user */
}

/* As root, a pool must name the user its workers run as (PHP-FPM's rule: root is never
 * assumed); any named user must exist. */
static void check_pool_user(const uhw_config_t *cfg, cfg_pool_t *p, cfg_errors_t *errs)
{
    char what[96];
    snprintf(what, sizeof(what), "pool '%s'", p->name);
    if (p->user == NULL && geteuid() == 0)
        cfg_errors_add(errs, cfg->path, p->pos,
                       "pool '%s': uhw runs as root, so the pool must say which user its workers run as: "
                       "add `user: www-data` (any unprivileged account), or `user: root` to run them as root",
                       p->name);
    resolve_user(cfg, p->pos, what, p->user, &p->run_as, errs);
}

size_t config_check_runtime(uhw_config_t *cfg, const char *self_dir, cfg_errors_t *errs)
{
    size_t before = errs->len;
    for (size_t i = 0; i < cfg->npools; ++i) {
        cfg_pool_t *p = &cfg->pools[i];
        char what[96];
        check_command(cfg, p, self_dir, errs);
        check_pool_user(cfg, p, errs);
        snprintf(what, sizeof(what), "pool '%s': cwd", p->name);
        check_dir(cfg, p->cwd_pos, what, p->cwd, errs);
    }
    resolve_user(cfg, cfg->victims.user_pos, "victims", cfg->victims.user, &cfg->victims.run_as, errs);
    check_control(cfg, errs);
    for (size_t i = 0; i < cfg->nstatics; ++i) {
        char what[300];
        snprintf(what, sizeof(what), "static '%.200s': directory", cfg->statics[i].prefix);
        check_dir(cfg, cfg->statics[i].pos, what, cfg->statics[i].dir, errs);
    }
    for (size_t i = 0; i < cfg->nlisten; ++i) {
        check_readable(cfg, &cfg->listen[i], "certificate", cfg->listen[i].tls_cert, errs);
        check_readable(cfg, &cfg->listen[i], "key", cfg->listen[i].tls_key, errs);
    }
    return errs->len - before;
}

