/* A JSON file read with jansson; a syntax error names the file, line and column. */
#ifndef MW_IO_JSON_FILE_H
#define MW_IO_JSON_FILE_H

#include <jansson.h>

/* The document (caller json_decref()s), or NULL with an MW_ERR_INPUT error. */
json_t *mw_json_load_file(const char *path);

#endif
