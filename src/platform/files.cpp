#include "platform/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "platform/fd.hpp"

namespace smlaunch::platform {

std::variant<std::string, ReadError> read_file(const std::string& path, std::uintmax_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return ReadError{err == ENOENT ? ReadFailure::NotFound : ReadFailure::IoError,
                     std::strerror(err)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ReadError{ReadFailure::IoError, std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return ReadError{ReadFailure::NotAFile, "not a regular file"};
  const auto size = static_cast<std::uintmax_t>(st.st_size);
  if (size > max_bytes) return ReadError{ReadFailure::TooLarge, "", size};

  std::string content;
  content.resize(static_cast<std::size_t>(size));
  std::size_t done = 0;
  // The size from fstat is a hint: keep reading until EOF, within the limit.
  for (;;) {
    if (done == content.size()) {
      if (content.size() >= max_bytes + 1) break;
      content.resize(content.size() + 4096);
    }
    const ssize_t n = ::read(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ReadError{ReadFailure::IoError, std::strerror(errno)};
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (done > max_bytes) return ReadError{ReadFailure::TooLarge, "", done};
  content.resize(done);
  return content;
}

bool write_file(const std::string& path, std::string_view content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return false;
  while (!content.empty()) {
    const ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool make_executable(const std::string& path) {
  constexpr mode_t kExecutableMode = 0755;
  return ::chmod(path.c_str(), kExecutableMode) == 0;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool directory_has_entries(const std::string& path) {
  std::error_code ec;
  const std::filesystem::directory_iterator it(path, ec);
  return !ec && it != std::filesystem::directory_iterator();
}

std::optional<std::string> executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path().string();
}

}  // namespace smlaunch::platform
