#include "minewatch/spectral_index.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/simd.h"

/* Normalised difference (a-b)/(a+b); a zero sum has no defined value. */
static inline double nd(double a, double b)
{
    double s = a + b;
    return s != 0.0 ? (a - b) / s : NAN;
}

#define R(b) rho[MW_BAND_##b]
static double ndvi(const double *rho)
{
    return nd(R(NIR), R(RED));
}
static double nbr(const double *rho)
{
    return nd(R(NIR), R(SWIR22));
}
static double ndwi(const double *rho)
{
    return nd(R(GREEN), R(NIR));
}
static double mndwi(const double *rho)
{
    return nd(R(GREEN), R(SWIR16));
}
static double ndbi(const double *rho)
{
    return nd(R(SWIR16), R(NIR));
}
static double ndmi(const double *rho)
{
    return nd(R(NIR), R(SWIR16));
}
static double bsi(const double *rho)
{
    return nd(R(SWIR16) + R(RED), R(NIR) + R(BLUE));
}
static double nhi_swir(const double *rho)
{
    return nd(R(SWIR22), R(SWIR16));
}
static double nhi_swnir(const double *rho)
{
    return nd(R(SWIR16), R(NIR08));
}
static double tai(const double *rho)
{
    return R(NIR08) != 0.0 ? (R(SWIR22) - R(SWIR16)) / R(NIR08) : NAN;
}
#undef R

#define B(x) MW_BAND_##x
#define ND 1 /* a plain normalised difference of bands[0] and bands[1]: the SIMD path */
/* Adding an index is one line here: name, formula, bands, count, valid range, function, citation,
 * and ND when it is (bands[0]-bands[1])/(bands[0]+bands[1]). */
// clang-format off
const mw_spectral_index mw_spectral_indices[] = {
    {"ndvi", "(nir-red)/(nir+red)", {B(NIR), B(RED)}, 2, -1, 1, ndvi, "Rouse J.W. et al. 1974, Monitoring vegetation systems in the Great Plains with ERTS, NASA SP-351", ND},
    {"nbr", "(nir-swir22)/(nir+swir22)", {B(NIR), B(SWIR22)}, 2, -1, 1, nbr, "Key C.H. & Benson N.C. 2006, Landscape assessment (LA), USDA RMRS-GTR-164-CD", ND},
    {"ndwi", "(green-nir)/(green+nir)", {B(GREEN), B(NIR)}, 2, -1, 1, ndwi, "McFeeters S.K. 1996, Int. J. Remote Sens. 17(7):1425-1432", ND},
    {"mndwi", "(green-swir16)/(green+swir16)", {B(GREEN), B(SWIR16)}, 2, -1, 1, mndwi, "Xu H. 2006, Int. J. Remote Sens. 27(14):3025-3033", ND},
    {"ndbi", "(swir16-nir)/(swir16+nir)", {B(SWIR16), B(NIR)}, 2, -1, 1, ndbi, "Zha Y. et al. 2003, Int. J. Remote Sens. 24(3):583-594", ND},
    {"bsi", "((swir16+red)-(nir+blue))/((swir16+red)+(nir+blue))", {B(SWIR16), B(RED), B(NIR), B(BLUE)}, 4, -1, 1, bsi, "Rikimaru A. et al. 2002, Tropical forest cover density mapping, Trop. Ecol. 43(1):39-47", 0},
    {"ndmi", "(nir-swir16)/(nir+swir16)", {B(NIR), B(SWIR16)}, 2, -1, 1, ndmi, "Gao B.-C. 1996, Remote Sens. Environ. 58(3):257-266", ND},
    {"nhi_swir", "(swir22-swir16)/(swir22+swir16)", {B(SWIR22), B(SWIR16)}, 2, -1, 1, nhi_swir, "Marchese F. et al. 2019, Remote Sens. 11(23):2876 (Normalized Hotspot Indices; defined there on TOA radiance, computed here on the scene's reflectance)", ND},
    {"nhi_swnir", "(swir16-nir08)/(swir16+nir08)", {B(SWIR16), B(NIR08)}, 2, -1, 1, nhi_swnir, "Marchese F. et al. 2019, Remote Sens. 11(23):2876 (Normalized Hotspot Indices; defined there on TOA radiance, computed here on the scene's reflectance)", ND},
    {"tai", "(swir22-swir16)/nir08", {B(SWIR22), B(SWIR16), B(NIR08)}, 3, -1e3, 1e3, tai, "Liu Y., Zhi W., Xu B., Xu W. & Wu W. 2021, Detecting high-temperature anomalies from Sentinel-2 MSI images, ISPRS J. Photogramm. Remote Sens. 177:174-193 (Thermal Anomaly Index)", 0},
};
// clang-format on
#undef ND
#undef B
const int mw_spectral_nindices = (int)(sizeof mw_spectral_indices / sizeof mw_spectral_indices[0]);

const mw_spectral_index *mw_spectral_index_find(const char *name)
{
    for (int i = 0; i < mw_spectral_nindices; i++)
        if (strcasecmp(name, mw_spectral_indices[i].name) == 0) return &mw_spectral_indices[i];
    return NULL;
}

/* Normalised difference straight from the numbers: with reflectance = x*s + o,
 * (ra - rb)/(ra + rb) = s(a - b)/(s(a + b) + oa + ob). One branch-free loop the compiler
 * vectorises; NaN in, a zero sum or a value out of [-1, 1] (beyond rounding) give NaN. */
MW_TARGET_CLONES
static void nd_row(const float *restrict a, const float *restrict b, double sa, double oa,
                   double sb, double ob, float *restrict out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const double x = (double)a[i] * sa + oa, y = (double)b[i] * sb + ob;
        const double den = x + y, v = (x - y) / den;
        const double c = v < -1.0 && v >= -1.0 - 1e-6 ? -1.0 : v > 1.0 && v <= 1.0 + 1e-6 ? 1.0 : v;
        out[i] = den != 0.0 && c >= -1.0 && c <= 1.0 ? (float)c : NAN; /* NaN compares false */
    }
}

void mw_spectral_index_row_dn(const mw_spectral_index *ix, const float *const rows[MW_BAND_COUNT],
                              const double scale[MW_BAND_COUNT], const double offset[MW_BAND_COUNT],
                              float *restrict out, size_t n)
{
    if (ix->normalised_difference) {
        const int a = ix->bands[0], b = ix->bands[1];
        nd_row(rows[a], rows[b], scale ? scale[a] : 1.0, scale ? offset[a] : 0.0,
               scale ? scale[b] : 1.0, scale ? offset[b] : 0.0, out, n);
        return;
    }
    double rho[MW_BAND_COUNT];
    for (int b = 0; b < MW_BAND_COUNT; b++)
        rho[b] = NAN;
    /* A value within rounding of a bound is that bound; beyond it, the index has no meaning. */
    const double tmin = 1e-6 * fmax(1.0, fabs(ix->valid_min)),
                 tmax = 1e-6 * fmax(1.0, fabs(ix->valid_max));
    for (size_t i = 0; i < n; i++) {
        int bad = 0;
        for (int k = 0; k < ix->nbands; k++) {
            const int b = ix->bands[k];
            double v = rows[b][i];
            if (scale) v = v * scale[b] + offset[b];
            bad |= isnan(v);
            rho[b] = v;
        }
        double v = bad ? NAN : ix->fn(rho);
        if (v < ix->valid_min && v >= ix->valid_min - tmin) v = ix->valid_min;
        if (v > ix->valid_max && v <= ix->valid_max + tmax) v = ix->valid_max;
        out[i] = (isfinite(v) && v >= ix->valid_min && v <= ix->valid_max) ? (float)v : NAN;
    }
}

/* Normalised difference of whole DN shifted by whole offsets: A = a + ka and B = b + kb are
 * exact in float, so are A - B and A + B, and one correctly rounded division gives the float
 * nearest the true index; |A - B| <= |A + B| keeps it within [-1, 1] with no clamp. */
MW_TARGET_CLONES
static void nd_row_whole(const float *restrict a, const float *restrict b, float ka, float kb,
                         float *restrict out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float x = a[i] + ka, y = b[i] + kb;
        const float den = x + y, v = (x - y) / den;
        out[i] = den != 0.0f && v >= -1.0f && v <= 1.0f ? v : NAN;
    }
}

/* k when offset/scale is a whole number of DN small enough for float arithmetic to stay exact. */
static int whole_dn(double offset, double scale, float *k)
{
    const double d = offset / scale, r = nearbyint(d);
    if (fabs(d - r) > 1e-9 * fmax(1.0, fabs(d)) || fabs(r) > 4194304.0) return 0;
    *k = (float)r;
    return 1;
}

void mw_spectral_index_row_int(const mw_spectral_index *ix, const float *const rows[MW_BAND_COUNT],
                               const double scale[MW_BAND_COUNT],
                               const double offset[MW_BAND_COUNT], float *restrict out, size_t n)
{
    float ka, kb;
    if (ix->normalised_difference) {
        const int a = ix->bands[0], b = ix->bands[1];
        const double sa = scale ? scale[a] : 1.0, sb = scale ? scale[b] : 1.0;
        if (sa == sb && sa > 0 && whole_dn(scale ? offset[a] : 0.0, sa, &ka) &&
            whole_dn(scale ? offset[b] : 0.0, sb, &kb)) {
            nd_row_whole(rows[a], rows[b], ka, kb, out, n);
            return;
        }
    }
    mw_spectral_index_row_dn(ix, rows, scale, offset, out, n);
}

void mw_spectral_index_row(const mw_spectral_index *ix, const float *const rows[MW_BAND_COUNT],
                           float *restrict out, size_t n)
{
    mw_spectral_index_row_dn(ix, rows, NULL, NULL, out, n);
}
