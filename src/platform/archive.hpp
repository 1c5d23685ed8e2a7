// Unpacking a submitted tar archive (sourcedir.tar.gz) into the code
// directory with libarchive, refusing every member that would land or point
// outside it (D30: the reference calls tarfile.extractall with no filter).
//
// Two layers of defence. Our own checks run on each header before anything
// is written and give the clear message: no absolute member paths, no `..`
// component, nothing written through a symbolic link unpacked before, hard
// links only to other members (not to links, which could point elsewhere
// from their new place), symbolic links whose target stays inside the
// directory, and only files, directories and links (no devices or fifos). Then libarchive's writer runs with
// ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS (nothing is written
// through a symlink, even one inside the tree) and _SECURE_NOABSOLUTEPATHS.
//
// Why a symlink target is checked the way it is: a lexical check of
// `a/l2 -> l1/../..` is fooled when `l1` is itself a link (`l1 -> ..`). We
// allow `..` only as leading components of a relative target, and no more of
// them than the link's own depth. Since SECURE_SYMLINKS guarantees that the
// directories a member is written into are real directories, the leading
// `..`s climb real directories, and every later component descends; by
// induction no chain of such links leaves the tree.
//
// Permissions are ours, not the archive's: safe_mode() (0755/0644, nothing
// group- or world-writable, no setuid). Owners are not restored: files belong
// to whoever runs smlaunch. Modification times are kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "platform/tree.hpp"  // link_target_stays_inside, shared with copy_tree_into

namespace smlaunch::platform {

/// Why an archive was not unpacked (completely).
enum class ArchiveFailure {
  kNotAnArchive,      // not a tar archive in any compression we know
  kUnsafeEntry,       // a member would land or point outside the directory
  kUnsupportedEntry,  // a device, fifo or socket
  kReadError,         // truncated or corrupt
  kWriteError,        // the disk refused (full, permissions)
};

struct ArchiveError {
  ArchiveFailure failure = ArchiveFailure::kReadError;
  std::string entry;   // the member's name as stored, empty when not about one
  std::string reason;  // "leaves the code directory", libarchive's text, ...
};

struct ArchiveStats {
  std::size_t entries = 0;
  std::uintmax_t bytes = 0;  // of file data written
};

/// True when `path` is a tar archive (plain or compressed with anything
/// libarchive reads: gzip, bzip2, xz, zstd, ...): Python's tarfile.is_tarfile.
[[nodiscard]] bool is_tar_archive(const std::string& path);

/// Unpacks the tar archive `archive` into the existing directory `dest`.
/// Stops at the first refused or failed member and returns why; what was
/// written until then stays (the caller clears `dest`). Changes the process's
/// working directory to `dest` while it runs (libarchive writes relative
/// paths only), and back: call it while no other thread depends on the
/// working directory.
[[nodiscard]] std::variant<ArchiveStats, ArchiveError> extract_tar(const std::string& archive,
                                                                   const std::string& dest);

/// A member's path made relative and clean ("./a//b/" -> "a/b"; "." and "./"
/// -> ""), or nullopt when it is absolute or has a ".." component.
[[nodiscard]] std::optional<std::string> clean_member_path(std::string_view name);

}  // namespace smlaunch::platform
