/* Small pieces for the pages minewatch writes by hand (evidence packs, the run report). */
#ifndef MW_HTML_PAGE_H
#define MW_HTML_PAGE_H

#include <stdio.h>

#include <jansson.h>

/* Text with &, <, >, " and ' escaped. */
void mw_html_esc(FILE *f, const char *s);
/* A string member of an object, "" when absent. */
const char *mw_html_str(const json_t *o, const char *key);
/* A JSON number, NaN when not one. */
double mw_html_number(const json_t *v);
/* A figure for reading: four significant digits, thousands apart; an en dash when not finite. */
void mw_html_num(FILE *f, double v);
/* A fraction as a percentage with one decimal. */
void mw_html_percent(FILE *f, double v);
void mw_html_td_text(FILE *f, const char *s);
void mw_html_td_num(FILE *f, double v);
/* <thead> with the column titles (HTML allowed in them), then <tbody>. cols ends with NULL. */
void mw_html_head_row(FILE *f, const char *const *cols);
/* The one style sheet of minewatch's pages. */
extern const char mw_html_style[];

#endif
