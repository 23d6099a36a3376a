/* Reading YAML documents (libyaml's document API): values by key, unknown keys refused, and
 * every error prefixed with file:line:col of the node it is about. */
#ifndef MW_CORE_YAML_DOC_H
#define MW_CORE_YAML_DOC_H

#include <stdbool.h>

#include <yaml.h>

#include "minewatch/error.h"

typedef struct mw_yaml_ctx {
    const char *path; /* named in messages */
    yaml_document_t *doc;
} mw_yaml_ctx;

/* Sets an MW_ERR_INPUT error at node n (NULL: line 1) and returns -1. */
int mw_yaml_err_at(const mw_yaml_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    MW_PRINTF(3, 4);
/* The text of a scalar node, or NULL. */
const char *mw_yaml_scalar(const yaml_node_t *n);
/* The value of key in a mapping node, or NULL. */
yaml_node_t *mw_yaml_map_get(const mw_yaml_ctx *c, yaml_node_t *map, const char *key);
/* Unknown and repeated keys are errors (naming the known ones): a typo never falls back to a
 * default. allowed ends with NULL. */
int mw_yaml_check_keys(const mw_yaml_ctx *c, yaml_node_t *map, const char *section,
                       const char *const *allowed);
/* *out = the value of a required key, or an error naming section and key. */
int mw_yaml_need(const mw_yaml_ctx *c, yaml_node_t *map, const char *key, const char *section,
                 yaml_node_t **out);
/* A non-empty text value into *out (freed first; caller frees). */
int mw_yaml_get_str(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, char **out);
/* A finite number in [lo, hi]. */
int mw_yaml_get_num(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, double lo, double hi,
                    double *out);
/* A whole number in [lo, hi] (exact in a double). */
int mw_yaml_get_whole(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, double lo, double hi,
                      double *out);
/* true/yes or false/no. */
int mw_yaml_get_bool(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, bool *out);
/* n is a sequence, or an error "'what' must be a list". */
int mw_yaml_need_list(const mw_yaml_ctx *c, yaml_node_t *n, const char *what);
/* A non-empty list of non-empty texts, NULL-terminated, into *out: owned by the caller from the
 * start, so an error part-way leaves it to free. */
int mw_yaml_get_texts(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, char ***out);

#endif
