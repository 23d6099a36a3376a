/* Co-registration: the translation between two images of a site by phase correlation (FFTW),
 * refined to a fraction of a pixel by an upsampled DFT around the peak (Guizar-Sicairos,
 * Thurman & Fienup 2008, Opt. Lett. 33(2):156-158; the algorithm of scikit-image's
 * phase_cross_correlation), with a confidence from the peak's height over the noise level. */
#ifndef MINEWATCH_COREGISTER_H
#define MINEWATCH_COREGISTER_H

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_COREG_CITATION                                                                          \
    "Guizar-Sicairos M., Thurman S.T. & Fienup J.R. 2008, Efficient subpixel image registration "  \
    "algorithms, Opt. Lett. 33(2):156-158"

/* Changes whenever an estimate's bits could change (the algorithm, its windowing, its sums):
 * estimates kept from an earlier version are not reused. */
#define MW_COREG_VERSION "pc-upsampled-dft-1"

typedef struct mw_coreg_options {
    int upsample;     /* sub-pixel factor: 100 resolves 0.01 px (default when 0) */
    int prepare;      /* 1: remove the mean and apply a Hann window (chips: no edge effects);
                         0: the images as given (scikit-image's default) */
    double min_snr;   /* peak over the noise level below which a shift is not trusted (0: 12;
                         unrelated images reach 5-8, real pairs 100+) */
    double min_valid; /* share of pixels finite in both images, below which none is estimated
                         (0: 0.2) */
} mw_coreg_options;

typedef struct mw_coreg_result {
    double dy, dx; /* pixels: shift moving by this (out(x) = moving(x - d)) to register it onto
                      reference; scikit-image's sign */
    double peak;   /* |phase-correlation peak| / pixels: 1 for a pure translation */
    double snr;    /* peak over the noise level of unrelated images (1/sqrt(pixels)) */
    double valid;  /* share of pixels finite in both */
    int trusted;   /* 1: snr >= min_snr, enough valid pixels, neither image flat */
    const char *why_not; /* when not trusted: "flat", "too few clear pixels", "weak peak" */
} mw_coreg_result;

/* NaN pixels in either image are masked (set to the image mean before windowing). An
 * untrusted result has dy = dx = 0: a shift is never invented. Returns -1 only for bad arguments
 * or memory; thread-safe (FFTW plans are made once per size under a lock, then shared). */
MW_API int mw_coreg_estimate(const float *reference, const float *moving, int width, int height,
                             const mw_coreg_options *o, mw_coreg_result *r);

/* out(x, y) = in(x - dx, y - dy) by bicubic convolution (Keys 1981, a = -0.5); NaN where the
 * kernel reaches a NaN or the edge. out must not alias in. */
MW_API void mw_coreg_shift_image(const float *in, int width, int height, double dy, double dx,
                                 float *out);

#ifdef __cplusplus
}
#endif

#endif
