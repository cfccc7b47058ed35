/*
 * hello — the smallest uhw worker: every request gets 200 "hello\n" (text/plain).
 * Arguments are ignored, so it can stand in for any command line in a config.
 *
 * The handler answers at once and never blocks, so the worker announces a concurrency of
 * 64: it then takes every request the supervisor has queued for it in one read and
 * answers them in one write. A pool running it sets `concurrency:` (64) to let it.
 */
#include "libuhw.h"

static void handle(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    uhw_respond_text(req, 200, "text/plain", "hello\n");
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uhw_options_t o = {.concurrency = 64, .info = "hello (libuhw)"};
    return uhw_run_opts(&o, handle, NULL) == 0 ? 0 : 1;
}
