/*
 * sink.c — see sink.h.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer waits for lines, sink_close for the writer */
    char *buf;              /* queued lines */
    size_t len, cap;
    uint64_t dropped;       /* since the last note */
    uint64_t dropped_total;
    int writing;            /* the writer holds a batch outside the lock */
    int fd;
    int own_fd;             /* opened by sink_reopen: close it when replaced */
    char *path;
    int started, stopping;
    pthread_t thread;
    size_t (*note)(char *buf, size_t sz, uint64_t dropped);
};

sink_t *sink_new(int fd, const char *path, size_t cap)
{
    sink_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->fd = fd;
    s->path = path != NULL ? strdup(path) : NULL;
    s->cap = cap;
    s->buf = malloc(cap);
    if (s->buf == NULL)
        abort();
    return s;
}

void sink_set_drop_note(sink_t *s, size_t (*note)(char *buf, size_t sz, uint64_t dropped))
{
    s->note = note;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n != 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return; /* a failed log write has nowhere to be reported */
        }
    }
}

static size_t plain_note(char *buf, size_t sz, uint64_t dropped)
{
    int n = snprintf(buf, sz, "uhw: %llu log line%s dropped: the log was not read fast enough\n",
                     (unsigned long long)dropped, dropped == 1 ? "" : "s");
    return n > 0 && (size_t)n < sz ? (size_t)n : 0;
}

/* The writer: takes every queued line at once and writes them outside the lock. */
static void *writer(void *arg)
{
    sink_t *s = arg;
    char *batch = malloc(s->cap);
    if (batch == NULL)
        abort();
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->len == 0 && s->dropped == 0 && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->len == 0 && s->dropped == 0 && s->stopping)
            break;
        size_t n = s->len;
        memcpy(batch, s->buf, n);
        s->len = 0;
        uint64_t dropped = s->dropped;
        s->dropped = 0;
        int fd = s->fd;
        s->writing = 1;
        pthread_mutex_unlock(&s->mu);
        write_all(fd, batch, n);
        if (dropped != 0) {
            char note[256];
            size_t k = (s->note != NULL ? s->note : plain_note)(note, sizeof(note), dropped);
            write_all(fd, note, k);
        }
        pthread_mutex_lock(&s->mu);
        s->writing = 0;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

void sink_write(sink_t *s, const char *line, size_t len)
{
    pthread_mutex_lock(&s->mu);
    if (!s->started) {
        s->started = pthread_create(&s->thread, NULL, writer, s) == 0;
        if (!s->started) { /* no thread: write here, as a last resort */
            pthread_mutex_unlock(&s->mu);
            write_all(s->fd, line, len);
            write_all(s->fd, "\n", 1);
            return;
        }
    }
    if (s->len + len + 1 > s->cap) {
        ++s->dropped;
        ++s->dropped_total;
    } else {
        memcpy(s->buf + s->len, line, len);
        s->buf[s->len + len] = '\n';
        s->len += len + 1;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

int sink_reopen(sink_t *s)
{
    if (s->path == NULL)
        return 0;
    int fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    while (s->writing) /* not while a batch is being written to the old descriptor */
        pthread_cond_wait(&s->cv, &s->mu);
    int old = s->fd, own = s->own_fd;
    s->fd = fd;
    s->own_fd = 1;
    pthread_mutex_unlock(&s->mu);
    if (own)
        close(old);
    return 1;
}

uint64_t sink_dropped(const sink_t *s)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    uint64_t n = s->dropped_total;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    return n;
}

void sink_close(sink_t *s, unsigned max_ms)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    int started = s->started;
    pthread_mutex_unlock(&s->mu);
    if (started) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += max_ms / 1000;
        until.tv_nsec += (long)(max_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_nsec -= 1000000000L;
            ++until.tv_sec;
        }
        if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
            pthread_detach(s->thread); /* stuck writing to a reader that never reads: leave it */
            return;                    /* (and its memory: it may still use it) */
        }
    }
    if (s->own_fd)
        close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->buf);
    free(s->path);
    free(s);
}
