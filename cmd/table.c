/*
 * table.c — see table.h.
 */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct cell {
    char *text;
    const char *sgr;
} cell_t;

typedef struct row {
    cell_t *cells;
    size_t n;
} row_t;

struct table {
    row_t *rows;
    size_t nrows, cap;
    int open; /* the last row takes more cells */
};

table_t *table_new(void)
{
    table_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    return t;
}

void table_free(table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows; ++i) {
        for (size_t j = 0; j < t->rows[i].n; ++j)
            free(t->rows[i].cells[j].text);
        free(t->rows[i].cells);
    }
    free(t->rows);
    free(t);
}

static row_t *current(table_t *t)
{
    if (!t->open) {
        if (t->nrows == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 16;
            if ((t->rows = realloc(t->rows, t->cap * sizeof(*t->rows))) == NULL)
                abort();
        }
        t->rows[t->nrows++] = (row_t){0};
        t->open = 1;
    }
    return &t->rows[t->nrows - 1];
}

void table_cell(table_t *t, const char *text, const char *sgr)
{
    row_t *r = current(t);
    if ((r->cells = realloc(r->cells, (r->n + 1) * sizeof(*r->cells))) == NULL)
        abort();
    char *copy = strdup(text != NULL ? text : "-");
    if (copy == NULL)
        abort();
    r->cells[r->n++] = (cell_t){copy, sgr};
}

void table_cellf(table_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    table_cell(t, s, NULL);
    free(s);
}

void table_row_end(table_t *t)
{
    current(t); /* an empty row is a blank line */
    t->open = 0;
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; ++s)
        if (((unsigned char)*s & 0xc0) != 0x80)
            ++w;
    return w;
}

void table_write(const table_t *t, FILE *out, int color)
{
    size_t ncols = 0;
    for (size_t i = 0; i < t->nrows; ++i)
        if (t->rows[i].n > ncols)
            ncols = t->rows[i].n;
    size_t *w = calloc(ncols + 1, sizeof(*w));
    if (w == NULL)
        abort();
    for (size_t i = 0; i < t->nrows; ++i)
        for (size_t j = 0; j < t->rows[i].n; ++j) {
            size_t cw = width(t->rows[i].cells[j].text);
            if (cw > w[j])
                w[j] = cw;
        }
    for (size_t i = 0; i < t->nrows; ++i) {
        const row_t *r = &t->rows[i];
        for (size_t j = 0; j < r->n; ++j) {
            const cell_t *c = &r->cells[j];
            if (color && c->sgr != NULL)
                fprintf(out, "\033[%sm%s\033[0m", c->sgr, c->text);
            else
                fputs(c->text, out);
            if (j + 1 < r->n)
                fprintf(out, "%*s", (int)(w[j] - width(c->text) + 2), "");
        }
        fputc('\n', out);
    }
    free(w);
}
