/*
 * accesslog.h — `access_log`: one line per request in h2o's combined format, written by a
 * sink's thread (never on the event loop). "-" shares uhw's own log stream (stderr, whatever
 * it is: a file, a pipe, journald's socket), so both interleave by whole lines; a path is a
 * file opened O_APPEND that SIGUSR1 reopens (logrotate).
 */
#ifndef UHW_ACCESSLOG_H
#define UHW_ACCESSLOG_H

#include <stddef.h>

#include <h2o.h>

typedef struct access_log access_log_t;

/* `target` is "-" or an absolute path. NULL with a message in err. */
access_log_t *access_log_open(const char *target, char *err, size_t errsz);
/* Logs every request handled under `pc`. */
void access_log_register(access_log_t *al, h2o_pathconf_t *pc);
/* Opens the file again: 1 reopened, 0 nothing to reopen ("-"), -1 failed (errno). */
int access_log_reopen(access_log_t *al);
/* After h2o's configuration is disposed of (its loggers point here). */
void access_log_close(access_log_t *al);

#endif
