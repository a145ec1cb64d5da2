# SPDX-License-Identifier: MIT
# One static library per layer folder. Each layer exposes its headers as "<layer>/<file>.h"
# through a private include root that holds only that layer, so a layer can include a header of
# another layer only if it links that layer: an upward include fails to build.
set(MOEFIT_INCLUDE_ROOTS ${CMAKE_BINARY_DIR}/include_roots)

# moefit_layer(NAME SOURCES ... DEPS ...): static library moefit_<NAME>.
function(moefit_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  set(root ${MOEFIT_INCLUDE_ROOTS}/${name})
  file(MAKE_DIRECTORY ${root})
  if(NOT EXISTS ${root}/${name})
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/${name} SYMBOLIC)
  endif()
  add_library(moefit_${name} STATIC ${ARG_SOURCES})
  target_include_directories(moefit_${name} PUBLIC ${root})
  target_link_libraries(moefit_${name} PUBLIC ${ARG_DEPS} PRIVATE moefit_warnings)
endfunction()

# moefit_test(NAME SOURCES ... DEPS ... LABELS ...): one GoogleTest binary, tests discovered
# into ctest with the given labels (unit, models, server, slow, ...).
function(moefit_test name)
  if(NOT MOEFIT_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main moefit_warnings)
  target_compile_definitions(${name} PRIVATE MOEFIT_FIXTURES_DIR="${MOEFIT_FIXTURES_DIR}"
                                             MOEFIT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # One label per test binary: gtest_discover_tests splits a list value into separate properties.
  list(LENGTH ARG_LABELS label_count)
  if(NOT label_count EQUAL 1)
    message(FATAL_ERROR "moefit_test(${name}): give exactly one label")
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
