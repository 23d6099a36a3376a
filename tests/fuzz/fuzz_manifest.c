/* Fuzz target: scene manifests (<name>.scene.yaml). File names in the input are resolved against
 * a folder that does not exist, so the YAML reading and every check before a file is opened are
 * what runs. */
#include <stddef.h>
#include <stdint.h>

#include "minewatch/error.h"
#include "minewatch/scene.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mw_scene s;
    if (mw_scene_manifest_parse("/nonexistent-fuzz/x.scene.yaml", (const char *)data, size, &s) ==
        0)
        mw_scene_free(&s);
    mw_error_clear();
    return 0;
}
