/* Names that become parts of file names: site ids, pipeline names, period names. A name from a
 * catalogue written by someone else must never choose where a file is written. */
#ifndef MW_NAME_CHECK_H
#define MW_NAME_CHECK_H

#include <stdbool.h>

#define MW_NAME_MAX 100 /* bytes */

/* Letters, digits and . _ + - only, at most MW_NAME_MAX bytes, starting with a letter, digit or
 * underscore: no '/', no "..", no leading '.' or '-', nothing a shell or spreadsheet reads. */
bool mw_name_ok(const char *name);
/* 0, or an MW_ERR_INPUT error: "<what> '<name>' ...: use only ..." (the name shortened). */
int mw_name_check(const char *name, const char *what);

#endif
