/*
 * victims.h — reporting the requests a dying worker owned: one ERROR log line,
 * one JSON line appended to victims.log, and the same line on the stdin of
 * victims.command (run asynchronously, killed after 10 s, failure logged).
 */
#ifndef UHW_VICTIMS_H
#define UHW_VICTIMS_H

#include <h2o.h>

#include "types.h"

struct exit_info;

typedef struct victims {
    int log_fd;          /* victims.log opened O_APPEND, or -1 */
    unsigned running;    /* victims.command processes still running */
} victims_t;

/* Opens victims.log (creating it 0640). Returns 0, or -1 with a message. */
int victims_open(server_t *srv, char *err, size_t errsz);
void victims_close(server_t *srv);
/* Reports request `r` (still attached to `req`) of worker `w`, answered with `status`. */
void victims_record(server_t *srv, worker_t *w, request_t *r, h2o_req_t *req, const struct exit_info *ei, int status);

#endif
