/*
 * tail.h — `uhw tail`: the last lines a pool's workers wrote on stderr, kept by the
 * server, and with -f the lines they write next, streamed as they come (GET
 * /pools/NAME/tail on the control socket).
 */
#ifndef UHW_TAIL_H
#define UHW_TAIL_H

#define TAIL_USAGE_ARGS "POOL[#SLOT] [-n LINES] [-f] [CONFIG | -s SOCKET]"
#define TAIL_USAGE_TEXT                                                                                            \
    "Prints the last lines a pool's workers wrote on stderr; -f follows them.\n"                                 \
    "Lines of POOL's workers, or of its slot SLOT only, as '[pool#slot pid=N] line' (the\n"                     \
    "server keeps them; its log has them too).\n"                                                                 \
    "  -n LINES     lines per worker (default 10)\n"                                                              \
    "  -f           follow: then print each new line as the workers write it, until Ctrl-C\n"                    \
    "               (exit 0) or the pool goes away; replaced workers are followed too\n"                          \
    "  CONFIG       find the server through CONFIG's control socket (default pools.yaml)\n"                       \
    "  -s SOCKET    or through this control socket\n"                                                             \
    "Exit: 0, 1 no such pool or slot (the server's message) or the connection broke,\n"                          \
    "2 usage, 4 no server answers."

/* The verb: argv[0] is "tail". */
int cmd_tail(int argc, char **argv);

#endif
