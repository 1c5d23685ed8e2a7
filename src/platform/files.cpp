#include "platform/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "platform/fd.hpp"

namespace smlaunch::platform {
namespace {

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Writes all of `content` (retrying short writes and EINTR); false with
// errno set on failure.
bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Rewrites `path` in place: write_file_atomically's fallback when `path` is
// a mount point, where rename() fails with EBUSY.
std::optional<std::string> write_in_place(const std::string& path, std::string_view content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return path + ": " + errno_text(errno);
  if (!write_all(fd.get(), content) || ::fsync(fd.get()) != 0) return path + ": " + errno_text(errno);
  return std::nullopt;
}

}  // namespace

std::variant<std::string, ReadError> read_file(const std::string& path, std::uintmax_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return ReadError{err == ENOENT ? ReadFailure::NotFound : ReadFailure::IoError, std::strerror(err)};
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
  return fd.valid() && write_all(fd.get(), content);
}

std::optional<std::string> write_file_atomically(const std::string& path, std::string_view content,
                                                 ::mode_t mode) {
  std::string temp = path + ".smlaunch-XXXXXX";
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return temp + ": " + errno_text(errno);
  auto fail = [&](int err) {
    ::unlink(temp.c_str());
    return std::optional<std::string>(temp + ": " + errno_text(err));
  };
  // fchmod: mkostemp creates the file 0600, and a mode given at creation
  // would be filtered by the umask.
  if (::fchmod(fd.get(), mode) != 0) return fail(errno);
  if (!write_all(fd.get(), content)) return fail(errno);
  if (::fsync(fd.get()) != 0) return fail(errno);
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    if (err == EBUSY) return write_in_place(path, content);
    return path + ": " + errno_text(err);
  }
  return std::nullopt;
}

std::optional<std::string> make_executable_within(const std::string& path, const std::string& root) {
  constexpr mode_t kExecutableMode = 0755;
  std::error_code ec;
  const auto real = std::filesystem::canonical(path, ec);
  if (ec) return path + ": " + ec.message();
  const auto real_root = std::filesystem::canonical(root, ec);
  if (ec) return root + ": " + ec.message();
  const auto inside = real.lexically_relative(real_root);
  if (inside.empty() || *inside.begin() == "..") {
    return path + " resolves to " + real.string() + ", outside " + real_root.string();
  }
  if (::chmod(real.c_str(), kExecutableMode) != 0) return path + ": " + std::strerror(errno);
  return std::nullopt;
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
