/*
 * recv_print.h — what `uhw recv` prints: POSIX sh code that, evaluated, sets a request's
 * variables (reqvars.h) and nothing else. Every statement is one line of the form
 *
 *     unset NAME
 *     export NAME='value'        (value single-quoted by shquote.h; it may span lines)
 *
 * with NAME a valid shell variable name, so no byte of a request can run code.
 * Pure functions over memory: the fuzz target (test/fuzz/fuzz_recv.c) checks that grammar.
 */
#ifndef UHW_RECV_PRINT_H
#define UHW_RECV_PRINT_H

#include "frame.h"
#include "uhw.pb-c.h"

/* Appends the code for request `q`: first `unset` for every HTTP_* variable of `env` (a
 * NULL-terminated environment, normally environ: what the previous request exported) except
 * HTTP_PROXY, then the request's variables, then UHW_BODY_FILE=body_file. 0, or -1 on ENOMEM. */
int recv_print_request(frame_buf_t *out, const Uhw__V1__Request *q, const char *body_file, char *const *env);

/* Appends the code for a Configure: `unset` for every UHW_SETTING_* of `env`, then one
 * UHW_SETTING_<KEY> per setting. 0, or -1 on ENOMEM. */
int recv_print_settings(frame_buf_t *out, const Uhw__V1__Configure *c, char *const *env);

/* Appends `export NAME='value'` (name must be a valid variable name); 0, or -1 on ENOMEM. */
int recv_print_export(frame_buf_t *out, const char *name, const char *value);

#endif
