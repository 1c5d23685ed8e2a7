#!/usr/bin/env bash
# Installs every dependency from Debian 12's packages, builds smlaunch with
# warnings as errors, and runs its main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every dependency, from one list shared with the container images in docker/.
bash scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMLAUNCH_WERROR=ON
cmake --build build

# The main job on the bundled example: a single-host training script.
SMLAUNCH_PYTHON=/usr/bin/python3 ./build/bin/smlaunch --base-dir examples/hello-process/opt/ml
