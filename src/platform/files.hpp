// Small file-system helpers with explicit failure values (no exceptions).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace smlaunch::platform {

enum class ReadFailure { NotFound, TooLarge, NotAFile, IoError };

struct ReadError {
  ReadFailure failure;
  std::string detail;       // strerror text or size
  std::uintmax_t size = 0;  // for TooLarge
};

/// The whole content of a regular file of at most `max_bytes`, or why not.
[[nodiscard]] std::variant<std::string, ReadError> read_file(const std::string& path,
                                                             std::uintmax_t max_bytes);

/// Writes `content` to `path` (created or truncated, mode 0644). False on
/// any error.
bool write_file(const std::string& path, std::string_view content);

/// Replaces `path` atomically: `content` goes to a temporary file in the same
/// directory, gets exactly `mode` (not the umask-filtered creation mode), is
/// fsync'ed and renamed over `path`, so a reader sees the old file or the new
/// one, never a partial one. When `path` is a mount point (a bind-mounted
/// single file, where rename() fails with EBUSY) it is rewritten in place
/// instead: not atomic, and its mode is kept. A symlink at `path` is
/// replaced, not followed. Returns nullopt, or an error message naming the
/// file ("/etc/environment: Permission denied"); no temporary file is left.
[[nodiscard]] std::optional<std::string> write_file_atomically(const std::string& path,
                                                               std::string_view content, ::mode_t mode);

/// Sets mode 0755 (never world-writable) on `path`, which must be inside
/// the directory `root` once symlinks are resolved: an entry point that
/// links out of the code directory (train.sh -> /etc/shadow) is refused, not
/// followed. Returns nullopt, or why not ("<path> resolves to /etc/shadow,
/// outside /opt/ml/code", or the errno text).
[[nodiscard]] std::optional<std::string> make_executable_within(const std::string& path,
                                                                const std::string& root);

/// True when `path` exists (any type; symlinks followed).
[[nodiscard]] bool path_exists(const std::string& path);
/// True when `path` is a directory with at least one entry.
[[nodiscard]] bool directory_has_entries(const std::string& path);
/// True when `path` is a regular file.
[[nodiscard]] bool is_regular_file(const std::string& path);

/// The directory holding the running executable (/proc/self/exe), or nullopt.
[[nodiscard]] std::optional<std::string> executable_dir();

}  // namespace smlaunch::platform
