/* Small string helpers shared by the library (malloc'd results; caller frees). */
#ifndef MW_TEXT_H
#define MW_TEXT_H

#include <stdarg.h>

/* Copy of s, or of "" when s is NULL. */
char *mw_text_dup(const char *s);
/* printf into a new buffer of exactly the right size. */
char *mw_text_vformat(const char *fmt, va_list ap);
/* First case-insensitive occurrence of needle in hay (ASCII), or NULL. */
const char *mw_text_ifind(const char *hay, const char *needle);
/* "a/b" */
char *mw_text_path(const char *dir, const char *name);

#endif
