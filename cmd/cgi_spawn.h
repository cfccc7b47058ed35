/*
 * cgi_spawn.h — starting one CGI script, cheaply and cleanly.
 *
 * vfork + execve: the parent's memory is not copied (the per-request cost is the exec,
 * not the fork). The child gets:
 *   - fds 0 (stdin_fd), 1 (stdout_fd) and 2 (the worker's stderr, which uhw logs with the
 *     worker's prefix); every other descriptor is closed on exec;
 *   - its own process group (so a kill reaches whatever the script started);
 *   - PR_SET_PDEATHSIG SIGKILL (a worker killed with SIGKILL takes its scripts along);
 *   - default dispositions for every signal the worker ignores (SIGPIPE) and an empty
 *     signal mask (the worker blocks SIGCHLD and SIGTERM for its signalfd);
 *   - `dir` as its working directory, as fcgiwrap and Apache do.
 * Safe with vfork because the worker installs no signal handlers (it uses a signalfd):
 * nothing can run on the shared stack while the child sets itself up.
 */
#ifndef UHW_CGI_SPAWN_H
#define UHW_CGI_SPAWN_H

#include <sys/types.h>

typedef struct cgi_spawn_spec {
    const char *path;    /* the program to exec (absolute) */
    char *const *argv;
    char *const *envp;
    const char *dir;     /* working directory */
    int stdin_fd;        /* becomes fd 0 */
    int stdout_fd;       /* becomes fd 1 */
} cgi_spawn_spec_t;

/* Starts the script. Returns its pid (= its process group id), or -1 with *err = the
 * errno of what failed (vfork, chdir, execve: ENOENT, EACCES, ENOEXEC...). */
pid_t cgi_spawn(const cgi_spawn_spec_t *s, int *err);

#endif
