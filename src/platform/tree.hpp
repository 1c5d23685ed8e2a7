// Directory trees for the user's code: private temporary directories, files
// created exclusively, copying a tree without creating anything group- or
// world-writable, and emptying a directory again after a failed fetch.
// Failures are values: nullopt / an Fd on success, else a one-line reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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

/// The mode of every directory smlaunch creates for the job (output/,
/// code/, the local-mode tree): exactly this, whatever the umask.
inline constexpr unsigned kCreatedDirectoryMode = 0755;

/// Creates `path` and any missing parents, each created one with exactly
/// `mode` (chmod after mkdir: the umask does not apply); directories that
/// exist are left as they are. Returns nullopt, or "<path>: <reason>".
[[nodiscard]] std::optional<std::string> create_directories(const std::string& path,
                                                           unsigned mode = kCreatedDirectoryMode);

/// Sets every directory below `root`, and `root` itself, to safe_mode()
/// (0755), without following symbolic links. Returns nullopt, or the first
/// failure as "<path>: <reason>".
[[nodiscard]] std::optional<std::string> make_directories_safe(const std::string& root);

/// The components of `path` without empty ones and ".": "./a//b/" ->
/// {"a", "b"}.
[[nodiscard]] std::vector<std::string_view> path_components(std::string_view path);

/// Whether a symbolic link at the clean relative path `link` (inside the
/// directory `dest`) with target `target` stays inside `dest`. Relative
/// targets may only start with `..` components, no more of them than the
/// link's own depth, and then descend; absolute targets must be under
/// `dest`. A lexical check of `a/l2 -> l1/../..` is fooled when `l1` is
/// itself a link; with `..` only leading, and the directories the link
/// lives in real ones (the caller's guarantee: the archive writer's
/// SECURE_SYMLINKS, or a copy that never follows links), the `..`s climb
/// real directories and no chain of such links leaves the tree.
[[nodiscard]] bool link_target_stays_inside(std::string_view link, std::string_view target,
                                            std::string_view dest);

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
/// safe_mode() permissions. A symlink whose target would lead out of `to`
/// (link_target_stays_inside: absolute, or more leading `..` than its
/// depth) is refused, as in an archive; so is any other kind of file.
/// Returns nullopt, or "<path>: <reason>".
[[nodiscard]] std::optional<std::string> copy_tree_into(const std::string& from, const std::string& to);

/// Copies the regular file `from` into the directory `to` under its own
/// name, with safe_mode() permissions. Returns nullopt, or the reason.
[[nodiscard]] std::optional<std::string> copy_file_into(const std::string& from, const std::string& to);

/// Removes every entry of the directory `dir` (symlinks are removed, not
/// followed), keeping `dir` itself. Returns false when something is left.
bool remove_contents(const std::string& dir);

}  // namespace smlaunch::platform
