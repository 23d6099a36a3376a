/* Running a pipeline end to end. */
#ifndef MINEWATCH_RUN_H
#define MINEWATCH_RUN_H

#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run_report.h"
#include "minewatch/site.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sites spread over processes (MPI ranks; the CLI provides it): every rank runs
 * mw_pipeline_run, rank 0 writes the outputs, the others only compute sites. */
typedef struct mw_site_dispatch {
    int rank, size;
    /* Every rank calls it once: rank 0 with 0 when the run can start, -1 when not; returns rank
     * 0's status on every rank. */
    int (*agree)(void *ctx, int status);
    /* Every rank calls it: obtain(i, user) makes site i's result (a JSON text, malloc'd) on the
     * rank that gets it, the sites handed out in the order order[0..n) gives (rank 0's counts);
     * texts[i] receives every result at rank 0; why[i] (malloc'd) says why site i has none (its
     * rank died). Returns 0, or -1 when a result did not reach rank 0. */
    int (*spread)(void *ctx, size_t n, const size_t *order, char *(*obtain)(size_t i, void *user),
                  void *user, char **texts, char **why);
    void *ctx;
} mw_site_dispatch;

typedef struct mw_run_options {
    const char *out_dir;
    size_t mem_budget_mb; /* all working memory: chunk scratch and GDAL's block cache */
    int chunk_rows;       /* 0: derived from the budget; set only to test chunk invariance */
    const char *command_line;
    const char *datacube; /* overrides the pipeline's outputs.datacube when set */
    int ingest_only;      /* stop after the datacube: chips and provenance, no indicators */
    int shard_k, shard_n; /* only shard k (1..n) of the sites (pipeline/site_shards.h); n 0: all */
    const char *const *merge_dirs; /* merge: take every site's record from these shards' output
                                      folders; a site none has (with these inputs) fails, none is
                                      computed */
    size_t nmerge;
    const mw_site_dispatch *dispatch; /* NULL: one process */
} mw_run_options;

typedef struct mw_run_result {
    mw_indicator_row *rows; /* one per site and period, in pipeline order */
    size_t nrows;
    char **owned; /* strings the rows point at */
    size_t nowned;
    long scenes_outside; /* scenes of a local source that overlap no site (provenance lists) */
} mw_run_result;

/* Returns -1 (error message set) when the run cannot start: bad pipeline references, missing
 * catalogue, unknown site ids, unwritable output folder. Otherwise 0, with per-site and
 * per-scene failures in the report; sites that fail still get rows with empty values.
 * Process-wide settings: for the duration of the call GDAL's HTTP options (GDAL_HTTP_TIMEOUT,
 * _CONNECTTIMEOUT, _LOW_SPEED_TIME, _LOW_SPEED_LIMIT, _MAX_RETRY, _RETRY_DELAY and
 * GDAL_DISABLE_READDIR_ON_OPEN) take the pipeline's source.timeout_s, retries and backoff_s, so
 * a stalled server cannot hang the run; they are put back on return. GDAL offers no per-call
 * form of them; a host program reading remote rasters on other threads meanwhile reads with
 * these values. Nothing else is changed: GDAL's block cache is the caller's (the CLI sets it
 * from --mem). */
MW_API int mw_pipeline_run(const mw_pipeline *p, const mw_run_options *o, mw_run_report *report,
                           mw_run_result *result);
MW_API void mw_run_result_free(mw_run_result *r);
/* Keeps s (malloc'd) alive as long as r; returns s. */
MW_API const char *mw_run_result_keep(mw_run_result *r, char *s);

/* The change stages alone, from the composites a run of the same pipeline wrote to
 * <out_dir>/maps: land cover, transitions, loss patches, dNBR, trends, <out_dir>/change.csv
 * (the indicator columns that do not need the scenes) and <out_dir>/change_provenance.json (the
 * composites read, by hash; the thresholds found; the files written, by hash). Same return
 * convention as the run. */
MW_API int mw_pipeline_change(const mw_pipeline *p, const mw_run_options *o, mw_run_report *report,
                              mw_run_result *result);

/* Resolve the pipeline's site ids against the catalogue (all sites if the pipeline names none).
 * Unknown ids fail with a message naming them. Caller frees *out. */
MW_API int mw_pipeline_select_sites(const mw_pipeline *p, const mw_site_catalog *cat,
                                    const mw_site ***out, size_t *n);
/* Loads the pipeline's catalogue into *cat and selects its sites; on failure nothing is left to
 * free. */
MW_API int mw_pipeline_load_sites(const mw_pipeline *p, mw_site_catalog *cat,
                                  const mw_site ***sites, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
