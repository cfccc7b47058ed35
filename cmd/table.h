/*
 * table.h — a text table with aligned columns, for `uhw ps`: cells are left-aligned and
 * separated by two spaces, the last column is not padded, and a cell may carry an SGR
 * colour ("31" red, "1;31" bold red...) that is written only when asked for and never
 * counts in the width.
 */
#ifndef UHW_TABLE_H
#define UHW_TABLE_H

#include <stdio.h>

typedef struct table table_t;

table_t *table_new(void);
void table_free(table_t *t);

/* Appends a cell to the current row (`text` is copied; NULL is "-"); `sgr` is NULL or an SGR
 * parameter string, kept as given (use literals). */
void table_cell(table_t *t, const char *text, const char *sgr);
/* printf-style cell without colour. */
void table_cellf(table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the current row; the next cell starts another. */
void table_row_end(table_t *t);

/* Writes every row, one per line; with `color`, coloured cells as ESC[SGRm text ESC[0m. */
void table_write(const table_t *t, FILE *out, int color);

#endif
