/*
 * hello — the smallest uhw worker: every request gets 200 "hello\n" (text/plain).
 * Arguments are ignored, so it can stand in for any command line in a config.
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
    uhw_options_t o = {.concurrency = 1, .info = "hello (libuhw)"};
    return uhw_run_opts(&o, handle, NULL) == 0 ? 0 : 1;
}
