/* Fuzz target: one STAC item, as a local folder and as a remote catalogue would give it. */
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
    if (mw_stac_item_from_json(j, "/fuzz/item.json", &s) == 0) mw_scene_free(&s);
    mw_error_clear();
    for (int allow = 0; allow < 2; allow++) {
        if (mw_stac_item_from_remote_json(j, "http://fuzz/search#x", allow, &s) == 0) {
            char *p = mw_scene_asset_read_path(&s.bands[MW_BAND_RED]);
            free(p);
            mw_scene_free(&s);
        }
        mw_error_clear();
    }
    json_decref(j);
    return 0;
}
