/*
 * main.c — build/sh/uhw, the `uhw` that shell workers run.
 *
 * uhw puts DIR/sh first on its workers' PATH, so each `uhw recv`, `uhw reply`... of a shell
 * worker execs this binary rather than the full uhw. It has the worker-side verbs only
 * (helpers.h) and links libc, libprotobuf-c and libjansson: no h2o, TLS, YAML or systemd
 * to load, which makes an exec several times cheaper. Any other verb (`uhw status` run from
 * a worker, `uhw help recv`) is handed to the full uhw with the same arguments.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

/* Where the full uhw is, relative to this binary's directory: in the build tree
 * (build/sh/uhw → build/uhw), then installed (PREFIX/lib/uhw/sh/uhw → PREFIX/bin/uhw). */
static const char *const FULL[] = {"/../uhw", "/../../../bin/uhw"};

static int exec_full(char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct stat me, st;
    if (n <= 0 || stat("/proc/self/exe", &me) != 0) {
        perror("uhw: /proc/self/exe");
        return 127;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    for (size_t i = 0; i < sizeof(FULL) / sizeof(FULL[0]); ++i) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s%s", self, FULL[i]);
        /* Never exec ourselves (a copy of the lean binary in the full one's place). */
        if (stat(path, &st) != 0 || (st.st_dev == me.st_dev && st.st_ino == me.st_ino) || access(path, X_OK) != 0)
            continue;
        execv(path, argv);
        perror(path);
        return 126;
    }
    fprintf(stderr, "uhw: '%s' is not a worker helper, and the full uhw is not at %s/..%s or %s%s\n",
            argv[1] != NULL ? argv[1] : "", self, "/uhw", self, FULL[1]);
    return 127;
}

int main(int argc, char **argv)
{
    const helper_verb_t *v = argc >= 2 ? helpers_find(argv[1]) : NULL;
    if (v != NULL)
        return v->run(&helper_stdio, argc - 1, argv + 1);
    return exec_full(argv);
}
