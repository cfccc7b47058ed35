/*
 * workerio.c — see workerio.h.
 *
 * Reads go straight into the worker's input buffer (the sockets are created with
 * H2O_SOCKET_FLAG_DONT_READ: h2o tells us the pipe is readable, we read). Writes are
 * plain non-blocking write(2)s, so the worker knows to the byte how much of its stdin
 * went into the pipe; h2o_socket_notify_write says when the pipe has room again.
 */
#include "workerio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#define READ_CHUNK 65536
#define READ_ROUNDS 8 /* chunks per readiness callback, so one chatty worker cannot starve the others */
#define DRAIN_ROUNDS 256 /* after the exit: bounded too, in case a child of the worker keeps writing */

typedef struct wio {
    worker_t *w;
    pid_t pid;
    h2o_socket_t *in, *out, *err, *execfail;
    int peek_fd;            /* read end of stdin, for FIONREAD */
    int want_write;         /* waiting for h2o_socket_notify_write */
    reaper_t *reaper;
    reaper_watch_t watch;
} wio_t;

static h2o_socket_t *wrap(h2o_loop_t *loop, int fd, wio_t *io)
{
    if (fd < 0)
        return NULL;
    h2o_socket_t *sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = io;
    return sock;
}

static void close_sock(h2o_socket_t **sock)
{
    if (*sock != NULL) {
        (*sock)->data = NULL; /* a callback h2o still delivers must not find us */
        h2o_socket_close(*sock);
        *sock = NULL;
    }
}

/* One read of up to `chunk` bytes into `b`: bytes read, 0 when nothing is available now,
 * -1 at EOF or on an error. */
static ssize_t read_some(int fd, frame_buf_t *b, size_t chunk)
{
    uint8_t *dst = frame_buf_reserve(b, chunk);
    if (dst == NULL)
        abort();
    for (;;) {
        ssize_t n = read(fd, dst, chunk);
        if (n > 0) {
            frame_buf_commit(b, (size_t)n);
            return n;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

/* Reads what is there (all of it when `all`, else a bounded amount). Returns 1 at EOF. */
static int read_stdout(wio_t *io, int all)
{
    int fd = h2o_socket_get_fd(io->out);
    frame_buf_t *b = worker_io_inbuf(io->w);
    for (int round = 0; round < (all ? DRAIN_ROUNDS : READ_ROUNDS); ++round) {
        ssize_t n = read_some(fd, b, READ_CHUNK);
        if (n > 0)
            continue;
        return n < 0;
    }
    return 0;
}

static void on_stdout(h2o_socket_t *sock, const char *err)
{
    (void)err;
    wio_t *io = sock->data;
    if (io == NULL)
        return;
    /* Everything available first, then the end, then the frames: a worker whose stdout ended
     * in this read is no longer given requests while its last answers are handled. */
    int eof = read_stdout(io, 0);
    if (eof) {
        close_sock(&io->out);
        worker_io_stdout_eof(io->w);
    }
    worker_io_stdout(io->w);
}

static void read_stderr(wio_t *io, int all)
{
    char buf[16384];
    int fd = h2o_socket_get_fd(io->err);
    for (int round = 0; round < (all ? DRAIN_ROUNDS : READ_ROUNDS); ++round) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            worker_io_stderr(io->w, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_sock(&io->err); /* EOF or error */
        worker_io_stderr_eof(io->w);
        return;
    }
}

static void on_stderr(h2o_socket_t *sock, const char *err)
{
    (void)err;
    wio_t *io = sock->data;
    if (io != NULL)
        read_stderr(io, 0);
}

static void read_execfail(wio_t *io)
{
    proc_execfail_t f;
    ssize_t n = read(h2o_socket_get_fd(io->execfail), &f, sizeof(f));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == (ssize_t)sizeof(f)) {
        char why[160];
        worker_io_exec_failed(io->w, proc_execfail_str(&f, why, sizeof(why)));
    }
    close_sock(&io->execfail); /* EOF: exec succeeded */
}

static void on_execfail(h2o_socket_t *sock, const char *err)
{
    (void)err;
    wio_t *io = sock->data;
    if (io != NULL)
        read_execfail(io);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    (void)err;
    wio_t *io = sock->data;
    if (io == NULL)
        return;
    io->want_write = 0;
    worker_io_writable(io->w);
}

/* The process ended: everything it wrote is in the pipes now (unless a child of it still holds
 * them): read it all, then tell the worker. */
static void on_reaped(reaper_watch_t *rw, int status)
{
    wio_t *io = H2O_STRUCT_FROM_MEMBER(wio_t, watch, rw);
    if (io->execfail != NULL)
        read_execfail(io);
    if (io->out != NULL) {
        read_stdout(io, 1);
        close_sock(&io->out);
    }
    if (io->err != NULL)
        read_stderr(io, 1);
    worker_io_reaped(io->w, status);
}

static void *wio_start(void *ctx, worker_t *w, const proc_spec_t *spec, pid_t *pid)
{
    workerio_ctx_t *c = ctx;
    proc_spec_t s = *spec;
    s.pipe_stdin = s.pipe_stdout = s.pipe_stderr = 1;
    s.peek_stdin = 1;
    proc_t p;
    if (proc_spawn(&s, &p) != 0)
        return NULL;
    wio_t *io = calloc(1, sizeof(*io));
    if (io == NULL)
        abort();
    io->w = w;
    io->pid = p.pid;
    io->peek_fd = p.in_peek_fd;
    io->in = wrap(c->loop, p.in_fd, io);
    io->out = wrap(c->loop, p.out_fd, io);
    io->err = wrap(c->loop, p.err_fd, io);
    io->execfail = wrap(c->loop, p.execfail_fd, io);
    h2o_socket_read_start(io->out, on_stdout);
    h2o_socket_read_start(io->err, on_stderr);
    h2o_socket_read_start(io->execfail, on_execfail);
    io->reaper = c->reaper;
    io->watch.pid = p.pid;
    io->watch.on_exit = on_reaped;
    reaper_watch(c->reaper, &io->watch);
    *pid = p.pid;
    return io;
}

static ssize_t wio_write(void *h, const uint8_t *p, size_t n)
{
    wio_t *io = h;
    if (io->in == NULL) {
        errno = EPIPE;
        return -1;
    }
    for (;;) {
        ssize_t r = write(h2o_socket_get_fd(io->in), p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static void wio_want_write(void *h)
{
    wio_t *io = h;
    if (io->in != NULL && !io->want_write) {
        io->want_write = 1;
        h2o_socket_notify_write(io->in, on_writable);
    }
}

static void wio_close_stdin(void *h)
{
    wio_t *io = h;
    io->want_write = 0;
    close_sock(&io->in); /* the worker reads EOF: finish and exit */
}

static void wio_read_stdout(void *h, int on)
{
    wio_t *io = h;
    if (io->out == NULL)
        return;
    if (on)
        h2o_socket_read_start(io->out, on_stdout);
    else
        h2o_socket_read_stop(io->out);
}

static size_t wio_stdin_unread(void *h)
{
    wio_t *io = h;
    int n = 0;
    if (io->peek_fd < 0 || ioctl(io->peek_fd, FIONREAD, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}

static void wio_signal(void *h, int sig)
{
    wio_t *io = h;
    /* The group outlives its leader while any member lives, and its id is not reused meanwhile. */
    if (io->pid > 0 && kill(-io->pid, sig) != 0 && errno != ESRCH)
        log_msg(LOG_WARNING, worker_who(io->w), "cannot signal process group: %s", strerror(errno));
}

static void wio_close(void *h)
{
    wio_t *io = h;
    reaper_forget(io->reaper, &io->watch);
    close_sock(&io->in);
    close_sock(&io->out);
    close_sock(&io->err);
    close_sock(&io->execfail);
    if (io->peek_fd >= 0)
        close(io->peek_fd);
    free(io);
}

const worker_io_ops_t workerio_ops = {
    .start = wio_start,
    .write = wio_write,
    .want_write = wio_want_write,
    .close_stdin = wio_close_stdin,
    .read_stdout = wio_read_stdout,
    .stdin_unread = wio_stdin_unread,
    .signal = wio_signal,
    .close = wio_close,
};
