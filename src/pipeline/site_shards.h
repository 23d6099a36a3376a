/* Sites split into shards for batch schedulers without MPI (Slurm job arrays, Kubernetes indexed
 * jobs), and the shards' folders joined again. */
#ifndef MW_SITE_SHARDS_H
#define MW_SITE_SHARDS_H

#include <stddef.h>

#include "minewatch/pipeline.h"
#include "minewatch/site.h"

/* order[0..ns): the sites' indices, largest grid first (ties in pipeline order), and when
 * weights is given, weights[j] the pixels of site order[j]'s grid (what its work grows with; 1
 * when the grid cannot be made). Returns 0, or -1 out of memory. */
int mw_site_order(const mw_pipeline *p, const mw_site *const *sites, size_t ns, size_t *order,
                  double *weights);

/* The shard (0..n-1) of each site: largest grid first, each to the least loaded shard (ties to
 * the lower one), so shards get about the same number of pixels; the same on every machine for
 * the same pipeline and catalogue. */
void mw_site_shards(const mw_pipeline *p, const mw_site *const *sites, size_t ns, int n,
                    int *shard);

/* Checks that dirs are the output folders of shards 1..n of one pipeline (each once, the same
 * pipeline file, unchanged since) and gives that file's path (caller frees). MW_ERR_INPUT with
 * the folder and what is wrong otherwise. */
int mw_shards_check(const char *const *dirs, size_t ndirs, char **pipeline_path);

#endif
