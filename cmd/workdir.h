/*
 * workdir.h — the private directory where the shell helpers leave files for the script:
 * the request body, and the bash fast path's request fields. Bodies carry passwords, so
 * nobody but the worker's user may read, create or replace a file there.
 *
 * Which directory:
 *  - $UHW_WORKER_DIR when set: uhw creates one per worker (mode 0700, owned by the worker's
 *    user) before spawning it and removes it after reaping it. Checked all the same: a
 *    directory, not a symlink, owned by our effective uid, no access for group or others.
 *  - otherwise (a worker run outside uhw): a new mkdtemp(${TMPDIR:-/tmp}/uhw-worker.XXXXXX),
 *    mode 0700, and workdir_t.created says so. Removing it is the caller's business:
 *    `uhw coproc` removes its own when it exits; `uhw recv` exits after each request, so it
 *    exports UHW_WORKER_DIR for the next calls to reuse, and whoever runs the worker outside
 *    uhw removes that directory.
 */
#ifndef UHW_WORKDIR_H
#define UHW_WORKDIR_H

#include <stddef.h>

typedef struct workdir {
    char *path;  /* absolute or as given in $UHW_WORKER_DIR; malloc'd */
    int created; /* 1: made by workdir_open (not from the environment) */
} workdir_t;

/* Finds or creates the directory (above). 0, or -1 after a message "uhw VERB: ..." on stderr. */
int workdir_open(workdir_t *w, const char *verb);

/* DIR/name, malloc'd; NULL on ENOMEM. */
char *workdir_path(const workdir_t *w, const char *name);

/* Opens `path` for writing, emptied: created 0600 if missing; refused unless it is a regular
 * file owned by us (not a symlink), so a file planted in a shared directory is never written
 * to, nor even truncated. The descriptor (close-on-exec), or -1 with errno (EPERM for a file
 * that is not ours). */
int workdir_create_file(const char *path);

/* Replaces the content of `path` with n bytes, through workdir_create_file. 0, or -1 with errno. */
int workdir_write_file(const char *path, const void *p, size_t n);

/* A file of the directory rewritten for every request (the coprocess's request and body),
 * kept open in between: a rewrite costs an lstat and a pwrite, where open, truncate and close
 * would cost several times more (on ext4, closing a file just truncated to 0 forces its data
 * to disk: auto_da_alloc). Reopened, checked as by workdir_create_file, when the script has
 * moved, removed or replaced it (`mv "$UHW_BODY_FILE" upload` keeps that body intact). */
typedef struct workdir_file {
    char *path; /* malloc'd */
    int fd;     /* -1 until the first write */
    unsigned long long dev, ino;
} workdir_file_t;

/* DIR/name, not opened yet; 0 or -1 on ENOMEM. */
int workdir_file_init(workdir_file_t *f, const workdir_t *w, const char *name);

/* Makes the file's content exactly these n bytes; 0, or -1 with errno. */
int workdir_file_put(workdir_file_t *f, const void *p, size_t n);

/* Closes the file, removes it if `remove`, frees `f`. */
void workdir_file_close(workdir_file_t *f, int remove);

/* Removes the files directly in the directory and the directory itself if workdir_open
 * created it; then frees `w`. */
void workdir_close(workdir_t *w);

#endif
