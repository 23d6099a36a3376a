/* Fuzz target: pipeline files (YAML through libyaml, then minewatch's own checks). */
#include <stddef.h>
#include <stdint.h>

#include <cpl_error.h>

#include "minewatch/error.h"
#include "minewatch/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    CPLSetErrorHandler(CPLQuietErrorHandler); /* grid.epsg goes to PROJ */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mw_pipeline p;
    if (mw_pipeline_parse("/fuzz/pipeline.yaml", (const char *)data, size, &p) == 0)
        mw_pipeline_free(&p);
    mw_error_clear();
    return 0;
}
