/* The pipeline file's reference and template, written from the key tables (pipeline_keys.c):
 * what the README says and what `minewatch pipeline` prints cannot drift from what is parsed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "minewatch/pipeline.h"
#include "minewatch/qa.h"
#include "pipeline/pipeline_keys.h"

/* A growing text. */
typedef struct text {
    char *s;
    size_t n, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...) MW_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *piece = mw_text_vformat(fmt, ap);
    va_end(ap);
    size_t len = piece ? strlen(piece) : 0;
    if (!piece || t->failed) {
        t->failed = 1;
        free(piece);
        return;
    }
    if (t->n + len + 1 > t->cap) {
        size_t cap = (t->n + len + 1) * 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            free(piece);
            return;
        }
        t->s = s, t->cap = cap;
    }
    memcpy(t->s + t->n, piece, len + 1);
    t->n += len;
    free(piece);
}

static char *done(text *t)
{
    if (t->failed || !t->s) {
        free(t->s);
        return NULL;
    }
    return t->s;
}

/* The default as written in a pipeline file, or NULL. */
static const char *default_text(const mw_key *k, char *buf, size_t n)
{
    if (k->def_of) {
        snprintf(buf, n, "%g", k->def_of());
        return buf;
    }
    return k->def;
}

static const char *const source_names[] = {"simulator", "local", "stac_api"};

static void sources_text(const mw_key *k, char *buf, size_t n)
{
    *buf = 0;
    for (int b = 0; b < 3; b++)
        if (k->sources & (1 << b)) {
            if (*buf) strncat(buf, ", ", n - strlen(buf) - 1);
            strncat(buf, source_names[b], n - strlen(buf) - 1);
        }
}

static void value_text(const mw_key *k, char *buf, size_t n)
{
    /* by mw_key_type */
    static const char *const kind[] = {
        "number",        "whole number", "true or false",
        "text",          "path",         "path, URL or tile template",
        "list of texts", "one of",       "list of QA classes:",
        "see what"};
    _Static_assert(sizeof kind / sizeof *kind == MW_KEY_OTHER + 1, "a name for every key type");
    snprintf(buf, n, "%s", kind[k->type]);
    if (k->type == MW_KEY_NUMBER || k->type == MW_KEY_WHOLE)
        snprintf(buf + strlen(buf), n - strlen(buf), ", %.15g to %.15g%s%s", k->lo, k->hi,
                 *k->unit ? " " : "", k->unit);
    for (int i = 0; k->type == MW_KEY_CHOICE && k->choice(i); i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s %s", i ? "," : "", k->choice(i));
    for (int i = 0; k->type == MW_KEY_QA && i < mw_qa_nflags; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s %s", i ? "," : "", mw_qa_flags[i].name);
}

char *mw_pipeline_reference(void)
{
    text t = {0};
    for (size_t i = 0; i < mw_key_nsections; i++) {
        const mw_key_section *s = &mw_key_sections[i];
        add(&t, "%s`%s`: %s%s\n\n| key | value | default | what |\n|---|---|---|---|\n",
            i ? "\n" : "", *s->name ? s->name : "top level", s->doc,
            s->required ? " (required)" : "");
        for (size_t j = 0; j < s->n; j++) {
            const mw_key *k = &s->keys[j];
            char value[256], dbuf[32], for_[64];
            value_text(k, value, sizeof value);
            const char *d = default_text(k, dbuf, sizeof dbuf);
            sources_text(k, for_, sizeof for_);
            char cell[64];
            if (k->required)
                snprintf(cell, sizeof cell, "required");
            else if (d)
                snprintf(cell, sizeof cell, "`%s`", d);
            else
                snprintf(cell, sizeof cell, "none");
            add(&t, "| `%s` | %s | %s | %s%s%s%s |\n", k->key, value, cell, *for_ ? "(" : "", for_,
                *for_ ? ") " : "", k->doc);
        }
    }
    return done(&t);
}

/* One line "key: value  # doc" at indent, commented out by mark ("" or "# "); a long doc goes
 * on in comment lines below. */
static void template_line(text *t, int indent, const char *mark, const char *key, const char *value,
                          const char *doc)
{
    enum { DOC_COLUMN = 46, WIDTH = 100 };
    char kv[512];
    snprintf(kv, sizeof kv, "%*s%s%s: %s", indent, "", mark, key, value);
    add(t, "%-*s #", DOC_COLUMN, kv);
    int col = (int)strlen(kv) > DOC_COLUMN ? (int)strlen(kv) + 2 : DOC_COLUMN + 2;
    for (const char *s = doc; *s;) {
        int len = (int)strcspn(s, " ");
        if (col + 1 + len > WIDTH && col > DOC_COLUMN + 2) {
            add(t, "\n%*s#", DOC_COLUMN + 1, "");
            col = DOC_COLUMN + 2;
        }
        add(t, " %.*s", len, s);
        col += 1 + len;
        s += len;
        while (*s == ' ')
            s++;
    }
    add(t, "\n");
}

/* shown: a required section's examples are written (a file that parses), others commented */
static void template_key(text *t, const mw_key *k, int indent, const char *mark, int shown)
{
    char dbuf[32], doc[600];
    const char *d = default_text(k, dbuf, sizeof dbuf);
    snprintf(doc, sizeof doc, "%s%s", k->required ? "required: " : "", k->doc);
    if (d)
        template_line(t, indent, mark, k->key, d, doc);
    else if (k->example) /* no default: an example, left out unless required */
        template_line(t, indent, k->required || shown ? mark : "# ", k->key, k->example, doc);
    else
        template_line(t, indent, "# ", k->key, "...", doc);
}

char *mw_pipeline_template(void)
{
    text t = {0};
    add(&t, "# A minewatch pipeline: every key with its default. Keys without one are examples, "
            "commented out.\n# The reference: `minewatch pipeline --reference` (the README's "
            "\"Pipeline files\").\n");
    for (size_t i = 0; i < mw_key_nsections; i++) {
        const mw_key_section *s = &mw_key_sections[i];
        if (!*s->name) {
            for (size_t j = 0; j < s->n; j++)
                template_key(&t, &s->keys[j], 0, "", 0);
            continue;
        }
        /* an optional section that needs a key of its own is an example: commented out */
        int needs = 0;
        for (size_t j = 0; j < s->n; j++)
            needs |= s->keys[j].required;
        const char *mark = !s->required && needs ? "# " : "";
        add(&t, "\n# %s%s\n%s%s:\n", s->doc, s->required ? " (required)" : "", mark, s->name);
        for (size_t j = 0; j < s->n; j++) {
            const mw_key *k = &s->keys[j];
            if (k->sources && !(k->sources & MW_KEY_LOCAL)) continue; /* below */
            template_key(&t, k, 2, mark, s->required);
        }
        if (strcmp(s->name, "source") != 0) continue;
        for (int b = 0; b < 3; b += 2) { /* the other types' own keys */
            add(&t, "  # with type: %s\n", source_names[b]);
            for (size_t j = 0; j < s->n; j++)
                if (s->keys[j].sources == (1 << b)) template_key(&t, &s->keys[j], 2, "# ", 0);
        }
    }
    return done(&t);
}
