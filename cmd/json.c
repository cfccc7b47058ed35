/*
 * json.c — `uhw json`: a JSON object from the command line, so a shell worker needs no jq:
 *
 *     uhw json ok:=true path="$PATH_INFO" n:=3 tags:='["a","b"]'
 *     {"ok":true,"path":"/x","n":3,"tags":["a","b"]}
 *
 * KEY=VALUE gives a string, KEY:=JSON any JSON value (HTTPie's syntax). jansson builds and
 * escapes the object; this file only splits the arguments. In a key, '\' takes the next
 * character literally ("a\=b=c" is key "a=b"); "--" ends the options, for keys starting
 * with '-'. Bytes that are not UTF-8 (JSON text must be) become U+FFFD, so any value works.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "helper_args.h"
#include "helpers.h"

/* The length of the UTF-8 sequence at s[0..n) (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; ++i) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* [p, p+n) as a JSON string, bytes that are not UTF-8 replaced by U+FFFD; NULL on ENOMEM. */
static json_t *utf8_string(const char *p, size_t n)
{
    frame_buf_t b;
    frame_buf_init(&b);
    const uint8_t *s = (const uint8_t *)p;
    int err = 0;
    for (size_t i = 0; i < n && !err;) {
        size_t k = utf8_len(s + i, n - i);
        err = k != 0 ? frame_buf_append(&b, s + i, k) : frame_buf_append(&b, "\xef\xbf\xbd", 3);
        i += k != 0 ? k : 1;
    }
    json_t *j = err ? NULL : json_stringn(frame_buf_size(&b) != 0 ? (const char *)frame_buf_bytes(&b) : "",
                                          frame_buf_size(&b));
    frame_buf_free(&b);
    return j;
}

/* Splits "KEY=VALUE" / "KEY:=JSON": the unescaped key into `key` (malloc'd), *raw = 1 for
 * :=, and returns the value; NULL when there is no unescaped '='. */
static const char *split_arg(const char *arg, char **key, size_t *key_len, int *raw)
{
    frame_buf_t k;
    frame_buf_init(&k);
    const char *p = arg;
    for (; *p != '\0' && *p != '='; ++p) {
        if (*p == '\\' && p[1] != '\0')
            ++p;
        else if (*p == ':' && p[1] == '=')
            break;
        if (frame_buf_append(&k, p, 1) != 0)
            break;
    }
    if (*p == '\0' || frame_buf_append(&k, "", 1) != 0) {
        frame_buf_free(&k);
        return NULL;
    }
    *raw = *p == ':';
    *key_len = frame_buf_size(&k) - 1;
    *key = (char *)k.data;
    return p + (*raw ? 2 : 1);
}

int helper_json(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'h', 'h', "help", 0}, {0}};
    const char *verb = "json", *val = NULL;
    int i = 1, c;
    while ((c = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (c == HOPT_ERR)
            return 2;
        return helper_show_usage(io, verb);
    }
    json_t *obj = json_object();
    int ret = obj == NULL ? helper_fail(verb, "out of memory") : 0;
    for (; i < argc && ret == 0; ++i) {
        char *key = NULL;
        size_t key_len = 0;
        int raw = 0;
        const char *value = split_arg(argv[i], &key, &key_len, &raw);
        json_t *k = NULL, *v = NULL;
        json_error_t jerr;
        if (value == NULL) {
            ret = helper_usage_error(verb, "'%s' is not KEY=VALUE or KEY:=JSON", argv[i]);
        } else if ((k = utf8_string(key, key_len)) == NULL) {
            ret = helper_fail(verb, "out of memory");
        } else if (json_object_getn(obj, json_string_value(k), json_string_length(k)) != NULL) {
            ret = helper_usage_error(verb, "key '%s' given twice", json_string_value(k));
        } else if (raw && (v = json_loads(value, JSON_DECODE_ANY, &jerr)) == NULL) {
            ret = helper_usage_error(verb, "invalid JSON for key '%s': %s (in %s)", json_string_value(k), jerr.text,
                                     argv[i]);
        } else if (!raw && (v = utf8_string(value, strlen(value))) == NULL) {
            ret = helper_fail(verb, "out of memory");
        } else if (json_object_setn_new(obj, json_string_value(k), json_string_length(k), v) != 0) {
            ret = helper_fail(verb, "out of memory");
        }
        json_decref(k);
        free(key);
    }
    char *text = ret == 0 ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (ret == 0 && text == NULL)
        ret = helper_fail(verb, "out of memory");
    if (ret == 0) {
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL: one write of the whole line */
        if (frame_write_all(io->out, text, n + 1) != 0)
            ret = helper_fail(verb, "writing the output: %s", strerror(errno));
    }
    free(text);
    json_decref(obj);
    return ret;
}
