/*
 * replay.h — `uhw replay`: from a victims record back to the crash.
 *
 *   uhw replay victims.jsonl --last --to http://127.0.0.1:8080     resend it to a server
 *   uhw replay victims.jsonl --id 7 --exec -- build/workers/crash   feed it to a worker run alone
 *   uhw replay victims.jsonl --last --frame req.bin                 write the Request frame, for gdb
 *
 * Record parsing: victim_record.h. Running a worker alone: replay_exec.h.
 */
#ifndef UHW_REPLAY_H
#define UHW_REPLAY_H

#define REPLAY_USAGE_ARGS                                                                                          \
    "VICTIMS.jsonl [--id N | --last | --all] [--pool P] (--to URL | --exec -- COMMAND... | --frame FILE)\n"       \
    "       [--timeout DURATION] [--ready-timeout DURATION]"
#define REPLAY_USAGE_TEXT                                                                                          \
    "Replays requests recorded in a victims log (VICTIMS.jsonl, or - for stdin).\n"                              \
    "Which records: --id N (the request id in the victim log line), --last (default), --all;\n"                  \
    "  --pool P keeps only pool P's. How:\n"                                                                       \
    "  --to URL          resend each over HTTP/1.1 (http://host:port) and print what came back\n"                  \
    "  --exec -- CMD...  start CMD as a worker on its own (pipes, no server), send it the Request\n"               \
    "                    frame, report its answer, or its exit code or signal, and its stderr tail\n"              \
    "  --frame FILE      write the Request frame to FILE (run a worker under gdb with it on stdin)\n"              \
    "  --timeout D       how long an answer may take (default 30s); --ready-timeout D: Ready (10s)\n"              \
    "Redacted headers are not resent; a body cut at victims.max_body makes a partial replay\n"                    \
    "(both are said). Exit: 0 answered (--to: every status below 500), 1 the crash reproduced\n"                  \
    "(5xx; or the worker died, exited, failed the request, broke the protocol or timed out),\n"                  \
    "2 usage, 3 cannot replay (no such file or record, server unreachable, worker not started)."

/* The verb: argv[0] is "replay". */
int cmd_replay(int argc, char **argv);

#endif
