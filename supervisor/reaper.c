/*
 * reaper.c — see reaper.h.
 */
#include "reaper.h"

#include <stddef.h>
#include <sys/wait.h>

void reaper_watch(reaper_t *r, reaper_watch_t *rw)
{
    rw->next = r->watches;
    r->watches = rw;
}

void reaper_forget(reaper_t *r, reaper_watch_t *rw)
{
    for (reaper_watch_t **p = &r->watches; *p != NULL; p = &(*p)->next) {
        if (*p == rw) {
            *p = rw->next;
            rw->next = NULL;
            return;
        }
    }
}

void reaper_reap(reaper_t *r)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (reaper_watch_t **p = &r->watches; *p != NULL; p = &(*p)->next) {
            if ((*p)->pid == pid) {
                reaper_watch_t *rw = *p;
                *p = rw->next;
                rw->next = NULL;
                rw->on_exit(rw, status);
                break;
            }
        }
    }
}

int reaper_busy(const reaper_t *r)
{
    return r->watches != NULL;
}
