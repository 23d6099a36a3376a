/* Reading YAML documents (libyaml's document API) with errors that name file:line:col. */
#include "core/yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"

int mw_yaml_err_at(const mw_yaml_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mw_error_setv(MW_ERR_INPUT, fmt, ap);
    va_end(ap);
    return mw_error_prefix("%s:%zu:%zu", c->path, n ? n->start_mark.line + 1 : 1,
                           n ? n->start_mark.column + 1 : 1);
}

const char *mw_yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *mw_yaml_map_get(const mw_yaml_ctx *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = mw_yaml_scalar(yaml_document_get_node(c->doc, p->key));
        if (k && strcmp(k, key) == 0) return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

/* Unknown keys are errors: a typo must not silently fall back to a default. */
int mw_yaml_check_keys(const mw_yaml_ctx *c, yaml_node_t *map, const char *section,
                       const char *const *allowed)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return mw_yaml_err_at(c, map, "'%s' must be a mapping of keys to values", section);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        const char *k = mw_yaml_scalar(kn);
        int ok = 0;
        for (const char *const *a = allowed; k && *a; a++)
            ok |= strcmp(*a, k) == 0;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; k && ok && q < p; q++) {
            const char *k2 = mw_yaml_scalar(yaml_document_get_node(c->doc, q->key));
            if (k2 && strcmp(k, k2) == 0)
                return mw_yaml_err_at(c, kn, "'%s' is given twice in '%s'", k, section);
        }
        if (!ok) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++) {
                if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, *a, sizeof list - strlen(list) - 1);
            }
            return mw_yaml_err_at(c, kn, "unknown key '%s' in '%s' (expected one of: %s)",
                                  k ? k : "?", section, list);
        }
    }
    return 0;
}

int mw_yaml_need(const mw_yaml_ctx *c, yaml_node_t *map, const char *key, const char *section,
                 yaml_node_t **out)
{
    *out = mw_yaml_map_get(c, map, key);
    if (!*out) return mw_yaml_err_at(c, map, "'%s' needs '%s'", section, key);
    return 0;
}

int mw_yaml_get_str(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, char **out)
{
    const char *s = mw_yaml_scalar(n);
    if (!s || !*s) return mw_yaml_err_at(c, n, "'%s' must be a non-empty text value", what);
    free(*out);
    *out = mw_text_dup(s);
    return *out ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
}

int mw_yaml_get_num(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, double lo, double hi,
                    double *out)
{
    const char *s = mw_yaml_scalar(n);
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end || errno || !isfinite(v))
        return mw_yaml_err_at(c, n, "'%s' must be a number, got '%s'", what,
                              s ? s : "(not a value)");
    if (v < lo || v > hi)
        return mw_yaml_err_at(c, n, "'%s' must be between %g and %g, got %g", what, lo, hi, v);
    *out = v;
    return 0;
}

int mw_yaml_get_whole(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, double lo, double hi,
                      double *out)
{
    double v;
    if (mw_yaml_get_num(c, n, what, lo, hi, &v)) return -1;
    if (v != floor(v)) return mw_yaml_err_at(c, n, "'%s' must be a whole number, got %g", what, v);
    *out = v;
    return 0;
}

int mw_yaml_get_bool(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, bool *out)
{
    const char *s = mw_yaml_scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes")))
        *out = true;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no")))
        *out = false;
    else
        return mw_yaml_err_at(c, n, "%s must be true or false, not '%s'", what, s ? s : "?");
    return 0;
}

int mw_yaml_need_list(const mw_yaml_ctx *c, yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return mw_yaml_err_at(c, n, "'%s' must be a list, e.g. [a, b]", what);
    return 0;
}

int mw_yaml_get_texts(const mw_yaml_ctx *c, yaml_node_t *n, const char *what, char ***out)
{
    if (mw_yaml_need_list(c, n, what)) return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0) return mw_yaml_err_at(c, n, "'%s' is empty", what);
    char **v = calloc(cnt + 1, sizeof *v);
    if (!v) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    *out = v;
    for (size_t i = 0; i < cnt; i++)
        if (mw_yaml_get_str(c, yaml_document_get_node(c->doc, n->data.sequence.items.start[i]),
                            what, &v[i]))
            return -1;
    return 0;
}
