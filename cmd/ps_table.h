/*
 * ps_table.h — what `uhw ps` prints, made from the status JSON (GET /status) alone: the
 * document in, text out, so the unit tests see every column without a server.
 *
 *   POOL  STATE     WORKERS  READY  BUSY  QUEUED  REQUESTS  RESTARTS  IN WINDOW
 *   api   running   2        2      0     0       12        1         1/10 in 5m
 *
 *   POOL  SLOT  PID   STATE     UPTIME  REQUESTS  IN FLIGHT  RESTARTS  LAST EXIT
 *   api   0     4301  ready     3m12s   7         0          1         killed by SIGSEGV 2m ago
 *   api   1     4302  ready     3m12s   5         0          0         -
 *
 * Times are counted on the server's clock (its started_at plus uptime_s), so a ps of a
 * status saved earlier reads as it did then.
 */
#ifndef UHW_PS_TABLE_H
#define UHW_PS_TABLE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define PS_TIME_MAX 24 /* room for any ps_fmt_duration or ps_fmt_ago */

/* Writes the pools table, a blank line and the workers table. With `color`, states and
 * failed exits are coloured (degraded in bold red). Returns 0, or -1 when `status` has no
 * "pools" list (it is not a status document). */
int ps_table_write(FILE *out, const json_t *status, int color);

/* A duration in its two largest units, the second omitted when zero: 0s, 42s, 3m, 3m12s,
 * 2h, 2h03m, 4d, 4d02h. Returns buf. */
const char *ps_fmt_duration(uint64_t ms, char buf[PS_TIME_MAX]);
/* Its largest unit alone, for "... ago": 5s, 2m, 3h, 4d. Returns buf. */
const char *ps_fmt_ago(uint64_t ms, char buf[PS_TIME_MAX]);

/* "2026-11-21T10:00:00.123Z" (milliseconds optional) as milliseconds since the epoch. 0, or -1
 * when `s` is not in that form. */
int ps_parse_time(const char *s, int64_t *ms);

#endif
