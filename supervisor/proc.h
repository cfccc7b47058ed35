/*
 * proc.h — starting child processes and building their environment.
 *
 * A child gets exactly fds 0, 1, 2 (pipes to the supervisor, or /dev/null);
 * every other descriptor is close-on-exec. It runs in its own process group
 * (kills go to the group), with every signal at its default disposition and
 * none blocked, and dies with the supervisor (PR_SET_PDEATHSIG, armed after the
 * user switch, which would clear it).
 *
 * Exec failure is reported through a close-on-exec pipe, as s6 does: the child
 * writes its errno there only if it could not chdir/setuid/exec, so the parent
 * tells "command not found" apart from "ran and exited" without guessing.
 */
#ifndef UHW_PROC_H
#define UHW_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* An identity to switch to before exec (uhw running as root). */
typedef struct proc_user {
    uid_t uid;
    gid_t gid;
    const gid_t *groups;   /* supplementary groups */
    size_t ngroups;
    const char *name;      /* for USER and LOGNAME */
    const char *home;      /* for HOME */
} proc_user_t;

typedef struct proc_spec {
    char *const *argv;   /* NULL-terminated; argv[0] is searched on the PATH of envp when it has no '/' */
    char *const *envp;   /* complete environment, NULL-terminated */
    const char *cwd;     /* NULL: inherit */
    int pipe_stdin;      /* 1: a pipe; 0: /dev/null */
    int pipe_stdout;     /* 1: a pipe; 0: /dev/null */
    int pipe_stderr;     /* 1: a pipe; 0: inherit the supervisor's stderr */
    int peek_stdin;      /* with pipe_stdin: keep a duplicate of the pipe's read end (in_peek_fd) */
    const proc_user_t *user; /* switch to this identity before exec; NULL: keep uhw's */
} proc_spec_t;

typedef struct proc {
    pid_t pid;
    int in_fd;       /* write end of the child's stdin, or -1 */
    int in_peek_fd;  /* read end of the child's stdin, never read: FIONREAD on it tells what the
                        child has not read yet, even once in_fd is closed (spec->peek_stdin), or -1 */
    int out_fd;      /* read end of the child's stdout, or -1 */
    int err_fd;      /* read end of the child's stderr, or -1 */
    int execfail_fd; /* read end: EOF once exec succeeded, or a proc_execfail_t if it failed */
} proc_t;

/* What the child writes to execfail_fd when it cannot start the program. */
typedef struct proc_execfail {
    int err;      /* errno */
    char stage;   /* 'c' chdir, 'u' user switch, 'e' exec, 'f' other setup */
} proc_execfail_t;

/* Forks and execs. Parent-side fds are non-blocking and close-on-exec.
 * Returns 0, or -1 with errno (fork or pipe failure; nothing is left open). */
int proc_spawn(const proc_spec_t *spec, proc_t *out);

/* Describes an exec failure: "command not found", "permission denied", "cannot chdir to ...: ...". */
const char *proc_execfail_str(const proc_execfail_t *f, char *buf, size_t bufsz);

/* Signal name without a number: "SIGSEGV"; "signal 42" for unnamed ones. */
const char *proc_signal_name(int sig, char *buf, size_t bufsz);

/* An environment under construction (NAME=VALUE strings). */
typedef struct proc_env {
    char **items;
    size_t len, cap;
} proc_env_t;

/* Starts from the parent's environment, or only PATH, HOME, LANG, TZ when `clear` is set.
 * Variables that belong to the supervisor itself (NOTIFY_SOCKET, LISTEN_FDS, LISTEN_PID,
 * JOURNAL_STREAM) are never passed on. */
void proc_env_init(proc_env_t *env, int clear);
/* Sets (replaces) NAME. */
void proc_env_set(proc_env_t *env, const char *name, const char *value);
const char *proc_env_get(const proc_env_t *env, const char *name);
/* Puts `dir` first in the colon-separated list NAME (PATH, PYTHONPATH...); when NAME is unset
 * it becomes `dir`, followed by `dflt` when that is not NULL. */
void proc_env_prepend(proc_env_t *env, const char *name, const char *dir, const char *dflt);
void proc_env_free(proc_env_t *env);

/* Sets HOME, USER and LOGNAME to those of `u` (after a user switch, not root's). */
void proc_env_set_user(proc_env_t *env, const proc_user_t *u);

/* Ensures fds 0, 1, 2 are open (on /dev/null if closed), so pipes never land on them. */
void proc_sanitize_std_fds(void);

#endif
