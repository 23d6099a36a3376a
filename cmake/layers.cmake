# The layers, lowest first, follow the data: scenes -> chips -> composites -> change ->
# indicators -> graph -> the pipeline that runs them -> the program. Each is a folder of src/;
# a public header (include/minewatch/<name>.h) belongs to the layer listed here. A new public
# header is one word in this table. A file may include the headers of its own layer and of the
# layers below it, never of one above: CMakeLists.txt compiles each layer with only those on its
# include path, and check_layers.cmake names any upward include before anything compiles.
set(layers core kernels io cube change forest indicators graph sim pipeline cli)
set(headers_core error date log export version git_version)
set(headers_kernels band qa spectral_index composite index_stream cloud_screen polygon_coverage)
set(headers_io sensor scene site lonlat stac_api)
set(headers_cube grid chip warp chip_composite)
set(headers_change change_vector coregister forest_change land_cover patches severity
    site_change trend)
set(headers_forest treecover)
set(headers_indicators indicator)
set(headers_graph supply_graph)
set(headers_sim sim)
set(headers_pipeline pipeline run run_report graph_run treecover_run)
set(headers_cli)
