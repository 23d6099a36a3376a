/* The scene simulator: Sentinel-2 L2A-like products over sites, with known truth planted. */
#ifndef MINEWATCH_SIM_H
#define MINEWATCH_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/date.h"
#include "minewatch/site.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Scene footprints extend this far beyond the site: like a real tile, larger than the site. */
#define MW_SIM_MARGIN_M 1000.0

typedef struct mw_sim_options {
    uint64_t seed;
    int scenes_per_period;
    double cloud_cover; /* mean cloud fraction of a scene, 0..0.9 */
    double margin_m;    /* scene footprint = site bbox + margin on each side */
} mw_sim_options;

/* Writes <out_dir>/<scene id>/{<scene id>.json, B02.tif ... B12.tif, SCL.tif} for every site and
 * period, and <out_dir>/truth.json. Deterministic in the seed, whatever the thread count. */
MW_API int mw_simulate(const mw_site *const *sites, size_t nsites, const mw_period *periods,
                       size_t nperiods, const mw_sim_options *opt, const char *out_dir);

/* A key naming everything the simulation depends on; a run reuses scenes whose truth.json
 * carries the same key. Caller frees. */
MW_API char *mw_sim_key(const mw_site *const *sites, size_t nsites, const mw_period *periods,
                        size_t nperiods, const mw_sim_options *opt);

#ifdef __cplusplus
}
#endif

#endif
