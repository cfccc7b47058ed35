/*
 * test_cgi_map.c — which script a request path runs (cmd/cgi_map.c), on a real directory
 * made in a temporary place: SCRIPT_NAME/PATH_INFO splitting, the prefix, paths as the
 * supervisor sends them (already decoded), traversal ('..', '.'), control characters, symlinks out of the directory, nph- and non-executable
 * files, -x interpreters, and the one-script mode.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgi_map.h"

static char root[256]; /* the temporary directory (resolved; short, so paths under it fit) */
static char outside[PATH_MAX];

static void put_file(const char *rel, int mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    assert_int_equal(chmod(p, (mode_t)mode), 0);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/uhw-cgi-map-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char real[PATH_MAX];
    assert_non_null(realpath(tmpl, real));
    assert_true(strlen(real) < sizeof(root));
    strcpy(root, real);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/cgi-bin", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/cgi-bin/tools", root);
    assert_int_equal(mkdir(p, 0755), 0);
    put_file("cgi-bin/hello.sh", 0755);
    put_file("cgi-bin/tools/env.sh", 0755);
    put_file("cgi-bin/page.php", 0644); /* not executable: runs through -x .php=... */
    put_file("cgi-bin/data.txt", 0644);
    put_file("cgi-bin/nph-raw.sh", 0755);
    put_file("secret.sh", 0755);         /* outside cgi-bin */
    snprintf(outside, sizeof(outside), "%s/secret.sh", root);
    snprintf(p, sizeof(p), "%s/cgi-bin/escape.sh", root);
    assert_int_equal(symlink(outside, p), 0);
    snprintf(p, sizeof(p), "%s/cgi-bin/alias.sh", root);
    assert_int_equal(symlink("hello.sh", p), 0); /* inside: fine */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"cgi-bin/hello.sh", "cgi-bin/tools/env.sh", "cgi-bin/page.php",
                                        "cgi-bin/data.txt", "cgi-bin/nph-raw.sh",   "cgi-bin/escape.sh",
                                        "cgi-bin/alias.sh", "secret.sh",            NULL};
    char p[PATH_MAX];
    for (size_t i = 0; files[i] != NULL; ++i) {
        snprintf(p, sizeof(p), "%s/%s", root, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/cgi-bin/tools", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/cgi-bin", root);
    rmdir(p);
    rmdir(root);
    return 0;
}

static void init_dir(cgi_map_t *m, const char *prefix)
{
    char dir[PATH_MAX], err[512];
    snprintf(dir, sizeof(dir), "%s/cgi-bin", root);
    char *x[] = {".php=sh -e"}; /* any interpreter on PATH will do */
    if (cgi_map_init(m, dir, prefix, x, 1, err, sizeof(err)) != 0)
        fail_msg("cgi_map_init: %s", err);
}

static void test_directory_mapping(void **state)
{
    (void)state;
    cgi_map_t m;
    init_dir(&m, "/cgi-bin/");
    cgi_target_t t;
    const char *why = NULL;
    char want[PATH_MAX];

    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/hello.sh", &t, &why), 0);
    snprintf(want, sizeof(want), "%s/cgi-bin/hello.sh", root);
    assert_string_equal(t.filename, want);
    snprintf(want, sizeof(want), "%s/cgi-bin", root);
    assert_string_equal(t.dir, want);
    assert_string_equal(t.script_name, "/cgi-bin/hello.sh");
    assert_string_equal(t.path_info, "");
    assert_null(t.interp);
    cgi_target_free(&t);

    /* PATH_INFO: everything after the segment that names the file, as received (the
     * supervisor decoded it; a '%' left in it is a literal '%', not decoded twice). */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/tools/env.sh/a b/c%20/", &t, &why), 0);
    assert_string_equal(t.script_name, "/cgi-bin/tools/env.sh");
    assert_string_equal(t.path_info, "/a b/c%20/");
    cgi_target_free(&t);

    /* An extension mapped with -x runs through its interpreter, executable or not. */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/page.php", &t, &why), 0);
    assert_non_null(t.interp);
    assert_string_equal(t.interp->ext, ".php");
    assert_int_equal(t.interp->argc, 2);
    assert_true(t.interp->argv[0][0] == '/'); /* resolved on PATH once */
    assert_string_equal(t.interp->argv[1], "-e");
    cgi_target_free(&t);

    /* A symlink that stays inside is followed; SCRIPT_FILENAME is where it leads. */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/alias.sh", &t, &why), 0);
    snprintf(want, sizeof(want), "%s/cgi-bin/hello.sh", root);
    assert_string_equal(t.filename, want);
    assert_string_equal(t.script_name, "/cgi-bin/alias.sh");
    cgi_target_free(&t);
    cgi_map_free(&m);
}

static void test_refusals(void **state)
{
    (void)state;
    cgi_map_t m;
    init_dir(&m, "/cgi-bin");
    cgi_target_t t;
    const char *why = NULL;
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/nope.sh", &t, &why), 404);
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/tools", &t, &why), 404);   /* a directory */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/", &t, &why), 404);
    assert_int_equal(cgi_map_resolve(&m, "/other/hello.sh", &t, &why), 404);  /* outside the prefix */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-binx/hello.sh", &t, &why), 404);
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/../secret.sh", &t, &why), 403);
    assert_non_null(strstr(why, "traversal"));
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/tools/../../secret.sh", &t, &why), 403);
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/%2e%2e/secret.sh", &t, &why), 404); /* a literal name */
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/./hello.sh", &t, &why), 403);
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/hello.sh\n.txt", &t, &why), 400);
    assert_non_null(strstr(why, "control"));
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/bad\x7f", &t, &why), 400);
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/escape.sh", &t, &why), 403);
    assert_non_null(strstr(why, "symlink"));
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/nph-raw.sh", &t, &why), 501);
    assert_non_null(strstr(why, "nph-"));
    assert_int_equal(cgi_map_resolve(&m, "/cgi-bin/data.txt", &t, &why), 403);
    assert_non_null(strstr(why, "not executable"));
    cgi_map_free(&m);
}

static void test_one_script(void **state)
{
    (void)state;
    char script[PATH_MAX], err[512];
    snprintf(script, sizeof(script), "%s/cgi-bin/hello.sh", root);
    cgi_map_t m;
    assert_int_equal(cgi_map_init(&m, script, NULL, NULL, 0, err, sizeof(err)), 0);
    cgi_target_t t;
    const char *why;
    assert_int_equal(cgi_map_resolve(&m, "/any/path!", &t, &why), 0);
    assert_string_equal(t.filename, script);
    assert_string_equal(t.script_name, "");
    assert_string_equal(t.path_info, "/any/path!");
    cgi_target_free(&t);
    assert_int_equal(cgi_map_resolve(&m, "/a/../b", &t, &why), 403);
    cgi_map_free(&m);

    assert_int_equal(cgi_map_init(&m, script, "/app", NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(cgi_map_resolve(&m, "/app/x", &t, &why), 0);
    assert_string_equal(t.script_name, "/app");
    assert_string_equal(t.path_info, "/x");
    cgi_target_free(&t);
    assert_int_equal(cgi_map_resolve(&m, "/app", &t, &why), 0);
    assert_string_equal(t.path_info, "");
    cgi_target_free(&t);
    assert_int_equal(cgi_map_resolve(&m, "/elsewhere", &t, &why), 404);
    cgi_map_free(&m);
}

static void test_bad_setup(void **state)
{
    (void)state;
    char p[PATH_MAX], err[512];
    cgi_map_t m;
    snprintf(p, sizeof(p), "%s/cgi-bin/nph-raw.sh", root);
    assert_int_equal(cgi_map_init(&m, p, NULL, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nph-"));
    snprintf(p, sizeof(p), "%s/cgi-bin/data.txt", root);
    assert_int_equal(cgi_map_init(&m, p, NULL, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not executable"));
    snprintf(p, sizeof(p), "%s/no-such-dir", root);
    assert_int_equal(cgi_map_init(&m, p, NULL, NULL, 0, err, sizeof(err)), -1);
    snprintf(p, sizeof(p), "%s/cgi-bin", root);
    char *missing[] = {".php=no-such-interpreter-anywhere"};
    assert_int_equal(cgi_map_init(&m, p, NULL, missing, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not found on PATH"));
    char *malformed[] = {"php=php-cgi"};
    assert_int_equal(cgi_map_init(&m, p, NULL, malformed, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ".EXT=PROGRAM"));
    assert_int_equal(cgi_map_init(&m, p, "relative", NULL, 0, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory_mapping),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_one_script),
        cmocka_unit_test(test_bad_setup),
    };
    return cmocka_run_group_tests_name("cgi_map", tests, setup, teardown);
}
