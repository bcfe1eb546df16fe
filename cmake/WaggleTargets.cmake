# Helpers that give every module, test, benchmark and fuzzer the same shape.
#
#   waggle_library(NAME SOURCES ... DEPS <waggle modules> EXTERNAL <third-party targets>)
#     DEPS are checked against the layering rule of DESIGN.md §3 by scripts/check-layering.
#   waggle_test(NAME SOURCES ... DEPS ...)       a GoogleTest binary registered with ctest
#   waggle_benchmark(NAME SOURCES ... DEPS ...)  a Google Benchmark binary, not in ctest
#   waggle_fuzzer(NAME SOURCES ... DEPS ...)     a libFuzzer binary (WAGGLE_FUZZ only), plus a
#                                                short ctest run of it

function(waggle_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;EXTERNAL" ${ARGN})
  if(ARG_SOURCES)
    add_library(waggle_${name} STATIC ${ARG_SOURCES})
    set(scope PUBLIC)
  else()
    add_library(waggle_${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  target_include_directories(waggle_${name} ${scope} ${PROJECT_SOURCE_DIR}/src)
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(waggle_${name} ${scope} waggle_${dep})
  endforeach()
  if(ARG_EXTERNAL)
    target_link_libraries(waggle_${name} ${scope} ${ARG_EXTERNAL})
  endif()
endfunction()

function(waggle_test name)
  if(NOT WAGGLE_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;EXTERNAL" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(${name} PRIVATE waggle_${dep})
  endforeach()
  target_link_libraries(${name} PRIVATE ${ARG_EXTERNAL} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    WAGGLE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    WAGGLE_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/test/testdata")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

function(waggle_benchmark name)
  if(NOT WAGGLE_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;EXTERNAL" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(${name} PRIVATE waggle_${dep})
  endforeach()
  target_link_libraries(${name} PRIVATE ${ARG_EXTERNAL} benchmark::benchmark)
endfunction()

function(waggle_fuzzer name)
  if(NOT WAGGLE_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;CORPUS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(${name} PRIVATE waggle_${dep})
  endforeach()
  # A brief run inside `make test`: 20 s of fuzzing from the seed corpus. New inputs go to a
  # corpus dir in the build tree (libFuzzer writes to the first dir), never the source tree.
  set(work_corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  file(MAKE_DIRECTORY ${work_corpus})
  add_test(NAME ${name}
           COMMAND ${name} -max_total_time=20 -rss_limit_mb=2048 -timeout=10 ${work_corpus}
                   ${ARG_CORPUS})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
