/* One site's finished work, kept in the output folder, so that a re-run skips it, a killed run
 * resumes where it stopped, and shards merge:
 *
 *   <out>/.minewatch/sites/<site>/record.json   rows, provenance, failures, reference forest,
 *                                               the catalogue scenes over the site
 *   <out>/.minewatch/sites/<site>/maps/         the site's maps
 *
 * A site's folder is written aside (<site>.part-<pid>-<n>) and renamed into place whole, after
 * every map in it reached the disk, so a record that is there is complete. Its key, the SHA-256
 * of everything that decides the site's outputs (the build, the pipeline file, the catalogue and
 * reference inputs, the site, the scenes over it), says whether it still holds. Every run goes
 * through records, a fresh one too: what a resumed or merged run reads back is what an
 * uninterrupted run used, so their outputs are the same bytes. */
#ifndef MW_SITE_RECORD_H
#define MW_SITE_RECORD_H

#include <stddef.h>

#include <jansson.h>

#include "minewatch/indicator.h"
#include "minewatch/run.h"
#include "minewatch/run_report.h"
#include "minewatch/scene.h"
#include "minewatch/site.h"
#include "pipeline/site_reference_forest.h"

/* What one site's stages leave, before it becomes a record. */
typedef struct mw_site_work {
    mw_indicator_row *rows; /* one per period */
    size_t nrows;
    json_t *provenance;   /* the site's entry in provenance.json "sites" */
    mw_run_report report; /* its failures, in the order they happened */
    mw_rf_table rf;       /* its reference_forest rows */
    json_t *overlapped;   /* ids of the local catalogue's scenes over the site */
    json_t *duplicates;   /* scenes a STAC search gave twice */
} mw_site_work;

/* The record of w under key (the rows' numbers exactly: 17 significant digits, NaN as null). */
json_t *mw_site_record_make(const char *key, const mw_site_work *w);

/* Puts a record back into a run: its rows into rows[0..nperiods) (strings kept by res), its
 * provenance entry appended to prov_sites, its failures to rep, its reference forest rows to rf,
 * its duplicates to dups, and over_site(id, user) called for each scene over the site. Returns
 * 0, or -1 when the record is not one of this pipeline's (its rows do not match). */
int mw_site_record_apply(const json_t *rec, const mw_site *site, const mw_pipeline *p,
                         mw_indicator_row *rows, mw_run_result *res, json_t *prov_sites,
                         mw_run_report *rep, mw_rf_table *rf, json_t *dups,
                         void (*over_site)(const char *scene_id, void *user), void *user);

/* A report's failures as JSON, and back. */
json_t *mw_site_failures_json(const mw_run_report *rep);
void mw_site_failures_add(mw_run_report *rep, const json_t *failures);

/* <meta>/sites/<site>; caller frees. */
char *mw_site_record_dir(const char *meta_dir, const char *site_id);
/* The record in dir when its key is key and it may be taken again (no failure in it that may
 * pass, such as a full disk or the memory budget), else NULL. */
json_t *mw_site_record_load(const char *dir, const char *key);
/* Writes rec as <tmp_dir>/record.json (flushed to the disk) and renames tmp_dir to dir. */
int mw_site_record_commit(const json_t *rec, const char *tmp_dir, const char *dir);
/* The record in from (another output folder's) as dir's too: its files hard-linked (or copied)
 * into a folder renamed into place. */
int mw_site_record_adopt(const char *from, const char *dir);
/* Hard-links (or copies) every file of <dir>/maps into maps_dir. */
int mw_site_record_link_maps(const char *dir, const char *maps_dir);
/* Removes the folders killed runs left half-written in <meta>/sites. */
void mw_site_record_clear_parts(const char *meta_dir);

/* The key of a site: SHA-256 (hex) of run_key, the site and the scenes of cat over its box
 * (ids and the SHA-256 of their item files). */
char *mw_site_record_key(const char *run_key, const mw_site *site, int epsg,
                         const mw_scene_catalog *cat);

#endif
