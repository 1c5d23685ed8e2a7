#!/usr/bin/env bash
# Installs every dependency from Debian 12's packages, builds smlaunch with
# warnings as errors, and runs its main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  nlohmann-json3-dev libfmt-dev libcli11-dev libssh-dev libarchive-dev \
  openmpi-bin libopenmpi-dev python3 python3-mpi4py python3-torch \
  openssh-server openssh-client iproute2 \
  libgtest-dev libgmock-dev libbenchmark-dev \
  clang clang-format clang-tidy >/dev/null

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMLAUNCH_WERROR=ON
cmake --build build

# The main job on the bundled example: a single-host training script.
SMLAUNCH_PYTHON=/usr/bin/python3 ./build/bin/smlaunch --base-dir examples/hello-process/opt/ml
