#!/usr/bin/env bash
# The .deb installs and runs on a clean Debian 12.
#
#   1. `cpack -G DEB` builds smlaunch_<version>-1_<arch>.deb (and the -dev one);
#   2. a clean bookworm root comes from `debootstrap --variant=minbase`, made
#      once per day and mirror and cached under WORK_DIR/cache (a fresh one
#      takes about 3 minutes; each run then starts from a copy of it);
#   3. in a chroot of that copy (plus python3-minimal, the training image's
#      interpreter), `apt-get install ./smlaunch_*.deb` must pull
#      every dependency, and `smlaunch --version` and `smlaunch plan --json`
#      on a sample config must work, naming /usr/lib/smlaunch's shim.
#
# Only /proc is mounted in the chroot, in a mount namespace of its own: no
# mount is ever visible outside, whatever way the test ends.
# The downloaded .debs are kept between runs (WORK_DIR/apt-archives). Needs
# root and network access to the Debian mirror; exits 77 (skipped) when not
# root. The mirror is the machine's own (its /etc/apt sources), or
# $SMLAUNCH_DEB_TEST_MIRROR.
#
# usage: run_deb_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail

build=$(realpath "$1")
source=$(realpath "$2")
mkdir -p "$3"
work=$(realpath "$3")
suite=bookworm
kSkipped=77

if [ "$(id -u)" -ne 0 ]; then
  echo "deb test: skipped: needs root (debootstrap, chroot)"
  exit "$kSkipped"
fi
for tool in debootstrap chroot unshare dpkg-deb cpack; do
  command -v "$tool" >/dev/null || { echo "deb test: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done

# The Debian mirrors in this machine's apt sources (deb822 or one-line) that
# serve $suite, first one first.
host_mirrors() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function flush() { if (found && uri) print uri; found = 0; uri = "" }
      /^URIs:/   { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      /^$/       { flush() }
      END        { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($3 == suite) print $2 }' "$f"
  done
}
mirror=${SMLAUNCH_DEB_TEST_MIRROR:-$(host_mirrors | sed -n 1p)}
mirror=${mirror:-http://deb.debian.org/debian}

root=$work/root

# Runs a command in the chroot DIR with /proc mounted. The mount lives in a
# private mount namespace that ends with the command, so no mount outlives it
# even when the test is killed (ctest's TIMEOUT sends SIGKILL).
in_root() {
  unshare --mount --propagation private /bin/sh -c '
    mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$1" \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${@:2}"
}

echo "== cpack -G DEB"
rm -rf "$work/pkg"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" \
  || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(find "$work/pkg" -maxdepth 1 -name 'smlaunch_*.deb' -print -quit)
[ -n "$deb" ] || { echo "deb test: cpack made no smlaunch_*.deb" >&2; ls "$work/pkg" >&2; exit 1; }
echo "   $(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -c "$deb" | awk '{ print "   " $6 }'

# A clean bookworm, made once per (day, mirror), then copied for each run.
# kRootRecipe changes whenever what goes into the cached root changes.
kRootRecipe=2
key=$suite-minbase-r$kRootRecipe-$(date -u +%Y%m%d)-$(printf '%s' "$mirror" | sha1sum | cut -c1-8)
cache=$work/cache/$key
if [ ! -d "$cache" ]; then
  echo "== debootstrap --variant=minbase $suite $mirror (cached as $key)"
  rm -rf --one-file-system "$work/cache"
  mkdir -p "$work/cache"
  start=$SECONDS
  # Two tries: one lost DNS answer should not fail the suite.
  for try in 1 2; do
    rm -rf --one-file-system "$cache.tmp"
    # debootstrap mounts /proc and /sys in the target: a namespace of its own too.
    if unshare --mount --propagation private debootstrap --variant=minbase "$suite" "$cache.tmp" "$mirror" >"$work/debootstrap.log" 2>&1; then
      break
    fi
    tail -n 5 "$work/debootstrap.log" >&2
    [ "$try" -lt 2 ] || { echo "deb test: debootstrap failed (log: $work/debootstrap.log)" >&2; exit 1; }
    sleep 5
  done
  # Services never start in the chroot (openssh-server's postinst would).
  printf '#!/bin/sh\nexit 101\n' >"$cache.tmp/usr/sbin/policy-rc.d"
  chmod 755 "$cache.tmp/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$cache.tmp/etc/resolv.conf"
  in_root "$cache.tmp" apt-get update -qq
  # The training image's interpreter: the sample's entry point is train.py.
  # smlaunch itself does not depend on Python (`smlaunch --mpi CMD`).
  in_root "$cache.tmp" apt-get install -y -qq --no-install-recommends python3-minimal \
    >>"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  mv "$cache.tmp" "$cache"
  echo "   $((SECONDS - start)) s"
fi

echo "== apt-get install ./$(basename "$deb") in a copy of $key"
rm -rf --one-file-system "$root"
cp -a "$cache" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$work/apt-archives" "$root/sample/opt"
cp "$work"/apt-archives/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
cp "$deb" "$root/tmp/"
cp -r "$source/examples/mpi-2host/opt/ml" "$root/sample/opt/ml"
start=$SECONDS
in_root "$root" sh -c 'cd /tmp && apt-get install -y -q --no-install-recommends ./smlaunch_*.deb' \
  >"$work/apt-install.log" 2>&1 || { tail -n 40 "$work/apt-install.log" >&2; exit 1; }
echo "   $((SECONDS - start)) s"
cp "$root"/var/cache/apt/archives/*.deb "$work/apt-archives/" 2>/dev/null || true

echo "== smlaunch --version"
version=$(in_root "$root" smlaunch --version)
echo "   $version"
expected="smlaunch $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')"
[ "$version" = "$expected" ] || { echo "deb test: expected '$expected'" >&2; exit 1; }

echo "== smlaunch plan --json --base-dir /sample/opt/ml"
in_root "$root" smlaunch plan --json --base-dir /sample/opt/ml >"$work/plan.json" \
  || { cat "$work/plan.json" >&2; exit 1; }
shim=/usr/lib/smlaunch/libsmlaunch_hostname.so
[ -f "$root$shim" ] || { echo "deb test: $shim not installed" >&2; exit 1; }
grep -qF "$shim" "$work/plan.json" || { echo "deb test: the plan does not name $shim" >&2; cat "$work/plan.json" >&2; exit 1; }
grep -q '"runner": *"mpi"' "$work/plan.json" || { echo "deb test: not an mpi plan" >&2; cat "$work/plan.json" >&2; exit 1; }

rm -rf --one-file-system "$root"
echo "deb test: OK"
