/* Fuzz target: Landsat Collection 2 MTL, in its JSON form (input starting with '{') or its text
 * (ODL) form (anything else). */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "minewatch/error.h"
#include "minewatch/scene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mw_scene s;
    if (size == 0 || data[0] != '{') {
        if (mw_landsat_mtl_from_text((const char *)data, size, "/fuzz/LC08_MTL.txt", &s) == 0)
            mw_scene_free(&s);
        mw_error_clear();
        return 0;
    }
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) return 0;
    if (mw_landsat_mtl_from_json(j, "/fuzz/LC08_MTL.json", &s) == 0) mw_scene_free(&s);
    mw_error_clear();
    json_decref(j);
    return 0;
}
