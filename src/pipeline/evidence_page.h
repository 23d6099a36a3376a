/* The evidence pack of one buyer as a page a compliance officer can read and file. */
#ifndef MW_EVIDENCE_PAGE_H
#define MW_EVIDENCE_PAGE_H

#include <jansson.h>

/* Writes a self-contained HTML page (inline CSS and SVG, no script, no remote resource) from the
 * evidence document that evidence_<node>.json holds, so the page and the JSON never disagree:
 * the buyer's embedded figures with bounds, one section per framework (GHG Protocol Scope 3
 * category 1, EU CBAM, EU Battery Regulation due diligence) saying whether it applies, the
 * upstream chain drawn and listed with every source, the upstream sites with their shares and
 * scenes, and the method. Returns 0, or -1 with an MW_ERR_IO message. */
int mw_evidence_page_write(const char *path, const json_t *doc);

#endif
