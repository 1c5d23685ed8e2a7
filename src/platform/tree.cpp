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

std::optional<std::string> create_directories(const std::string& path, unsigned mode) {
  // Parent first: each missing component is made, then given `mode`.
  fs::path built;
  for (const auto& part : fs::path(path).lexically_normal()) {
    built /= part;
    if (part.empty() || part == "/" || part == ".") continue;
    std::error_code ec;
    if (fs::create_directory(built, ec)) {
      if (auto error = set_mode(built, mode)) return error;
    } else if (ec) {
      return failure(built, ec);
    }
  }
  return std::nullopt;
}

std::optional<std::string> make_directories_safe(const std::string& root) {
  if (auto error = set_mode(root, safe_mode(0, true))) return error;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);  // links not followed
  if (ec) return failure(root, ec);
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return failure(root, ec);
    const auto status = it->symlink_status(ec);
    if (ec) return failure(it->path(), ec);
    if (!fs::is_directory(status)) continue;
    if ((static_cast<unsigned>(status.permissions()) & 07777) == safe_mode(0, true)) continue;
    if (auto error = set_mode(it->path(), safe_mode(0, true))) return error;
  }
  if (ec) return failure(root, ec);
  return std::nullopt;
}

std::vector<std::string_view> path_components(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const auto part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.push_back(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool link_target_stays_inside(std::string_view link, std::string_view target, std::string_view dest) {
  if (target.empty()) return false;
  std::size_t depth = 0;  // how many real directories lie between the link and `dest`
  if (target.starts_with('/')) {
    while (dest.size() > 1 && dest.ends_with('/')) dest.remove_suffix(1);
    if (!target.starts_with(dest) || (target.size() > dest.size() && target[dest.size()] != '/'))
      return false;
    target.remove_prefix(dest.size());
  } else {
    const auto parts = path_components(link);
    depth = parts.empty() ? 0 : parts.size() - 1;
  }
  std::size_t ups = 0;
  bool named = false;
  for (const auto part : path_components(target)) {
    if (part == "..") {
      if (named) return false;  // "a/..": only leading ".." are judged safely
      ++ups;
    } else {
      named = true;
    }
  }
  return ups <= depth;
}

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
      // Copied as a link, but only one that stays inside `to`: the same
      // rule as for a link in an archive.
      const auto link_target = fs::read_symlink(source, ec);
      if (ec) return failure(source, ec);
      if (!link_target_stays_inside(source.lexically_relative(from).string(), link_target.string(), to)) {
        return source.string() + ": is a symbolic link to " + link_target.string() +
               ", outside the code directory";
      }
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
