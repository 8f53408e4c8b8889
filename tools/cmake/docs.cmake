# tools/cmake/docs.cmake — the API reference: `cmake --build --preset release --target docs`
# writes <build>/docs/html/index.html from the public headers (include/phyx, not detail/).
#
# tools/doxygen/Doxyfile.in fails the run on any doxygen warning (WARN_AS_ERROR =
# FAIL_ON_WARNINGS, WARN_IF_UNDOCUMENTED = YES), so an undocumented public declaration
# fails the target; tests/CMakeLists.txt registers the same run as the `docs_build` test so
# that CI keeps it that way. Doxygen is optional: without it there is no target and no test.

if(NOT TARGET Doxygen::doxygen)
  message(STATUS "phyx: doxygen not found; no 'docs' target (apt-get install doxygen)")
  return()
endif()

set(PHYX_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
set(PHYX_DOCS_MAINPAGE "${PROJECT_SOURCE_DIR}/tools/doxygen/mainpage.md")
set(PHYX_DOXYFILE "${PROJECT_BINARY_DIR}/Doxyfile")
configure_file("${PROJECT_SOURCE_DIR}/tools/doxygen/Doxyfile.in" "${PHYX_DOXYFILE}" @ONLY)

add_custom_target(docs
  COMMAND Doxygen::doxygen "${PHYX_DOXYFILE}"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Doxygen: API reference in ${PHYX_DOCS_OUTPUT_DIR}/html/index.html"
  VERBATIM)
