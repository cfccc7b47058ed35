/*
 * ctl_verbs.h — the control verbs that make one request and print its answer: status,
 * stop [--wait], restart POOL, scale POOL N. (reload: reload.h; ps: ps.h; tail: tail.h.)
 */
#ifndef UHW_CTL_VERBS_H
#define UHW_CTL_VERBS_H

#define CTL_TARGET_HELP                                                                                            \
    "  CONFIG         find the server through CONFIG's control socket (default pools.yaml)\n"                     \
    "  -s SOCKET      or through this control socket\n"

#define STATUS_USAGE_ARGS "[CONFIG | -s SOCKET] [--compact] [--pool NAME]"
#define STATUS_USAGE_TEXT                                                                                          \
    "Prints the running server's status as JSON.\n"                                                              \
    "Version, pid, uptime, listen addresses, counters, and each pool with its workers\n"                         \
    "(the fields: README, Operating uhw).\n"                                                                      \
    CTL_TARGET_HELP                                                                                                \
    "  --compact      on one line\n"                                                                               \
    "  --pool NAME    that pool's object only (exit 1 if there is no such pool)\n"                                \
    "uhw ps shows the same as tables. Exit: 0, 1 refused, 2 usage, 4 no server answers."

#define STOP_USAGE_ARGS "[--wait] [CONFIG | -s SOCKET]"
#define STOP_USAGE_TEXT                                                                                            \
    "Stops the running server gracefully; with --wait, waits until it has exited.\n"                            \
    "As SIGTERM does: the server stops accepting, lets requests in flight finish (up to\n"                       \
    "shutdown_timeout), then stops the workers.\n"                                                               \
    "  --wait         return only once the server has stopped its workers and removed its\n"                      \
    "                 control socket, with its exit code\n"                                                       \
    CTL_TARGET_HELP                                                                                                \
    "Exit: 0 (with --wait: the server's exit code; 1 if the connection drops before the server\n"                 \
    "said it), 1 refused, 2 usage, 4 no server answers."

#define RESTART_USAGE_ARGS "POOL [CONFIG | -s SOCKET]"
#define RESTART_USAGE_TEXT                                                                                         \
    "Replaces every worker of POOL one by one; brings a degraded pool back.\n"                                   \
    "Each new worker is ready before the one it replaces stops, so no request fails.\n"                          \
    CTL_TARGET_HELP                                                                                                \
    "Exit: 0, 1 refused (no such pool; the server is starting or stopping), 2 usage,\n"                          \
    "4 no server answers."

#define SCALE_USAGE_ARGS "POOL WORKERS [CONFIG | -s SOCKET]"
#define SCALE_USAGE_TEXT                                                                                           \
    "Sets the number of POOL's workers while it runs, until the next reload.\n"                                  \
    "WORKERS is 1 to 1024; like gunicorn's TTIN and TTOU, new slots start at once and slots\n"                  \
    "above WORKERS stop gracefully. uhw status and uhw ps show the new size. The file is not\n"                 \
    "changed: a reload returns to its workers.\n"                                                                 \
    CTL_TARGET_HELP                                                                                                \
    "Exit: 0, 1 refused (no such pool; the server is starting or stopping), 2 usage,\n"                          \
    "4 no server answers."

/* The verbs: argv[0] is the verb's name. */
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_scale(int argc, char **argv);

#endif
