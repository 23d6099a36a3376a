#include "core/name_check.h"

#include <string.h>

#include "minewatch/error.h"

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

bool mw_name_ok(const char *name)
{
    if (!name || !*name) return false;
    const unsigned char c0 = (unsigned char)name[0];
    if (c0 == '.' || c0 == '-' || c0 == '+') return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++)
        if (n >= MW_NAME_MAX || !name_char(*p)) return false;
    return true;
}

int mw_name_check(const char *name, const char *what)
{
    if (mw_name_ok(name)) return 0;
    const size_t n = name ? strlen(name) : 0;
    return mw_error_set(MW_ERR_INPUT,
                        "%s '%.60s%s' cannot name files: use 1 to %d letters, digits, '.', '_', "
                        "'+' or '-', starting with a letter, digit or '_'",
                        what, name ? name : "", n > 60 ? "..." : "", MW_NAME_MAX);
}
