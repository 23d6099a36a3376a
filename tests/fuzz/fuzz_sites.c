/* Fuzz target: site catalogues through OGR (GeoJSON; the first byte picks CSV or GeoJSON). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "minewatch/error.h"
#include "minewatch/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *path = data[0] == 'c' ? "/vsimem/fuzz_sites.csv" : "/vsimem/fuzz_sites.geojson";
    VSILFILE *f = VSIFileFromMemBuffer(path, (GByte *)data + 1, size - 1, FALSE);
    if (!f) return 0;
    VSIFCloseL(f);
    mw_site_catalog cat;
    if (mw_site_catalog_load(path, &cat) == 0) {
        for (size_t i = 0; i < cat.n; i++) {
            OGRGeometryH g = mw_site_polygon(&cat.sites[i], mw_site_utm_epsg(&cat.sites[i]));
            if (g) OGR_G_DestroyGeometry(g);
        }
        mw_site_catalog_free(&cat);
    }
    mw_error_clear();
    VSIUnlink(path);
    return 0;
}
