#include "platform/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "platform/fd.hpp"
#include "platform/tree.hpp"

namespace smlaunch::platform {
namespace {

constexpr std::size_t kReadBlockBytes = std::size_t{64} * 1024;
constexpr int kExtractFlags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

struct ReadFree {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadFree>;
using WriteArchive = std::unique_ptr<archive, WriteFree>;

std::string error_text(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// A reader for tar in every compression libarchive knows (B60 extracts tar
// only; zip and friends are not tar files for tarfile.is_tarfile either).
ReadArchive new_tar_reader() {
  ReadArchive a(archive_read_new());
  if (!a) return a;
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  return a;
}

// Working in `dest` for the extraction, back where we were afterwards.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dest)
      : saved_(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (saved_ && ::chdir(dest.c_str()) == 0) {
      changed_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;
  ~WorkingDirectory() {
    if (changed_ && ::fchdir(saved_.get()) != 0) {
      // Nothing sensible is left to do: later relative paths would be wrong,
      // but smlaunch uses absolute paths throughout.
    }
  }
  [[nodiscard]] bool changed() const noexcept { return changed_; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  Fd saved_;
  bool changed_ = false;
  std::string error_;
};

ArchiveError refuse(ArchiveFailure failure, std::string_view entry, std::string reason) {
  return ArchiveError{failure, std::string(entry), std::move(reason)};
}

// The symbolic link among `links` (members unpacked so far) that `path` would
// be written through, if any. libarchive refuses that too (SECURE_SYMLINKS);
// we say it first, in our words.
std::optional<std::string> through_link(const std::string& path,
                                        const std::set<std::string, std::less<>>& links) {
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    if (links.contains(std::string_view(path).substr(0, slash))) return path.substr(0, slash);
  }
  return std::nullopt;
}

// Our checks on one header; rewrites the entry's paths to their clean form
// and its permissions to safe_mode(). nullopt: write it.
std::optional<ArchiveError> vet_entry(archive_entry* entry, const std::string& name, const std::string& dest,
                                      std::set<std::string, std::less<>>& links) {
  const auto path = clean_member_path(name);
  if (!path) {
    return refuse(ArchiveFailure::kUnsafeEntry, name,
                  name.starts_with('/') ? "is an absolute path" : "has a \"..\" component");
  }
  if (const auto link = through_link(*path, links)) {
    return refuse(ArchiveFailure::kUnsafeEntry, name, "would be written through the symbolic link " + *link);
  }
  archive_entry_set_pathname(entry, path->c_str());
  const char* hardlink = archive_entry_hardlink(entry);
  if (hardlink == nullptr && archive_entry_filetype(entry) == AE_IFLNK) {
    links.insert(*path);
  } else {
    links.erase(*path);  // a later member replaces the link
  }
  if (hardlink != nullptr) {
    const auto target = clean_member_path(hardlink);
    if (!target || target->empty()) {
      return refuse(ArchiveFailure::kUnsafeEntry, name,
                    "is a hard link to " + std::string(hardlink) + ", outside the code directory");
    }
    if (const auto link = through_link(*target, links)) {
      return refuse(ArchiveFailure::kUnsafeEntry, name,
                    "is a hard link to " + std::string(hardlink) + ", through the symbolic link " + *link);
    }
    if (links.contains(*target)) {  // the same link at another depth may point elsewhere
      return refuse(ArchiveFailure::kUnsafeEntry, name,
                    "is a hard link to the symbolic link " + std::string(hardlink));
    }
    archive_entry_set_hardlink(entry, target->c_str());
    archive_entry_set_perm(entry, safe_mode(archive_entry_perm(entry), false));
    return std::nullopt;
  }
  switch (archive_entry_filetype(entry)) {
    case AE_IFDIR:
      archive_entry_set_perm(entry, safe_mode(archive_entry_perm(entry), true));
      return std::nullopt;
    case AE_IFREG:
      archive_entry_set_perm(entry, safe_mode(archive_entry_perm(entry), false));
      return std::nullopt;
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || !link_target_stays_inside(*path, target, dest)) {
        return refuse(ArchiveFailure::kUnsafeEntry, name,
                      "is a symbolic link to " + std::string(target != nullptr ? target : "nothing") +
                          ", outside the code directory");
      }
      return std::nullopt;
    }
    default:
      return refuse(ArchiveFailure::kUnsupportedEntry, name,
                    "is not a file, directory or link (device or fifo)");
  }
}

}  // namespace

std::optional<std::string> clean_member_path(std::string_view name) {
  if (name.starts_with('/')) return std::nullopt;
  std::string clean;
  for (const auto part : path_components(name)) {
    if (part == "..") return std::nullopt;
    if (!clean.empty()) clean += '/';
    clean += part;
  }
  return clean;
}

bool is_tar_archive(const std::string& path) {
  const auto a = new_tar_reader();
  if (!a || archive_read_open_filename(a.get(), path.c_str(), kReadBlockBytes) != ARCHIVE_OK) return false;
  archive_entry* entry = nullptr;
  const int r = archive_read_next_header(a.get(), &entry);
  // An empty file is not a tar file (tarfile raises on it); a tar archive of
  // no members (end-of-archive blocks only) is.
  return r == ARCHIVE_OK || r == ARCHIVE_WARN || (r == ARCHIVE_EOF && archive_format(a.get()) != 0);
}

std::variant<ArchiveStats, ArchiveError> extract_tar(const std::string& archive_path,
                                                     const std::string& dest) {
  auto reader = new_tar_reader();
  WriteArchive writer(archive_write_disk_new());
  if (!reader || !writer) return refuse(ArchiveFailure::kReadError, "", "out of memory");
  if (archive_read_open_filename(reader.get(), archive_path.c_str(), kReadBlockBytes) != ARCHIVE_OK) {
    return refuse(ArchiveFailure::kReadError, "", error_text(reader.get()));
  }
  archive_write_disk_set_options(writer.get(), kExtractFlags);
  const WorkingDirectory cwd(dest);
  if (!cwd.changed()) return refuse(ArchiveFailure::kWriteError, "", dest + ": " + cwd.error());

  ArchiveStats stats;
  std::set<std::string, std::less<>> links;  // symbolic links unpacked so far
  for (;;) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(reader.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return refuse(stats.entries == 0 ? ArchiveFailure::kNotAnArchive : ArchiveFailure::kReadError, "",
                    error_text(reader.get()));
    }
    const char* raw_name = archive_entry_pathname(entry);
    const std::string name = raw_name != nullptr ? raw_name : "";
    ++stats.entries;
    if (auto refused = vet_entry(entry, name, dest, links)) return *refused;
    if (std::string_view(archive_entry_pathname(entry)).empty()) continue;  // "./": the directory itself

    if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN) {
      return refuse(ArchiveFailure::kWriteError, name, error_text(writer.get()));
    }
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      const int d = archive_read_data_block(reader.get(), &block, &size, &offset);
      if (d == ARCHIVE_EOF) break;
      if (d < ARCHIVE_WARN) return refuse(ArchiveFailure::kReadError, name, error_text(reader.get()));
      if (archive_write_data_block(writer.get(), block, size, offset) < ARCHIVE_WARN) {
        return refuse(ArchiveFailure::kWriteError, name, error_text(writer.get()));
      }
      stats.bytes += size;
    }
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return refuse(ArchiveFailure::kWriteError, name, error_text(writer.get()));
    }
  }
  // Directory permissions and times are applied here, last.
  if (archive_write_close(writer.get()) < ARCHIVE_WARN) {
    return refuse(ArchiveFailure::kWriteError, "", error_text(writer.get()));
  }
  // Parents the archive does not list ("pkg/" of "pkg/sub/mod.py") are made
  // by libarchive with 0777 less the umask (0775 under umask 002, 0777 under
  // 000): every directory gets safe_mode() here, links not followed.
  if (auto error = make_directories_safe(dest)) return refuse(ArchiveFailure::kWriteError, "", *error);
  return stats;
}

}  // namespace smlaunch::platform
