/*
 * proc.c — see proc.h.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>

extern char **environ;

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_if(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* In the child: reports the failure through the exec-failure pipe and exits 127. */
static void __attribute__((noreturn)) child_fail(int fd, char stage)
{
    proc_execfail_t f = {errno, stage};
    ssize_t w = write(fd, &f, sizeof(f));
    (void)w;
    _exit(127);
}

/* Marks every fd >= 3 close-on-exec (the exec-failure pipe already is). */
static void child_cloexec_all(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    /* Kernels before 5.11: walk the descriptor table. */
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
    for (long fd = 3; fd < max; ++fd)
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) child_exec(const proc_spec_t *spec, pid_t parent, int fds[3], int failfd)
{
    /* Ignored dispositions and the blocked mask survive exec: a program must start with defaults.
     * The raw system call, because glibc's sigaction refuses the signals it reserves (32, 33),
     * which uhw's own parent may have left ignored. */
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    for (int i = 0; i < 3; ++i) {
        if (fds[i] < 0)
            continue;
        if (dup2(fds[i], i) < 0)
            child_fail(failfd, 'f');
    }
    child_cloexec_all();
    if (spec->cwd != NULL && chdir(spec->cwd) != 0)
        child_fail(failfd, 'c');
    if (spec->user != NULL) {
        const proc_user_t *u = spec->user;
        if (setgroups(u->ngroups, u->groups) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0)
            child_fail(failfd, 'u');
    }
    /* After the user switch: changing credentials clears the parent-death signal. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1); /* the supervisor died before we armed it */
    environ = (char **)spec->envp; /* execvp searches the PATH of the new environment */
    execvp(spec->argv[0], spec->argv);
    child_fail(failfd, 'e');
}

#define PROC_STDOUT_PIPE (1 << 18) /* bytes: a worker's stdout pipe, when uhw runs as root */

int proc_spawn(const proc_spec_t *spec, proc_t *out)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, fail[2] = {-1, -1}, devnull = -1, peek = -1;
    int saved;
    if (pipe2(fail, O_CLOEXEC) != 0)
        goto Error;
    if ((spec->pipe_stdin && pipe2(in, O_CLOEXEC) != 0) || (spec->pipe_stdout && pipe2(outp, O_CLOEXEC) != 0) ||
        (spec->pipe_stderr && pipe2(errp, O_CLOEXEC) != 0))
        goto Error;
    /* A larger stdout pipe lets a streaming worker write ahead while uhw sends: with the
     * default 64 KiB the two take turns on the pipe's lock at every frame (256 MiB streams:
     * ~1.4 -> ~2.2 GB/s here). Only as root: for other users the kernel counts pipe memory
     * against pipe-user-pages-soft (64 MiB), and past it every new pipe of that user, the
     * next workers' included, shrinks to 8 KiB. Root is not limited. Best effort. */
    if (spec->pipe_stdout && geteuid() == 0)
        (void)fcntl(outp[0], F_SETPIPE_SZ, PROC_STDOUT_PIPE);
    if ((!spec->pipe_stdin || !spec->pipe_stdout) && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        goto Error;
    if (spec->pipe_stdin && spec->peek_stdin && (peek = fcntl(in[0], F_DUPFD_CLOEXEC, 3)) < 0)
        goto Error;
    /* Child ends: fd 0 reads, fd 1 and 2 write; -1 for stderr means inherit. */
    int child_fds[3] = {spec->pipe_stdin ? in[0] : devnull, spec->pipe_stdout ? outp[1] : devnull,
                        spec->pipe_stderr ? errp[1] : -1};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        goto Error;
    if (pid == 0)
        child_exec(spec, parent, child_fds, fail[1]);
    /* Both sides set the group so a kill right after fork reaches it. */
    setpgid(pid, pid);
    close_if(&in[0]);
    close_if(&outp[1]);
    close_if(&errp[1]);
    close_if(&fail[1]);
    close_if(&devnull);
    if ((in[1] >= 0 && set_nonblock(in[1]) != 0) || (outp[0] >= 0 && set_nonblock(outp[0]) != 0) ||
        (errp[0] >= 0 && set_nonblock(errp[0]) != 0) || set_nonblock(fail[0]) != 0) {
        /* Cannot happen on a valid pipe; don't leave a half-managed child behind. */
        saved = errno;
        kill(-pid, SIGKILL);
        errno = saved;
    }
    out->pid = pid;
    out->in_fd = in[1];
    out->in_peek_fd = peek;
    out->out_fd = outp[0];
    out->err_fd = errp[0];
    out->execfail_fd = fail[0];
    return 0;

Error:
    saved = errno;
    close_if(&in[0]);
    close_if(&in[1]);
    close_if(&outp[0]);
    close_if(&outp[1]);
    close_if(&errp[0]);
    close_if(&errp[1]);
    close_if(&fail[0]);
    close_if(&fail[1]);
    close_if(&devnull);
    close_if(&peek);
    errno = saved;
    return -1;
}

const char *proc_execfail_str(const proc_execfail_t *f, char *buf, size_t bufsz)
{
    switch (f->stage) {
    case 'e':
        if (f->err == ENOENT)
            snprintf(buf, bufsz, "command not found");
        else if (f->err == EACCES)
            snprintf(buf, bufsz, "permission denied (not executable?)");
        else
            snprintf(buf, bufsz, "cannot exec: %s", strerror(f->err));
        break;
    case 'c':
        snprintf(buf, bufsz, "cannot change to the pool's cwd: %s", strerror(f->err));
        break;
    case 'u':
        snprintf(buf, bufsz, "cannot switch user: %s", strerror(f->err));
        break;
    default:
        snprintf(buf, bufsz, "cannot set up the process: %s", strerror(f->err));
        break;
    }
    return buf;
}

const char *proc_signal_name(int sig, char *buf, size_t bufsz)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev != NULL)
        snprintf(buf, bufsz, "SIG%s", abbrev);
    else
        snprintf(buf, bufsz, "signal %d", sig);
    return buf;
}

/* ---------------------------------------------------------------- environment */

static int is_private_var(const char *kv)
{
    static const char *const private_vars[] = {"NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
                                               "JOURNAL_STREAM=", NULL};
    for (size_t i = 0; private_vars[i] != NULL; ++i)
        if (strncmp(kv, private_vars[i], strlen(private_vars[i])) == 0)
            return 1;
    return 0;
}

static void env_push(proc_env_t *env, char *kv)
{
    if (env->len + 2 > env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 64;
        char **items = realloc(env->items, cap * sizeof(*items));
        if (items == NULL)
            abort();
        env->items = items;
        env->cap = cap;
    }
    env->items[env->len++] = kv;
    env->items[env->len] = NULL;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

void proc_env_init(proc_env_t *env, int clear)
{
    static const char *const kept[] = {"PATH=", "HOME=", "LANG=", "TZ=", NULL};
    memset(env, 0, sizeof(*env));
    env->cap = 64;
    if ((env->items = calloc(env->cap, sizeof(*env->items))) == NULL) /* NULL-terminated from the start */
        abort();
    for (char **e = environ; *e != NULL; ++e) {
        if (is_private_var(*e))
            continue;
        if (clear) {
            int keep = 0;
            for (size_t i = 0; kept[i] != NULL && !keep; ++i)
                keep = strncmp(*e, kept[i], strlen(kept[i])) == 0;
            if (!keep)
                continue;
        }
        env_push(env, xstrdup(*e));
    }
}

static ssize_t env_find(const proc_env_t *env, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < env->len; ++i)
        if (strncmp(env->items[i], name, n) == 0 && env->items[i][n] == '=')
            return (ssize_t)i;
    return -1;
}

void proc_env_set(proc_env_t *env, const char *name, const char *value)
{
    char *kv;
    if (asprintf(&kv, "%s=%s", name, value) < 0)
        abort();
    ssize_t i = env_find(env, name);
    if (i >= 0) {
        free(env->items[i]);
        env->items[i] = kv;
    } else {
        env_push(env, kv);
    }
}

const char *proc_env_get(const proc_env_t *env, const char *name)
{
    ssize_t i = env_find(env, name);
    return i >= 0 ? env->items[i] + strlen(name) + 1 : NULL;
}

void proc_env_prepend(proc_env_t *env, const char *name, const char *dir, const char *dflt)
{
    const char *rest = proc_env_get(env, name);
    if (rest == NULL)
        rest = dflt;
    char *joined;
    if (asprintf(&joined, "%s%s%s", dir, rest != NULL ? ":" : "", rest != NULL ? rest : "") < 0)
        abort();
    proc_env_set(env, name, joined);
    free(joined);
}

void proc_env_free(proc_env_t *env)
{
    for (size_t i = 0; i < env->len; ++i)
        free(env->items[i]);
    free(env->items);
    memset(env, 0, sizeof(*env));
}

void proc_env_set_user(proc_env_t *env, const proc_user_t *u)
{
    proc_env_set(env, "HOME", u->home != NULL ? u->home : "/");
    proc_env_set(env, "USER", u->name);
    proc_env_set(env, "LOGNAME", u->name);
}

void proc_sanitize_std_fds(void)
{
    for (int fd = 0; fd < 3; ++fd) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}
