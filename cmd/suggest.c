/*
 * suggest.c — see suggest.h.
 */
#include "suggest.h"

#include <stdlib.h>
#include <string.h>

/* The optimal string alignment distance (Damerau-Levenshtein without repeated edits of one
 * substring), over three rows. Words here are command names: a few bytes. */
size_t suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *prev2 = calloc(lb + 1, sizeof(size_t)), *prev = calloc(lb + 1, sizeof(size_t)),
           *cur = calloc(lb + 1, sizeof(size_t));
    if (prev2 == NULL || prev == NULL || cur == NULL)
        abort();
    for (size_t j = 0; j <= lb; ++j)
        prev[j] = j;
    for (size_t i = 1; i <= la; ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d)
                d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    free(prev2);
    free(prev);
    free(cur);
    return d;
}

const char *suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL, *prefixed = NULL;
    size_t best_d = (size_t)-1, nprefixed = 0, wl = strlen(word);
    for (size_t i = 0; i < n; ++i) {
        size_t d = suggest_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
        if (wl >= 2 && strncmp(candidates[i], word, wl) == 0) {
            prefixed = candidates[i];
            ++nprefixed;
        }
    }
    size_t limit = wl >= 8 ? 2 : 1;
    if (best != NULL && best_d <= limit && best_d < wl)
        return best;
    return nprefixed == 1 ? prefixed : NULL;
}
