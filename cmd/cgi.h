/*
 * cgi.h — `uhw cgi`: a worker that runs unmodified CGI/1.1 scripts (RFC 3875), one
 * process per request, up to N at once, under uhw's supervision:
 *
 *     pools:
 *       - name: cgi
 *         command: [uhw, cgi, -c, 8, -p, /cgi-bin, -x, .php=php-cgi, ./cgi-bin]
 *         concurrency: 8
 *         routes: ...                          (the /cgi-bin prefix)
 *
 * Where a script comes from: cgi_map.h. Its environment: cgi_env.h. How it is started:
 * cgi_spawn.h. How its output is read: cgi_head.h. What happens when it fails: a script
 * killed by a signal, or past the request's timeout, is reported with a RequestFailed
 * frame (uhw answers 500/504 and writes the victims record); the worker stays up.
 */
#ifndef UHW_CGI_H
#define UHW_CGI_H

#define CGI_USAGE_ARGS "[-c N] [-p PREFIX] [-x .EXT=PROGRAM]... SCRIPT_OR_DIR"
#define CGI_USAGE_TEXT                                                                                              \
    "Worker command: runs unmodified CGI/1.1 scripts, one process per request, supervised.\n"                    \
    "A pool's command, e.g. command: [uhw, cgi, -c, 8, ./cgi-bin] with concurrency: 8.\n"                          \
    "  SCRIPT_OR_DIR     one script for every request, or a directory whose executable files\n"                     \
    "                    are the scripts (SCRIPT_NAME names the file, PATH_INFO is the rest)\n"                         \
    "  -c N              scripts running at once (default 1; the pool's concurrency caps it too)\n"                   \
    "  -p PREFIX         the URL path the scripts live under (default /), e.g. -p /cgi-bin\n"                         \
    "  -x .EXT=PROGRAM   run files ending in .EXT with PROGRAM FILE, e.g. -x .php=php-cgi\n"                          \
    "Scripts get the RFC 3875 environment, the body on stdin, the worker's stderr, and the pool's\n"                  \
    "timeout; one that crashes or hangs is killed and its request answered 500/504 with a victims\n"                  \
    "record. nph- scripts and paths leaving the directory are refused."

/* The verb: argv[0] is "cgi". Exit 0 after Shutdown or EOF, 1 on a protocol error, 2 on
 * bad usage (before Ready). */
int cmd_cgi(int argc, char **argv);

#endif
