/*
 * helper_args.h — the command line of a worker-side verb (uhw reply, uhw stream, ...):
 * POSIX-style options, numbers and request ids, the payload operand (BODY | -f FILE | -),
 * and the messages for bad usage and failures ("uhw VERB: ..." on stderr).
 *
 * Exit statuses, as every helper verb returns them: 0 done, 1 runtime failure, 2 bad usage.
 */
#ifndef UHW_HELPER_ARGS_H
#define UHW_HELPER_ARGS_H

#include <stdint.h>

#include "frame.h"
#include "helpers.h"

/* One option a verb accepts. Options come first; the first operand, "-" or "--" ends them.
 * Values are separate ("-s 404") or attached ("-s404", "--error=msg"). No global state,
 * unlike getopt, so the coprocess can parse many command lines. */
typedef struct helper_opt {
    int code;              /* returned by helper_next_opt when found; 0 ends the table */
    char short_name;       /* 0: long only */
    const char *long_name; /* NULL: short only */
    int has_arg;
} helper_opt_t;

enum { HOPT_END = 0, HOPT_ERR = -1, HOPT_HELP = 'h' };

/* The next option at argv[*ip] (advancing *ip past it and its value, set in *val), HOPT_END
 * at the first operand (*ip is then its index), or HOPT_ERR after a usage message. */
int helper_next_opt(int argc, char **argv, int *ip, const helper_opt_t *specs, const char **val, const char *verb);

/* Strict unsigned decimal no larger than max; 0, or -1. */
int helper_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* The request id from -i (opt), else $UHW_REQUEST_ID; 0 when neither and !required.
 * Returns 0, or 2 after a usage message. */
int helper_resolve_id(const char *verb, const char *opt, int required, uint64_t *id);

/* An HTTP status a worker may answer with (rules.h); 0, or 2 after a usage message. */
int helper_parse_status(const char *verb, const char *s, uint32_t *status);

/* Fills `out` from the operand argv[i] (text), FILE (-f) or io->in ("-"); the payload is
 * optional unless `required`. 0, 1 (I/O error) or 2 (usage), with a message. */
int helper_read_payload(const helper_io_t *io, const char *verb, const char *file, int argc, char **argv, int i,
                        int required, frame_buf_t *out);

/* --help: the verb's usage on io->out when that is a terminal, else on stderr (io->out is
 * usually the protocol pipe). Returns 0. */
int helper_show_usage(const helper_io_t *io, const char *verb);

/* "uhw VERB: message" and the usage line on stderr; returns 2. */
int helper_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "uhw VERB: message" on stderr; returns 1. */
int helper_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
