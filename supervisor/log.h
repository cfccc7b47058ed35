/*
 * log.h — the supervisor's log: one line per event on stderr.
 *
 *   2026-11-21T10:00:00.123Z ERROR [api#2 pid=123] message
 *
 * When stderr is journald's stream (JOURNAL_STREAM names its device:inode) lines carry a
 * "<N>" syslog priority prefix instead of the timestamp, so journald records the level. Each line is written
 * with one write(2) so lines from the supervisor never interleave mid-line.
 */
#ifndef UHW_LOG_H
#define UHW_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Same numbering as the protocol's Log.Level. */
typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARNING = 2,
    LOG_ERROR = 3,
    LOG_CRITICAL = 4,
} log_level_t;

/* Reads JOURNAL_STREAM and UHW_LOG_LEVEL (debug|info|warning|error|critical, default info). */
void log_init(void);
int log_enabled(log_level_t level);
const char *log_level_name(log_level_t level);
/* Parses "debug".."critical" (any case); returns -1 if unknown. */
int log_level_parse(const char *s);

/* Logs one line. `who` is the bracketed source ("api#2 pid=123") or NULL for the supervisor.
 * Newlines inside the message are replaced so one call is always one line. */
void log_msg(log_level_t level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Logs `len` bytes as they are (a worker's stderr line or Log message), made printable. */
void log_raw(log_level_t level, const char *who, const char *text, size_t len);

/* From now on (`uhw serve`), lines go through a bounded buffer that a writer thread drains to
 * stderr (sink.h): a slow or stuck reader of uhw's stderr never blocks the event loop; lines
 * that do not fit are dropped and counted. Before, lines are written directly. */
void log_start(void);
/* Writes out what is buffered (waiting 2 s at most) and writes directly again (before exiting). */
void log_flush(void);
/* SIGUSR1: when stderr was redirected to a file, opens that path again as fd 2 (after logrotate
 * moved the file). 1 reopened, 0 stderr is not a file, -1 failed (errno). */
int log_reopen(void);
/* Lines dropped because stderr was not read fast enough, since log_start. */
uint64_t log_dropped_total(void);
/* The sink the main log writes to (NULL before log_start): the access log shares it for "-". */
void *log_sink(void);

/* Writes a printable, quoted excerpt of [p, p+len) into out: at most `max` input bytes,
 * non-printable bytes as \xNN, "…" when cut. Returns out. */
char *log_excerpt(char *out, size_t outsz, const void *p, size_t len, size_t max);

#endif
