/*
 * worker.h — one worker process: spawning, its three pipes, the frames it
 * sends, and its lifecycle as one state machine (see the table in worker.c).
 *
 *   STARTING --Ready--> READY --stop--> STOPPING --exit--> EXITED
 *       \--exit/ready_timeout--> EXITED     \--exit/kill--> EXITED
 *
 * A worker belongs to a slot of a pool (worker->slot_id). BACKOFF is the state
 * of a slot waiting to respawn, so it lives in pool.c; status shows it as the
 * slot's state.
 */
#ifndef UHW_WORKER_H
#define UHW_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include <h2o.h>

#include "frame.h"
#include "timer.h"
#include "types.h"
#include "uhw.pb-c.h"

typedef enum worker_state {
    WS_STARTING, /* spawned, no Ready yet */
    WS_READY,    /* takes requests */
    WS_STOPPING, /* asked to stop, or killed: takes no more requests */
    WS_EXITED,   /* reaped */
} worker_state_t;

/* Why a worker's process ended, for logs, status "last_exit" and victims. */
typedef struct exit_info {
    const char *reason; /* "exited", "died" (signal), "stuck", "protocol", "ready_timeout", "exec_failed", "stopped" */
    int code;           /* exit status, or -1 if killed by a signal */
    int signal;         /* terminating signal, or 0 */
    uint64_t at_wall_ms;
    char detail[512];   /* "killed by SIGSEGV", "exited with code 1", "stuck: no frame for 2s with 1 request in flight" */
} exit_info_t;

struct worker {
    pool_t *pool;
    unsigned slot_id;
    worker_state_t state;
    pid_t pid;
    char who[80];               /* "api#2 pid=123", the log prefix */
    /* pipes, as h2o sockets on the loop; NULL once closed */
    h2o_socket_t *in, *out, *err, *execfail;
    frame_buf_t wbuf, wbuf_sending; /* frames to write to stdin; bytes h2o is writing now */
    int close_in_after_flush;   /* Shutdown sent: close stdin once wbuf is written */
    frame_buf_t rbuf;           /* stdout bytes not yet parsed */
    frame_buf_t ebuf;           /* stderr bytes of an unfinished line */
    char *tail[10];             /* last stderr lines, shown when start-up fails */
    unsigned tail_next;
    /* requests */
    h2o_linklist_t inflight;    /* request_t owned by this worker, oldest first */
    unsigned ninflight;
    unsigned concurrency;       /* min(pool concurrency, Ready) */
    unsigned capacity;          /* latest Capacity frame; starts at concurrency; 0 = paused */
    unsigned backpressure;      /* streams holding too much unsent data; stdout reading stops while > 0 */
    uint64_t requests;          /* requests assigned to this process */
    uint64_t recycle_after;     /* recycle once `requests` reaches this; 0 = never */
    /* time */
    uint64_t spawned_mono, spawned_wall, ready_mono;
    uint64_t last_activity;     /* last frame, or when the first request went in flight */
    utimer_t deadline;          /* meaning depends on state: ready, stuck, TERM/KILL escalation */
    int stop_stage;             /* STOPPING: 0 Shutdown sent, 1 SIGTERM sent, 2 SIGKILL sent */
    /* why it ended, when the supervisor decided it */
    const char *kill_reason;    /* "stuck", "protocol", "ready_timeout", or NULL */
    char kill_detail[400];
    int planned_stop;           /* the supervisor asked it to stop: its exit is not a restart */
    int retiring;               /* replaced: keeps serving until its successor is Ready, then stops */
    int ever_ready;
    unsigned generation;        /* the pool's generation when it was spawned */
    int exec_failed;
    char exec_error[160];
    char info[128];             /* Ready.info */
    h2o_linklist_t pool_link;   /* pool->workers */
};

const char *worker_state_name(worker_state_t s);

/* Starts a process for slot `slot_id` of `pool`. NULL if fork/pipe failed (logged). */
worker_t *worker_spawn(pool_t *pool, unsigned slot_id);
/* Queues a frame for the worker's stdin and starts writing it. */
void worker_send(worker_t *w, const ProtobufCMessage *msg);
/* Sends the pool's settings as a Configure frame. */
void worker_configure(worker_t *w);
/* Requests this worker can take now: 0 unless READY and not paused. */
unsigned worker_free_capacity(const worker_t *w);
/* Called by dispatch when a request goes in flight on / leaves this worker. */
void worker_on_assign(worker_t *w);
void worker_on_release(worker_t *w);
/* Backpressure from a stream's client: while any stream of this worker holds too much
 * unsent data, uhw stops reading the worker's stdout. */
void worker_backpressure(worker_t *w, int delta);
/* Graceful stop: Shutdown frame, close stdin, SIGTERM after graceful_timeout, SIGKILL after
 * kill_timeout. The exit that follows is planned (not a restart). */
void worker_stop(worker_t *w);
/* Kills the process group now (SIGKILL) and fails its requests; `reason` is "stuck",
 * "protocol" or "ready_timeout". The exit that follows is a restart. */
void worker_kill(worker_t *w, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Stop without the Shutdown grace (failed start-up): close stdin, SIGTERM now, SIGKILL after
 * `kill_after_ms`. The exit that follows is planned. */
void worker_terminate(worker_t *w, uint64_t kill_after_ms);
/* SIGKILL to the group without any bookkeeping (last resort at exit). */
void worker_kill_now(worker_t *w);
/* From the reaper: the process ended with wait status `status`. Frees `w` (via the pool). */
void worker_on_exit(worker_t *w, int status);
/* Last stderr lines, oldest first, joined with "\n    " for a log message. Caller frees. */
char *worker_stderr_tail(const worker_t *w);
void worker_free(worker_t *w);

#endif
