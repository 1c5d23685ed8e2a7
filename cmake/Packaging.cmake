# Debian packages, built with `cpack -G DEB` in the build directory:
#
#   smlaunch_<version>-1_<arch>.deb         the runtime component: /usr/bin/smlaunch
#                                           and /usr/lib/smlaunch/libsmlaunch_hostname.so
#   libsmlaunch-dev_<version>-1_<arch>.deb  the development component: headers,
#                                           libsmlaunch.a, the CMake and pkg-config files
#
# A container image installs the first with `apt-get install ./smlaunch_*.deb`;
# apt then pulls what smlaunch runs (mpirun, sshd, ssh) and the shared
# libraries it links, which dpkg-shlibdeps reads off the binary.
set(SMLAUNCH_PACKAGE_MAINTAINER
  "smlaunch maintainers <maintainers@users.noreply.h-seed-28911802.example>"
  CACHE STRING "Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME smlaunch)
set(CPACK_PACKAGE_VENDOR smlaunch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${SMLAUNCH_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Container entrypoint for SageMaker-style distributed training")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
# Only our two components: a stray install() without COMPONENT must not
# become a third package.
set(CPACK_COMPONENTS_ALL runtime development)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SMLAUNCH_PACKAGE_MAINTAINER}")

# Runtime: the programs smlaunch starts are listed; the shared libraries come
# from dpkg-shlibdeps (dpkg-dev) with their minimum versions. Without
# dpkg-shlibdeps (a non-Debian build host) Debian 12's names are listed.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME smlaunch)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "openmpi-bin, openssh-server, openssh-client")
find_program(SMLAUNCH_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(SMLAUNCH_DPKG_SHLIBDEPS)
if(SMLAUNCH_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
  # dlopen'ed (ssh/client.cpp, platform/archive.cpp): dpkg-shlibdeps cannot see them.
  string(APPEND CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS ", libssh-4, libarchive13")
else()
  string(APPEND CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
    ", libssh-4, libarchive13, libfmt9, libstdc++6, libgcc-s1, libc6")
endif()
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"Container entrypoint for SageMaker-style distributed training
 smlaunch reads the training configuration under /opt/ml, decides the launch
 (runner, hosts, processes per host, the mpirun/torchrun/smddprun command and
 its environment), forms the SSH cluster between hosts and runs the job.")

# Development: what a framework image needs to build against libsmlaunch.a
# (its link dependencies are the consumer's, see cmake/smlaunchConfig.cmake.in).
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libsmlaunch-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "smlaunch (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}), libfmt-dev, pkg-config")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
"smlaunch library and headers
 The configuration and launch-plan library behind smlaunch (static), with its
 headers, a CMake package (find_package(smlaunch) -> smlaunch::smlaunch) and a
 pkg-config file.")

include(CPack)
