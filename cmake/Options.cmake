# Options say how to build, never what smlaunch can do.
option(SMLAUNCH_BUILD_TESTS "Build the unit tests" ON)
option(SMLAUNCH_BUILD_BENCHMARKS "Build the Google Benchmark programs" ON)
option(SMLAUNCH_WERROR "Treat warnings as errors (CI and dev builds)" OFF)
option(SMLAUNCH_SANITIZE "Build with AddressSanitizer and UBSan" OFF)
option(SMLAUNCH_TSAN "Build with ThreadSanitizer (the concurrent parts' unit tests: scripts/test.sh)" OFF)
if(SMLAUNCH_SANITIZE AND SMLAUNCH_TSAN)
  message(FATAL_ERROR "SMLAUNCH_SANITIZE and SMLAUNCH_TSAN cannot be combined (ASan and TSan exclude each other)")
endif()
