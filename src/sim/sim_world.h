/* The simulator's ground truth for one site: land cover as shapes in UTM metres that change at
 * known dates. Scenes are rendered from it and truth.json is measured on it. */
#ifndef MW_SIM_WORLD_H
#define MW_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "minewatch/date.h"
#include "minewatch/site.h"

typedef enum sim_cover {
    SIM_FOREST,
    SIM_GRASS,
    SIM_BARE,
    SIM_WATER,
    SIM_BUILT,
    SIM_REVEG,
    SIM_NCOVER
} sim_cover;

typedef struct sim_rect {
    double x0, y0, x1, y1;
} sim_rect;

typedef struct sim_disc {
    double cx, cy, r0, growth; /* area grows by growth * r0^2 * pi per era */
} sim_disc;

typedef struct sim_patch {
    sim_rect r;
    int era_cleared; /* forest before this era, bare from it on */
} sim_patch;

#define SIM_MAX_PATCHES 8
#define SIM_MAX_GRASS 6
#define SIM_MAX_EVENTS 16

typedef struct sim_world {
    int epsg;
    double cx, cy;   /* site centroid, UTM */
    bool processing; /* smelter/refinery: industrial block and hot spots, no pit */
    bool has_pit;
    sim_disc pit, pond;
    bool has_industrial;
    sim_rect industrial;
    sim_rect dump;        /* bare before the first event; revegetates from its west edge */
    double reveg_per_era; /* fraction of the dump revegetated per era */
    sim_patch patches[SIM_MAX_PATCHES];
    int npatches;
    sim_rect grass[SIM_MAX_GRASS];
    int ngrass;
    mw_day events[SIM_MAX_EVENTS]; /* change dates, between periods */
    int nevents;
    double hot_x, hot_y; /* hot-spot centre (processing sites) */
} sim_world;

/* Lay out features inside the site polygon (OGRGeometryH in the world's UTM CRS). */
int sim_world_build(sim_world *w, const mw_site *site, void *site_poly_utm, uint64_t seed,
                    const mw_day *event_days, int nevents);
int sim_world_era(const sim_world *w, mw_day day);
double sim_disc_radius(const sim_disc *d, int era);
sim_cover sim_world_cover(const sim_world *w, double x, double y, int era);
const char *sim_cover_name(sim_cover c);

#endif
