/* The pipeline file's keys, one table per section: key, type, unit, range, default and what it
 * means. The tables drive parsing (file:line:col errors), the defaults, `minewatch pipeline
 * --reference` (the README's reference, checked by a test) and `--template`. Adding a key is one
 * line here and a field in mw_pipeline. */
#ifndef MW_PIPELINE_KEYS_H
#define MW_PIPELINE_KEYS_H

#include <stddef.h>

#include "core/yaml_doc.h"
#include "minewatch/pipeline.h"

typedef enum mw_key_type {
    MW_KEY_NUMBER, /* double in [lo, hi] */
    MW_KEY_WHOLE,  /* whole number in [lo, hi], into an int or a uint64_t */
    MW_KEY_BOOL,   /* true or false */
    MW_KEY_TEXT,   /* non-empty text */
    MW_KEY_PATH,   /* a file or folder, relative to the pipeline file */
    MW_KEY_SOURCE, /* a path (as MW_KEY_PATH), a URL or a tile template */
    MW_KEY_TEXTS,  /* a non-empty list of texts, NULL-terminated */
    MW_KEY_CHOICE, /* one name of a table; the field (int) takes its index */
    MW_KEY_QA,     /* a list of QA class names (minewatch/qa.h), into a uint8_t of bits */
    MW_KEY_OTHER,  /* read by its section's own code (lists, nested sections) */
} mw_key_type;

/* Sources the key applies to (source section), or 0: any. */
enum { MW_KEY_SIM = 1, MW_KEY_LOCAL = 2, MW_KEY_API = 4 };

typedef struct mw_key {
    const char *key;
    mw_key_type type;
    const char *unit; /* "" when none */
    double lo, hi;    /* NUMBER and WHOLE */
    /* as written in a pipeline file; NULL: none (the key is optional and off, or required) */
    const char *def;
    const char *doc;
    size_t off, size;             /* the mw_pipeline field; size 0: none (MW_KEY_OTHER) */
    const char *(*choice)(int i); /* CHOICE: the name of value i, NULL past the last */
    int required;
    int sources; /* MW_KEY_SIM | ...; 0: any */
    /* default from another table (land-cover rules): printed as %g; def is NULL then */
    double (*def_of)(void);
    const char *example; /* for the template, where there is no default */
} mw_key;

typedef struct mw_key_section {
    const char *name; /* "" for the top level */
    const mw_key *keys;
    size_t n;
    const char *doc;
    int required;
} mw_key_section;

extern const mw_key_section mw_key_sections[];
extern const size_t mw_key_nsections;

const mw_key_section *mw_key_section_find(const char *name);
/* rel against the pipeline file's folder (absolute paths as they are). Caller frees. */
char *mw_keys_resolve(const mw_pipeline *p, const char *rel);

/* The table's defaults into p (fields of MW_KEY_OTHER keys are set by their sections). */
void mw_keys_defaults(mw_pipeline *p);

/* Reads the section's keys present in mapping n into p: unknown keys (or keys of another source
 * type, `sources` not 0) are errors; required keys must be there; MW_KEY_OTHER keys are left to
 * the caller. */
int mw_keys_parse(const mw_yaml_ctx *c, yaml_node_t *n, const mw_key_section *s, int sources,
                  mw_pipeline *p);

#endif
