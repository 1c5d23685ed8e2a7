// CPU counting: reading the cgroup v2 CPU quota. (The affinity mask and the
// file reading are in probe.cpp, with the other probes that touch the system.)
#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>

#include "smlaunch/hardware.hpp"

namespace smlaunch::hardware {
namespace {

/// A whole unsigned decimal number (no sign, no junk), or nullopt.
std::optional<std::uint64_t> parse_whole_number(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) return std::nullopt;
  return value;
}

}  // namespace

// Returns ceil(quota / period), at least 1, for a "$QUOTA $PERIOD" line (both
// in microseconds; surrounding whitespace and the trailing newline are fine).
// Returns nullopt for "max ..." (no limit) and for anything unreadable: not two
// fields, non-numeric, a zero quota or period.
std::optional<int> cpus_from_cgroup_cpu_max(std::string_view cpu_max) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::array<std::string_view, 2> fields;
  std::size_t count = 0;
  std::size_t pos = cpu_max.find_first_not_of(kSpace);
  while (pos != std::string_view::npos) {
    const std::size_t end = cpu_max.find_first_of(kSpace, pos);
    if (count == 2) return std::nullopt;  // a third field
    fields[count++] = cpu_max.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = cpu_max.find_first_not_of(kSpace, end);
  }
  if (count != 2 || fields[0] == "max") return std::nullopt;
  const std::optional<std::uint64_t> quota = parse_whole_number(fields[0]);
  const std::optional<std::uint64_t> period = parse_whole_number(fields[1]);
  if (!quota || !period || *quota == 0 || *period == 0) return std::nullopt;
  const std::uint64_t cpus = *quota / *period + (*quota % *period != 0 ? 1 : 0);
  return static_cast<int>(std::min<std::uint64_t>(cpus, INT_MAX));
}

}  // namespace smlaunch::hardware
