#!/usr/bin/env bash
# Static analysis of src/: clang-tidy with the checks chosen in .clang-tidy
# (every finding an error) and cppcheck (warning, performance, portability).
# Needs a configured build tree for compile_commands.json (default: build).
#
#   scripts/lint.sh [BUILD_DIR]
#
# cppcheck's returnStdMoveLocal is suppressed: it fires on `return
# std::move(std::get<T>(v))` and on moving a reference out, which are moves
# of non-locals (copy elision cannot apply there).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "lint.sh: no $build/compile_commands.json (configure first)" >&2; exit 2; }

echo "== cppcheck"
cppcheck --quiet --std=c++20 --language=c++ --enable=warning,performance,portability \
  --inline-suppr --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
  --suppress=returnStdMoveLocal --error-exitcode=1 -I include -I src -j "$(nproc)" src

echo "== clang-tidy"
log="$build/clang-tidy.log"
find src -name '*.cpp' -print0 | sort -z |
  xargs -0 -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet --use-color=false --warnings-as-errors='*' \
    >"$log" 2>&1 || {
  grep -E "(warning|error):" "$log" | sort -u >&2
  echo "lint.sh: clang-tidy found problems (whole log: $log)" >&2
  exit 1
}
echo "lint: clean"
