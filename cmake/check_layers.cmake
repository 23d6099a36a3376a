# Layers that only point down (the table: layers.cmake). The build runs this before the library
# compiles (target `layers`), so an upward include fails the build with the file and the two
# layers named; each layer is also compiled with only its own and lower headers on its include
# path. tests/layers_test.sh plants upward includes to see both refuse them.
# Usage: cmake -DSRC=<source tree> -P check_layers.cmake
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)

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
  elseif(inc MATCHES "^(\\.\\./)?([a-z]+)/[a-z_0-9]+\\.h$")
    list(FIND layers "${CMAKE_MATCH_2}" i)
    set(${out} ${i} PARENT_SCOPE)
  elseif(inc MATCHES "\\.\\./")
    set(${out} "climbs" PARENT_SCOPE)
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
      if(li STREQUAL "climbs")
        string(APPEND problems
               "  ${rel} includes ${inc}: name a folder's header as <folder>/<name>.h\n")
      elseif(li STREQUAL "unknown")
        string(APPEND problems
               "  ${rel} includes ${inc}, a public header of no layer: add it to cmake/layers.cmake\n")
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
    string(APPEND problems "  include/minewatch/${name}.h belongs to no layer: add it to cmake/layers.cmake\n")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "layers that point up (each layer may use only itself and the layers below: "
                      "${layers}):\n${problems}")
endif()
