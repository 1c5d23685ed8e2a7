#include "platform/tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace smlaunch::platform {
namespace fs = std::filesystem;

namespace {

constexpr ::mode_t kExclusiveFileMode = 0600;

std::string failure(const fs::path& path, const std::error_code& ec) {
  return path.string() + ": " + ec.message();
}

// chmod without following a symlink (the caller knows `path` is not one).
std::optional<std::string> set_mode(const fs::path& path, unsigned mode) {
  std::error_code ec;
  fs::permissions(path, static_cast<fs::perms>(mode), fs::perm_options::replace, ec);
  if (ec) return failure(path, ec);
  return std::nullopt;
}

}  // namespace

std::variant<PrivateTempDir, std::string> PrivateTempDir::create(const std::string& parent,
                                                                 std::string_view prefix) {
  std::string tmpl = parent + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {  // mkdtemp makes it 0700
    return tmpl + ": " + std::strerror(errno);
  }
  return PrivateTempDir(std::move(tmpl));
}

PrivateTempDir::PrivateTempDir(PrivateTempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

PrivateTempDir& PrivateTempDir::operator=(PrivateTempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

PrivateTempDir::~PrivateTempDir() {
  remove();
}

void PrivateTempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
  path_.clear();
}

std::variant<Fd, std::string> create_exclusive(const std::string& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kExclusiveFileMode));
  if (!fd) return path + ": " + std::strerror(errno);
  return fd;
}

std::optional<std::string> copy_tree_into(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::recursive_directory_iterator it(from, fs::directory_options::none, ec);
  if (ec) return failure(from, ec);
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return failure(from, ec);
    const fs::path source = it->path();
    const fs::path target = fs::path(to) / source.lexically_relative(from);
    const auto status = it->symlink_status(ec);
    if (ec) return failure(source, ec);
    if (fs::is_symlink(status)) {
      fs::copy_symlink(source, target, ec);
      if (ec) return failure(target, ec);
    } else if (fs::is_directory(status)) {
      fs::create_directory(target, ec);
      if (ec) return failure(target, ec);
      if (auto error = set_mode(target, safe_mode(0, true))) return error;
    } else if (fs::is_regular_file(status)) {
      fs::copy_file(source, target, fs::copy_options::none, ec);
      if (ec) return failure(target, ec);
      const auto mode = static_cast<unsigned>(status.permissions());
      if (auto error = set_mode(target, safe_mode(mode, false))) return error;
    } else {
      return source.string() + ": not a regular file, directory or symlink";
    }
  }
  if (ec) return failure(from, ec);
  return std::nullopt;
}

std::optional<std::string> copy_file_into(const std::string& from, const std::string& to) {
  std::error_code ec;
  const auto status = fs::status(from, ec);
  if (ec) return failure(from, ec);
  if (!fs::is_regular_file(status)) return from + ": not a regular file";
  const fs::path target = fs::path(to) / fs::path(from).filename();
  fs::copy_file(from, target, fs::copy_options::none, ec);
  if (ec) return failure(target, ec);
  return set_mode(target, safe_mode(static_cast<unsigned>(status.permissions()), false));
}

bool remove_contents(const std::string& dir) {
  std::error_code ec;
  bool clean = true;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code removed;
    fs::remove_all(entry.path(), removed);
    if (removed) clean = false;
  }
  return clean && !ec;
}

}  // namespace smlaunch::platform
