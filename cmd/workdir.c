/*
 * workdir.c — the helpers' private directory; see workdir.h.
 */
#include "workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int private_dir(const char *path, const char *verb)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        fprintf(stderr, "uhw %s: UHW_WORKER_DIR=%s: %s\n", verb, path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        fprintf(stderr,
                "uhw %s: UHW_WORKER_DIR=%s is not a private directory (%s, owner uid %u, mode %03o; "
                "expected a directory of uid %u with mode 0700): no request body is written there\n",
                verb, path, S_ISLNK(st.st_mode) ? "a symlink" : S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
                (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int workdir_open(workdir_t *w, const char *verb)
{
    w->path = NULL;
    w->created = 0;
    const char *env = getenv("UHW_WORKER_DIR");
    if (env != NULL && env[0] != '\0') {
        if (private_dir(env, verb) != 0)
            return -1;
        w->path = strdup(env);
    } else {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || tmp[0] == '\0')
            tmp = "/tmp";
        if (asprintf(&w->path, "%s/uhw-worker.XXXXXX", tmp) < 0) {
            w->path = NULL;
        } else if (mkdtemp(w->path) == NULL) { /* mode 0700, a new name: nothing planted */
            fprintf(stderr, "uhw %s: cannot create a private directory %s: %s\n", verb, w->path, strerror(errno));
            free(w->path);
            w->path = NULL;
            return -1;
        }
        w->created = 1;
    }
    if (w->path == NULL) {
        fprintf(stderr, "uhw %s: out of memory\n", verb);
        return -1;
    }
    return 0;
}

char *workdir_path(const workdir_t *w, const char *name)
{
    char *p;
    return asprintf(&p, "%s/%s", w->path, name) < 0 ? NULL : p;
}

int workdir_create_file(const char *path)
{
    /* No O_TRUNC before the owner check: truncating someone else's file is harm enough. */
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))
        errno = EPERM;
    else if (ftruncate(fd, 0) == 0)
        return fd;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int workdir_write_file(const char *path, const void *p, size_t n)
{
    int fd = workdir_create_file(path);
    if (fd < 0)
        return -1;
    const uint8_t *s = p;
    int ret = 0;
    while (n != 0 && ret == 0) {
        ssize_t k = write(fd, s, n);
        if (k > 0) {
            s += k;
            n -= (size_t)k;
        } else if (!(k < 0 && errno == EINTR)) {
            ret = -1;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return ret;
}

int workdir_file_init(workdir_file_t *f, const workdir_t *w, const char *name)
{
    f->fd = -1;
    f->dev = f->ino = 0;
    f->path = workdir_path(w, name);
    return f->path != NULL ? 0 : -1;
}

int workdir_file_put(workdir_file_t *f, const void *p, size_t n)
{
    struct stat st;
    int have = f->fd >= 0 && lstat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino;
    if (!have) {
        if (f->fd >= 0)
            close(f->fd);
        if ((f->fd = workdir_create_file(f->path)) < 0 || fstat(f->fd, &st) != 0)
            return -1;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
    }
    const uint8_t *s = p;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(f->fd, s + done, n - done, (off_t)done);
        if (k > 0)
            done += (size_t)k;
        else if (!(k < 0 && errno == EINTR))
            return -1;
    }
    /* Shorter than before (or than what the script appended): cut the rest. */
    return (off_t)n < st.st_size && ftruncate(f->fd, (off_t)n) != 0 ? -1 : 0;
}

void workdir_file_close(workdir_file_t *f, int remove)
{
    if (f->fd >= 0)
        close(f->fd);
    if (remove && f->path != NULL)
        (void)unlink(f->path);
    free(f->path);
    f->path = NULL;
    f->fd = -1;
}

void workdir_close(workdir_t *w)
{
    if (w->path != NULL && w->created) {
        DIR *d = opendir(w->path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                    (void)unlinkat(dirfd(d), e->d_name, 0);
            closedir(d);
        }
        if (rmdir(w->path) != 0)
            fprintf(stderr, "uhw: could not remove %s: %s\n", w->path, strerror(errno));
    }
    free(w->path);
    w->path = NULL;
    w->created = 0;
}
