/*
 * The hostname shim's JSON scanner, exported for hostname_shim_fuzzer.cpp.
 * find_current_host() is static in the shim (the shim exports gethostname
 * only), so this file includes the shim's source and adds one entry point.
 * The interposed gethostname is renamed: the fuzzer binary must keep the
 * real one (libFuzzer and the sanitizer runtimes may call it).
 */
#define gethostname smlaunch_fuzz_shim_gethostname
#include "gethostname_shim.c"
#undef gethostname

/* find_current_host over [p, p + n); the scanner decodes strings in place,
 * so p must be writable. */
int smlaunch_fuzz_find_current_host(unsigned char* p, size_t n, const unsigned char** host, size_t* host_len);
int smlaunch_fuzz_find_current_host(unsigned char* p, size_t n, const unsigned char** host, size_t* host_len) {
  return find_current_host(p, p + n, host, host_len);
}
