/*
 * helper_recv.c — `uhw recv`: reads ToWorker frames until a Request and prints sh code that
 * sets its variables (recv_print.h); the body goes to a file. See helpers.h.
 *
 * The shell loop and the helpers it runs share the worker's stdin frame by frame, so recv
 * reads exactly one frame at a time and never a byte past it (frame_read_fd), and never
 * through buffered stdio.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "helper_args.h"
#include "helpers.h"
#include "recv_print.h"
#include "workdir.h"
#include "uhw.pb-c.h"

extern char **environ;


/* Writes the body to $UHW_BODY_FILE if set (a previous call exported it, or the script
 * chose it), else to "body" in the private directory (workdir.h), and appends the code for
 * the request. 0, or 1 after a message. */
static int put_request(const char *verb, frame_buf_t *out, const Uhw__V1__Request *q)
{
    workdir_t dir = {0};
    char *body_file = NULL;
    const char *set = getenv("UHW_BODY_FILE");
    if (set != NULL && set[0] != '\0')
        body_file = strdup(set);
    else if (workdir_open(&dir, verb) == 0)
        body_file = workdir_path(&dir, "body");
    else
        return 1;
    if (body_file == NULL) {
        free(dir.path);
        return helper_fail(verb, "out of memory");
    }
    int ret = 0;
    if (workdir_write_file(body_file, q->body.data, q->body.len) != 0)
        ret = helper_fail(verb, "body file %s: %s", body_file,
                          errno == EPERM ? "not a regular file of ours: refused" : strerror(errno));
    else if (recv_print_request(out, q, body_file, environ) != 0 ||
             /* a directory we made: tell the script (and the next `uhw recv`) where it is */
             (dir.created && recv_print_export(out, "UHW_WORKER_DIR", dir.path) != 0))
        ret = helper_fail(verb, "out of memory");
    free(body_file);
    free(dir.path); /* kept on disk: see workdir.h */
    return ret;
}

int helper_recv(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'h', 'h', "help", 0}, {0}};
    const char *verb = "recv", *val = NULL;
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        return helper_show_usage(io, verb);
    }
    if (i < argc)
        return helper_usage_error(verb, "unexpected argument '%s'", argv[i]);
    frame_buf_t in, out;
    frame_buf_init(&in);
    frame_buf_init(&out);
    size_t max_frame = frame_max_from_env(); /* what uhw would send at most */
    int ret = -1;
    while (ret < 0) {
        frame_status_t st = frame_read_fd(io->in, &in, max_frame);
        if (st == FRAME_NEED_MORE) { /* clean end of input: the loop is over */
            ret = 1;
            break;
        }
        if (st != FRAME_OK) {
            ret = helper_fail(verb, "protocol error on stdin: %s%s%s", frame_status_str(st),
                              st == FRAME_IO_ERROR ? ": " : "", st == FRAME_IO_ERROR ? strerror(errno) : "");
            break;
        }
        Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, frame_buf_size(&in), frame_buf_bytes(&in));
        if (m == NULL) {
            ret = helper_fail(verb, "protocol error on stdin: a frame does not decode");
            break;
        }
        switch (m->msg_case) {
        case UHW__V1__TO_WORKER__MSG_REQUEST:
            ret = put_request(verb, &out, m->request);
            break;
        case UHW__V1__TO_WORKER__MSG_CANCEL:
            fprintf(stderr, "uhw recv: skipped Cancel for request %" PRIu64 " (a shell worker cannot stop a request)\n",
                    m->cancel->id);
            break;
        case UHW__V1__TO_WORKER__MSG_SHUTDOWN:
            ret = 1;
            break;
        case UHW__V1__TO_WORKER__MSG_CONFIGURE:
            if (recv_print_settings(&out, m->configure, environ) != 0)
                ret = helper_fail(verb, "out of memory");
            break;
        default:
            break; /* newer protocol: ignored */
        }
        uhw__v1__to_worker__free_unpacked(m, NULL);
    }
    /* Output only for a whole request, all at once. */
    if (ret == 0 && frame_write_all(io->out, frame_buf_bytes(&out), frame_buf_size(&out)) != 0)
        ret = helper_fail(verb, "writing stdout: %s", strerror(errno));
    frame_buf_free(&in);
    frame_buf_free(&out);
    return ret;
}
