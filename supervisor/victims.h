/*
 * victims.h — reporting the requests a dying worker owned: one ERROR log line,
 * one JSON line appended to victims.log, and the same line on the stdin of
 * victims.command (run asynchronously as an unprivileged user with a minimal
 * environment, killed after 10 s, its failure logged).
 */
#ifndef UHW_VICTIMS_H
#define UHW_VICTIMS_H

#include <stdint.h>

#include <h2o.h>

#include "config.h"
#include "proc.h"
#include "reaper.h"
#include "timer.h"
#include "worker.h"

typedef struct victims {
    const cfg_victims_t *cfg; /* the loaded config's; replaced on reload */
    const char *cwd;          /* where victims.command runs (the config's directory) */
    int log_fd;               /* victims.log opened O_APPEND, or -1 */
    unsigned running;         /* victims.command processes still running */
    timers_t *timers;
    h2o_loop_t *loop;         /* NULL: no victims.command (the simulation) */
    reaper_t *reaper;
} victims_t;

/* One victim: a request, the worker that owned it, and how that worker ended. */
typedef struct victim {
    const char *pool;
    unsigned slot;
    pid_t pid;
    const char *who;              /* the worker's log prefix */
    const proc_user_t *user;      /* the pool's worker identity, or NULL (victims.command runs as it) */
    const exit_info_t *ei;
    int status;                   /* what the client got: 500, 502, 504 */
    uint64_t id;
    h2o_req_t *req;
} victim_t;

/* Opens `cfg->log` (creating it 0640). Returns 0, or -1 with a message. */
int victims_open(victims_t *v, char *err, size_t errsz);
void victims_close(victims_t *v);
void victims_record(victims_t *v, const victim_t *vi);
/* Kills what victims.command still runs (uhw is exiting). */
void victims_dispose(victims_t *v);

#endif
