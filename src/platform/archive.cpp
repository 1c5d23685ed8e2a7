#include "platform/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <variant>
#include <vector>

#include "platform/fd.hpp"
#include "platform/shared_library.hpp"
#include "platform/tree.hpp"

namespace smlaunch::platform {
namespace {

constexpr std::size_t kReadBlockBytes = std::size_t{64} * 1024;
constexpr int kExtractFlags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

// libarchive is opened when an archive is looked at and closed afterwards,
// not linked: it and what it pulls in (libxml2, ICU, nettle, five compression
// libraries) are about 1.6 MiB of resident pages that would otherwise sit in
// every smlaunch process for the whole job, while only the code fetch at the
// start uses them. The declarations (and so the types) come from its headers.
constexpr const char* kLibArchiveName = "libarchive.so.13";

class LibArchive {
 public:
  /// The library with every function we use, or why it cannot be had.
  static std::variant<LibArchive, std::string> open() {
    auto opened = SharedLibrary::open(kLibArchiveName, "libarchive13");
    if (auto* why = std::get_if<std::string>(&opened)) return std::move(*why);
    LibArchive lib(std::move(std::get<SharedLibrary>(opened)));
    const auto bind = [&lib](const char* name, auto& function) { lib.library_.bind(name, function); };
    bind("archive_error_string", lib.error_string);
    bind("archive_format", lib.format);
    bind("archive_read_new", lib.read_new);
    bind("archive_read_free", lib.read_free);
    bind("archive_read_support_filter_all", lib.read_support_filter_all);
    bind("archive_read_support_format_tar", lib.read_support_format_tar);
    bind("archive_read_support_format_gnutar", lib.read_support_format_gnutar);
    bind("archive_read_open_filename", lib.read_open_filename);
    bind("archive_read_next_header", lib.read_next_header);
    bind("archive_read_data_block", lib.read_data_block);
    bind("archive_write_disk_new", lib.write_disk_new);
    bind("archive_write_disk_set_options", lib.write_disk_set_options);
    bind("archive_write_header", lib.write_header);
    bind("archive_write_data_block", lib.write_data_block);
    bind("archive_write_finish_entry", lib.write_finish_entry);
    bind("archive_write_close", lib.write_close);
    bind("archive_write_free", lib.write_free);
    bind("archive_entry_pathname", lib.entry_pathname);
    bind("archive_entry_set_pathname", lib.entry_set_pathname);
    bind("archive_entry_hardlink", lib.entry_hardlink);
    bind("archive_entry_set_hardlink", lib.entry_set_hardlink);
    bind("archive_entry_symlink", lib.entry_symlink);
    bind("archive_entry_filetype", lib.entry_filetype);
    bind("archive_entry_perm", lib.entry_perm);
    bind("archive_entry_set_perm", lib.entry_set_perm);
    if (auto why = lib.library_.missing()) return std::move(*why);
    return lib;
  }

  decltype(&::archive_error_string) error_string = nullptr;
  decltype(&::archive_format) format = nullptr;
  decltype(&::archive_read_new) read_new = nullptr;
  decltype(&::archive_read_free) read_free = nullptr;
  decltype(&::archive_read_support_filter_all) read_support_filter_all = nullptr;
  decltype(&::archive_read_support_format_tar) read_support_format_tar = nullptr;
  decltype(&::archive_read_support_format_gnutar) read_support_format_gnutar = nullptr;
  decltype(&::archive_read_open_filename) read_open_filename = nullptr;
  decltype(&::archive_read_next_header) read_next_header = nullptr;
  decltype(&::archive_read_data_block) read_data_block = nullptr;
  decltype(&::archive_write_disk_new) write_disk_new = nullptr;
  decltype(&::archive_write_disk_set_options) write_disk_set_options = nullptr;
  decltype(&::archive_write_header) write_header = nullptr;
  decltype(&::archive_write_data_block) write_data_block = nullptr;
  decltype(&::archive_write_finish_entry) write_finish_entry = nullptr;
  decltype(&::archive_write_close) write_close = nullptr;
  decltype(&::archive_write_free) write_free = nullptr;
  decltype(&::archive_entry_pathname) entry_pathname = nullptr;
  decltype(&::archive_entry_set_pathname) entry_set_pathname = nullptr;
  decltype(&::archive_entry_hardlink) entry_hardlink = nullptr;
  decltype(&::archive_entry_set_hardlink) entry_set_hardlink = nullptr;
  decltype(&::archive_entry_symlink) entry_symlink = nullptr;
  decltype(&::archive_entry_filetype) entry_filetype = nullptr;
  decltype(&::archive_entry_perm) entry_perm = nullptr;
  decltype(&::archive_entry_set_perm) entry_set_perm = nullptr;

 private:
  explicit LibArchive(SharedLibrary library) : library_(std::move(library)) {}
  SharedLibrary library_;  // closed with the last use
};

using ReadArchive = std::unique_ptr<archive, decltype(&::archive_read_free)>;
using WriteArchive = std::unique_ptr<archive, decltype(&::archive_write_free)>;

std::string error_text(const LibArchive& lib, archive* a) {
  const char* text = lib.error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// A reader for tar in every compression libarchive knows (B60 extracts tar
// only; zip and friends are not tar files for tarfile.is_tarfile either).
ReadArchive new_tar_reader(const LibArchive& lib) {
  ReadArchive a(lib.read_new(), lib.read_free);
  if (!a) return a;
  lib.read_support_filter_all(a.get());
  lib.read_support_format_tar(a.get());
  lib.read_support_format_gnutar(a.get());
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
std::optional<ArchiveError> vet_entry(const LibArchive& lib, archive_entry* entry, const std::string& name,
                                      const std::string& dest, std::set<std::string, std::less<>>& links) {
  const auto path = clean_member_path(name);
  if (!path) {
    return refuse(ArchiveFailure::kUnsafeEntry, name,
                  name.starts_with('/') ? "is an absolute path" : "has a \"..\" component");
  }
  if (const auto link = through_link(*path, links)) {
    return refuse(ArchiveFailure::kUnsafeEntry, name, "would be written through the symbolic link " + *link);
  }
  lib.entry_set_pathname(entry, path->c_str());
  const char* hardlink = lib.entry_hardlink(entry);
  if (hardlink == nullptr && lib.entry_filetype(entry) == AE_IFLNK) {
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
    lib.entry_set_hardlink(entry, target->c_str());
    lib.entry_set_perm(entry, safe_mode(lib.entry_perm(entry), false));
    return std::nullopt;
  }
  switch (lib.entry_filetype(entry)) {
    case AE_IFDIR:
      lib.entry_set_perm(entry, safe_mode(lib.entry_perm(entry), true));
      return std::nullopt;
    case AE_IFREG:
      lib.entry_set_perm(entry, safe_mode(lib.entry_perm(entry), false));
      return std::nullopt;
    case AE_IFLNK: {
      const char* target = lib.entry_symlink(entry);
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
  auto loaded = LibArchive::open();
  // Without libarchive we cannot tell: say yes, and extract_tar says why it
  // cannot unpack (rather than copying a tarball as a plain file).
  if (!std::holds_alternative<LibArchive>(loaded)) return true;
  const LibArchive& lib = std::get<LibArchive>(loaded);
  const auto a = new_tar_reader(lib);
  if (!a || lib.read_open_filename(a.get(), path.c_str(), kReadBlockBytes) != ARCHIVE_OK) return false;
  archive_entry* entry = nullptr;
  const int r = lib.read_next_header(a.get(), &entry);
  // An empty file is not a tar file (tarfile raises on it); a tar archive of
  // no members (end-of-archive blocks only) is.
  return r == ARCHIVE_OK || r == ARCHIVE_WARN || (r == ARCHIVE_EOF && lib.format(a.get()) != 0);
}

std::variant<ArchiveStats, ArchiveError> extract_tar(const std::string& archive_path,
                                                     const std::string& dest) {
  auto loaded = LibArchive::open();
  if (const auto* why = std::get_if<std::string>(&loaded))
    return refuse(ArchiveFailure::kReadError, "", *why);
  const LibArchive& lib = std::get<LibArchive>(loaded);
  auto reader = new_tar_reader(lib);
  WriteArchive writer(lib.write_disk_new(), lib.write_free);
  if (!reader || !writer) return refuse(ArchiveFailure::kReadError, "", "out of memory");
  if (lib.read_open_filename(reader.get(), archive_path.c_str(), kReadBlockBytes) != ARCHIVE_OK) {
    return refuse(ArchiveFailure::kReadError, "", error_text(lib, reader.get()));
  }
  lib.write_disk_set_options(writer.get(), kExtractFlags);
  const WorkingDirectory cwd(dest);
  if (!cwd.changed()) return refuse(ArchiveFailure::kWriteError, "", dest + ": " + cwd.error());

  ArchiveStats stats;
  std::set<std::string, std::less<>> links;  // symbolic links unpacked so far
  for (;;) {
    archive_entry* entry = nullptr;
    const int r = lib.read_next_header(reader.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return refuse(stats.entries == 0 ? ArchiveFailure::kNotAnArchive : ArchiveFailure::kReadError, "",
                    error_text(lib, reader.get()));
    }
    const char* raw_name = lib.entry_pathname(entry);
    const std::string name = raw_name != nullptr ? raw_name : "";
    ++stats.entries;
    if (auto refused = vet_entry(lib, entry, name, dest, links)) return *refused;
    if (std::string_view(lib.entry_pathname(entry)).empty()) continue;  // "./": the directory itself

    if (lib.write_header(writer.get(), entry) < ARCHIVE_WARN) {
      return refuse(ArchiveFailure::kWriteError, name, error_text(lib, writer.get()));
    }
    const void* block = nullptr;
    std::size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      const int d = lib.read_data_block(reader.get(), &block, &size, &offset);
      if (d == ARCHIVE_EOF) break;
      if (d < ARCHIVE_WARN) return refuse(ArchiveFailure::kReadError, name, error_text(lib, reader.get()));
      if (lib.write_data_block(writer.get(), block, size, offset) < ARCHIVE_WARN) {
        return refuse(ArchiveFailure::kWriteError, name, error_text(lib, writer.get()));
      }
      stats.bytes += size;
    }
    if (lib.write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return refuse(ArchiveFailure::kWriteError, name, error_text(lib, writer.get()));
    }
  }
  // Directory permissions and times are applied here, last.
  if (lib.write_close(writer.get()) < ARCHIVE_WARN) {
    return refuse(ArchiveFailure::kWriteError, "", error_text(lib, writer.get()));
  }
  // Parents the archive does not list ("pkg/" of "pkg/sub/mod.py") are made
  // by libarchive with 0777 less the umask (0775 under umask 002, 0777 under
  // 000): every directory gets safe_mode() here, links not followed.
  if (auto error = make_directories_safe(dest)) return refuse(ArchiveFailure::kWriteError, "", *error);
  return stats;
}

}  // namespace smlaunch::platform
