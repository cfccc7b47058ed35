/*
 * reload.h — `uhw reload`: the server re-reads the file it was started with and answers
 * once the new configuration is applied, or refused with every error. A file that does
 * not load here is still sent to its server (found through its `control` key alone:
 * config_control_socket), so the server validates it, logs the refusal and says why —
 * as it does for SIGHUP.
 */
#ifndef UHW_RELOAD_H
#define UHW_RELOAD_H

#define RELOAD_USAGE_ARGS "[CONFIG | -s SOCKET]"
#define RELOAD_USAGE_TEXT                                                                                          \
    "Reloads the running server's configuration and prints what changed.\n"                                      \
    "As SIGHUP does, the server re-reads the file it was started with; this returns once the\n"                  \
    "new configuration is applied, and prints the changes: pools added, removed (they\n"                          \
    "finish their requests), replaced one worker at a time, resized, or sent new settings.\n"                    \
    "If the file has errors, the server keeps its configuration, logs the errors and this\n"                     \
    "prints them (FILE:LINE:COL: message).\n"                                                                      \
    "  CONFIG       find the server through CONFIG's control socket (default pools.yaml), even\n"                \
    "               when the rest of CONFIG is broken\n"                                                          \
    "  -s SOCKET    or through this control socket\n"                                                             \
    "listen, control, static and access_log need a restart: the reload says so.\n"                               \
    "Exit: 0 reloaded, 1 refused (the errors are printed), 2 usage, 4 no server answers."

/* The verb: argv[0] is "reload". */
int cmd_reload(int argc, char **argv);

#endif
