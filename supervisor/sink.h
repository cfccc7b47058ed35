/*
 * sink.h — where lines of text go without ever blocking the event loop: a bounded buffer
 * that a writer thread drains to a file descriptor. The main log (stderr) and the access log
 * are sinks.
 *
 * When whoever reads the descriptor is slow or stuck (a stalled journald, a pipe nobody
 * drains, a full disk), the buffer fills and new lines are dropped and counted, never waited
 * for; once the writer can write again it adds a line saying how many were dropped. Each line
 * is written whole (one write(2) per batch of whole lines), so lines never interleave.
 */
#ifndef UHW_SINK_H
#define UHW_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sink sink_t;

/* A sink writing to `fd` (it is not closed by the sink unless it was opened by sink_reopen).
 * `path`: the file behind fd, reopened by sink_reopen (NULL: not reopenable). `cap`: bytes of
 * lines it holds at most. The writer thread starts with the first line. */
sink_t *sink_new(int fd, const char *path, size_t cap);
/* Queues one line (without its newline, which the sink adds); drops it if the buffer is full.
 * `drop_note`: the line written in place of dropped ones is formatted by this function
 * (called on the writer thread with the count), or NULL for a plain note. */
void sink_write(sink_t *s, const char *line, size_t len);
void sink_set_drop_note(sink_t *s, size_t (*note)(char *buf, size_t sz, uint64_t dropped));
/* Opens the path again (O_APPEND, created 0640) and writes there from now on: after logrotate
 * moved the file. 1 reopened, 0 not reopenable, -1 failed (errno). */
int sink_reopen(sink_t *s);
/* Lines dropped since the start. */
uint64_t sink_dropped(const sink_t *s);
/* Writes what is queued (waiting at most `max_ms`), stops the thread and frees the sink. */
void sink_close(sink_t *s, unsigned max_ms);

#endif
