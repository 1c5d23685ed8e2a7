// Fuzzes the hostname shim's resourceconfig.json scanner
// (launchers/hostname-shim, through shim_scanner.c) against smlaunch's own
// reader: the shim must override gethostname() exactly when smlaunch reads
// the same bytes as a JSON object whose "current_host" is a usable host
// name, and with the same name. A disagreement means the ranks would see a
// different host name than the one smlaunch planned with.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/validate.hpp"
#include "smlaunch/pyvalue.hpp"

extern "C" int smlaunch_fuzz_find_current_host(unsigned char* p, std::size_t n, const unsigned char** host,
                                               std::size_t* host_len);

namespace {

[[noreturn]] void fail(const char* what, std::string_view input, std::string_view detail = {}) {
  std::fprintf(stderr, "hostname shim fuzzer: %s\n  input:  %.*s\n  detail: %.*s\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// What smlaunch makes of the document: the current_host it would use, or
// nullopt (the shim then falls back to the real gethostname).
std::optional<std::string> smlaunch_current_host(std::string_view text) {
  namespace py = smlaunch::py;
  if (!py::is_valid_utf8(text)) return std::nullopt;
  auto decoded = py::loads(text);
  const auto* value = std::get_if<py::Value>(&decoded);
  if (value == nullptr || !value->is_dict()) return std::nullopt;
  const py::Value* host = value->as_dict().find("current_host");
  if (host == nullptr || !host->is_str() || !smlaunch::config::is_host_name(host->as_str())) return std::nullopt;
  return host->as_str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The scanner writes into its buffer: a copy of exactly `size` bytes, so
  // ASan sees any read or write past the end. Never a null pointer, even for
  // no bytes (the shim's buffer is a mapping of the file's size + 1).
  std::vector<unsigned char> buffer(data, data + size);
  unsigned char no_bytes = 0;
  unsigned char* const begin = buffer.empty() ? &no_bytes : buffer.data();
  const unsigned char* host = nullptr;
  std::size_t host_len = 0;
  const int found = smlaunch_fuzz_find_current_host(begin, buffer.size(), &host, &host_len);
  const auto expected = smlaunch_current_host(text);
  if (found == 0) {
    if (expected) fail("smlaunch reads a current_host the shim does not", text, *expected);
    return 0;
  }
  if (host < begin || host + host_len > begin + buffer.size()) {
    fail("the host name is outside the buffer", text);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): bytes as text
  const std::string_view shim_host(reinterpret_cast<const char*>(host), host_len);
  if (!expected) fail("the shim overrides the host name where smlaunch does not", text, shim_host);
  if (*expected != shim_host) fail("the shim and smlaunch read different host names", text, shim_host);
  return 0;
}
