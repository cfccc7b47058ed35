/*
 * ps.h — `uhw ps`: the running server's pools and workers as tables (ps_table.h), the
 * view supervisorctl status gives.
 */
#ifndef UHW_PS_H
#define UHW_PS_H

#define PS_USAGE_ARGS "[CONFIG | -s SOCKET]"
#define PS_USAGE_TEXT                                                                                              \
    "Prints the running server's pools and workers as tables.\n"                                                  \
    "Pools: state (running, starting, stopping, degraded), workers, ready, busy, queued\n"                       \
    "requests, requests served, restarts (total, and counted against max_restarts in\n"                           \
    "restart_window).\n"                                                                                           \
    "Workers, one row per process: pool, slot, pid, state (starting, ready, stopping, backoff,\n"                 \
    "exited; 'retiring' for a worker being replaced), uptime, requests, requests in flight,\n"                   \
    "restarts of its slot and its last exit (e.g. 'killed by SIGSEGV 2m ago').\n"                                 \
    "  CONFIG       find the server through CONFIG's control socket (default pools.yaml)\n"                       \
    "  -s SOCKET    or through this control socket\n"                                                             \
    "Colours (degraded in red) only when stdout is a terminal and NO_COLOR is not set.\n"                        \
    "uhw status prints the same as JSON. Exit: 0, 1 refused, 2 usage, 4 no server answers."

/* The verb: argv[0] is "ps". */
int cmd_ps(int argc, char **argv);

#endif
