# All of phyx's dependency discovery lives here. Everything comes from Debian
# packages (see tools/deps.sh); nothing is downloaded at configure/build time.

# --- Threads (libc) --------------------------------------------------------
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

# --- mimalloc (libmimalloc-dev, provides the shared `mimalloc` target) -----
if(PHYX_USE_MIMALLOC)
  find_package(mimalloc CONFIG QUIET)
  if(NOT TARGET mimalloc)
    message(FATAL_ERROR
      "phyx: mimalloc not found. Install the Debian package 'libmimalloc-dev' "
      "(apt-get install libmimalloc-dev) or configure with -DPHYX_USE_MIMALLOC=OFF.")
  endif()
endif()

# --- moodycamel::ConcurrentQueue (libconcurrentqueue-dev, header-only) -----
find_path(PHYX_CONCURRENTQUEUE_INCLUDE_DIR
  NAMES concurrentqueue.h
  PATHS /usr/include/concurrentqueue
  PATH_SUFFIXES concurrentqueue
  DOC "Directory containing moodycamel's concurrentqueue.h")
if(NOT PHYX_CONCURRENTQUEUE_INCLUDE_DIR)
  message(FATAL_ERROR
    "phyx: concurrentqueue.h not found. Install the Debian package "
    "'libconcurrentqueue-dev' (apt-get install libconcurrentqueue-dev).")
endif()

# --- doctest (doctest-dev: /usr/lib/cmake/doctest, target doctest::doctest)
if(PHYX_BUILD_TESTS)
  find_package(doctest CONFIG QUIET)
  if(NOT TARGET doctest::doctest)
    message(FATAL_ERROR
      "phyx: doctest not found. Install the Debian package 'doctest-dev' "
      "(apt-get install doctest-dev) or configure with -DPHYX_BUILD_TESTS=OFF.")
  endif()
endif()

# --- Google Benchmark (libbenchmark-dev, target benchmark::benchmark) -----
if(PHYX_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT TARGET benchmark::benchmark)
    message(FATAL_ERROR
      "phyx: Google Benchmark not found. Install the Debian package 'libbenchmark-dev' "
      "(apt-get install libbenchmark-dev) or configure with -DPHYX_BUILD_BENCH=OFF.")
  endif()
endif()

# --- Doxygen (doxygen, optional: only the `docs` target and the `docs_build` test use it)
# Component `doxygen` only: without a component list FindDoxygen also looks for graphviz's
# `dot`, which phyx does not use (HAVE_DOT = NO in tools/doxygen/Doxyfile.in).
find_package(Doxygen QUIET COMPONENTS doxygen)
