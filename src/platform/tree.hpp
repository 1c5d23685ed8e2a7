// Directory trees for the user's code: private temporary directories, files
// created exclusively, copying a tree without creating anything group- or
// world-writable, and emptying a directory again after a failed fetch.
// Failures are values: nullopt / an Fd on success, else a one-line reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "platform/fd.hpp"

namespace smlaunch::platform {

/// The permission bits we give a file or directory made from someone else's
/// tree: directories 0755, files 0755 when the source had any execute bit,
/// else 0644. Never setuid, setgid, sticky, group- or world-writable (D30).
[[nodiscard]] constexpr unsigned safe_mode(unsigned mode, bool directory) noexcept {
  constexpr unsigned kDirectoryMode = 0755;
  constexpr unsigned kExecutableMode = 0755;
  constexpr unsigned kFileMode = 0644;
  constexpr unsigned kAnyExecuteBit = 0111;
  if (directory) return kDirectoryMode;
  return (mode & kAnyExecuteBit) != 0 ? kExecutableMode : kFileMode;
}

/// A directory of mode 0700 made with mkdtemp, removed with everything in it
/// when the object goes away. Move-only.
class PrivateTempDir {
 public:
  /// Creates <parent>/<prefix>XXXXXX. Returns it, or why it could not.
  [[nodiscard]] static std::variant<PrivateTempDir, std::string> create(const std::string& parent,
                                                                        std::string_view prefix);
  PrivateTempDir(PrivateTempDir&& other) noexcept;
  PrivateTempDir& operator=(PrivateTempDir&& other) noexcept;
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  ~PrivateTempDir();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  explicit PrivateTempDir(std::string path) : path_(std::move(path)) {}
  void remove() noexcept;
  std::string path_;
};

/// Creates the regular file `path` (O_CREAT | O_EXCL | O_NOFOLLOW, mode
/// 0600): it must not exist yet, not even as a symlink. Returns the open
/// descriptor, or the strerror text.
[[nodiscard]] std::variant<Fd, std::string> create_exclusive(const std::string& path);

/// Copies the contents of directory `from` into the existing directory `to`:
/// directories, regular files and symlinks (as symlinks, not followed), with
/// safe_mode() permissions. Any other kind of file is an error. Returns
/// nullopt, or "<path>: <reason>".
[[nodiscard]] std::optional<std::string> copy_tree_into(const std::string& from, const std::string& to);

/// Copies the regular file `from` into the directory `to` under its own
/// name, with safe_mode() permissions. Returns nullopt, or the reason.
[[nodiscard]] std::optional<std::string> copy_file_into(const std::string& from, const std::string& to);

/// Removes every entry of the directory `dir` (symlinks are removed, not
/// followed), keeping `dir` itself. Returns false when something is left.
bool remove_contents(const std::string& dir);

}  // namespace smlaunch::platform
