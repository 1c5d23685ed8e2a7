#!/usr/bin/env bash
# The install tree works on its own: `cmake --install` into a temporary
# prefix, then
#   1. a consumer built with find_package(smlaunch) (CMAKE_PREFIX_PATH),
#   2. the same consumer built with `c++ $(pkg-config --cflags --libs smlaunch)`,
#   3. the installed smlaunch, whose plan must name the installed hostname
#      shim under the prefix, never the build tree.
# Both consumers must print the same plan. The scratch dir is kept on failure.
#
# usage: run_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(realpath "$1")
source=$(realpath "$2")

# Outside the build and source trees, so that a path under them in the
# output can only come from a path baked into the installed files.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smlaunch-install-test.XXXXXX")
example=$tmp/sample/opt/ml
mkdir -p "$example"
cp -r "$source/examples/mpi-2host/opt/ml/." "$example/"
prefix=$tmp/prefix
trap 'echo "install test: FAILED, scratch dir kept: $tmp" >&2' ERR

fail() {
  echo "install test: $*" >&2
  echo "install test: FAILED, scratch dir kept: $tmp" >&2
  trap - ERR
  exit 1
}

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"

for f in bin/smlaunch lib/smlaunch/libsmlaunch_hostname.so include/smlaunch/plan.hpp; do
  [ -f "$prefix/$f" ] || fail "missing $prefix/$f"
done
libdir=$(dirname "$(find "$prefix" -name libsmlaunch.a -print -quit)")
[ -n "$libdir" ] && [ "$libdir" != . ] || fail "libsmlaunch.a not installed"
for f in "$libdir/cmake/smlaunch/smlaunchConfig.cmake" \
         "$libdir/cmake/smlaunch/smlaunchConfigVersion.cmake" \
         "$libdir/pkgconfig/smlaunch.pc"; do
  [ -f "$f" ] || fail "missing $f"
done
# The package files are relocatable: no absolute path of this machine.
if grep -rlF -e "$build" -e "$source" "$libdir/cmake/smlaunch" "$libdir/pkgconfig"; then
  fail "the package files above name the build or source tree"
fi
if readelf -d "$prefix/bin/smlaunch" | grep -E 'RPATH|RUNPATH'; then
  fail "the installed smlaunch has an RPATH"
fi

echo "== find_package(smlaunch) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$source/tests/install/consumer" -B "$tmp/consumer-cmake" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/consumer-configure.log" \
  || { cat "$tmp/consumer-configure.log" >&2; fail "consumer configure failed"; }
found=$(sed -n 's/^smlaunch_DIR:PATH=//p' "$tmp/consumer-cmake/CMakeCache.txt")
[ "$found" = "$libdir/cmake/smlaunch" ] || fail "find_package found '$found', not the prefix"
cmake --build "$tmp/consumer-cmake" >"$tmp/consumer-build.log" \
  || { cat "$tmp/consumer-build.log" >&2; fail "consumer build failed"; }
"$tmp/consumer-cmake/consumer" "$example" >"$tmp/plan-cmake.json"

echo "== c++ \$(pkg-config --cflags --libs smlaunch) with PKG_CONFIG_PATH=$libdir/pkgconfig"
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs smlaunch)
echo "   $flags"
# shellcheck disable=SC2086  # the flags are words
"${CXX:-c++}" -std=c++20 -o "$tmp/consumer-pc" "$source/tests/install/consumer/main.cpp" $flags
"$tmp/consumer-pc" "$example" >"$tmp/plan-pc.json"
cmp "$tmp/plan-cmake.json" "$tmp/plan-pc.json" || fail "the two consumers print different plans"
python3 - "$tmp/plan-cmake.json" <<'EOF'
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["runner"] == "mpi", plan["runner"]
assert plan["hosts"] == ["algo-1", "algo-2"], plan["hosts"]
assert plan["num_processes"] == 4, plan["num_processes"]
EOF

echo "== $prefix/bin/smlaunch plan --json --base-dir $example"
env -u SMLAUNCH_HOSTNAME_SHIM "$prefix/bin/smlaunch" plan --json --base-dir "$example" >"$tmp/plan-installed.json"
shim=$prefix/lib/smlaunch/libsmlaunch_hostname.so
grep -qF "$shim" "$tmp/plan-installed.json" || fail "the installed plan does not name $shim"
if grep -F -e "$build" -e "$source" "$tmp/plan-installed.json"; then
  fail "the installed plan names the build tree"
fi

trap - ERR
rm -rf "$tmp"
echo "install test: OK"
