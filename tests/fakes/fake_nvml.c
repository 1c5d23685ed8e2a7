/* A fake libnvidia-ml.so.1 for the unit tests: the three NVML entry points
 * that smlaunch::hardware::count_gpus_nvml uses, with NVML's signatures and
 * return codes (nvml.h).
 *
 * How the test builds it: no CMake target (the test fixture in
 * tests/unit/hardware_test.cpp compiles it at run time, once per test run):
 *     cc -shared -fPIC -o <tmpdir>/libnvidia-ml.so.1 tests/fakes/fake_nvml.c
 * and passes that path as ProbeInputs::nvml_library.
 *
 * Controlled by environment variables, read on every call:
 *   FAKE_NVML_GPUS=N   devices reported by nvmlDeviceGetCount_v2 (default 8)
 *   FAKE_NVML_FAIL=1   nvmlInit_v2 fails with NVML_ERROR_DRIVER_NOT_LOADED
 */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;

enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_UNKNOWN = 999
};

static int init_count; /* NVML counts nested init/shutdown pairs */

nvmlReturn_t nvmlInit_v2(void) {
  const char* fail = getenv("FAKE_NVML_FAIL");
  if (fail != NULL && strcmp(fail, "1") == 0) return NVML_ERROR_DRIVER_NOT_LOADED;
  ++init_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  --init_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* device_count) {
  const char* text = getenv("FAKE_NVML_GPUS");
  char* end = NULL;
  unsigned long count = 8;
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device_count == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (text != NULL) {
    count = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || count > 1024) return NVML_ERROR_UNKNOWN;
  }
  *device_count = (unsigned int)count;
  return NVML_SUCCESS;
}
