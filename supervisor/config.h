/*
 * config.h — pools.yaml as plain structs (DESIGN.md §5).
 *
 * The config*.c files turn the YAML document into the structs below, with
 * every default filled in and every relative path made absolute (relative to
 * the YAML file's directory); config_internal.h says which file does what.
 * Runtime code reads these structs and never sees YAML.
 *
 * Errors are collected, not returned one at a time: a load reports every
 * problem it finds as "FILE:LINE:COL: message" (1-based line and column), so
 * `uhw check` can print them all in one run.
 */
#ifndef UHW_CONFIG_H
#define UHW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Position of a value in the YAML file (1-based), kept for errors found after loading. */
typedef struct cfg_pos {
    int line, col;
} cfg_pos_t;

typedef struct cfg_kv {
    char *key;
    char *value; /* scalars are kept as written: `PORT: 8080` gives "8080" */
} cfg_kv_t;

typedef struct cfg_kvs {
    cfg_kv_t *items;
    size_t len;
} cfg_kvs_t;

typedef struct cfg_strs {
    char **items;
    size_t len;
} cfg_strs_t;

typedef struct cfg_listen {
    char *text;     /* as written, or "PORT"/"[HOST]:PORT" rebuilt for the map form; for messages */
    char *host;     /* numeric address: "127.0.0.1", "::1", "0.0.0.0" ("*" and "" mean all IPv4) */
    uint16_t port;  /* 0 asks the kernel for a free port (tests use this) */
    char *tls_cert; /* absolute path, or NULL for plain HTTP */
    char *tls_key;  /* absolute path, or NULL */
    cfg_pos_t pos;  /* where it was written; 0:0 for a `--listen` address */
} cfg_listen_t;

typedef struct cfg_route {
    char *path;  // "/api" for "/api/**", "/version" for "/version"; "/" for "/**"
    int prefix;  // 1: "/x/**" matches /x and everything under /x/; 0: exact match
    char *text;  /* as written */
} cfg_route_t;

typedef struct cfg_static {
    char *prefix; /* URL prefix as written, e.g. "/assets/" */
    char *dir;    /* absolute directory path */
    cfg_pos_t pos; /* where the directory was written, for `uhw check` errors */
} cfg_static_t;

/* A user looked up when the config was checked (config_check_runtime, and only when uhw runs
 * as root), so that nothing reads /etc/passwd or /etc/group on the event loop. */
typedef struct cfg_identity {
    uid_t uid;
    gid_t gid;               /* primary group */
    gid_t *groups;           /* for setgroups: every group of the user (getgrouplist), the primary included */
    size_t ngroups;
    char *name;              /* USER and LOGNAME of the processes started as this user */
    char *home;              /* their HOME */
} cfg_identity_t;

typedef struct cfg_backoff {
    uint64_t initial_ms;     /* default 100ms */
    uint64_t max_ms;         /* default 30s */
    double multiplier;       /* default 2, >= 1 */
    uint64_t reset_after_ms; /* default 10s */
} cfg_backoff_t;

typedef struct cfg_pool {
    char *name;              /* [a-z0-9_-]+, unique */
    /* Command: a list is exec'd as is (argv[0] looked up on PATH, or made absolute against
     * the YAML directory when it contains a '/'); a string runs as /bin/sh -c STRING, and then
     * argv is {"/bin/sh", "-c", STRING}. Either way argv is NULL-terminated. */
    char **argv;
    size_t argc;
    int shell;               /* 1 when the command was a string */
    cfg_pos_t command_pos;   /* where the command was written, for `uhw check` errors */
    char *command_text;      /* argv[0] or the shell string as written, for messages */
    unsigned workers;        /* 1..1024, default 4 */
    cfg_route_t *routes;     /* none: this is the fallback pool (at most one) */
    size_t nroutes;
    unsigned concurrency;    /* 1..10000, default 1 */
    uint64_t timeout_ms;     /* default 30s */
    uint64_t stuck_timeout_ms;   /* default 60s */
    uint64_t ready_timeout_ms;   /* default 10s */
    unsigned max_restarts;   /* default 10; 0 = never degrade */
    uint64_t restart_window_ms;  /* default 5m */
    uint64_t degraded_retry_ms;  /* 0 = null (no automatic probe), the default */
    uint64_t slow_log_ms;    /* log a request still running after this long, once; 0 = null (off), the default */
    cfg_backoff_t backoff;
    uint64_t max_requests;   /* 0 = never recycle */
    uint64_t max_requests_jitter;
    uint64_t max_rss;        /* bytes; 0 = off */
    unsigned queue_limit;    /* default 1000 */
    uint64_t max_frame;      /* bytes, default 16MiB, 1KiB..1GiB */
    uint64_t graceful_timeout_ms; /* default 10s */
    uint64_t kill_timeout_ms;     /* default 5s */
    char *cwd;               /* absolute; default: the YAML file's directory */
    cfg_pos_t cwd_pos;       /* where cwd was written (the pool's position if defaulted) */
    cfg_kvs_t env;           /* extra environment, in file order */
    int clear_env;           /* keep only PATH, HOME, LANG, TZ from the parent */
    char *user;              /* NULL = don't change user */
    cfg_identity_t *run_as;  /* `user` resolved by config_check_runtime when uhw runs as root: switch to it
                              * before exec; NULL: workers run as uhw's own user */
    cfg_kvs_t settings;      /* sent to workers as Configure */
    cfg_pos_t pos;           /* the pool's mapping in the file */
} cfg_pool_t;

typedef struct cfg_victims {
    char *log;               /* absolute path; default "victims.jsonl" next to the YAML; NULL if null */
    uint64_t max_body;       /* default 64KiB */
    cfg_strs_t redact_headers; /* lower-cased; default [authorization, cookie] */
    char **command;          /* NULL, or NULL-terminated argv (a string becomes /bin/sh -c STRING) */
    int command_shell;       /* 1 when command was a string */
    char *user;              /* command runs as this user when uhw runs as root; NULL: as the user of the
                              * pool whose worker died */
    cfg_pos_t user_pos;      /* where user was written, for `uhw check` errors */
    cfg_identity_t *run_as;  /* `user` resolved as for pools; NULL: use run_as of the pool whose worker died */
} cfg_victims_t;

typedef struct uhw_config {
    char *path;              /* the file as given on the command line */
    char *dir;               /* absolute directory of the file */
    cfg_listen_t *listen;    /* default [127.0.0.1:8080] */
    size_t nlisten;
    cfg_strs_t listen_args;  /* the `--listen` addresses that replaced the file's listen (config_set_listen), as
                              * given; none: listen is the file's. A reload applies them to the new file too. */
    char *control;           /* absolute socket path; default "uhw.sock" next to the YAML */
    cfg_pos_t control_pos;   /* where control was written; 1:1 when defaulted */
    unsigned max_pending;    /* default 1000 */
    uint64_t max_body;       /* default 10MiB */
    uint64_t shutdown_timeout_ms; /* default 10s */
    char *health;            /* path such as "/healthz", or NULL (the default: disabled) */
    char *access_log;        /* absolute path, "-" for stderr, or NULL (default) */
    cfg_static_t *statics;
    size_t nstatics;
    cfg_victims_t victims;
    cfg_pool_t *pools;
    size_t npools;
} uhw_config_t;

typedef struct cfg_errors {
    char **items; /* "FILE:LINE:COL: message" */
    size_t len, cap;
} cfg_errors_t;

void cfg_errors_init(cfg_errors_t *errs);
void cfg_errors_free(cfg_errors_t *errs);
/* Adds "FILE:LINE:COL: message". */
void cfg_errors_add(cfg_errors_t *errs, const char *file, cfg_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads and validates `path`. Returns the config, or NULL with every problem in `errs`
 * (a file that cannot be opened is one error, "FILE: cannot open: reason"). */
uhw_config_t *config_load(const char *path, cfg_errors_t *errs);
/* The same for `len` bytes of YAML (no NUL needed) read from the file `name`: `name` prefixes
 * the messages and its directory is what relative paths are relative to, so it must exist. */
uhw_config_t *config_load_buffer(const char *name, const char *text, size_t len, cfg_errors_t *errs);
void config_free(uhw_config_t *cfg);

/* The control socket of the file at `path`, found even when the file does not load: only the
 * top-level `control` key is read (as far as the YAML parses), resolved as config_load resolves
 * it; the default uhw.sock next to the file when the key is missing or not a string. NULL when
 * the file's directory does not exist. A string to free. (`uhw reload` sends a broken file's
 * reload to its server anyway, which refuses it and logs why.) */
char *config_control_socket(const char *path);

/* Replaces cfg->listen with `n` addresses given on the command line (`uhw serve --listen ADDR`,
 * repeatable), in the syntax of listen's strings: HOST:PORT, [IPv6]:PORT or a port. Errors name
 * the option ("--listen: invalid listen address ..."). Returns 0, or -1 leaving cfg as it was. */
int config_set_listen(uhw_config_t *cfg, char *const *addrs, size_t n, cfg_errors_t *errs);

/* Checks what can only be checked on this machine: each pool's command exists and is
 * executable (searched on PATH with `self_dir` first, as the workers will see it), each
 * pool's cwd is a directory, static dirs exist, TLS files are readable, each `user` (and
 * victims.user) exists, the control socket's directory exists and nothing but a socket is at
 * its path (uhw would replace it), and — when uhw runs as root — every pool says which user its
 * workers run as (`user: root` included: root is never assumed). As root it also stores each user's
 * identity in run_as (freed by config_free). Appends errors; returns how many it added.
 * `self_dir` is the directory of the running uhw, or NULL. */
size_t config_check_runtime(uhw_config_t *cfg, const char *self_dir, cfg_errors_t *errs);

/* What differs between two versions of a pool, as far as a reload is concerned. */
enum {
    CFG_DIFF_PROCESS = 1,  /* command, env, cwd, user (or its identity), concurrency: workers must be replaced */
    CFG_DIFF_SLOTS = 2,    /* the number of workers */
    CFG_DIFF_SETTINGS = 4, /* only sent to workers (Configure) */
    CFG_DIFF_LIVE = 8,     /* routes, timeouts, limits, backoff...: read by the supervisor as it goes */
};
/* Returns a mask of CFG_DIFF_* (0 when the pools are the same). */
unsigned config_pool_diff(const cfg_pool_t *a, const cfg_pool_t *b);

/* The configuration as YAML that config_load reads back to the same configuration: every key,
 * defaults included, durations and sizes in their unit syntax (30s, 16MiB), paths absolute.
 * Returns a string to free, or NULL with the reason in `errs` (a path that is not UTF-8). */
char *config_dump(const uhw_config_t *cfg, cfg_errors_t *errs);

/* Total worker count over all pools. */
unsigned config_total_workers(const uhw_config_t *cfg);

/* Parsers for the value syntaxes, exposed for unit tests and the CLI.
 * Each returns 0 on success, -1 if `s` is not valid. */
int config_parse_duration(const char *s, uint64_t *ms);  /* "250ms", "30s", "1.5s", "5m", "1h" */
int config_parse_size(const char *s, uint64_t *bytes);   /* "512", "64KiB", "10MiB", "1GiB", "1KB" */

#endif
