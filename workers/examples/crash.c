/*
 * crash — misbehaves on request, to exercise the supervisor's failure handling.
 *
 *   /crash        segfaults (a real write to an invalid address)
 *   /exit         exits with status 1
 *   /hang         never answers: sleeps forever, sends no frame, burns no CPU
 *   /garbage      writes bytes that are not a frame to stdout, then answers normally
 *   /slow?ms=N    answers 200 after a blocking sleep of N ms (concurrency is 1)
 *   anything else 200 "ok\n"
 *
 * Each request is logged to stderr as one line.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libuhw.h"

static void sleep_ms(unsigned long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void handle(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "crash: %s %s%s%s\n", req->method, req->path, req->query[0] != '\0' ? "?" : "", req->query);
    if (strcmp(req->path, "/crash") == 0) {
        /* Sanitizer builds catch SIGSEGV and exit(1): restore the default so the
         * supervisor sees a real SIGSEGV in every build. */
        signal(SIGSEGV, SIG_DFL);
        volatile uintptr_t addr = 16; /* in the unmapped page 0; volatile so it is not folded */
        *(volatile int *)addr = 42;
        abort(); /* not reached */
    }
    if (strcmp(req->path, "/exit") == 0)
        exit(1);
    if (strcmp(req->path, "/hang") == 0) {
        for (;;)
            sleep(60);
    }
    if (strcmp(req->path, "/garbage") == 0) {
        static const char junk[] = "hello world, this is not a frame\n";
        if (write(STDOUT_FILENO, junk, sizeof(junk) - 1) < 0)
            exit(1);
    }
    if (strcmp(req->path, "/slow") == 0) {
        char buf[32];
        const char *ms = uhw_query_param(req, "ms", buf, sizeof(buf));
        unsigned long n = ms != NULL ? strtoul(ms, NULL, 10) : 1000;
        sleep_ms(n);
        char text[64];
        snprintf(text, sizeof(text), "slept %lu ms\n", n);
        uhw_respond_text(req, 200, "text/plain", text);
        return;
    }
    uhw_respond_text(req, 200, "text/plain", "ok\n");
}

int main(void)
{
    uhw_options_t o = {.concurrency = 1, .info = "crash (libuhw)"};
    return uhw_run_opts(&o, handle, NULL) == 0 ? 0 : 1;
}
