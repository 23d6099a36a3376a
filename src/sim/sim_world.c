#include "sim/sim_world.h"

#include <math.h>
#include <string.h>

#include <ogr_api.h>

#include "core/hash_random.h"
#include "minewatch/error.h"

const char *sim_cover_name(sim_cover c)
{
    static const char *const names[SIM_NCOVER] = {"forest", "grass", "bare",
                                                  "water",  "built", "revegetated"};
    return c < SIM_NCOVER ? names[c] : "?";
}

double sim_disc_radius(const sim_disc *d, int era)
{
    return d->r0 * sqrt(1.0 + d->growth * era);
}

int sim_world_era(const sim_world *w, mw_day day)
{
    int e = 0;
    for (int i = 0; i < w->nevents; i++)
        e += day >= w->events[i];
    return e;
}

static inline int in_rect(const sim_rect *r, double x, double y)
{
    return x >= r->x0 && x < r->x1 && y >= r->y0 && y < r->y1;
}

sim_cover sim_world_cover(const sim_world *w, double x, double y, int era)
{
    if (w->has_industrial && in_rect(&w->industrial, x, y)) return SIM_BUILT;
    if (w->has_pit) {
        double r = sim_disc_radius(&w->pit, era), dx = x - w->pit.cx, dy = y - w->pit.cy;
        if (dx * dx + dy * dy < r * r) return SIM_BARE;
    }
    {
        double r = sim_disc_radius(&w->pond, era), dx = x - w->pond.cx, dy = y - w->pond.cy;
        if (dx * dx + dy * dy < r * r) return SIM_WATER;
    }
    if (in_rect(&w->dump, x, y)) {
        double f = w->reveg_per_era * era;
        if (f > 1) f = 1;
        return x < w->dump.x0 + f * (w->dump.x1 - w->dump.x0) ? SIM_REVEG : SIM_BARE;
    }
    for (int i = 0; i < w->npatches; i++)
        if (in_rect(&w->patches[i].r, x, y))
            return era >= w->patches[i].era_cleared ? SIM_BARE : SIM_FOREST;
    for (int i = 0; i < w->ngrass; i++)
        if (in_rect(&w->grass[i], x, y)) return SIM_GRASS;
    return SIM_FOREST;
}

static OGRGeometryH rect_geom(const sim_rect *r)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    OGR_G_AddPoint_2D(ring, r->x0, r->y0);
    OGR_G_AddPoint_2D(ring, r->x1, r->y0);
    OGR_G_AddPoint_2D(ring, r->x1, r->y1);
    OGR_G_AddPoint_2D(ring, r->x0, r->y1);
    OGR_G_AddPoint_2D(ring, r->x0, r->y0);
    OGRGeometryH p = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(p, ring);
    return p;
}

typedef struct placer {
    OGRGeometryH site;
    sim_rect taken[32]; /* footprints at their largest, with a margin */
    int ntaken;
    mw_rng rng;
    double cx, cy, R;
} placer;

static int overlaps(const sim_rect *a, const sim_rect *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Place a w x h box near the centre (within spread*R), inside the site and clear of others. */
static int place(placer *pl, double w, double h, double spread, int inside, sim_rect *out)
{
    const double margin = 40.0; /* keeps features a few pixels apart */
    for (int attempt = 0; attempt < 4000; attempt++) {
        double a = mw_rng_range(&pl->rng, 0, 6.283185307179586);
        double d = pl->R * spread * sqrt(mw_rng_unif(&pl->rng));
        double x = pl->cx + d * cos(a), y = pl->cy + d * sin(a);
        sim_rect r = {x - w / 2, y - h / 2, x + w / 2, y + h / 2};
        sim_rect rm = {r.x0 - margin, r.y0 - margin, r.x1 + margin, r.y1 + margin};
        int bad = 0;
        for (int i = 0; i < pl->ntaken && !bad; i++)
            bad = overlaps(&rm, &pl->taken[i]);
        if (bad) continue;
        OGRGeometryH g = rect_geom(&rm);
        int contained = OGR_G_Contains(pl->site, g);
        OGR_G_DestroyGeometry(g);
        if (inside ? !contained : contained) continue;
        if (!inside) { /* outside features stay near the site, not on it */
            OGRGeometryH g2 = rect_geom(&rm);
            int touch = OGR_G_Intersects(pl->site, g2);
            OGR_G_DestroyGeometry(g2);
            if (touch) continue;
        }
        if (pl->ntaken < 32) pl->taken[pl->ntaken++] = rm;
        *out = r;
        return 0;
    }
    return -1;
}

int sim_world_build(sim_world *w, const mw_site *site, void *site_poly_utm, uint64_t seed,
                    const mw_day *event_days, int nevents)
{
    memset(w, 0, sizeof *w);
    OGRGeometryH poly = site_poly_utm;
    OGRGeometryH c = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_Centroid(poly, c);
    w->cx = OGR_G_GetX(c, 0);
    w->cy = OGR_G_GetY(c, 0);
    OGR_G_DestroyGeometry(c);
    double R = sqrt(OGR_G_Area(poly) / 3.141592653589793);
    w->processing = strcmp(site->kind, "smelter") == 0 || strcmp(site->kind, "refinery") == 0 ||
                    strcmp(site->kind, "processing") == 0;
    if (nevents > SIM_MAX_EVENTS) nevents = SIM_MAX_EVENTS;
    memcpy(w->events, event_days, (size_t)nevents * sizeof *event_days);
    w->nevents = nevents;
    uint64_t h = seed;
    for (const char *p = site->id; *p; p++)
        h = mw_mix64(h ^ (uint64_t)(unsigned char)*p);
    placer pl = {.site = poly, .rng = {h}, .cx = w->cx, .cy = w->cy, .R = R};
    int ne = nevents > 0 ? nevents : 0;
    sim_rect r;
    if (w->processing) {
        if (place(&pl, 0.55 * R, 0.4 * R, 0.15, 1, &r)) goto crowded;
        w->has_industrial = true;
        w->industrial = r;
        w->hot_x = (r.x0 + r.x1) / 2;
        w->hot_y = (r.y0 + r.y1) / 2;
    } else {
        w->pit.r0 = 0.13 * R;
        w->pit.growth = 0.5;
        double rmax = sim_disc_radius(&w->pit, ne);
        if (place(&pl, 2 * rmax, 2 * rmax, 0.35, 1, &r)) goto crowded;
        w->has_pit = true;
        w->pit.cx = (r.x0 + r.x1) / 2;
        w->pit.cy = (r.y0 + r.y1) / 2;
    }
    w->pond.r0 = (w->processing ? 0.07 : 0.09) * R;
    w->pond.growth = 0.3;
    {
        double rmax = sim_disc_radius(&w->pond, ne);
        if (place(&pl, 2 * rmax, 2 * rmax, 0.6, 1, &r)) goto crowded;
        w->pond.cx = (r.x0 + r.x1) / 2;
        w->pond.cy = (r.y0 + r.y1) / 2;
    }
    if (place(&pl, 0.3 * R, 0.18 * R, 0.6, 1, &w->dump)) goto crowded;
    w->reveg_per_era = 0.35;
    int np = w->processing ? 3 : 4;
    for (int i = 0; i < np && ne > 0; i++) {
        double side_w = mw_rng_range(&pl.rng, 0.08, 0.16) * R;
        double side_h = mw_rng_range(&pl.rng, 0.08, 0.16) * R;
        if (place(&pl, side_w, side_h, 0.75, 1, &w->patches[w->npatches].r)) goto crowded;
        w->patches[w->npatches].era_cleared = 1 + i % ne;
        w->npatches++;
    }
    for (int i = 0; i < 2; i++)
        if (place(&pl, 0.2 * R, 0.12 * R, 0.75, 1, &w->grass[w->ngrass]) == 0) w->ngrass++;
    for (int i = 0; i < 2; i++)
        if (place(&pl, 0.25 * R, 0.2 * R, 1.6, 0, &w->grass[w->ngrass]) == 0) w->ngrass++;
    return 0;
crowded:
    return mw_error_set(MW_ERR_INPUT,
                        "simulator: site '%s' is too small or narrow to hold a pit, pond, dump "
                        "and clearings (radius-equivalent %.0f m); use a larger site",
                        site->id, R);
}
