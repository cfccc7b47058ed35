/*
 * config_internal.h — what the config*.c files share and nobody else needs.
 *
 *   config_value.c  value syntaxes (durations, sizes, integers, listen addresses), their
 *                   shortest spelling, and paths made absolute
 *   config_yaml.c   the libyaml document walker: nodes, positions, errors, typed readers,
 *                   key tables with "did you mean"
 *   config.c        the sections of pools.yaml (top level, listen, static, victims, pools)
 *   config_check.c  checks against this machine (commands, dirs, TLS files, users, which it
 *                   resolves)
 *   config_diff.c   what differs between two versions of a pool, for reload
 *   config_dump.c   the effective configuration as YAML (`uhw check --dump`)
 *
 * Only config_yaml.c (reading) and config_dump.c (writing) include yaml.h; here a YAML
 * node is opaque.
 * Out of memory aborts everywhere: a half-read config is of no use to anyone.
 */
#ifndef UHW_CONFIG_INTERNAL_H
#define UHW_CONFIG_INTERNAL_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define DURATION_MAX_MS ((uint64_t)30 * 24 * 3600 * 1000) /* 30 days: fits every uint32 ms field */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ config_value.c */

void *cfg_xcalloc(size_t n, size_t size);
char *cfg_xstrdup(const char *s);
char *cfg_xstrndup(const char *s, size_t n);
char *cfg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cfg_xvasprintf(const char *fmt, va_list ap);

/* A number as written: whole part and up to 6 decimals (enough for "1.5s" or "0.25GiB";
 * further digits are ignored), kept as integers so scaling is exact. */
typedef struct cfg_decimal {
    uint64_t whole, frac;
    unsigned frac_digits;
} cfg_decimal_t;

/* Parses "DIGITS[.DIGITS]" at the start of `s`; returns where it stopped, or NULL. */
const char *cfg_parse_decimal(const char *s, cfg_decimal_t *d);
/* Non-negative decimal integer. Returns 0, or -1 not an integer, -2 negative, -3 too large. */
int cfg_parse_u64(const char *s, uint64_t *out);
/* "HOST:PORT", "[IPv6]:PORT", ":PORT", "*:PORT" or a bare "PORT" (on 127.0.0.1), with the host in
 * numeric form. -1 with the reason in `why` (for "invalid listen address 'X': WHY"). */
int cfg_parse_listen_text(const char *s, char host[INET6_ADDRSTRLEN], uint16_t *port, char *why, size_t n);
/* A host as a listener binds it, numeric ("" and "*" are 0.0.0.0, localhost 127.0.0.1; no name
 * lookup). IPv6 only when `allow_ipv6`. -1 with the reason in `why`. */
int cfg_normalize_host(const char *h, int allow_ipv6, char out[INET6_ADDRSTRLEN], char *why, size_t n);

/* The shortest exact spelling, which the parsers read back to the same value:
 * "1h", "5m", "30s", "250ms"; "16MiB", "4KiB", "1536"; "1234". */
const char *cfg_fmt_duration(uint64_t ms, char buf[32]);
const char *cfg_fmt_size(uint64_t n, char buf[32]);
const char *cfg_fmt_plain(uint64_t n, char buf[32]);
/* The shortest decimal (no exponent) that strtod reads back as `x`, for backoff.multiplier. */
const char *cfg_fmt_number(double x, char buf[32]);

/* `p` made absolute against `dir` and cleaned lexically ("." and empty components dropped,
 * ".." removes the one before, no trailing '/'): operators read "./public/" as DIR/public. */
char *cfg_path_resolve(const char *dir, const char *p);
/* The absolute directory of `path` (symlinks in the directory part resolved), or NULL. */
char *cfg_dir_of(const char *path);

/* ------------------------------------------------------------------ config_yaml.c */

/* A node of the YAML document, with its position. Opaque outside config_yaml.c. */
typedef struct yaml_node_s cfg_node_t;

/* One walk over one document: where messages go and what relative paths are relative to.
 * The sections' own state lives in a struct that starts with this one. */
typedef struct cfg_walk {
    const char *file;              /* as given: the prefix of every message */
    const char *dir;               /* absolute directory of the file */
    cfg_errors_t *errs;
    struct yaml_document_s *doc;   /* set while the document is walked */
} cfg_walk_t;

/* Parses `len` bytes of YAML and calls `read_root` with the root node of its one document
 * (NULL when it is empty). A syntax error, or a second document, is reported instead. */
void cfg_walk_text(cfg_walk_t *w, const char *text, size_t len, void (*read_root)(cfg_walk_t *w, cfg_node_t *root));

/* Appends "FILE:LINE:COL: message" at node `n`. */
void cfg_err(cfg_walk_t *w, const cfg_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Takes ownership of a whole message (for errors that have no position). */
void cfg_errors_push(cfg_errors_t *errs, char *msg);

cfg_pos_t cfg_node_pos(const cfg_node_t *n);
int cfg_is_map(const cfg_node_t *n);
int cfg_is_list(const cfg_node_t *n);
/* YAML's null: `~`, `null`, or nothing at all after the colon — but not the quoted "null". */
int cfg_is_null(const cfg_node_t *n);
/* The text of a scalar as written (numbers too), or NULL for lists and mappings. */
const char *cfg_scalar(const cfg_node_t *n);
/* Items of a list, pairs of a mapping. */
size_t cfg_len(const cfg_node_t *n);
cfg_node_t *cfg_item(cfg_walk_t *w, const cfg_node_t *list, size_t i);
cfg_node_t *cfg_pair_key(cfg_walk_t *w, const cfg_node_t *map, size_t i);
cfg_node_t *cfg_pair_value(cfg_walk_t *w, const cfg_node_t *map, size_t i);
/* The key of pair `i`, or NULL after reporting why it cannot be used: it is not a string,
 * or it was given before in the same mapping (libyaml allows that; we don't). `in` ends
 * the message ("in pool 'api'"). */
const char *cfg_key(cfg_walk_t *w, const cfg_node_t *map, size_t i, const char *in);
/* The value of `key` in mapping `m` (its first occurrence), or NULL. */
cfg_node_t *cfg_find(cfg_walk_t *w, const cfg_node_t *m, const char *key);
/* The value of top-level `key` when the document is a mapping and that value is a scalar other
 * than null, read as far as the YAML is well-formed: a syntax error further down does not hide
 * it. NULL otherwise. Reports nothing. (`uhw reload` finds the control socket of a broken file.) */
char *cfg_scan_top_scalar(const char *text, size_t len, const char *key);
/* True for the words a plain YAML scalar reads as null ("", "~", "null"...): the dumper quotes them. */
int cfg_null_word(const char *s);

/* Typed readers: each reports what is wrong at the node, as "LABEL must be ...", and
 * returns -1; or stores the value and returns 0. */
void cfg_type_error(cfg_walk_t *w, const cfg_node_t *v, const char *label, const char *expected);
/* The text of a non-null scalar, or NULL after reporting that LABEL must be EXPECTED. */
const char *cfg_string_of(cfg_walk_t *w, const cfg_node_t *v, const char *label, const char *expected);
int cfg_read_uint(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, uint64_t *out);
/* A duration; `nullable` fields read null as 0 ("off"). */
int cfg_read_duration(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, int nullable,
                      uint64_t *out);
int cfg_read_size(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, uint64_t *out);
int cfg_read_bool(cfg_walk_t *w, const cfg_node_t *v, const char *label, int *out);
/* A non-empty string into *dst (replacing what was there); null gives NULL when `nullable`. */
int cfg_read_string(cfg_walk_t *w, const cfg_node_t *v, const char *label, int nullable, char **dst);
/* Like cfg_read_string, and a relative path is made absolute against the YAML directory. */
int cfg_read_path(cfg_walk_t *w, const cfg_node_t *v, const char *label, int nullable, char **dst);
/* A NAME: value mapping (env, settings) appended to `out` in file order; names must pass `key_ok`. */
void cfg_read_kvs(cfg_walk_t *w, const cfg_node_t *m, const char *label, const char *in, int (*key_ok)(const char *),
                  const char *key_rule, cfg_kvs_t *out);

/* The key tables: one entry per key of a mapping, saying how its value is read into the
 * struct being filled, so unknown keys, repeated keys and "did you mean" are handled in one
 * place (cfg_read_mapping). */
typedef enum cfg_field_kind {
    F_UINT,     /* unsigned, min..max */
    F_U64,      /* uint64_t, min..max */
    F_DURATION, /* uint64_t ms, min..max */
    F_SIZE,     /* uint64_t bytes, min..max */
    F_BOOL,     /* int */
    F_STRING,   /* char *, non-empty */
    F_PATH,     /* char *, made absolute */
    F_FUNC,     /* read by `read` */
} cfg_field_kind_t;

typedef struct cfg_field {
    const char *key;
    cfg_field_kind_t kind;
    size_t off; /* offset of the member in the struct */
    uint64_t min, max;
    int nullable; /* null is accepted (durations: 0, strings and paths: NULL) */
    void (*read)(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label);
} cfg_field_t;

#define FIELD(T, key, kind, member, lo, hi) {key, kind, offsetof(T, member), lo, hi, 0, NULL}
#define NULLABLE(T, key, kind, member, lo, hi) {key, kind, offsetof(T, member), lo, hi, 1, NULL}
#define FUNC(key, fn) {key, F_FUNC, 0, 0, 0, 0, fn}

/* Where the keys of one mapping are, for messages: `where` starts value errors
 * ("pool 'api': "), `key_prefix` qualifies keys ("backoff."), `in` ends key errors
 * ("in pool 'api'"). */
typedef struct cfg_scope {
    const char *where;
    const char *key_prefix;
    const char *in;
} cfg_scope_t;

/* Reads every key of mapping `m` into `obj` as `fields` say; reports unknown and repeated keys. */
void cfg_read_mapping(cfg_walk_t *w, const cfg_node_t *m, const cfg_field_t *fields, size_t n, void *obj,
                      const cfg_scope_t *s);

/* ------------------------------------------------------------------ config_check.c */

void cfg_identity_free(cfg_identity_t *id);

#endif
