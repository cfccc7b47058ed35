/*
 * config_value.c — the value syntaxes of pools.yaml (durations, sizes, integers, listen
 * addresses), their shortest spellings for messages and the dump, and paths. Pure
 * functions of their arguments; no YAML here.
 */
#include "config_internal.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ allocation */

void *cfg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort();
    return p;
}

char *cfg_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

char *cfg_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        abort();
    return p;
}

char *cfg_xvasprintf(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

char *cfg_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = cfg_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------ numbers */

const char *cfg_parse_decimal(const char *s, cfg_decimal_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!isdigit((unsigned char)*s))
        return NULL;
    for (; isdigit((unsigned char)*s); ++s) {
        unsigned digit = (unsigned)(*s - '0');
        if (d->whole > (UINT64_MAX - digit) / 10)
            return NULL;
        d->whole = d->whole * 10 + digit;
    }
    if (*s != '.')
        return s;
    if (!isdigit((unsigned char)*++s))
        return NULL;
    for (; isdigit((unsigned char)*s); ++s) {
        if (d->frac_digits < 6) {
            d->frac = d->frac * 10 + (uint64_t)(*s - '0');
            d->frac_digits++;
        }
    }
    return s;
}

/* d × unit, rounded to the nearest integer. unit ≤ 2^40 keeps frac × unit below 2^64. */
static int decimal_scale(const cfg_decimal_t *d, uint64_t unit, uint64_t *out)
{
    uint64_t pow10 = 1;
    for (unsigned i = 0; i < d->frac_digits; ++i)
        pow10 *= 10;
    if (d->whole > UINT64_MAX / unit)
        return -1;
    uint64_t whole = d->whole * unit;
    uint64_t frac = (d->frac * unit + pow10 / 2) / pow10;
    if (whole > UINT64_MAX - frac)
        return -1;
    *out = whole + frac;
    return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
    cfg_decimal_t d;
    const char *unit = s ? cfg_parse_decimal(s, &d) : NULL;
    if (unit == NULL)
        return -1;
    if (*unit == ' ') /* "30 s" reads fine too */
        ++unit;
    for (size_t i = 0; i < COUNT(units); ++i)
        if (strcmp(unit, units[i].name) == 0)
            return decimal_scale(&d, units[i].ms, ms);
    return -1;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
    /* Case-insensitive; "KiB" and "K" are 1024-based, "KB" is 1000-based, as `df -h` and
     * `df -H` read them. */
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"", 1},           {"b", 1},
        {"k", KIB},        {"kib", KIB},        {"kb", 1000},
        {"m", MIB},        {"mib", MIB},        {"mb", 1000 * 1000},
        {"g", GIB},        {"gib", GIB},        {"gb", 1000 * 1000 * 1000},
        {"t", GIB * 1024}, {"tib", GIB * 1024}, {"tb", (uint64_t)1000 * 1000 * 1000 * 1000},
    };
    cfg_decimal_t d;
    const char *unit = s ? cfg_parse_decimal(s, &d) : NULL;
    if (unit == NULL)
        return -1;
    if (*unit == ' ')
        ++unit;
    for (size_t i = 0; i < COUNT(units); ++i) {
        if (strcasecmp(unit, units[i].name) != 0)
            continue;
        if (units[i].bytes == 1 && d.frac_digits > 0) /* a fraction of a byte means a typo */
            return -1;
        return decimal_scale(&d, units[i].bytes, bytes);
    }
    return -1;
}

int cfg_parse_u64(const char *s, uint64_t *out)
{
    int negative = *s == '-';
    const char *p = s + negative;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); ++p) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return negative ? -2 : -3;
        v = v * 10 + digit;
    }
    if (*p != '\0')
        return -1;
    if (negative && v != 0)
        return -2;
    *out = v;
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; ++s)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ spellings */

const char *cfg_fmt_duration(uint64_t ms, char buf[32])
{
    if (ms != 0 && ms % (3600 * 1000) == 0)
        snprintf(buf, 32, "%lluh", (unsigned long long)(ms / (3600 * 1000)));
    else if (ms != 0 && ms % (60 * 1000) == 0)
        snprintf(buf, 32, "%llum", (unsigned long long)(ms / (60 * 1000)));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, 32, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, 32, "%llums", (unsigned long long)ms);
    return buf;
}

const char *cfg_fmt_size(uint64_t n, char buf[32])
{
    if (n != 0 && n % GIB == 0)
        snprintf(buf, 32, "%lluGiB", (unsigned long long)(n / GIB));
    else if (n != 0 && n % MIB == 0)
        snprintf(buf, 32, "%lluMiB", (unsigned long long)(n / MIB));
    else if (n != 0 && n % KIB == 0)
        snprintf(buf, 32, "%lluKiB", (unsigned long long)(n / KIB));
    else
        snprintf(buf, 32, "%llu", (unsigned long long)n);
    return buf;
}

const char *cfg_fmt_plain(uint64_t n, char buf[32])
{
    snprintf(buf, 32, "%llu", (unsigned long long)n);
    return buf;
}

const char *cfg_fmt_number(double x, char buf[32])
{
    for (int precision = 1; precision <= 17; ++precision) { /* 17 significant digits always round-trip */
        snprintf(buf, 32, "%.*g", precision, x);
        if (strchr(buf, 'e') == NULL && strtod(buf, NULL) == x)
            return buf;
    }
    snprintf(buf, 32, "%.17g", x);
    return buf;
}

/* ------------------------------------------------------------------ listen addresses */

/* Fills `why` and returns -1, for the parsers below. */
static int why_not(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_not(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_port(const char *s, uint16_t *port, char *why, size_t n)
{
    uint64_t v;
    if (!all_digits(s) || cfg_parse_u64(s, &v) != 0 || v > 65535)
        return why_not(why, n, "the port must be a number from 0 to 65535, got '%s'", s);
    *port = (uint16_t)v;
    return 0;
}

/* Numeric form, so that duplicates compare equal. */
int cfg_normalize_host(const char *h, int allow_ipv6, char out[INET6_ADDRSTRLEN], char *why, size_t n)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (*h == '\0' || strcmp(h, "*") == 0)
        h = "0.0.0.0";
    else if (strcmp(h, "localhost") == 0)
        h = "127.0.0.1";
    if (inet_pton(AF_INET, h, addr) == 1) {
        inet_ntop(AF_INET, addr, out, INET6_ADDRSTRLEN);
        return 0;
    }
    if (allow_ipv6 && inet_pton(AF_INET6, h, addr) == 1) {
        inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN);
        return 0;
    }
    if (allow_ipv6)
        return why_not(why, n, "'%s' is not an IP address (use an IPv4 or IPv6 address, localhost or *)", h);
    return why_not(why, n, "'%s' is not an IPv4 address (use an IPv4 address, [IPv6], localhost or *; "
                           "host names are not resolved)", h);
}

int cfg_parse_listen_text(const char *s, char host[INET6_ADDRSTRLEN], uint16_t *port, char *why, size_t n)
{
    char h[256];
    const char *port_s;
    if (all_digits(s)) {
        strcpy(host, "127.0.0.1");
        return parse_port(s, port, why, n);
    }
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(h))
            return why_not(why, n, "expected [IPv6]:PORT, e.g. [::1]:8080");
        memcpy(h, s + 1, (size_t)(end - s - 1));
        h[end - s - 1] = '\0';
        if (strchr(h, ':') == NULL || cfg_normalize_host(h, 1, host, why, n) != 0)
            return why_not(why, n, "'%s' is not an IPv6 address", h);
        port_s = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return why_not(why, n, "expected HOST:PORT, [IPv6]:PORT or a port number");
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return why_not(why, n, "put an IPv6 address in brackets, e.g. [::1]:8080");
        if ((size_t)(colon - s) >= sizeof(h))
            return why_not(why, n, "the host is too long");
        memcpy(h, s, (size_t)(colon - s));
        h[colon - s] = '\0';
        if (cfg_normalize_host(h, 0, host, why, n) != 0)
            return -1;
        port_s = colon + 1;
    }
    return parse_port(port_s, port, why, n);
}

/* ------------------------------------------------------------------ paths */

char *cfg_path_resolve(const char *dir, const char *p)
{
    char *joined = p[0] == '/' ? cfg_xstrdup(p) : cfg_xasprintf("%s/%s", dir, p);
    char *out = cfg_xcalloc(strlen(joined) + 2, 1);
    size_t len = 0;
    char *save = NULL;
    for (char *part = strtok_r(joined, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                --len;
            if (len > 0)
                --len;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, part, strlen(part));
        len += strlen(part);
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(joined);
    return out;
}

char *cfg_dir_of(const char *path)
{
    char *copy = cfg_xstrdup(path);
    char *dir = realpath(dirname(copy), NULL);
    free(copy);
    return dir;
}
