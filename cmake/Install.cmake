# Install layout and the two ways a framework image finds the library.
#
#   bin/smlaunch                              component "runtime"
#   lib/smlaunch/libsmlaunch_hostname.so      component "runtime" (see below)
#   include/smlaunch/*.hpp                    component "development"
#   <libdir>/libsmlaunch.a                    component "development"
#   <libdir>/cmake/smlaunch/                  find_package(smlaunch) -> smlaunch::smlaunch
#   <libdir>/pkgconfig/smlaunch.pc            pkg-config smlaunch
#
# The library is static, so its private dependencies (fmt, Threads, dl) are
# the consumer's link dependencies: smlaunchConfig.cmake finds them again and
# smlaunch.pc lists them. libssh and libarchive are opened with dlopen when
# first needed, so they are run-time dependencies only. Both files locate the prefix relative
# to themselves, so one install tree (or .deb) works wherever it is unpacked.
# Build outputs stay where the top-level CMakeLists.txt puts them (bin/,
# lib/smlaunch/); install rules only copy.
include(CMakePackageConfigHelpers)

# The binary finds its LD_PRELOAD shim at <dir of smlaunch>/../lib/smlaunch
# (kShimRelativePath in src/app/load.cpp), whatever CMAKE_INSTALL_LIBDIR says
# (lib64, lib/x86_64-linux-gnu): the shim is a private file of the binary, not
# a library anyone links, so it does not follow the multiarch libdir.
set(SMLAUNCH_SHIM_INSTALL_DIR lib/smlaunch)
set(SMLAUNCH_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/smlaunch)
set(SMLAUNCH_PKGCONFIG_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS smlaunch_cli
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
if(TARGET smlaunch_hostname)
  install(TARGETS smlaunch_hostname
    LIBRARY DESTINATION ${SMLAUNCH_SHIM_INSTALL_DIR} COMPONENT runtime)
endif()

install(TARGETS smlaunch EXPORT smlaunchTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
# install/strip (and CPACK_STRIP_FILES) strip programs and shared libraries
# only; the archive's debug info is 95% of its size in a RelWithDebInfo build.
if(CMAKE_STRIP)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:smlaunch>\"
        COMMAND_ERROR_IS_FATAL ANY)
    endif()" COMPONENT development)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/smlaunch
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT smlaunchTargets
  NAMESPACE smlaunch::
  DESTINATION ${SMLAUNCH_CMAKE_INSTALL_DIR} COMPONENT development)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/smlaunchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/packaging/smlaunchConfig.cmake
  INSTALL_DESTINATION ${SMLAUNCH_CMAKE_INSTALL_DIR})
# 0.x releases promise nothing across minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/packaging/smlaunchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/packaging/smlaunchConfig.cmake
  ${PROJECT_BINARY_DIR}/packaging/smlaunchConfigVersion.cmake
  DESTINATION ${SMLAUNCH_CMAKE_INSTALL_DIR} COMPONENT development)

# pkg-config: ${pcfiledir} keeps the file relocatable, like the CMake package.
file(RELATIVE_PATH SMLAUNCH_PC_PREFIX_FROM_PCDIR
  /${SMLAUNCH_PKGCONFIG_INSTALL_DIR} /)
string(REGEX REPLACE "/$" "" SMLAUNCH_PC_PREFIX_FROM_PCDIR "${SMLAUNCH_PC_PREFIX_FROM_PCDIR}")
set(SMLAUNCH_PC_DL_LIBS "")
foreach(lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND SMLAUNCH_PC_DL_LIBS " -l${lib}")
endforeach()
string(STRIP "${SMLAUNCH_PC_DL_LIBS}" SMLAUNCH_PC_DL_LIBS)
configure_file(${CMAKE_CURRENT_LIST_DIR}/smlaunch.pc.in
  ${PROJECT_BINARY_DIR}/packaging/smlaunch.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/smlaunch.pc
  DESTINATION ${SMLAUNCH_PKGCONFIG_INSTALL_DIR} COMPONENT development)
