/* Small string helpers shared by the library (malloc'd results; caller frees). */
#ifndef MW_TEXT_H
#define MW_TEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Copy of s, or of "" when s is NULL. */
char *mw_text_dup(const char *s);
/* printf into a new buffer of exactly the right size. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 0)))
#endif
char *
mw_text_vformat(const char *fmt, va_list ap);
/* The same with arguments: a malloc'd string, or NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
char *
mw_text_format(const char *fmt, ...);
/* First case-insensitive occurrence of needle in hay (ASCII), or NULL. */
const char *mw_text_ifind(const char *hay, const char *needle);
/* "a/b" */
char *mw_text_path(const char *dir, const char *name);
/* 1 if s is an http:// or https:// URL (any case). */
int mw_text_is_http(const char *s);
/* 1 if s ends with suffix. */
int mw_text_ends_with(const char *s, const char *suffix);
/* A whole file of at most max bytes, NUL-terminated (caller frees), or NULL with an error that
 * names what the file should be ("pipeline file", "Landsat MTL"). */
char *mw_text_read_file(const char *path, size_t max, const char *what, size_t *len);

/* A message fit to show and store, whatever text it echoes: the query of every URL hidden (it
 * may hold an access token), control characters replaced by '?', and any run of more than
 * MW_TEXT_TOKEN_MAX bytes without a space shortened, so a 50 MB name in a catalogue cannot flood
 * a terminal or a log. Takes ownership of s; returns the cleaned text (NULL if s was NULL). */
#define MW_TEXT_TOKEN_MAX 8192
char *mw_text_clean_message(char *s);
/* url with its query string replaced by "?<query hidden>" (a copy; "" for NULL). */
char *mw_text_redact_url(const char *url);

/* One CSV cell: RFC 4180 quoting when a text holds a comma, quote or line break. A text cell
 * (text = 1) that a spreadsheet would run as a formula (=, +, -, @, tab or carriage return
 * first: a site name from someone else's catalogue) gets a leading apostrophe, as OWASP
 * advises for CSV exports. */
void mw_csv_cell(FILE *f, const char *s, int text);

/* s as an SQL text literal, single quotes doubled: 'it''s'. Caller frees; NULL: no memory. */
char *mw_text_sql_literal(const char *s);

#endif
