// The log format users grep, as Python's logging printed it (B145):
// "2021-03-03 17:06:44,413 smlaunch INFO message", on stderr.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace smlaunch::log {

enum class Level { Debug = 10, Info = 20, Warning = 30, Error = 40 };

/// Messages below `level` are dropped.
void set_level(Level level);
[[nodiscard]] Level level();
/// "debug", "info", "warning", "error" (also Python's numbers "10".."40").
[[nodiscard]] bool parse_level(std::string_view text, Level* out);

/// Seconds since smlaunch started (since the library was loaded): for the
/// per-phase timing lines.
[[nodiscard]] double seconds_since_start();

/// Writes one record (each line of a multi-line message keeps the prefix of
/// the first line only, as Python does).
void write(Level level, std::string_view message);

template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Info) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Warning) write(Level::Warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::Debug) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace smlaunch::log
