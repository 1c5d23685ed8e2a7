// Small text helpers shared by the SSH client and sshd code: error messages
// here are one line each.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <string_view>

namespace smlaunch::ssh::text {

/// `text` on one line: its non-blank lines joined with " | ", trailing
/// blanks and carriage returns dropped.
inline std::string one_line(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      if (!out.empty()) out += " | ";
      out += line;
    }
    start = end + 1;
  }
  return out;
}

/// "250 ms", "2 s", "1.5 s".
inline std::string duration_text(std::chrono::milliseconds d) {
  if (d < std::chrono::milliseconds{1000}) return fmt::format("{} ms", d.count());
  const auto tenths = (d.count() + 50) / 100;
  if (tenths % 10 == 0) return fmt::format("{} s", tenths / 10);
  return fmt::format("{}.{} s", tenths / 10, tenths % 10);
}

}  // namespace smlaunch::ssh::text
