/* QGIS styles (QML) stored in minewatch's GeoPackages, so a layer opens readable. */
#ifndef MW_QGIS_STYLES_H
#define MW_QGIS_STYLES_H

/* site_indicators: site outlines, filled by forest_loss_ha in four classes. */
extern const char mw_qml_site_indicators[];
/* forest_loss_patches: red patches with a dark outline, labelled with their hectares. */
extern const char mw_qml_loss_patches[];

#endif
