# tools/cmake/fuzz.cmake — libFuzzer targets (PHYX_FUZZ=ON, clang only; preset "fuzz").
#
# Each target compiles its fuzz driver with just the engine sources it exercises, under
# -fsanitize=fuzzer,address,undefined, and is registered as a CTest entry that fuzzes
# for PHYX_FUZZ_SECONDS with a seed printed in the log (replay: -seed=N, or the crash
# file libFuzzer writes). A target that needs the whole engine links the phyx library,
# which this configuration compiles with -fsanitize=fuzzer-no-link,address,undefined
# (coverage counters and the same sanitizers, no libFuzzer main); it is built only as a
# dependency of such a target.

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "phyx: PHYX_FUZZ needs clang (libFuzzer); configure with the 'fuzz' "
                      "preset or -DCMAKE_CXX_COMPILER=clang++ (got ${CMAKE_CXX_COMPILER_ID})")
endif()
set(PHYX_FUZZ_SECONDS 60 CACHE STRING "How long each fuzz target runs as a test")
set_target_properties(phyx PROPERTIES EXCLUDE_FROM_ALL ON)
# The same sources and dependencies as every other build (the envelope allocator that
# recycles nothing included, as in the ASan preset: see the top-level CMakeLists.txt).
# -fsized-deallocation: the engine calls the sized ::operator delete (C++14), which clang 14
# declares only with this flag (g++ does by default).
target_compile_options(phyx PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                    -fno-sanitize-recover=all -fsized-deallocation)
enable_testing()

function(phyx_add_fuzzer name driver)
  add_executable(${name} "${PROJECT_SOURCE_DIR}/${driver}")
  foreach(source IN LISTS ARGN)
    target_sources(${name} PRIVATE "${PROJECT_SOURCE_DIR}/${source}")
  endforeach()
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/engine"
                                             "${PROJECT_SOURCE_DIR}/include")
  target_compile_options(${name} PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                                         -fno-sanitize-recover=all)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  phyx_target_warnings(${name})
  add_test(NAME ${name}
           COMMAND ${name} -max_total_time=${PHYX_FUZZ_SECONDS} -timeout=10
                   -rss_limit_mb=2048 -print_final_stats=1)
  set_tests_properties(${name} PROPERTIES TIMEOUT 600)
endfunction()

# tests/<subsystem>/<file>_fuzz.cpp mirrors engine/<subsystem>/<file>.cpp.
phyx_add_fuzzer(journal_record_format_fuzz tests/journal/record_format_fuzz.cpp
                engine/journal/record_format.cpp engine/journal/crc32c.cpp)
# The deterministic runtime against a reference model of the SPEC, through the public API.
phyx_add_fuzzer(runtime_runtime_core_fuzz tests/runtime/runtime_core_fuzz.cpp)
target_link_libraries(runtime_runtime_core_fuzz PRIVATE phyx)
