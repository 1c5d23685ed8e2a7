#!/usr/bin/env bash
# Installs smlaunch's dependencies from the distribution's packages (Debian 12,
# or Ubuntu 24.04 for the CUDA image). One list, used by scripts/setup.sh (CI
# and developers: every group) and by the container images in docker/ (the
# build stage: --build; the image itself: --runtime).
#
#   scripts/install-deps.sh                   every group (what CI installs)
#   scripts/install-deps.sh --build           compile smlaunch and make its .deb
#   scripts/install-deps.sh --runtime         what a training image runs it with
#   scripts/install-deps.sh --runtime --no-mpi    ...without Open MPI and mpi4py
#                                             (an image that brings its own, e.g. the EFA installer's)
#   scripts/install-deps.sh --test            unit/e2e tests, benchmarks, linters
#   scripts/install-deps.sh --print [GROUPS]  print the package names, install nothing
#   scripts/install-deps.sh --clean GROUPS    ...then remove apt's package lists (image layers)
#
# A package the project needs goes into one of the groups below (not into
# setup.sh or a Dockerfile), so CI and the images stay alike.
#
# smlaunch's own shared libraries (libssh, libarchive, fmt) are not in
# --runtime: the image installs smlaunch's .deb, whose dependencies name them.
set -euo pipefail

build=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  nlohmann-json3-dev libfmt-dev libcli11-dev libssh-dev libarchive-dev
  dpkg-dev file  # cpack -G DEB: dpkg-shlibdeps finds the library dependencies
)
runtime=(openssh-server openssh-client python3)
runtime_mpi=(openmpi-bin python3-mpi4py)
test=(
  libopenmpi-dev python3-torch iproute2
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format clang-tidy cppcheck
  libclang-rt-dev  # libFuzzer and the sanitizers for clang (scripts/fuzz.sh); clang only recommends it
  python3-pip python3-setuptools python3-wheel python3-venv  # tests: pip installs of submitted code
  debootstrap  # tests/install: the .deb is installed into a clean Debian 12 root
)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

want_build=0 want_runtime=0 want_test=0 mpi=1 print=0 clean=0
for arg in "$@"; do
  case "$arg" in
    --build) want_build=1 ;;
    --runtime) want_runtime=1 ;;
    --test) want_test=1 ;;
    --no-mpi) mpi=0 ;;
    --print) print=1 ;;
    --clean) clean=1 ;;
    -h | --help) usage ;;
    *) echo "install-deps.sh: unknown option: $arg" >&2; usage ;;
  esac
done
if [ $((want_build + want_runtime + want_test)) -eq 0 ]; then
  want_build=1 want_runtime=1 want_test=1
fi

packages=()
if [ "$want_build" -eq 1 ]; then packages+=("${build[@]}"); fi
if [ "$want_runtime" -eq 1 ]; then
  packages+=("${runtime[@]}")
  if [ "$mpi" -eq 1 ]; then packages+=("${runtime_mpi[@]}"); fi
fi
if [ "$want_test" -eq 1 ]; then
  packages+=("${test[@]}")
  # The tests need Open MPI whatever the runtime group says.
  if [ "$want_runtime" -eq 0 ] || [ "$mpi" -eq 0 ]; then packages+=("${runtime_mpi[@]}"); fi
fi

if [ "$print" -eq 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
if [ "$clean" -eq 1 ]; then
  $SUDO rm -rf /var/lib/apt/lists/*
fi
