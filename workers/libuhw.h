/*
 * libuhw.h — the C worker SDK: write a uhw worker as a request handler.
 *
 * A worker is a process started by the uhw supervisor with fd 0 = request pipe,
 * fd 1 = response pipe, fd 2 = log pipe (DESIGN.md §2, §7). uhw_run() announces the
 * worker with a Ready frame, then runs a single-threaded poll() loop over stdin,
 * timers and the fds given to uhw_watch(), and calls the handler once per request.
 *
 *     static void handle(uhw_req_t *req, void *ctx)
 *     {
 *         uhw_respond_text(req, 200, "text/plain", "hello\n");
 *     }
 *     int main(void) { return uhw_run(handle, NULL) == 0 ? 0 : 1; }
 *
 * Requests may be answered inside the handler or later (from a timer, an fd watcher or
 * on_cancel): a worker holds as many open requests as the concurrency it announced.
 * A request is open until it is finished by uhw_respond(), uhw_respond_text(),
 * uhw_stream_end() or uhw_fail(); finishing frees it, so the uhw_req_t pointer must not be used
 * afterwards. Every request must be finished exactly once, even a cancelled one: the
 * final frame is what frees the worker's slot in the supervisor.
 *
 * Rules of the road:
 * - Nothing but this SDK may write to stdout (fd 1): a stray printf() is a protocol error
 *   and the supervisor kills the worker. Log with uhw_log() or to stderr.
 * - Output is written with blocking, whole-frame writes, in the order it was produced.
 *   What the callbacks of one loop turn produce is gathered and written at once when the
 *   turn ends (before the loop waits again), so answers to several requests cost one
 *   write; pending output is written earlier once it passes 64 KiB, by uhw_keepalive()
 *   and uhw_flush(), and at exit(). A callback that blocks (sleeps, waits on I/O) after
 *   sending something the client should see first calls uhw_flush(). If the supervisor
 *   is gone (EPIPE), the process exits quietly with status 0. The SDK ignores SIGPIPE (an
 *   ignored signal stays ignored across exec: restore SIG_DFL in children that need it).
 * - Concurrency: a handler that never blocks (it answers at once, or later from a timer,
 *   an fd watcher or on_cancel) can take many requests at a time: set
 *   uhw_options_t.concurrency (64, say). The worker then reads several requests per
 *   wake-up and answers them in one write. The pool's `concurrency:` caps what a worker
 *   announces (it defaults to 1), so raise it too. A handler that blocks keeps 1.
 * - Not thread-safe: call the SDK from the thread that runs uhw_run() only.
 * - Functions returning int return 0 on success and -1 on failure with errno set:
 *   EINVAL (bad argument, or a call that does not fit the request's state),
 *   ECANCELED (the request was cancelled: the output was dropped), ENOMEM.
 */
#ifndef UHW_LIBUHW_H
#define UHW_LIBUHW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UHW_PROTOCOL 1 /* protocol version announced in Ready */

/* Log levels (the Log frame's Level enum). */
enum { UHW_LOG_DEBUG = 0, UHW_LOG_INFO = 1, UHW_LOG_WARNING = 2, UHW_LOG_ERROR = 3, UHW_LOG_CRITICAL = 4 };

/* Why the supervisor cancelled a request (the Cancel frame's Reason enum). */
enum { UHW_CANCEL_CLIENT_GONE = 0, UHW_CANCEL_TIMEOUT = 1, UHW_CANCEL_SHUTDOWN = 2 };

/* One HTTP header. In requests the value is followed by a NUL byte (not counted in
 * value_len), so it can be used as a C string unless it contains NUL bytes itself. */
typedef struct uhw_header {
    const char *name;     /* as received (h2o gives lower case) or as sent */
    const uint8_t *value; /* value_len bytes, may be binary */
    size_t value_len;
} uhw_header_t;

/* One request. Every string is NUL-terminated ("" when absent) and, like the headers
 * and the body, owned by the SDK until the request is finished. */
typedef struct uhw_req {
    uint64_t id;                  /* the supervisor's request id */
    const char *method;           /* "GET", ... */
    const char *path;             /* without the query string: percent-decoded and normalized (what uhw routed on) */
    const char *query;            /* without the leading '?', not decoded */
    const uhw_header_t *headers;  /* in the order received; repeated names stay repeated */
    size_t nheaders;
    const uint8_t *body;          /* body_len bytes, NOT NUL-terminated (NULL when empty) */
    size_t body_len;
    const char *remote_addr;      /* client address, "127.0.0.1" */
    unsigned remote_port;
    const char *scheme;           /* "http" or "https" */
    const char *http_version;     /* "HTTP/1.1", "HTTP/2" */
    const char *pool;             /* name of the pool that routed the request */
    uint32_t timeout_ms;          /* time left before the supervisor answers 504 */
    const char *target;           /* the request target as the client sent it (encoded path and query) */
    void *user;                   /* free for the application; the SDK never touches it */
} uhw_req_t;

/* One Configure setting. */
typedef struct uhw_setting {
    const char *key;
    const char *value;
} uhw_setting_t;

/* Called once per request. `req` stays valid until it is finished (see above). */
typedef void (*uhw_handler_fn)(uhw_req_t *req, void *ctx);

typedef struct uhw_options {
    unsigned concurrency; /* requests in flight at once, announced in Ready; 0 → 1; more than 1
                           * suits handlers that never block (see above) */
    const char *info;     /* free text shown in the supervisor's logs and status; NULL → "" */
    /* A Cancel arrived for an open request: the client is gone, the request timed out
     * (the supervisor already answered 504) or the server is stopping. From now on
     * uhw_cancelled(req) is 1 and output for it is dropped; the application must still
     * finish it (typically here, or at its next step). NULL: just mark it. */
    void (*on_cancel)(uhw_req_t *req, int reason, void *ctx);
    /* A Configure frame arrived; `settings` is the whole new set (it replaces the old one)
     * and is valid during the call only (afterwards use uhw_setting()). */
    void (*on_configure)(const uhw_setting_t *settings, size_t n, void *ctx);
    /* Shutdown arrived (grace_ms as sent) or stdin reached EOF (grace_ms 0). No new
     * requests come; uhw_run() returns once no request is open. Called at most once. */
    void (*on_shutdown)(unsigned grace_ms, void *ctx);
} uhw_options_t;

/* ---------------------------------------------------------------- the loop */

/* uhw_run_opts with default options (concurrency 1). */
int uhw_run(uhw_handler_fn handler, void *ctx);

/* Sends Ready, then serves requests until Shutdown or EOF on stdin and no request is
 * open. Returns 0 then; -1 on a protocol error from the supervisor or an I/O error on
 * stdin (logged to stderr), or if stdin ended while requests are still open and nothing
 * (timer, watched fd) is left that could finish them. Open requests and pending timers
 * are freed before it returns. Call it once per process. */
int uhw_run_opts(const uhw_options_t *opts, uhw_handler_fn handler, void *ctx);

/* Announces a new concurrency (Capacity frame): 0 pauses the worker (it gets no new
 * requests), > 0 resumes. */
int uhw_set_capacity(unsigned concurrency);

/* Whether Shutdown or EOF has been seen (long streams may want to end early). */
int uhw_stopping(void);

/* Writes the output gathered so far now instead of at the end of the loop turn (see the
 * rules above). Exits like any write does when the supervisor is gone. */
void uhw_flush(void);

/* ---------------------------------------------------------------- reading requests */

/* The first header named `name` (ASCII case-insensitive) as a C string, or NULL. */
const char *uhw_header_get(const uhw_req_t *req, const char *name);

/* The value of the first query parameter named `name` (form-decoded: %XX and '+'),
 * copied NUL-terminated into buf; "" for a parameter without '='. Returns buf, or NULL
 * when absent (errno ENOENT) or when the value does not fit in bufsz (errno ERANGE). */
const char *uhw_query_param(const uhw_req_t *req, const char *name, char *buf, size_t bufsz);

/* Whether the request was cancelled (1) or not (0). */
int uhw_cancelled(const uhw_req_t *req);

/* ---------------------------------------------------------------- answering */

/* Finishes `req` with one Response frame and frees it. Header names are sent as given.
 * What the supervisor would refuse (killing the worker and failing all its requests) is
 * refused here instead: -1 EINVAL, nothing sent, the request stays open. That is a
 * status outside 200..599, a header name that is empty, not an HTTP token or hop-by-hop
 * (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE, Trailer, Upgrade),
 * a header value with CR, LF or NUL, or a stream already started. On a cancelled request
 * the frame is sent without headers or body (the supervisor drops it but frees the slot)
 * and 0 is returned. The whole frame must fit in the pool's max_frame (default 16 MiB):
 * stream larger bodies. */
int uhw_respond(uhw_req_t *req, unsigned status, const uhw_header_t *headers, size_t nheaders,
                const void *body, size_t len);

/* uhw_respond with one Content-Type header (NULL → "text/plain; charset=utf-8") and
 * `text` (NULL → empty) as the body. */
int uhw_respond_text(uhw_req_t *req, unsigned status, const char *content_type, const char *text);

/* Finishes `req` with a RequestFailed frame and frees it: what the worker ran for this
 * request (a child process, a CGI script) died or hung, while the worker itself is fine.
 * The supervisor treats the request as a victim, as if a worker had died: it answers
 * `status` (0 → 500; 504 for a timeout; anything outside 500..599 is refused: -1 EINVAL,
 * nothing sent), aborts a stream already started, logs the victim line and writes the
 * victims record. `reason` is "died", "exited" or "timeout" (NULL → "died"); exit_code
 * is the child's exit status or -1; `signal` the signal that killed it or 0; `pid` the
 * child's pid or 0; `detail` a human sentence such as "killed by SIGSEGV" (NULL → "").
 * Sent even on a cancelled request (the supervisor then only frees the slot). */
int uhw_fail(uhw_req_t *req, unsigned status, const char *reason, int exit_code, int signal, unsigned pid,
             const char *detail);

/* Starts a streamed response (StreamStart). Same header rules as uhw_respond; -1 EINVAL
 * if already started; -1 ECANCELED (nothing sent) on a cancelled request. */
int uhw_stream_start(uhw_req_t *req, unsigned status, const uhw_header_t *headers, size_t n);

/* Sends body bytes of a started stream (StreamData frames of at most 1 MiB each).
 * -1 EINVAL if not started, ECANCELED if cancelled (dropped). len 0 sends nothing. */
int uhw_stream_write(uhw_req_t *req, const void *data, size_t len);

/* Finishes a stream (StreamEnd) and frees `req`. `error` NULL or "" is a clean end; any
 * other text aborts the response so the client sees it truncated. On a request whose
 * stream was never started it sends an empty Response instead (200 on a clean end, 500
 * with an error). Always sent, even when cancelled (returns 0 then). */
int uhw_stream_end(uhw_req_t *req, const char *error);

/* Sends one Server-Sent Event: optional "event:" (event), "id:" (id) and "retry:"
 * (retry_ms > 0) lines, then one "data:" line per line of `data` (split at LF, CRLF or
 * CR; "" gives one empty data line; NULL gives none), then the blank line that ends the
 * event — all in one StreamData frame. Starts the stream first (200, Content-Type:
 * text/event-stream, Cache-Control: no-cache) if needed. event and id may not contain
 * CR or LF (-1 EINVAL). */
int uhw_sse_event(uhw_req_t *req, const char *event, const char *id, const char *data, unsigned retry_ms);

/* Sends an SSE comment line (": text") and a blank line, e.g. as a heartbeat that keeps
 * proxies from closing an idle stream. Starts the stream like uhw_sse_event. */
int uhw_sse_comment(uhw_req_t *req, const char *text);

/* Sends `json_text` and "\n" as one NDJSON line. Starts the stream first (200,
 * Content-Type: application/x-ndjson) if needed. The text is not parsed (the SDK does not
 * depend on a JSON library): the caller passes compact JSON; text containing CR or LF is
 * refused (-1 EINVAL). */
int uhw_ndjson(uhw_req_t *req, const char *json_text);

/* Sends KeepAlive at once (with any output gathered before it): resets the request's
 * timeout and the worker's stuck clock. A NULL req sends id 0 (the stuck clock only). */
int uhw_keepalive(uhw_req_t *req);

/* ---------------------------------------------------------------- logging */

/* Sends a Log frame (printf-style message) that the supervisor logs with the worker's
 * prefix at `level` (UHW_LOG_DEBUG..UHW_LOG_CRITICAL). Usable before uhw_run() too. */
void uhw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* uhw_log about one request (the Log frame carries its id). */
void uhw_log_req(const uhw_req_t *req, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- timers and fds */

typedef struct uhw_timer uhw_timer_t;
typedef struct uhw_watch uhw_watch_t;

/* Calls cb(arg) once, from the loop, after `ms` milliseconds (0: at the next turn of the
 * loop, after stdin has been looked at, so a Cancel is noticed between two turns).
 * Timers due at the same time run in the order they were set. The handle is valid until
 * the callback returns, the timer is cancelled or uhw_run() returns (pending timers are
 * then freed without running). NULL on ENOMEM. */
uhw_timer_t *uhw_after(unsigned ms, void (*cb)(void *arg), void *arg);

/* Cancels a pending timer (NULL, or a timer whose callback is running: no-op). */
void uhw_timer_cancel(uhw_timer_t *t);

/* Calls cb(fd, revents, arg) from the loop whenever poll() reports `events` (POLLIN,
 * POLLOUT) on fd, until uhw_unwatch(). Lets deferred requests wait on sockets, pipes...
 * Do not watch fd 0 or 1. The handle is valid until uhw_unwatch() or until uhw_run()
 * returns. NULL on ENOMEM or EINVAL. */
uhw_watch_t *uhw_watch(int fd, short events, void (*cb)(int fd, short revents, void *arg), void *arg);

/* Stops watching (also from inside its own callback). NULL: no-op. */
void uhw_unwatch(uhw_watch_t *w);

/* ---------------------------------------------------------------- settings */

/* The value of `key` in the latest Configure frame, or NULL. Valid until the next
 * Configure frame. */
const char *uhw_setting(const char *key);

#ifdef __cplusplus
}
#endif

#endif
