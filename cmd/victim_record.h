/*
 * victim_record.h — one line of victims.jsonl read back (the writer is supervisor/victims.c):
 *
 *   {"time": "...", "pool": "api", "worker": 0, "pid": 123, "reason": "died", "detail": "...",
 *    "exit_code": null, "signal": "SIGSEGV", "status": 500,
 *    "request": {"id": 5, "method": "POST", "path": "/crash", "query": "x=1",
 *                "headers": {"user-agent": "curl/8", "authorization": "[redacted]",
 *                            "x-bin": {"base64": "..."}},
 *                "remote": "127.0.0.1:4242", "body_size": 8, "body_base64": "...",
 *                "body_truncated": false}}
 *
 * Header values that were not UTF-8 are recorded as {"base64": ...} and come back as
 * bytes; values the server redacted (`victims.redact_headers`) come back marked, so a
 * replay can leave them out and say so. The body is decoded; body_truncated says the
 * record holds only the first victims.max_body bytes of body_size.
 */
#ifndef UHW_VICTIM_RECORD_H
#define UHW_VICTIM_RECORD_H

#include <stddef.h>
#include <stdint.h>

typedef struct victim_header {
    char *name;          /* as recorded (h2o gives lower case) */
    uint8_t *value;      /* value_len bytes + a NUL */
    size_t value_len;
    int redacted;        /* the server recorded "[redacted]" instead of the value */
} victim_header_t;

typedef struct victim_record {
    /* what happened */
    char *time, *pool, *reason, *detail;
    char *signal;        /* "SIGSEGV", or NULL */
    int exit_code;       /* -1 when null */
    int worker;          /* slot */
    long pid;
    int status;          /* what the client got */
    /* the request */
    uint64_t id;
    char *method, *path, *query;
    char *remote;        /* "127.0.0.1:4242", or NULL */
    victim_header_t *headers;
    size_t nheaders;
    uint8_t *body;       /* body_len bytes as recorded (+ a NUL), maybe cut: see body_size */
    size_t body_len;
    size_t body_size;    /* the size the request had */
    int body_truncated;  /* body_len < body_size: victims.max_body cut it */
} victim_record_t;

/* Parses one line (len bytes, no need for a NUL). 0, or -1 with a message in err
 * ("not JSON: ...", "no request.method", "request.body_base64 is not base64"). */
int victim_record_parse(const char *line, size_t len, victim_record_t *out, char *err, size_t errsz);
void victim_record_free(victim_record_t *r);

#endif
