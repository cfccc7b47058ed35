/*
 * cgi_map.h — which CGI script a request path runs (`uhw cgi SCRIPT_OR_DIR`).
 *
 * One script: every request under PREFIX runs it; SCRIPT_NAME is PREFIX and PATH_INFO the
 * rest of the path. A directory (a cgi-bin): the path under PREFIX is walked segment by
 * segment until one names a file; SCRIPT_NAME is the path up to and including that
 * segment, PATH_INFO the rest:
 *
 *     /cgi-bin/tools/env.sh/a/b  with PREFIX /cgi-bin, DIR ./cgi-bin
 *       → SCRIPT_FILENAME /abs/cgi-bin/tools/env.sh, SCRIPT_NAME /cgi-bin/tools/env.sh,
 *         PATH_INFO /a/b
 *
 * The path arrives decoded (the supervisor percent-decodes Request.path; CGI variables
 * are not URL-encoded), and nothing outside DIR can be reached: "." and ".." segments
 * and control characters are refused, and the file
 * found is resolved (realpath) and must still lie under DIR — a symlink pointing out is
 * refused too. Files named nph-* are refused: their output is raw HTTP, which uhw does
 * not pass through. A file runs through its shebang (it must be executable), or through
 * the interpreter mapped to its extension (`-x .php=php-cgi`: argv = php-cgi FILE).
 */
#ifndef UHW_CGI_MAP_H
#define UHW_CGI_MAP_H

#include <stddef.h>

#define CGI_MAP_MAX_INTERPS 16
#define CGI_MAP_MAX_ARGS 16     /* interpreter + its arguments */

typedef struct cgi_interp {
    char *ext;     /* ".php" */
    char **argv;   /* the interpreter, absolute (resolved on PATH once), then its arguments */
    size_t argc;
} cgi_interp_t;

typedef struct cgi_map {
    char *root;        /* realpath of DIR, or of the script's directory: DOCUMENT_ROOT */
    char *script;      /* one-script mode: realpath of the script; NULL for a directory */
    char *prefix;      /* URL prefix without a trailing '/': "" or "/cgi-bin" */
    cgi_interp_t interps[CGI_MAP_MAX_INTERPS];
    size_t ninterps;
} cgi_map_t;

/* What a request runs. Every string points into `mem` (one allocation). */
typedef struct cgi_target {
    char *mem;
    const char *filename;      /* SCRIPT_FILENAME: absolute, resolved */
    const char *dir;           /* the script's directory (its working directory) */
    const char *script_name;   /* SCRIPT_NAME, decoded */
    const char *path_info;     /* PATH_INFO, decoded; "" when none */
    const cgi_interp_t *interp; /* NULL: exec the file itself */
} cgi_target_t;

/* Sets up the map for SCRIPT_OR_DIR under PREFIX (NULL or "" or "/" for the root) and
 * the interpreters ("EXT=PROGRAM [ARGS...]", space-separated). 0, or -1 with a message in
 * err (no such file, not executable, nph-, interpreter not found on PATH, ...). */
int cgi_map_init(cgi_map_t *m, const char *script_or_dir, const char *prefix, char *const *interp_specs,
                 size_t ninterp, char *err, size_t errsz);
void cgi_map_free(cgi_map_t *m);

/* Maps a request path (Request.path: percent-decoded, no query). Returns 0 and fills *t
 * (free with cgi_target_free), or an HTTP status with *why set for the log: 400 (a
 * control character), 403 (traversal, symlink out of DIR, not executable), 404 (outside PREFIX,
 * no such script, a directory), 501 (nph- script). 500 on ENOMEM. */
int cgi_map_resolve(const cgi_map_t *m, const char *path, cgi_target_t *t, const char **why);
void cgi_target_free(cgi_target_t *t);

#endif
