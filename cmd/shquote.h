/*
 * shquote.h — POSIX sh quoting: any bytes as one word that evaluates to exactly those
 * bytes and runs nothing. Used by `uhw recv`, whose output a worker evaluates.
 */
#ifndef UHW_SHQUOTE_H
#define UHW_SHQUOTE_H

#include <stddef.h>

#include "frame.h"

/* Appends `p` as one single-quoted word ('it'\''s') to `out`, NUL bytes dropped (a shell
 * variable cannot hold them); 0, or -1 on ENOMEM. */
int shquote_append(frame_buf_t *out, const void *p, size_t n);

/* The same word as a malloc'd string; NULL on ENOMEM. */
char *shquote(const void *p, size_t n);

/* Whether [s, s+n) is a POSIX name (a valid variable name): [A-Za-z_][A-Za-z0-9_]*. */
int shquote_is_name(const char *s, size_t n);

#endif
