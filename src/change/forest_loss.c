#include <string.h>

#include "minewatch/forest_change.h"

void mw_loss_open(uint8_t *loss, int w, int h, int k, uint8_t *keep)
{
    if (k <= 1) return;
    memset(keep, 0, (size_t)w * h);
    /* Mark every k x k block that is all loss, then keep exactly the pixels those blocks cover:
     * erosion and dilation by the same square, done on the whole site so no chunk edge exists. */
    for (int y = 0; y + k <= h; y++)
        for (int x = 0; x + k <= w; x++) {
            int full = 1;
            for (int dy = 0; dy < k && full; dy++)
                for (int dx = 0; dx < k && full; dx++)
                    full = loss[(size_t)(y + dy) * w + x + dx] == 1;
            if (!full) continue;
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++)
                    keep[(size_t)(y + dy) * w + x + dx] = 1;
        }
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (loss[i] == 1 && !keep[i]) loss[i] = 0;
}
