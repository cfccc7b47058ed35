/*
 * suggest.h — "did you mean": the known word nearest to a mistyped one.
 */
#ifndef UHW_SUGGEST_H
#define UHW_SUGGEST_H

#include <stddef.h>

/* Edits between a and b: insertions, deletions, substitutions, and swaps of two neighbours
 * (stauts → status is one edit). */
size_t suggest_distance(const char *a, const char *b);

/* The candidate nearest to `word` when it is near enough to be what was meant (one edit for
 * a word of up to seven letters, two for longer ones), or else the only candidate that
 * begins with `word` (of two letters or more); NULL otherwise. */
const char *suggest(const char *word, const char *const *candidates, size_t n);

#endif
