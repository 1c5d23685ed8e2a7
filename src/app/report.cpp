#include "app/report.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "app/log.hpp"
#include "platform/fd.hpp"
#include "platform/tree.hpp"

namespace smlaunch::app {
namespace {

constexpr mode_t kResultFileMode = 0644;

bool write_file(const std::string& path, const std::string& content, int extra_flags) {
  // output/ when missing: 0755 whatever the umask (a failure shows at open).
  (void)platform::create_directories(std::filesystem::path(path).parent_path().string());
  platform::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags, kResultFileMode));
  if (!fd.valid()) {
    if (errno == EEXIST) {
      log::info("Failure file exists. Skipping creation....");
      return true;
    }
    log::error("could not write {}: {}", path, std::strerror(errno));
    return false;
  }
  std::string_view rest = content;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::error("could not write {}: {}", path, std::strerror(errno));
      return false;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string format_failure(const FailureReport& r) {
  std::string text = r.error_class + ":\nExitCode " +
                     (r.exit_code ? std::to_string(*r.exit_code) : std::string("None")) +
                     "\nErrorMessage \"" + r.message + "\"\n";
  if (r.extra_info) text += "ExtraInfo \"" + *r.extra_info + "\"\n";
  text += "Command \"" + r.command + "\"";
  return text;
}

bool write_failure(const config::Paths& paths, const FailureReport& report) {
  // O_EXCL: the user's own failure file wins (B144), atomically.
  return write_file(paths.output + "/failure", format_failure(report), O_EXCL);
}

bool write_success(const config::Paths& paths) {
  return write_file(paths.output + "/success", "", O_TRUNC);
}

}  // namespace smlaunch::app
