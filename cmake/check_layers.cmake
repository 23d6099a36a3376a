# Layers that only point down: a file may include the headers of its own layer and of the layers
# below it, never of one above. The build runs this before the library compiles (target
# `layers`), so an upward include fails the build; tests/layers_test.sh plants one to see it
# refused. Usage: cmake -DSRC=<source tree> -P check_layers.cmake
#
# The layers, lowest first, follow the data: scenes -> chips -> composites -> change ->
# indicators -> graph -> the pipeline that runs them -> the program. Each is a folder of src/;
# a public header (include/minewatch/<name>.h) belongs to the layer listed here. A new public
# header is one word in this table.
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

if(NOT SRC)
  message(FATAL_ERROR "usage: cmake -DSRC=<source tree> -P check_layers.cmake")
endif()

# the layer (its index) of a header named in an #include, seen from a file of layer `own`
function(layer_of inc own out)
  if(inc MATCHES "^minewatch/([a-z_0-9]+)\\.h$")
    set(name "${CMAKE_MATCH_1}")
    set(i 0)
    foreach(l ${layers})
      list(FIND headers_${l} "${name}" hit)
      if(NOT hit EQUAL -1)
        set(${out} ${i} PARENT_SCOPE)
        return()
      endif()
      math(EXPR i "${i} + 1")
    endforeach()
    set(${out} "unknown" PARENT_SCOPE)
  elseif(inc MATCHES "^([a-z]+)/[a-z_0-9]+\\.h$")
    list(FIND layers "${CMAKE_MATCH_1}" i)
    set(${out} ${i} PARENT_SCOPE)
  else() # beside the file
    set(${out} ${own} PARENT_SCOPE)
  endif()
endfunction()

set(problems "")
set(i 0)
foreach(l ${layers})
  file(GLOB files "${SRC}/src/${l}/*.c" "${SRC}/src/${l}/*.h")
  foreach(h ${headers_${l}})
    if(EXISTS "${SRC}/include/minewatch/${h}.h")
      list(APPEND files "${SRC}/include/minewatch/${h}.h")
    endif()
  endforeach()
  foreach(f ${files})
    file(STRINGS "${f}" incs REGEX "^#include \"")
    foreach(line ${incs})
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" inc "${line}")
      layer_of("${inc}" ${i} li)
      file(RELATIVE_PATH rel "${SRC}" "${f}")
      if(li STREQUAL "unknown")
        string(APPEND problems
               "  ${rel} includes ${inc}, a public header of no layer: add it to cmake/check_layers.cmake\n")
      elseif(li GREATER i)
        list(GET layers ${li} above)
        string(APPEND problems
               "  ${rel} (layer ${l}) includes ${inc} (layer ${above}, above it)\n")
      endif()
    endforeach()
  endforeach()
  math(EXPR i "${i} + 1")
endforeach()
# every public header has a layer
file(GLOB public "${SRC}/include/minewatch/*.h")
foreach(f ${public})
  get_filename_component(name "${f}" NAME_WE)
  layer_of("minewatch/${name}.h" 0 li)
  if(li STREQUAL "unknown")
    string(APPEND problems "  include/minewatch/${name}.h belongs to no layer: add it to cmake/check_layers.cmake\n")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "layers that point up (each layer may use only itself and the layers below: "
                      "${layers}):\n${problems}")
endif()
