/*
 * test_workdir.c — the helpers' private directory: made when uhw gave none and removed by
 * workdir_close; one from $UHW_WORKER_DIR used only when private; files written only when
 * they are our own regular files.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "workdir.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/uhw-test-workdir.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    unsetenv("UHW_WORKER_DIR");
    setenv("TMPDIR", tmpdir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("UHW_WORKER_DIR");
    unsetenv("TMPDIR");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_created_and_removed(void **state)
{
    (void)state;
    workdir_t w;
    assert_int_equal(workdir_open(&w, "test"), 0);
    assert_true(w.created);
    assert_int_equal(strncmp(w.path, tmpdir, strlen(tmpdir)), 0);
    struct stat st;
    assert_int_equal(lstat(w.path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    char *f = workdir_path(&w, "body");
    assert_int_equal(workdir_write_file(f, "abc\0def", 7), 0);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(workdir_write_file(f, "x", 1), 0); /* replaced, not appended */
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 1);
    char *dir = strdup(w.path);
    workdir_close(&w);
    assert_null(w.path);
    assert_int_equal(access(dir, F_OK), -1); /* gone, with its files */
    free(dir);
    free(f);
}

/* workdir_open refuses $UHW_WORKER_DIR and says why on stderr: capture what it says (so the
 * test run shows no stray lines) and check that it names the problem. */
static void expect_refused(workdir_t *w, const char *reason)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/stderr", tmpdir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    int rc = workdir_open(w, "test");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char got[1024];
    ssize_t n = pread(fd, got, sizeof(got) - 1, 0);
    close(fd);
    unlink(path);
    assert_int_equal(rc, -1);
    assert_true(n > 0);
    got[n] = '\0';
    if (strstr(got, reason) == NULL)
        fail_msg("expected \"%s\" in the message, got \"%s\"", reason, got);
}

static void test_from_env(void **state)
{
    (void)state;
    char dir[128], link[128];
    snprintf(dir, sizeof(dir), "%s/w", tmpdir);
    snprintf(link, sizeof(link), "%s/l", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    setenv("UHW_WORKER_DIR", dir, 1);
    workdir_t w;
    assert_int_equal(workdir_open(&w, "test"), 0);
    assert_false(w.created);
    assert_string_equal(w.path, dir);
    workdir_close(&w);
    assert_int_equal(access(dir, F_OK), 0); /* uhw's to remove, not ours */

    assert_int_equal(chmod(dir, 0750), 0);
    expect_refused(&w, "not a private directory (a directory, owner uid");
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(symlink(dir, link), 0);
    setenv("UHW_WORKER_DIR", link, 1);
    expect_refused(&w, "not a private directory (a symlink");
    setenv("UHW_WORKER_DIR", "/nonexistent/uhw", 1);
    expect_refused(&w, "UHW_WORKER_DIR=/nonexistent/uhw: No such file or directory");
    if (geteuid() == 0) {
        assert_int_equal(chown(dir, 65534, 65534), 0);
        setenv("UHW_WORKER_DIR", dir, 1);
        expect_refused(&w, "not a private directory (a directory, owner uid 65534");
    }
}

static void test_write_refusals(void **state)
{
    (void)state;
    char target[128], link[128], sub[128];
    snprintf(target, sizeof(target), "%s/target", tmpdir);
    snprintf(link, sizeof(link), "%s/link", tmpdir);
    snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
    int fd = open(target, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(workdir_write_file(link, "x", 1), -1); /* a planted symlink */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(workdir_write_file(sub, "x", 1), -1);
    errno = 0;
    if (geteuid() == 0) {
        fd = open(target, O_WRONLY | O_CLOEXEC);
        assert_int_equal(write(fd, "keep", 4), 4);
        close(fd);
        assert_int_equal(chown(target, 65534, 65534), 0);
        assert_int_equal(workdir_write_file(target, "x", 1), -1); /* someone else's file */
        assert_int_equal(errno, EPERM);
        struct stat st;
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_size, 4); /* not even truncated */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
