/*
 * log.c — see log.h.
 */
#include "log.h"
#include "sink.h"
#include "timer.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_BUFFER ((size_t)1 << 20) /* bytes of lines waiting for a slow stderr reader */

static struct {
    int journal;          /* stderr is journald's stream: "<N>" prefixes, no timestamps */
    log_level_t min_level;
    sink_t *sink;         /* once log_start: lines go through it */
    char stderr_path[4096]; /* the file stderr was redirected to, or "" */
} logcfg = {0, LOG_INFO, NULL, ""};

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
/* syslog priorities: debug 7, info 6, warning 4, err 3, crit 2 */
static const int level_syslog[] = {7, 6, 4, 3, 2};

/* systemd sets JOURNAL_STREAM="DEV:INODE" of the stream it connected to stdout/stderr. The variable
 * is inherited by everything the service starts, so it only means "stderr is the journal" when
 * stderr is still that stream (sd_journal_stream_fd(3), systemd.exec(5)): `uhw serve 2>file` run
 * from a shell inside a unit must keep timestamps. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char end;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
        return 0;
    return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
    logcfg.journal = stderr_is_journal();
    const char *lvl = getenv("UHW_LOG_LEVEL");
    int l = lvl != NULL ? log_level_parse(lvl) : -1;
    logcfg.min_level = l >= 0 ? (log_level_t)l : LOG_INFO;
}

int log_enabled(log_level_t level)
{
    return level >= logcfg.min_level;
}

const char *log_level_name(log_level_t level)
{
    return (unsigned)level <= LOG_CRITICAL ? level_names[level] : "INFO";
}

int log_level_parse(const char *s)
{
    for (int i = 0; i <= LOG_CRITICAL; ++i)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warn") == 0)
        return LOG_WARNING;
    return -1;
}

/* Formats the line prefix into buf; returns its length. */
static size_t format_prefix(char *buf, size_t sz, log_level_t level, const char *who)
{
    int n;
    if (logcfg.journal) {
        n = snprintf(buf, sz, "<%d>%s ", level_syslog[level], log_level_name(level));
    } else {
        char when[40];
        n = snprintf(buf, sz, "%s %s ", iso8601(wall_ms(), when, sizeof(when)), log_level_name(level));
    }
    if (who != NULL && (size_t)n < sz)
        n += snprintf(buf + n, sz - (size_t)n, "[%s] ", who);
    return (size_t)n < sz ? (size_t)n : sz - 1;
}

/* Appends text to line[pos..] making control characters visible; returns the new length. */
static size_t append_printable(char *line, size_t pos, size_t cap, const char *text, size_t len)
{
    for (size_t i = 0; i < len && pos + 5 < cap; ++i) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\r') {
            line[pos++] = ' ';
        } else if (c == '\t' || c >= 0x20) {
            line[pos++] = (char)c; /* UTF-8 bytes pass through */
        } else {
            pos += (size_t)snprintf(line + pos, cap - pos, "\\x%02x", c);
        }
    }
    return pos;
}

static void emit(log_level_t level, const char *who, const char *text, size_t len)
{
    char line[8192];
    size_t pos = format_prefix(line, sizeof(line), level, who);
    pos = append_printable(line, pos, sizeof(line) - 1, text, len);
    if (logcfg.sink != NULL) {
        sink_write(logcfg.sink, line, pos);
        return;
    }
    line[pos++] = '\n';
    /* One write per line; a failed log write has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

/* The line that replaces lines the sink had to drop (on the writer thread). */
static size_t drop_note(char *buf, size_t sz, uint64_t dropped)
{
    size_t n = format_prefix(buf, sz, LOG_WARNING, NULL);
    int k = snprintf(buf + n, sz - n, "%llu log line%s dropped: uhw's stderr was not read fast enough\n",
                     (unsigned long long)dropped, dropped == 1 ? "" : "s");
    return k > 0 && n + (size_t)k < sz ? n + (size_t)k : 0;
}

void log_start(void)
{
    if (logcfg.sink != NULL)
        return;
    /* stderr redirected to a file (2>>uhw.log): remember its path, so SIGUSR1 can reopen it */
    struct stat st;
    if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
        ssize_t n = readlink("/proc/self/fd/2", logcfg.stderr_path, sizeof(logcfg.stderr_path) - 1);
        logcfg.stderr_path[n > 0 ? n : 0] = '\0';
    }
    logcfg.sink = sink_new(STDERR_FILENO, NULL, LOG_BUFFER);
    sink_set_drop_note(logcfg.sink, drop_note);
}

int log_reopen(void)
{
    if (logcfg.stderr_path[0] == '\0')
        return 0;
    /* Make the new file fd 2: the log's writer and anything else writing to stderr follow. A
     * write in progress finishes in the old file. */
    int fd = open(logcfg.stderr_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 1;
    close(fd);
    return rc;
}

uint64_t log_dropped_total(void)
{
    return logcfg.sink != NULL ? sink_dropped(logcfg.sink) : 0;
}

void *log_sink(void)
{
    return logcfg.sink;
}

void log_msg(log_level_t level, const char *who, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    emit(level, who, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

void log_raw(log_level_t level, const char *who, const char *text, size_t len)
{
    if (log_enabled(level))
        emit(level, who, text, len);
}

char *log_excerpt(char *out, size_t outsz, const void *p, size_t len, size_t max)
{
    const unsigned char *s = p;
    size_t pos = 0, n = len < max ? len : max;
    if (outsz < 8) {
        if (outsz > 0)
            out[0] = '\0';
        return out;
    }
    out[pos++] = '\'';
    for (size_t i = 0; i < n && pos + 8 < outsz; ++i) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[pos++] = (char)c;
        else if (c == '\n')
            pos += (size_t)snprintf(out + pos, outsz - pos, "\\n");
        else
            pos += (size_t)snprintf(out + pos, outsz - pos, "\\x%02x", c);
    }
    if (n < len && pos + 4 < outsz)
        pos += (size_t)snprintf(out + pos, outsz - pos, "…");
    out[pos++] = '\'';
    out[pos] = '\0';
    return out;
}

void log_flush(void)
{
    sink_t *s = logcfg.sink;
    logcfg.sink = NULL; /* from here on, lines are written directly */
    sink_close(s, 2000);
}
