#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz/, and runs each for a while on a copy of its seed corpus.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#
#   --seconds N  run each target N seconds (default 60)
#   --jobs J     run J targets at a time (default 2)
#   TARGET       fuzz_pyjson fuzz_config fuzz_plan fuzz_mpi_options
#                fuzz_job_output fuzz_hostname_shim (default: all)
#
# The checked-in corpus (tests/fuzz/corpus/<target>/) is only read: each run
# works in build-fuzz/fuzz-runs/<time>/, where the grown corpus, the logs and
# any crashing input stay. One summary line per target; exits 1 when a target
# crashed (the line names the input that did it: reproduce with
# build-fuzz/bin/<target> <input>). Needs clang and libclang-rt-dev
# (scripts/install-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_pyjson fuzz_config fuzz_plan fuzz_mpi_options fuzz_job_output fuzz_hostname_shim)
seconds=60
jobs=2
targets=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "fuzz.sh: unknown option: $1" >&2; usage ;;
    *)
      if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target: $1 (one of: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds takes a positive number" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs takes a positive number" >&2; exit 2; }
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi

# The longest input each target is given, and its dictionary.
max_len() {
  case "$1" in
    fuzz_mpi_options) echo 1024 ;;
    fuzz_config | fuzz_job_output) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
dictionary() {
  case "$1" in
    fuzz_mpi_options) echo tests/fuzz/mpi_options.dict ;;
    fuzz_job_output) echo tests/fuzz/job_output.dict ;;
    *) echo tests/fuzz/json.dict ;;
  esac
}

# 1. A compiler that can build fuzzers (clang's libFuzzer runtime is in
# libclang-rt-dev, which Debian's clang only recommends).
export CC=${CC:-clang} CXX=${CXX:-clang++}
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char* d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
  >"$probe_dir/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" 2>"$probe_dir/err"; then
  cat "$probe_dir/err" >&2
  echo "fuzz.sh: $CC cannot link a libFuzzer target: install clang and libclang-rt-dev" >&2
  exit 1
fi

# 2. Build: the whole library instrumented (ASan, UBSan, fuzzer coverage),
# with the C++ library's assertions on.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS=-D_GLIBCXX_ASSERTIONS \
  -DSMLAUNCH_SANITIZE=ON -DSMLAUNCH_FUZZ=ON -DSMLAUNCH_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]}"

# 3. Run, `jobs` targets at a time.
run_dir="$PWD/build-fuzz/fuzz-runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, $jobs at a time, in $run_dir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_target() {
  local target=$1 dir="$run_dir/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "tests/fuzz/corpus/$target/." "$dir/corpus/"
  local status=0
  "build-fuzz/bin/$target" "$dir/corpus" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
    -dict="$(dictionary "$target")" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1 || status=$?
  echo "$status" >"$dir/status"
}

running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait

# 4. One line per target: libFuzzer's final figures, and what crashed.
failed=0
for target in "${targets[@]}"; do
  dir="$run_dir/$target"
  status=$(cat "$dir/status" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$dir/log" | tail -n 1 | cut -d' ' -f2)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  line=$(printf '%-20s execs %-10s exec/s %-7s cov %-6s ft %-7s crashes %s' "$target" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes")
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    echo "$line  FAILED (exit $status, log $dir/log)"
    find "$dir/artifacts" -type f -printf '  crash input: %p\n'
    grep -m 1 -E 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|fuzzer: ' \
      "$dir/log" | sed 's/^/  /' || true
  else
    echo "$line"
  fi
done
exit "$failed"
