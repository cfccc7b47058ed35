/*
 * fuzz_config.c — libFuzzer target for the pools.yaml loader (config_load_buffer).
 *
 * Any bytes: the loader must not crash, leak or misbehave under ASan/UBSan, whatever it
 * decides. When it accepts them, the dump (config_dump) must load again, be the same
 * configuration pool by pool (config_pool_diff), and dump to the same text: the round
 * trip `uhw check --dump` promises.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isupervisor \
 *       supervisor/config*.c test/fuzz/fuzz_config.c -lyaml -o build/fuzz/fuzz_config
 *   build/fuzz/fuzz_config -dict=test/fuzz/config.dict CORPUS_DIR test/fuzz/corpus/config
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* The file the bytes are read as: "/" makes every relative path in them the same everywhere. */
#define NAME "/fuzz.yaml"

static void die(const char *what, const cfg_errors_t *errs, const char *text)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    for (size_t i = 0; errs != NULL && i < errs->len; ++i)
        fprintf(stderr, "  %s\n", errs->items[i]);
    if (text != NULL)
        fprintf(stderr, "--- dump:\n%s---\n", text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load_buffer(NAME, (const char *)data, size, &errs);
    if (cfg == NULL) {
        if (errs.len == 0)
            die("refused without saying why", NULL, NULL);
        cfg_errors_free(&errs);
        return 0;
    }
    if (errs.len != 0)
        die("accepted with errors", &errs, NULL);
    char *text = config_dump(cfg, &errs);
    if (text == NULL)
        die("cannot dump what it accepted", &errs, NULL);
    uhw_config_t *again = config_load_buffer(NAME, text, strlen(text), &errs);
    if (again == NULL)
        die("the dump does not load", &errs, text);
    if (again->npools != cfg->npools || again->nlisten != cfg->nlisten)
        die("the dump has other pools or listeners", NULL, text);
    for (size_t i = 0; i < cfg->npools; ++i)
        if (config_pool_diff(&cfg->pools[i], &again->pools[i]) != 0)
            die("a pool of the dump differs", NULL, text);
    char *text2 = config_dump(again, &errs);
    if (text2 == NULL || strcmp(text, text2) != 0) {
        fprintf(stderr, "--- dump of the dump:\n%s", text2 != NULL ? text2 : "(none)\n");
        die("the dump of the dump differs", &errs, text);
    }
    free(text2);
    free(text);
    config_free(again);
    config_free(cfg);
    cfg_errors_free(&errs);
    return 0;
}
