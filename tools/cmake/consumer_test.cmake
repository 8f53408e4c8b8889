# cmake -P script behind the `consumer_find_package` CTest entry:
#   1. install the current phyx build tree into <work>/prefix
#   2. configure + build tests/consumer/ against it with find_package(phyx)
#   3. run the resulting `consumer` executable
# Inputs (-D): PHYX_BUILD_DIR PHYX_CONSUMER_SOURCE_DIR PHYX_WORK_DIR PHYX_CONFIG
#              PHYX_GENERATOR PHYX_MAKE_PROGRAM PHYX_CXX_COMPILER
foreach(var PHYX_BUILD_DIR PHYX_CONSUMER_SOURCE_DIR PHYX_WORK_DIR PHYX_GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${PHYX_WORK_DIR}/prefix")
set(build "${PHYX_WORK_DIR}/build")
file(REMOVE_RECURSE "${PHYX_WORK_DIR}")
file(MAKE_DIRECTORY "${PHYX_WORK_DIR}")

function(run_step what)
  message(STATUS "consumer_test: ${what}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer_test: ${what} failed (${rc})")
  endif()
endfunction()

set(config_args)
if(PHYX_CONFIG)
  set(config_args --config "${PHYX_CONFIG}")
endif()

run_step("install" "${CMAKE_COMMAND}" --install "${PHYX_BUILD_DIR}" --prefix "${prefix}" ${config_args})

set(configure_args
  -S "${PHYX_CONSUMER_SOURCE_DIR}" -B "${build}" -G "${PHYX_GENERATOR}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(PHYX_MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${PHYX_MAKE_PROGRAM}")
endif()
if(PHYX_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${PHYX_CXX_COMPILER}")
endif()
if(PHYX_CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${PHYX_CONFIG}")
endif()
run_step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})

# Make sure the package really came from the fresh install prefix.
file(STRINGS "${build}/CMakeCache.txt" phyx_dir_line REGEX "^phyx_DIR:")
string(REGEX REPLACE "^phyx_DIR:[A-Z]+=" "" phyx_dir "${phyx_dir_line}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${phyx_dir}" real_phyx_dir)
string(FIND "${real_phyx_dir}" "${real_prefix}/" pos)
if(NOT pos EQUAL 0)
  message(FATAL_ERROR "consumer_test: phyx found at '${phyx_dir}', expected under '${prefix}'")
endif()

run_step("build consumer" "${CMAKE_COMMAND}" --build "${build}" ${config_args})

if(EXISTS "${build}/consumer")
  set(exe "${build}/consumer")
elseif(PHYX_CONFIG AND EXISTS "${build}/${PHYX_CONFIG}/consumer")
  set(exe "${build}/${PHYX_CONFIG}/consumer")
else()
  message(FATAL_ERROR "consumer_test: consumer executable not found in ${build}")
endif()
run_step("run consumer" "${exe}")
message(STATUS "consumer_test: OK")
