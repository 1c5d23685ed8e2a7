// GPU counting: NVML loaded at run time (no link-time dependency on the
// driver), the `nvidia-smi --list-gpus` text, and CUDA_VISIBLE_DEVICES as the
// CUDA runtime reads it.
#include <dlfcn.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <memory>
#include <vector>

#include "smlaunch/hardware.hpp"

namespace smlaunch::hardware {
namespace {

// NVML's C interface as declared in nvml.h: nvmlReturn_t is an enum whose
// NVML_SUCCESS is 0.
using NvmlReturn = int;
using NvmlInitFn = NvmlReturn (*)();
using NvmlShutdownFn = NvmlReturn (*)();
using NvmlDeviceGetCountFn = NvmlReturn (*)(unsigned int*);
constexpr NvmlReturn kNvmlSuccess = 0;

struct LibraryCloser {
  void operator()(void* handle) const noexcept { ::dlclose(handle); }
};
using Library = std::unique_ptr<void, LibraryCloser>;

/// The function `name` of `library` as a `Fn`, or nullptr when it is missing.
template <typename Fn>
Fn find_symbol(const Library& library, const char* name) {
  return reinterpret_cast<Fn>(::dlsym(library.get(), name));
}

/// Calls nvmlShutdown when the scope that initialised NVML ends.
class NvmlSession {
 public:
  explicit NvmlSession(NvmlShutdownFn shutdown) : shutdown_(shutdown) {}
  NvmlSession(const NvmlSession&) = delete;
  NvmlSession& operator=(const NvmlSession&) = delete;
  ~NvmlSession() { shutdown_(); }

 private:
  NvmlShutdownFn shutdown_;
};

/// `text` without surrounding blanks and newlines.
std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

/// The comma-separated parts of `text` (at least one, maybe empty).
std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
}

/// The device index an entry names, read like strtoul reads it (an optional
/// sign and the leading digits: "1gpu" is 1); nullopt for no digits or a
/// negative number; values past INT_MAX are clamped (out of range anyway).
std::optional<long long> parse_index(std::string_view entry) {
  bool negative = false;
  if (!entry.empty() && (entry.front() == '+' || entry.front() == '-')) {
    negative = entry.front() == '-';
    entry.remove_prefix(1);
  }
  long long value = 0;
  const auto [end, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), value);
  if (end == entry.data()) return std::nullopt;  // no digits: garbage
  if (negative) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return static_cast<long long>(INT_MAX) + 1;
  return value;
}

}  // namespace

// Returns NVML's device count; nullopt when the library cannot be loaded, lacks
// one of the three functions, or nvmlInit_v2 / nvmlDeviceGetCount_v2 fails.
// The library is shut down and closed again before returning.
std::optional<int> count_gpus_nvml(const std::string& library) {
  const Library handle(::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (!handle) return std::nullopt;
  const auto init = find_symbol<NvmlInitFn>(handle, "nvmlInit_v2");
  const auto shutdown = find_symbol<NvmlShutdownFn>(handle, "nvmlShutdown");
  const auto get_count = find_symbol<NvmlDeviceGetCountFn>(handle, "nvmlDeviceGetCount_v2");
  if (init == nullptr || shutdown == nullptr || get_count == nullptr) return std::nullopt;
  if (init() != kNvmlSuccess) return std::nullopt;
  const NvmlSession session(shutdown);
  unsigned int count = 0;
  if (get_count(&count) != kNvmlSuccess) return std::nullopt;
  return static_cast<int>(std::min<unsigned int>(count, INT_MAX));
}

// Returns how many lines start with "GPU " (B35); MIG lines are indented and
// other text does not count. Cannot fail.
int count_gpu_lines(std::string_view nvidia_smi_output) {
  int count = 0;
  std::size_t start = 0;
  while (start < nvidia_smi_output.size()) {
    const std::size_t newline = nvidia_smi_output.find('\n', start);
    const std::string_view line = nvidia_smi_output.substr(
        start, newline == std::string_view::npos ? std::string_view::npos : newline - start);
    if (line.starts_with("GPU ")) ++count;
    if (newline == std::string_view::npos) break;
    start = newline + 1;
  }
  return count;
}

// Returns the GPUs CUDA would show. The CUDA runtime reads the list in one of
// two modes, chosen by the first entry: UUIDs ("GPU-..." or "MIG-...", every
// entry must carry that prefix) or indices (read like strtoul, each must be
// below `available`). Enumeration stops at the first entry that breaks the
// mode (garbage, a negative or out-of-range index); a repeated entry makes the
// whole list invalid (no GPUs), as in the runtime (and torch.cuda's model of
// it). UUIDs cannot be checked here, so they are capped at `available`.
int apply_cuda_visible_devices(int available, const std::optional<std::string>& value) {
  available = std::max(available, 0);
  if (!value) return available;
  const std::vector<std::string_view> entries = split_commas(*value);
  const std::string_view first = trim(entries.front());
  if (first.starts_with("GPU-") || first.starts_with("MIG-")) {
    const std::string_view prefix = first.substr(0, 4);
    std::vector<std::string_view> seen;
    for (const std::string_view raw : entries) {
      const std::string_view entry = trim(raw);
      if (!entry.starts_with(prefix)) break;
      if (std::find(seen.begin(), seen.end(), entry) != seen.end()) return 0;
      seen.push_back(entry);
    }
    return static_cast<int>(std::min<std::size_t>(seen.size(), static_cast<std::size_t>(available)));
  }
  std::vector<long long> seen;
  for (const std::string_view raw : entries) {
    const std::optional<long long> index = parse_index(trim(raw));
    if (!index || *index >= available) break;
    if (std::find(seen.begin(), seen.end(), *index) != seen.end()) return 0;
    seen.push_back(*index);
  }
  return static_cast<int>(seen.size());  // distinct indices below `available`
}

}  // namespace smlaunch::hardware
