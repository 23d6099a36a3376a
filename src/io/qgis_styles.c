/* QML as QGIS 3 writes it for a vector layer's symbology (renderer-v2); only the symbology
 * category, so the user's own labels, forms and actions are not overridden. */
#include "io/qgis_styles.h"

#define FILL(name, alpha, rgba, outline)                                                           \
    "<symbol type=\"fill\" name=\"" name "\" alpha=\"" alpha "\" clip_to_extent=\"1\" "            \
    "force_rhr=\"0\"><layer class=\"SimpleFill\" enabled=\"1\" pass=\"0\" locked=\"0\">"           \
    "<Option type=\"Map\"><Option type=\"QString\" name=\"color\" value=\"" rgba "\"/>"            \
    "<Option type=\"QString\" name=\"outline_color\" value=\"" outline "\"/>"                      \
    "<Option type=\"QString\" name=\"outline_style\" value=\"solid\"/>"                            \
    "<Option type=\"QString\" name=\"outline_width\" value=\"0.4\"/>"                              \
    "<Option type=\"QString\" name=\"outline_width_unit\" value=\"MM\"/>"                          \
    "<Option type=\"QString\" name=\"style\" value=\"solid\"/></Option></layer></symbol>"

#define HEAD                                                                                       \
    "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"                                 \
    "<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n"

const char mw_qml_site_indicators[] = HEAD
    "<renderer-v2 type=\"graduatedSymbol\" attr=\"forest_loss_ha\" "
    "graduatedMethod=\"GraduatedColor\" symbollevels=\"0\" forceraster=\"0\" "
    "enableorderby=\"0\">\n"
    "<ranges>"
    "<range lower=\"0\" upper=\"0.005\" symbol=\"0\" label=\"no forest loss\" render=\"true\"/>"
    "<range lower=\"0.005\" upper=\"10\" symbol=\"1\" label=\"under 10 ha\" render=\"true\"/>"
    "<range lower=\"10\" upper=\"100\" symbol=\"2\" label=\"10 to 100 ha\" render=\"true\"/>"
    "<range lower=\"100\" upper=\"1000000000\" symbol=\"3\" label=\"100 ha and more\" "
    "render=\"true\"/></ranges>\n"
    "<symbols>" FILL("0", "0.35", "254,240,217,255", "90,90,90,255")
        FILL("1", "0.45", "253,204,138,255", "90,90,90,255")
            FILL("2", "0.55", "252,141,89,255", "90,90,90,255")
                FILL("3", "0.65", "215,48,31,255", "90,90,90,255") "</symbols>\n"
                                                                   "</renderer-v2>\n</qgis>\n";

const char mw_qml_loss_patches[] = HEAD
    "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" "
    "enableorderby=\"0\">\n<symbols>" FILL("0", "0.8", "228,26,28,255",
                                           "103,0,13,255") "</symbols>\n</renderer-v2>\n</qgis>\n";
