#include "io/json_file.h"

#include "minewatch/error.h"

json_t *mw_json_load_file(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        mw_error_set(MW_ERR_INPUT, "%s:%d:%d: not valid JSON: %s", path, jerr.line, jerr.column,
                     jerr.text);
    return root;
}
