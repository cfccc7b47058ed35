/*
 * ctl.h — how the control verbs (status, ps, tail, reload, stop, restart, scale) reach a
 * running server: through the socket given with -s, or the one named by the `control` key
 * of CONFIG (default pools.yaml); one HTTP request on it (client.h); and the server's JSON
 * refusals, printed.
 */
#ifndef UHW_CTL_H
#define UHW_CTL_H

#include "client.h"

#define CTL_DEFAULT_CONFIG "pools.yaml"

/* [CONFIG | -s SOCKET]: at most one of them; neither means CTL_DEFAULT_CONFIG. */
typedef struct ctl_target {
    const char *socket;
    const char *config;
} ctl_target_t;

/* The long option every control verb takes; its short form is "s:". */
#define CTL_SOCKET_OPTION {"socket", required_argument, NULL, 's'}

/* Fills `t` from -s (or NULL) and the `nrest` arguments left after the verb's own: at most one
 * CONFIG, and not with -s. Returns 0, or CLI_USAGE after printing why. */
int ctl_target_set(ctl_target_t *t, const char *verb, const char *socket, int nrest, char **rest);

/* For a verb whose only option is -s: parses argv (after the verb) into `t`. Returns 0, or
 * CLI_USAGE after printing why. */
int ctl_target_parse(ctl_target_t *t, const char *verb, int argc, char **argv);

/* The socket to call (a string to free): -s as given, or CONFIG's `control`. NULL after
 * printing CONFIG's errors. */
char *ctl_socket(const ctl_target_t *t);

/* Prints why nobody answered on `sock` (nothing after Ctrl-C: res->interrupted) and returns
 * CLI_NO_SERVER. */
int ctl_no_server(const char *verb, const char *sock, const client_result_t *res);

/* Sends METHOD PATH (opts NULL: the defaults). Returns 0 when the server answered (see
 * res->status; free with client_result_free), or CLI_NO_SERVER after ctl_no_server. */
int ctl_call(const char *verb, const char *sock, const char *method, const char *path, const client_options_t *opts,
             client_result_t *res);

/* Prints the server's refusal, "uhw VERB: refused (HTTP N): ERROR: REASON", then each of its
 * "errors" on a line; returns CLI_FAILED. */
int ctl_refused(const char *verb, const client_result_t *res);

/* Whether `s` can be a pool's name ([a-z0-9_-]+, as pools.yaml requires): it then goes into a
 * URL path as it is. */
int ctl_pool_name_ok(const char *s);

#endif
