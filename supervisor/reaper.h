/*
 * reaper.h — who gets told when a child process ends.
 *
 * The server reads SIGCHLD from its signalfd and calls reaper_reap(), which collects
 * every ended child (waitpid WNOHANG) and calls the on_exit of the watch registered for
 * its pid. Workers and victims.command register themselves; nothing else needs to know
 * which kind of child a pid is.
 */
#ifndef UHW_REAPER_H
#define UHW_REAPER_H

#include <sys/types.h>

typedef struct reaper_watch reaper_watch_t;
struct reaper_watch {
    pid_t pid;
    void (*on_exit)(reaper_watch_t *rw, int status); /* wait status; the watch is already removed */
    reaper_watch_t *next;
};

typedef struct reaper {
    reaper_watch_t *watches;
} reaper_t;

/* Registers `rw` (pid and on_exit set); it must stay valid until on_exit runs or reaper_forget. */
void reaper_watch(reaper_t *r, reaper_watch_t *rw);
/* Unregisters `rw` if registered. */
void reaper_forget(reaper_t *r, reaper_watch_t *rw);
/* Reaps every ended child and runs the watches of those that were registered. */
void reaper_reap(reaper_t *r);
/* Whether any watch is registered. */
int reaper_busy(const reaper_t *r);

#endif
