#include "app/log.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace smlaunch::log {
namespace {
std::atomic<Level> g_level{Level::Info};
// Initialised before main(): the reference point of seconds_since_start().
const std::chrono::steady_clock::time_point g_start = std::chrono::steady_clock::now();

std::string_view name(Level level) {
  switch (level) {
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warning: return "WARNING";
    case Level::Error: return "ERROR";
  }
  return "INFO";
}
}  // namespace

void set_level(Level level) { g_level = level; }

double seconds_since_start() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
}
Level level() { return g_level; }

bool parse_level(std::string_view text, Level* out) {
  struct Name { std::string_view text; Level level; };
  static constexpr Name kNames[] = {
      {"debug", Level::Debug},     {"10", Level::Debug}, {"info", Level::Info},
      {"20", Level::Info},         {"warning", Level::Warning}, {"30", Level::Warning},
      {"error", Level::Error},     {"40", Level::Error},
  };
  for (const auto& n : kNames) {
    if (n.text == text) {
      *out = n.level;
      return true;
    }
  }
  return false;
}

void write(Level level, std::string_view message) {
  timeval tv{};
  (void)::gettimeofday(&tv, nullptr);
  tm local{};
  ::localtime_r(&tv.tv_sec, &local);
  char stamp[32];
  (void)std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  // One write() per record so that lines from several threads never interleave.
  std::string record = fmt::format("{},{:03d} smlaunch {} {}\n", stamp, tv.tv_usec / 1000, name(level), message);
  std::string_view rest = record;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace smlaunch::log
