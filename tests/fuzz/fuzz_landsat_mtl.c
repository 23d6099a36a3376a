/* Fuzz target: Landsat Collection 2 MTL (JSON form). */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "minewatch/error.h"
#include "minewatch/scene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) return 0;
    mw_scene s;
    if (mw_landsat_mtl_from_json(j, "/fuzz/LC08_MTL.json", &s) == 0) mw_scene_free(&s);
    mw_error_clear();
    json_decref(j);
    return 0;
}
