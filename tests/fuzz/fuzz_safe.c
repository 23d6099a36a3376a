/* Fuzz target: Sentinel-2 SAFE metadata (MTD_MSIL2A.xml, through GDAL's XML parser). */
#include <stddef.h>
#include <stdint.h>

#include <cpl_error.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "minewatch/error.h"
#include "minewatch/scene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = "/vsimem/fuzz_safe/MTD_MSIL2A.xml";
    VSILFILE *f = VSIFileFromMemBuffer(path, (GByte *)data, size, FALSE);
    if (!f) return 0;
    VSIFCloseL(f);
    mw_scene s;
    if (mw_safe_read(path, &s) == 0) mw_scene_free(&s);
    mw_error_clear();
    VSIUnlink(path);
    return 0;
}
