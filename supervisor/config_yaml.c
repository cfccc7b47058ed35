/*
 * config_yaml.c — the libyaml document walker under config.c.
 *
 * libyaml's document API gives a tree of nodes that carry their positions. The sections
 * (config.c) walk it once through the functions below, which know YAML and nothing of
 * uhw: node access, typed readers that report "LABEL must be ..." at the node, and
 * key tables (cfg_read_mapping) that handle unknown keys, repeated keys and "did you
 * mean" in one place. Every problem is appended to the error list and the walk goes on,
 * so one run reports all of them.
 */
#include "config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

/* ------------------------------------------------------------------ error list */

void cfg_errors_init(cfg_errors_t *errs)
{
    memset(errs, 0, sizeof(*errs));
}

void cfg_errors_free(cfg_errors_t *errs)
{
    for (size_t i = 0; i < errs->len; ++i)
        free(errs->items[i]);
    free(errs->items);
    cfg_errors_init(errs);
}

void cfg_errors_push(cfg_errors_t *errs, char *msg)
{
    if (errs->len == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        char **items = realloc(errs->items, cap * sizeof(*items));
        if (items == NULL)
            abort();
        errs->items = items;
        errs->cap = cap;
    }
    errs->items[errs->len++] = msg;
}

void cfg_errors_add(cfg_errors_t *errs, const char *file, cfg_pos_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = cfg_xvasprintf(fmt, ap);
    va_end(ap);
    cfg_errors_push(errs, cfg_xasprintf("%s:%d:%d: %s", file, pos.line, pos.col, msg));
    free(msg);
}

/* ------------------------------------------------------------------ nodes */

cfg_pos_t cfg_node_pos(const cfg_node_t *n)
{
    return (cfg_pos_t){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

void cfg_err(cfg_walk_t *w, const cfg_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = cfg_xvasprintf(fmt, ap);
    va_end(ap);
    cfg_errors_add(w->errs, w->file, cfg_node_pos(n), "%s", msg);
    free(msg);
}

int cfg_is_map(const cfg_node_t *n)
{
    return n->type == YAML_MAPPING_NODE;
}

int cfg_is_list(const cfg_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE;
}

int cfg_null_word(const char *s)
{
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

int cfg_is_null(const cfg_node_t *v)
{
    if (v->type != YAML_SCALAR_NODE)
        return 0;
    if (v->tag != NULL && strcmp((const char *)v->tag, YAML_NULL_TAG) == 0)
        return 1;
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return cfg_null_word((const char *)v->data.scalar.value);
}

const char *cfg_scalar(const cfg_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

size_t cfg_len(const cfg_node_t *n)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return 0;
}

cfg_node_t *cfg_item(cfg_walk_t *w, const cfg_node_t *list, size_t i)
{
    return yaml_document_get_node(w->doc, list->data.sequence.items.start[i]);
}

cfg_node_t *cfg_pair_key(cfg_walk_t *w, const cfg_node_t *map, size_t i)
{
    return yaml_document_get_node(w->doc, map->data.mapping.pairs.start[i].key);
}

cfg_node_t *cfg_pair_value(cfg_walk_t *w, const cfg_node_t *map, size_t i)
{
    return yaml_document_get_node(w->doc, map->data.mapping.pairs.start[i].value);
}

const char *cfg_key(cfg_walk_t *w, const cfg_node_t *map, size_t i, const char *in)
{
    cfg_node_t *k = cfg_pair_key(w, map, i);
    if (k->type != YAML_SCALAR_NODE || cfg_is_null(k) ||
        strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
        cfg_err(w, k, "keys %s must be strings", in);
        return NULL;
    }
    const char *key = (const char *)k->data.scalar.value;
    for (size_t j = 0; j < i; ++j) {
        cfg_node_t *prev = cfg_pair_key(w, map, j);
        if (prev->type == YAML_SCALAR_NODE && strcmp((const char *)prev->data.scalar.value, key) == 0) {
            cfg_pos_t first = cfg_node_pos(prev);
            cfg_err(w, k, "duplicate key '%s' %s (first at %d:%d)", key, in, first.line, first.col);
            return NULL;
        }
    }
    return key;
}

cfg_node_t *cfg_find(cfg_walk_t *w, const cfg_node_t *m, const char *key)
{
    for (size_t i = 0; i < cfg_len(m); ++i) {
        cfg_node_t *k = cfg_pair_key(w, m, i);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return cfg_pair_value(w, m, i);
    }
    return NULL;
}

/* ------------------------------------------------------------------ typed readers */

void cfg_type_error(cfg_walk_t *w, const cfg_node_t *v, const char *label, const char *expected)
{
    if (v->type == YAML_SEQUENCE_NODE)
        cfg_err(w, v, "%s must be %s, got a list", label, expected);
    else if (v->type == YAML_MAPPING_NODE)
        cfg_err(w, v, "%s must be %s, got a mapping", label, expected);
    else if (cfg_is_null(v))
        cfg_err(w, v, "%s must be %s, got null", label, expected);
    else
        cfg_err(w, v, "%s must be %s, got '%.60s'", label, expected, (const char *)v->data.scalar.value);
}

/* Numbers and booleans are strings here, as written. */
const char *cfg_string_of(cfg_walk_t *w, const cfg_node_t *v, const char *label, const char *expected)
{
    if (v->type != YAML_SCALAR_NODE || cfg_is_null(v)) {
        cfg_type_error(w, v, label, expected);
        return NULL;
    }
    const char *s = (const char *)v->data.scalar.value;
    if (strlen(s) != v->data.scalar.length) {
        cfg_err(w, v, "%s must not contain NUL characters", label);
        return NULL;
    }
    return s;
}

/* "must be between 1 and 1024" reads best when both ends matter; else say the one crossed. */
static void range_error(cfg_walk_t *w, const cfg_node_t *v, const char *label, const char *text, uint64_t value,
                        uint64_t min, uint64_t max, const char *(*fmt)(uint64_t, char[32]))
{
    char lo[32], hi[32];
    if (min > 0 && max < UINT32_MAX)
        cfg_err(w, v, "%s must be between %s and %s, got %s", label, fmt(min, lo), fmt(max, hi), text);
    else if (value < min)
        cfg_err(w, v, "%s must be at least %s, got %s", label, fmt(min, lo), text);
    else
        cfg_err(w, v, "%s must be at most %s, got %s", label, fmt(max, hi), text);
}

int cfg_read_uint(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = cfg_string_of(w, v, label, "an integer");
    if (s == NULL)
        return -1;
    uint64_t n = UINT64_MAX;
    int rc = cfg_parse_u64(s, &n);
    if (rc == -1) {
        cfg_type_error(w, v, label, "an integer");
        return -1;
    }
    if (rc == -2) {
        cfg_err(w, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    if (rc == -3 || n < min || n > max) {
        range_error(w, v, label, s, n, min, max, cfg_fmt_plain);
        return -1;
    }
    *out = n;
    return 0;
}

int cfg_read_duration(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, int nullable,
                      uint64_t *out)
{
    if (nullable && cfg_is_null(v)) {
        *out = 0;
        return 0;
    }
    const char *s = cfg_string_of(w, v, label, "a duration such as 30s, 250ms, 5m or 1h");
    if (s == NULL)
        return -1;
    if (s[0] == '-') {
        cfg_err(w, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    uint64_t ms;
    if (config_parse_duration(s, &ms) != 0) {
        cfg_decimal_t d;
        const char *end = cfg_parse_decimal(s, &d);
        if (end != NULL && *end == '\0')
            cfg_err(w, v, "%s must be a duration, got '%s': duration needs a unit, e.g. 30s, 250ms, 5m, 1h", label, s);
        else
            cfg_type_error(w, v, label, "a duration such as 30s, 250ms, 5m or 1h");
        return -1;
    }
    if (ms < min && min == 1) {
        cfg_err(w, v, "%s must be greater than 0%s, got '%s'", label, nullable ? " (null turns it off)" : "", s);
        return -1;
    }
    if (ms < min || ms > max) {
        char lo[32], hi[32];
        cfg_err(w, v, "%s must be between %s and %s, got '%s'", label, cfg_fmt_duration(min, lo),
                cfg_fmt_duration(max, hi), s);
        return -1;
    }
    *out = ms;
    return 0;
}

int cfg_read_size(cfg_walk_t *w, const cfg_node_t *v, const char *label, uint64_t min, uint64_t max, uint64_t *out)
{
    static const char expected[] = "a size such as 512, 64KiB or 10MiB";
    const char *s = cfg_string_of(w, v, label, expected);
    if (s == NULL)
        return -1;
    uint64_t n;
    if (s[0] == '-') {
        cfg_err(w, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    if (config_parse_size(s, &n) != 0) {
        cfg_type_error(w, v, label, expected);
        return -1;
    }
    if (n < min || n > max) {
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "'%.60s'", s);
        range_error(w, v, label, quoted, n, min, max, cfg_fmt_size);
        return -1;
    }
    *out = n;
    return 0;
}

int cfg_read_bool(cfg_walk_t *w, const cfg_node_t *v, const char *label, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const char *s = cfg_string_of(w, v, label, "true or false");
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < COUNT(yes); ++i) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    cfg_type_error(w, v, label, "true or false");
    return -1;
}

int cfg_read_string(cfg_walk_t *w, const cfg_node_t *v, const char *label, int nullable, char **dst)
{
    if (nullable && cfg_is_null(v)) {
        free(*dst);
        *dst = NULL;
        return 0;
    }
    const char *s = cfg_string_of(w, v, label, nullable ? "a string or null" : "a string");
    if (s == NULL)
        return -1;
    if (*s == '\0') {
        cfg_err(w, v, "%s must not be empty", label);
        return -1;
    }
    free(*dst);
    *dst = cfg_xstrdup(s);
    return 0;
}

int cfg_read_path(cfg_walk_t *w, const cfg_node_t *v, const char *label, int nullable, char **dst)
{
    char *s = NULL;
    if (cfg_read_string(w, v, label, nullable, &s) != 0)
        return -1;
    free(*dst);
    *dst = s != NULL ? cfg_path_resolve(w->dir, s) : NULL;
    free(s);
    return 0;
}

void cfg_read_kvs(cfg_walk_t *w, const cfg_node_t *m, const char *label, const char *in, int (*key_ok)(const char *),
                  const char *key_rule, cfg_kvs_t *out)
{
    if (m->type != YAML_MAPPING_NODE) {
        cfg_type_error(w, m, label, "a mapping of NAME: value");
        return;
    }
    out->items = cfg_xcalloc(cfg_len(m), sizeof(*out->items));
    for (size_t i = 0; i < cfg_len(m); ++i) {
        const char *key = cfg_key(w, m, i, in);
        if (key == NULL)
            continue;
        if (!key_ok(key)) {
            cfg_err(w, cfg_pair_key(w, m, i), "%s: invalid name '%s': %s", label, key, key_rule);
            continue;
        }
        char *item_label = cfg_xasprintf("%s.%s", label, key);
        const char *value = cfg_string_of(w, cfg_pair_value(w, m, i), item_label, "a string, number or boolean");
        free(item_label);
        if (value == NULL)
            continue;
        out->items[out->len].key = cfg_xstrdup(key);
        out->items[out->len].value = cfg_xstrdup(value);
        out->len++;
    }
}

/* ------------------------------------------------------------------ key tables */

static void read_field(cfg_walk_t *w, const cfg_field_t *f, void *obj, cfg_node_t *v, const char *label)
{
    char *dst = (char *)obj + f->off;
    uint64_t n;
    int b;
    switch (f->kind) {
    case F_UINT:
        if (cfg_read_uint(w, v, label, f->min, f->max, &n) == 0)
            *(unsigned *)dst = (unsigned)n;
        break;
    case F_U64:
        if (cfg_read_uint(w, v, label, f->min, f->max, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_DURATION:
        if (cfg_read_duration(w, v, label, f->min, f->max, f->nullable, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_SIZE:
        if (cfg_read_size(w, v, label, f->min, f->max, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_BOOL:
        if (cfg_read_bool(w, v, label, &b) == 0)
            *(int *)dst = b;
        break;
    case F_STRING:
        cfg_read_string(w, v, label, f->nullable, (char **)dst);
        break;
    case F_PATH:
        cfg_read_path(w, v, label, f->nullable, (char **)dst);
        break;
    case F_FUNC:
        f->read(w, obj, v, label);
        break;
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; ++j)
        row[j] = j;
    for (size_t i = 1; i <= la; ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; ++j) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The valid key nearest to `key`, if near enough to be a typo: within 2 edits (a third of
 * the length for long keys), and fewer edits than `key` has letters. */
static const char *suggest(const char *key, const cfg_field_t *fields, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; ++i) {
        size_t d = edit_distance(key, fields[i].key), limit = strlen(fields[i].key) / 3;
        if (limit < 2)
            limit = 2;
        if (d <= limit && d < strlen(key) && d < best_d) {
            best = fields[i].key;
            best_d = d;
        }
    }
    return best;
}

void cfg_read_mapping(cfg_walk_t *w, const cfg_node_t *m, const cfg_field_t *fields, size_t n, void *obj,
                      const cfg_scope_t *s)
{
    for (size_t i = 0; i < cfg_len(m); ++i) {
        const char *key = cfg_key(w, m, i, s->in);
        if (key == NULL)
            continue;
        const cfg_field_t *f = NULL;
        for (size_t j = 0; j < n && f == NULL; ++j)
            if (strcmp(fields[j].key, key) == 0)
                f = &fields[j];
        if (f == NULL) {
            const char *hint = suggest(key, fields, n);
            if (hint != NULL)
                cfg_err(w, cfg_pair_key(w, m, i), "unknown key '%s' %s (did you mean '%s'?)", key, s->in, hint);
            else
                cfg_err(w, cfg_pair_key(w, m, i), "unknown key '%s' %s", key, s->in);
            continue;
        }
        char *label = cfg_xasprintf("%s%s%s", s->where, s->key_prefix, key);
        read_field(w, f, obj, cfg_pair_value(w, m, i), label);
        free(label);
    }
}

/* ------------------------------------------------------------------ the document */

/* Line and column (in characters, as libyaml counts them) of byte `offset` of `text`. */
static cfg_pos_t pos_of_offset(const char *text, size_t len, size_t offset)
{
    cfg_pos_t pos = {1, 1};
    for (size_t i = 0; i < offset && i < len; ++i) {
        if (text[i] == '\n') {
            pos.line++;
            pos.col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) { /* not a UTF-8 continuation byte */
            pos.col++;
        }
    }
    return pos;
}

/* libyaml stops at the first syntax error; nothing after it can be trusted. */
static void syntax_error(const char *file, const char *text, size_t len, const yaml_parser_t *parser,
                         cfg_errors_t *errs)
{
    const char *problem = parser->problem ? parser->problem : "cannot parse";
    if (parser->error == YAML_MEMORY_ERROR)
        abort();
    if (parser->error == YAML_READER_ERROR) { /* the reader runs ahead of the parser: its mark is not there yet */
        cfg_errors_add(errs, file, pos_of_offset(text, len, parser->problem_offset),
                       "cannot read the file: %s at byte %zu", problem, parser->problem_offset);
        return;
    }
    cfg_pos_t pos = {(int)parser->problem_mark.line + 1, (int)parser->problem_mark.column + 1};
    if (parser->context != NULL)
        cfg_errors_add(errs, file, pos, "YAML syntax error: %s (%s that starts at %d:%d)", problem, parser->context,
                       (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
    else
        cfg_errors_add(errs, file, pos, "YAML syntax error: %s", problem);
}

/* A second document is an error, since whoever wrote it expects it to count. */
void cfg_walk_text(cfg_walk_t *w, const char *text, size_t len, void (*read_root)(cfg_walk_t *w, cfg_node_t *root))
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(w->file, text, len, &parser, w->errs);
        yaml_parser_delete(&parser);
        return;
    }
    w->doc = &doc;
    read_root(w, yaml_document_get_root_node(&doc));
    w->doc = NULL;
    yaml_document_delete(&doc);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(w->file, text, len, &parser, w->errs);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root != NULL)
            cfg_errors_add(w->errs, w->file,
                           (cfg_pos_t){(int)doc.start_mark.line + 1, (int)doc.start_mark.column + 1},
                           "only one YAML document is allowed; remove the second '---' section");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
}

/* ------------------------------------------------------------------ lenient scan */

/* Reads events, not the document, so that what comes before a syntax error is still seen. The
 * root mapping's entries alternate key and value; `depth` counts the collections open, so
 * only entries at depth 1 are the root's. */
char *cfg_scan_top_scalar(const char *text, size_t len, const char *key)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    char *found = NULL;
    int depth = 0, is_key = 1, wanted = 0, done = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break;
        int at_root = depth == 1; /* this event is (the start of) an entry of the root mapping */
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth == 0) { /* the document is a scalar, not a mapping */
                done = 1;
            } else if (at_root && wanted) {
                const char *v = ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : NULL;
                if (v != NULL && *v != '\0' && !(ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && cfg_null_word(v)))
                    found = cfg_xstrdup(v);
                done = 1;
            } else if (at_root) {
                wanted = is_key && ev.type == YAML_SCALAR_EVENT && strcmp((const char *)ev.data.scalar.value, key) == 0;
                is_key = !is_key;
            }
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0 && ev.type != YAML_MAPPING_START_EVENT)
                done = 1;
            else if (at_root && wanted)
                done = 1; /* the value is not a scalar */
            ++depth;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (--depth == 1)
                is_key = !is_key; /* a collection was an entry of the root */
            else if (depth == 0)
                done = 1;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return found;
}
