/*
 * helpers.c — the table of worker-side verbs: names, usage texts, entry points; see helpers.h.
 */
#include "helpers.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const helper_io_t helper_stdio = {.in = STDIN_FILENO, .out = STDOUT_FILENO};

static const helper_verb_t VERBS[] = {
    {"ready", helper_ready, "announce the worker (once, after setup)",
     "usage: uhw ready [-c N] [-i INFO]\n"
     "Tells the supervisor that this worker is ready for requests (Ready frame).\n"
     "  -c N      requests in flight at once (default 1)\n"
     "  -i INFO   free text shown in the supervisor's logs and status\n"},
    {"recv", helper_recv, "read one request; prints sh code to eval",
     "usage: uhw recv\n"
     "Reads the next request from stdin and prints sh code that sets its variables:\n"
     "  uhw ready\n"
     "  while req=$(uhw recv); do eval \"$req\"; ...; uhw reply ...; done\n"
     "Variables (every value single-quoted, so no request byte can run code):\n"
     "  UHW_REQUEST_ID REQUEST_METHOD PATH_INFO QUERY_STRING CONTENT_TYPE CONTENT_LENGTH\n"
     "  REMOTE_ADDR REMOTE_PORT REQUEST_SCHEME SERVER_PROTOCOL UHW_TIMEOUT_MS UHW_BODY_FILE,\n"
     "  HTTP_<NAME> for every other header (upper case, - as _; repeated headers joined\n"
     "  with \", \"; dropped: Proxy, and names with characters other than letters, digits\n"
     "  and -, such as X_Forwarded_For), UHW_SETTING_<KEY> for the pool's settings.\n"
     "  HTTP_* variables of the previous request are unset.\n"
     "The body is written to the file $UHW_BODY_FILE: \"body\" in the worker's private\n"
     "directory $UHW_WORKER_DIR (mode 0700; uhw makes one per worker and removes it after the\n"
     "worker exits). Run outside uhw, the first call makes one with mkdtemp and exports\n"
     "UHW_WORKER_DIR; remove it when done. Exits 1 with no output at end of input or on Shutdown.\n"},
    {"reply", helper_reply, "answer a request",
     "usage: uhw reply [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE | -]\n"
     "Answers a request with one complete response (empty body when no BODY is given).\n"
     "  -i ID       request id (default $UHW_REQUEST_ID)\n"
     "  -s STATUS   HTTP status, 200..599 (default 200)\n"
     "  -t TYPE     Content-Type\n"
     "  -H 'N: V'   a response header (repeatable; no CR, LF, or hop-by-hop names)\n"
     "  -f FILE     body read from FILE;  -  body read from stdin\n"
     "Options come first; put -- before a BODY that starts with '-'.\n"},
    {"stream", helper_stream, "send a response in parts (start, data, end)",
     "usage: uhw stream start [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']...\n"
     "       uhw stream data [-i ID] [DATA | -f FILE | -]\n"
     "       uhw stream end [-i ID] [--error MSG]\n"
     "Streams a response: start (status, headers), any number of data, then end.\n"
     "--error MSG aborts the response, so the client sees it truncated.\n"},
    {"sse", helper_sse, "send one Server-Sent Event on a started stream",
     "usage: uhw sse [-i ID] [--event E] [--id I] [--retry MS] DATA | -f FILE | -\n"
     "Sends one event on a stream started with: uhw stream start -t text/event-stream\n"
     "Each line of DATA becomes a \"data:\" line; a blank line ends the event.\n"},
    {"ndjson", helper_ndjson, "send one JSON line on a started stream",
     "usage: uhw ndjson [-i ID] JSON | -\n"
     "Sends JSON (validated, whitespace removed) and a newline on a stream started with:\n"
     "  uhw stream start -t application/x-ndjson\n"
     "Invalid JSON: exit 2, nothing sent.\n"},
    {"log", helper_log, "log a line through the supervisor",
     "usage: uhw log LEVEL MESSAGE...\n"
     "Logs MESSAGE through the supervisor at LEVEL: debug, info, warning, error, critical.\n"
     "The line names the request $UHW_REQUEST_ID when it is set.\n"},
    {"keepalive", helper_keepalive, "reset a request's timeout",
     "usage: uhw keepalive [-i ID]\n"
     "Says a long request is still being worked on: resets its timeout and the worker's\n"
     "stuck clock.\n"},
    {"json", helper_json, "print a JSON object from KEY=VALUE arguments",
     "usage: uhw json [--] KEY=VALUE | KEY:=JSON ...\n"
     "Prints one JSON object (compact, on one line), correctly escaped whatever the values:\n"
     "  uhw reply -t application/json \"$(uhw json ok:=true path=\"$PATH_INFO\")\"\n"
     "  KEY=VALUE   VALUE as a JSON string (bytes that are not UTF-8 become U+FFFD)\n"
     "  KEY:=JSON   JSON as it is: a number, true, null, [..], {..} (invalid JSON: exit 2)\n"
     "In KEY, \\ takes the next character literally (a\\=b=1 is key \"a=b\"). Put -- before\n"
     "keys that start with '-'. A key given twice is an error.\n"},
    {"coproc", helper_coproc, "the helper process of uhw.sh (bash workers; not run by hand)",
     "usage: uhw coproc\n"
     "The one helper process of a bash worker that sources uhw.sh, which starts it as a\n"
     "coprocess: it holds the protocol pipes (fds 0 and 1), takes uhw.sh's commands on fd 3\n"
     "and answers on fd 4 (see cmd/fields.h). Not for use by hand.\n"},
};

const helper_verb_t *helpers_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(VERBS) / sizeof(VERBS[0]); ++i)
        if (strcmp(VERBS[i].name, name) == 0)
            return &VERBS[i];
    return NULL;
}

const char *helpers_usage(const char *verb)
{
    const helper_verb_t *v = helpers_find(verb);
    return v != NULL ? v->usage : NULL;
}

const char *helpers_summary(void)
{
    static char text[2048];
    if (text[0] == '\0') {
        size_t n = 0;
        for (size_t i = 0; i < sizeof(VERBS) / sizeof(VERBS[0]) && n < sizeof(text); ++i)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "  %-10s  %s\n", VERBS[i].name, VERBS[i].summary);
    }
    return text;
}

int cmd_ready(int argc, char **argv) { return helper_ready(&helper_stdio, argc, argv); }
int cmd_recv(int argc, char **argv) { return helper_recv(&helper_stdio, argc, argv); }
int cmd_reply(int argc, char **argv) { return helper_reply(&helper_stdio, argc, argv); }
int cmd_stream(int argc, char **argv) { return helper_stream(&helper_stdio, argc, argv); }
int cmd_sse(int argc, char **argv) { return helper_sse(&helper_stdio, argc, argv); }
int cmd_ndjson(int argc, char **argv) { return helper_ndjson(&helper_stdio, argc, argv); }
int cmd_log(int argc, char **argv) { return helper_log(&helper_stdio, argc, argv); }
int cmd_keepalive(int argc, char **argv) { return helper_keepalive(&helper_stdio, argc, argv); }
int cmd_json(int argc, char **argv) { return helper_json(&helper_stdio, argc, argv); }
int cmd_coproc(int argc, char **argv) { return helper_coproc(&helper_stdio, argc, argv); }
