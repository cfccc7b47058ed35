/*
 * accesslog.c — see accesslog.h.
 */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sink.h"

#define ACCESS_BUFFER ((size_t)1 << 20)
/* Apache's "combined" format, as h2o's access-log directive writes it */
#define COMBINED "%h %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-agent}i\""

struct access_log {
    h2o_logconf_t *conf;
    sink_t *sink;
    int own_sink; /* a file of its own; else uhw's log stream */
};

typedef struct logger {
    h2o_logger_t super;
    access_log_t *al;
} logger_t;

access_log_t *access_log_open(const char *target, char *err, size_t errsz)
{
    char errbuf[256] = "";
    access_log_t *al = calloc(1, sizeof(*al));
    if (al == NULL)
        abort();
    if ((al->conf = h2o_logconf_compile(COMBINED, H2O_LOGCONF_ESCAPE_APACHE, errbuf)) == NULL) {
        snprintf(err, errsz, "access_log: %s", errbuf);
        free(al);
        return NULL;
    }
    if (strcmp(target, "-") == 0) {
        al->sink = log_sink();
        if (al->sink == NULL) { /* the log writes directly: so do we, through a sink on fd 2 */
            al->sink = sink_new(STDERR_FILENO, NULL, ACCESS_BUFFER);
            al->own_sink = 1;
        }
        return al;
    }
    int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open access_log %s: %s", target, strerror(errno));
        h2o_logconf_dispose(al->conf);
        free(al);
        return NULL;
    }
    al->sink = sink_new(fd, target, ACCESS_BUFFER);
    al->own_sink = 1;
    /* the first fd is the sink's to close from now on: sink_reopen replaces it */
    sink_reopen(al->sink);
    close(fd);
    return al;
}

static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    access_log_t *al = ((logger_t *)self)->al;
    char buf[4096];
    size_t len = sizeof(buf);
    char *line = h2o_log_request(al->conf, req, &len, buf);
    while (len != 0 && line[len - 1] == '\n')
        --len;
    sink_write(al->sink, line, len);
    if (line != buf)
        free(line);
}

void access_log_register(access_log_t *al, h2o_pathconf_t *pc)
{
    logger_t *lg = (logger_t *)h2o_create_logger(pc, sizeof(*lg));
    lg->super.log_access = log_access;
    lg->al = al;
}

int access_log_reopen(access_log_t *al)
{
    return al != NULL && al->own_sink ? sink_reopen(al->sink) : 0;
}

void access_log_close(access_log_t *al)
{
    if (al == NULL)
        return;
    if (al->own_sink)
        sink_close(al->sink, 2000);
    h2o_logconf_dispose(al->conf);
    free(al);
}
