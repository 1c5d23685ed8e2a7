#!/usr/bin/env bash
# Runs the test suite: every ctest suite of the normal build; static analysis
# (scripts/lint.sh: clang-tidy, cppcheck); the unit tests again built with
# AddressSanitizer + UBSan; the unit tests of the concurrent parts (peer
# probing, heartbeat, SSH sessions, name resolution, the supervised job and
# its relay) built with ThreadSanitizer; and every fuzz target for 60 s
# (scripts/fuzz.sh, clang + libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMLAUNCH_WERROR=ON >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

scripts/lint.sh build

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSMLAUNCH_WERROR=ON \
  -DSMLAUNCH_SANITIZE=ON -DSMLAUNCH_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMLAUNCH_WERROR=ON \
  -DSMLAUNCH_TSAN=ON -DSMLAUNCH_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-tsan --target smlaunch_unit_tests smlaunch_cli smlaunch_hostname
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L unit \
  -R '^(Peers|Heartbeat|HeartbeatListener|TcpProbe|TcpProbeAll|ReadGreeting|Resolve|WaitForNames|SshHandshake|SshSession|SshSessions|JobOutput|Relay|Supervisor)[A-Za-z]*\.'

scripts/fuzz.sh --seconds 60 --jobs "$jobs"
