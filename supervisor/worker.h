/*
 * worker.h — one worker process and the protocol it speaks, as one state machine
 * (the table is at the top of worker.c).
 *
 *   STARTING --Ready--> READY --retire--> RETIRING --(successor Ready) stop--> DRAINING
 *       |                 |  \--stop--> DRAINING --graceful_timeout--> TERMINATING --kill_timeout--> KILLED
 *       |                 \--stdout EOF--> CLOSING --(no exit soon)--> KILLED
 *       \--ready_timeout, protocol error, stuck--> KILLED          every state --reaped--> EXITED
 *
 * A worker knows nothing of requests, pools or the server. Its owner (pool.c) hands it
 * a table of callbacks (worker_events_t) and is told, through them, what happened; the
 * owner in turn tells the dispatch layer. A worker never calls its owner while the owner
 * is calling it, except where a function below says so.
 *
 * The process and its pipes are behind worker_io_ops_t: workerio.c is the real one
 * (pipes on the event loop); the simulation in test/unit drives the same state machine
 * with in-memory pipes and a virtual clock.
 */
#ifndef UHW_WORKER_H
#define UHW_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <h2o/linklist.h>
#include <jansson.h>

#include "frame.h"
#include "policy.h"
#include "proc.h"
#include "timer.h"
#include "uhw.pb-c.h"

typedef struct worker worker_t;

typedef enum worker_state {
    WS_STARTING,    /* spawned; no Ready yet (deadline: ready_timeout) */
    WS_READY,       /* takes requests (deadline: the stuck clock, while requests are in flight) */
    WS_RETIRING,    /* replaced: still serves while its successor starts, picked last */
    WS_DRAINING,    /* Shutdown sent, stdin closed: finishes its requests (deadline: graceful_timeout) */
    WS_CLOSING,     /* its stdout ended while it runs: waits a moment for its exit (deadline: then SIGKILL) */
    WS_TERMINATING, /* SIGTERM sent (deadline: kill_timeout, then SIGKILL) */
    WS_KILLED,      /* SIGKILL sent, its requests settled; waits to be reaped */
    WS_EXITED,      /* reaped; its owner frees it */
} worker_state_t;

/* Why a worker's process ended, for logs, status "last_exit" and victims. */
typedef struct exit_info {
    const char *reason; /* "exited", "died" (signal), "stuck", "protocol", "stdout_closed", "ready_timeout",
                           "exec_failed", "stopped", "retired" */
    int code;           /* exit status, or -1 if killed by a signal */
    int signal;         /* terminating signal, or 0 */
    uint64_t at_wall_ms;
    char detail[512];   /* "killed by SIGSEGV", "exited with code 1", "stuck: no frame for 2000 ms with 1 request in flight" */
} exit_info_t;

/* How the owner handled an answer frame (Response, Stream*, KeepAlive, RequestFailed). */
typedef enum worker_verdict {
    WV_DONE,   /* handled; the worker frees the frame */
    WV_KEPT,   /* handled; the owner keeps the frame and frees it (uhw__v1__from_worker__free_unpacked) */
    WV_BROKEN, /* the frame breaks the protocol (the reason is in `why`): the worker is killed, its requests get 502 */
} worker_verdict_t;

typedef struct worker_events {
    /* STARTING -> READY: it may take requests now. */
    void (*on_ready)(worker_t *w);
    /* It may take more requests than before (a Capacity frame raised its limit). */
    void (*on_capacity)(worker_t *w);
    /* An answer frame for request id `worker_frame_id(m)`. The owner may call worker_hold(),
     * worker_send*() and worker_release() on `w` from here, not the lifecycle functions. */
    worker_verdict_t (*on_answer)(worker_t *w, Uhw__V1__FromWorker *m, char *why, size_t whysz);
    /* It will answer nothing more (killed, or its process ended and its stdout was read to the
     * end): settle every request it owns. A request whose frame starts at or after stdin offset
     * `consumed` was never read by the worker (it can go to another one); the others are victims,
     * answered `status` (500, or 502 after a protocol error). Returns the number of victims.
     * Called once per worker. */
    unsigned (*on_lost)(worker_t *w, int status, const exit_info_t *ei, uint64_t consumed);
    /* The process was reaped (after on_lost). The owner decides what follows and frees `w`. */
    void (*on_exit)(worker_t *w, exit_class_t cls, const exit_info_t *ei);
} worker_events_t;

/* The process side: real pipes (workerio.c) or the simulation's. */
typedef struct worker_io_ops {
    /* Starts the process for `w`. Returns the port's handle (and *pid), or NULL with errno. */
    void *(*start)(void *ctx, worker_t *w, const proc_spec_t *spec, pid_t *pid);
    /* Writes up to n bytes to stdin without blocking: bytes written, or -1 with errno (EAGAIN). */
    ssize_t (*write)(void *io, const uint8_t *p, size_t n);
    /* Calls worker_io_writable(w) once stdin can take more (never from inside this call). */
    void (*want_write)(void *io);
    void (*close_stdin)(void *io);
    /* Stops (0) or resumes (1) reading stdout. */
    void (*read_stdout)(void *io, int on);
    /* Bytes written to stdin that the process has not read (FIONREAD). */
    size_t (*stdin_unread)(void *io);
    /* Sends `sig` to the process group. */
    void (*signal)(void *io, int sig);
    /* Releases the pipes and everything else (the process has been reaped, or uhw is exiting). */
    void (*close)(void *io);
} worker_io_ops_t;

/* Per-pool limits a worker applies itself; the owner may change them (reload). */
typedef struct worker_params {
    uint64_t ready_timeout_ms, stuck_timeout_ms, graceful_timeout_ms, kill_timeout_ms;
    uint64_t max_frame;
    unsigned concurrency; /* cap; Ready and Capacity may lower it */
} worker_params_t;

typedef struct worker_spec {
    const char *pool;              /* pool name, for logs */
    const char *command;           /* the program as configured, for logs */
    const char *dir;               /* its private directory (UHW_WORKER_DIR), kept for worker_dir(), or NULL */
    unsigned slot;
    const worker_params_t *params;
    const proc_spec_t *proc;       /* what to exec */
    const worker_events_t *events;
    void *owner;                   /* worker_owner() */
    const worker_io_ops_t *io;
    void *io_ctx;                  /* passed to io->start */
    timers_t *timers;
} worker_spec_t;

const char *worker_state_name(worker_state_t s);

/* Starts a process. NULL if fork/pipe failed (logged). */
worker_t *worker_spawn(const worker_spec_t *spec);
void worker_free(worker_t *w);

/* Accessors. */
worker_state_t worker_state(const worker_t *w);
void *worker_owner(const worker_t *w);
unsigned worker_slot(const worker_t *w);
pid_t worker_pid(const worker_t *w);
const char *worker_who(const worker_t *w);   /* "api#2 pid=123", the log prefix */
const char *worker_info(const worker_t *w);  /* Ready.info */
const char *worker_dir(const worker_t *w);   /* its private directory, or NULL */
unsigned worker_in_flight(const worker_t *w);
uint64_t worker_requests(const worker_t *w); /* requests assigned to this process */
uint64_t worker_spawned_wall(const worker_t *w);
uint64_t worker_spawned_mono(const worker_t *w);
/* The concurrency it announced and its latest Capacity, combined (0 = paused). */
unsigned worker_concurrency(const worker_t *w);
/* Requests it can take now: 0 unless READY or RETIRING. */
unsigned worker_free_capacity(const worker_t *w);
/* Whether it can still answer (not known to be gone: STARTING, READY, RETIRING, DRAINING). */
int worker_alive(const worker_t *w);
/* Requests assigned to it, kept by the dispatch layer (worker.c only keeps the anchor). */
h2o_linklist_t *worker_requests_list(worker_t *w);
/* The owner's list of its workers. */
h2o_linklist_t *worker_owner_link(worker_t *w);
worker_t *worker_from_owner_link(h2o_linklist_t *l);
void worker_set_params(worker_t *w, const worker_params_t *p);
/* Its state as status shows it (DESIGN.md §6): starting, ready, stopping, exited. */
const char *worker_status_state(const worker_t *w);
/* Its part of the status document: pid, state, in_flight, requests, started_at, concurrency... */
json_t *worker_status_json(const worker_t *w);
/* Its stderr lines kept for `uhw tail` (the last ones, bounded): calls line() for each line
 * numbered `after` or later (lines are numbered from 0 over its life), oldest first, and
 * returns the number of the next line. */
uint64_t worker_tail(const worker_t *w, uint64_t after, void (*line)(void *arg, const char *text), void *arg);
uint64_t worker_tail_seq(const worker_t *w);
/* Last stderr lines, oldest first, joined with "\n    " for a log message. Caller frees. */
char *worker_stderr_tail(const worker_t *w);

/* The id of an answer frame (Response, Stream*, KeepAlive, RequestFailed), 0 for others. */
uint64_t worker_frame_id(const Uhw__V1__FromWorker *m);

/* Requests: the dispatch layer tells the worker what it gave it and took back. */
/* Queues a frame for stdin (written at the next loop turn, with the others). Returns the stdin
 * offset at which the frame starts (see on_lost), or UINT64_MAX if stdin is closed. */
uint64_t worker_send(worker_t *w, const ProtobufCMessage *msg);
void worker_assign(worker_t *w);
void worker_release(worker_t *w, int answered);
/* Backpressure: while held, uhw reads nothing from its stdout and its stuck clock stands still.
 * worker_unhold resumes on the next loop turn, never inside the call. */
void worker_hold(worker_t *w);
void worker_unhold(worker_t *w);
/* Sends Configure with these settings. */
void worker_configure(worker_t *w, const Uhw__V1__Setting *const *settings, size_t n);

/* Lifecycle: what the owner wants. Each is an event of the table. */
void worker_retire(worker_t *w);    /* READY -> RETIRING */
void worker_stop(worker_t *w);      /* graceful: Shutdown, stdin closed, then SIGTERM, SIGKILL */
void worker_terminate(worker_t *w, uint64_t kill_after_ms); /* no grace: SIGTERM now, SIGKILL after */
/* A fault: SIGKILL to the group now; its requests are settled (on_lost) before this returns. */
void worker_kill(worker_t *w, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* SIGKILL to the group, nothing else (uhw is exiting). */
void worker_kill_now(worker_t *w);

/* Called by the io port. */
frame_buf_t *worker_io_inbuf(worker_t *w);            /* read stdout bytes into this */
void worker_io_stdout(worker_t *w);                    /* new bytes are in the inbuf */
void worker_io_stdout_eof(worker_t *w);
void worker_io_stderr(worker_t *w, const char *p, size_t n);
void worker_io_stderr_eof(worker_t *w);
void worker_io_writable(worker_t *w);
void worker_io_exec_failed(worker_t *w, const char *why);
void worker_io_reaped(worker_t *w, int status);      /* stdout and stderr already read to the end */

#endif
