/*
 * cgi_spawn.c — see cgi_spawn.h.
 */
#include "cgi_spawn.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

/* Signals the worker ignores (SIG_IGN survives exec): found once, after libuhw set
 * SIGPIPE to SIG_IGN, then reset in every child. No handlers exist, so nothing else
 * needs resetting. */
static sigset_t ignored;
static int ignored_known;

static void find_ignored(void)
{
    sigemptyset(&ignored);
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction sa;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            sigaddset(&ignored, sig);
    }
    ignored_known = 1;
}

pid_t cgi_spawn(const cgi_spawn_spec_t *s, int *err)
{
    if (!ignored_known)
        find_ignored();
    pid_t parent = getpid();
    /* The child writes here before _exit when it cannot exec; vfork shares our memory and
     * suspends us until then, so we read it safely once vfork returns. */
    volatile int child_errno = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        /* Between vfork and exec: system calls only, no stores but child_errno. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127); /* the worker is already gone */
        for (int sig = 1; sig < NSIG; ++sig)
            if (sigismember(&ignored, sig) == 1)
                sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(s->stdin_fd, 0) < 0 || dup2(s->stdout_fd, 1) < 0)
            goto Fail;
        close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); /* belt and braces: ours already are */
        if (chdir(s->dir) != 0)
            goto Fail;
        execve(s->path, s->argv, s->envp);
    Fail:
        child_errno = errno;
        _exit(127);
    }
    if (pid < 0) {
        *err = errno;
        return -1;
    }
    if (child_errno != 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        *err = child_errno;
        return -1;
    }
    return pid;
}
