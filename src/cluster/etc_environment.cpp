// The managed block of /etc/environment, written for pam_env.
//
// How pam_env reads the file (Linux-PAM 1.5.2 as shipped in Debian 12,
// checked against the module with `su` in a private mount namespace; see
// tests/unit/etc_environment_test.cpp, PamEnvRoundTrip):
//  - Lines are read with fgets into an 8 KiB buffer. A line of more than
//    kMaxLineBytes (8190) bytes before its newline is not truncated: pam_env
//    stops reading the file there, silently, so every later line is lost.
//  - A line that ends in a backslash (before trailing blanks) is joined with
//    the next one. Comment and blank lines in between are skipped.
//  - '#' anywhere ends the line, inside quotes too; there is no escape.
//  - Leading blanks and an "export " prefix are skipped; the name must be
//    letters, digits and '_' (a line with any other name is ignored).
//  - Quotes: only when the value *starts* with " or ', the first character
//    and the last character (if it is a quote of either kind) are removed;
//    every other quote is kept as it is. Nothing else is unquoted.
//  - No expansion and no escapes: $HOME, ${X}, @{HOME} and backslashes arrive
//    as written (expansion is only for /etc/security/pam_env.conf).
//  - Values are bytes: tabs, CR, '=', UTF-8 pass through.
// So `NAME="value"` delivers any value byte for byte, except one with a
// newline, a NUL or a '#', or one whose line would be too long: those are
// left out and reported. A value that is itself quoted ("x", 'x') survives
// because only our outer quotes are stripped; a trailing backslash cannot
// join lines because the line ends in our closing quote.
//
// What goes in: identifiers only, never credentials or secrets (the file is
// world-readable; secrets reach the ranks through `mpirun -x`). The secret
// rule mirrors app::is_secret_name (the log-masking rule; this layer cannot
// include app/), except that AWS_ACCESS_KEY_ID, safe to print, is still a
// credential here. Hyperparameter values are repeated inside SM_HPS,
// SM_TRAINING_ENV and SM_USER_ARGS, so when any hyperparameter has a secret
// name those three are left out as a whole (the ranks get them via -x).
//
// The file is replaced, not appended: the text between our two markers is
// rewritten, everything else kept byte for byte, and the new file is
// renamed into place from a temporary file in the same directory.
#include "cluster/etc_environment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <system_error>
#include <variant>

#include "platform/fd.hpp"
#include "platform/files.hpp"
#include "smlaunch/pyvalue.hpp"

namespace smlaunch::cluster {
namespace {

constexpr mode_t kFileMode = 0644;
// /etc/environment is small; anything bigger is not a file we should rewrite.
constexpr std::uintmax_t kMaxExistingBytes = std::uintmax_t{16} * 1024 * 1024;

bool is_identifier(std::string_view name) {
  if (name.empty()) return false;
  auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!letter(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return letter(c) || digit(c); });
}

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; });
  return out;
}

// Words of an upper-cased name, split on anything not a letter or digit.
std::vector<std::string> words(const std::string& upper) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : upper) {
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      current += c;
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

// app::is_secret_name's rule, plus every AWS_ name with KEY in it.
bool is_secret(std::string_view name) {
  static const std::set<std::string, std::less<>> kSafe = {
      "SM_HP_KEY_SIZE", "KEY_SIZE", "SM_HP_KEYS", "KEYS", "SM_HP_KEY_COLUMN", "KEY_COLUMN"};
  const std::string upper = upper_ascii(name);
  if (upper.starts_with("AWS_") && upper.find("KEY") != std::string::npos) return true;
  if (kSafe.contains(upper)) return false;
  for (const std::string_view marker : {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE"}) {
    if (upper.find(marker) != std::string::npos) return true;
  }
  const auto parts = words(upper);
  return std::any_of(parts.begin(), parts.end(),
                     [](const std::string& w) { return w == "KEY" || w == "APIKEY"; });
}

// Set by the login itself, or meaningful for one process only.
bool is_per_process(std::string_view name) {
  static const std::set<std::string, std::less<>> kPerProcess = {"LD_PRELOAD", "PWD",  "OLDPWD", "SHLVL",
                                                                 "_",          "HOME", "USER",   "LOGNAME",
                                                                 "SHELL",      "MAIL", "TERM",   "HOSTNAME"};
  return kPerProcess.contains(name) || name.starts_with("SSH_");
}

bool name_allowed(std::string_view name) {
  return is_identifier(name) && !is_secret(name) && !is_per_process(name);
}

// NAME="value"
std::size_t line_length(std::string_view name, std::string_view value) {
  return name.size() + 3 + value.size();
}

bool representable(std::string_view name, std::string_view value) {
  return value.find_first_of(std::string_view("\n\0#", 3)) == std::string_view::npos &&
         line_length(name, value) <= kMaxLineBytes;
}

// Hyperparameter values are repeated inside these.
constexpr std::string_view kAggregates[] = {"SM_HPS", "SM_TRAINING_ENV", "SM_USER_ARGS"};

// Whether any hyperparameter has a secret name: an SM_HP_* variable (even a
// non-identifier one, SM_HP_API-TOKEN), or a key of the SM_HPS object.
bool has_secret_hyperparameter(const std::map<std::string, std::string>& variables) {
  for (const auto& [name, value] : variables) {
    if (name.starts_with("SM_HP_") && is_secret(name)) return true;
  }
  const auto hps = variables.find("SM_HPS");
  if (hps == variables.end()) return false;
  const auto decoded = py::loads(hps->second);
  const auto* value = std::get_if<py::Value>(&decoded);
  if (value == nullptr || !value->is_dict()) return false;
  for (const auto& [key, item] : value->as_dict()) {
    if (is_secret(key)) return true;
  }
  return false;
}

// The lines of `text` with their terminators, as views into it.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto length = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(0, length));
    text.remove_prefix(length);
  }
  return lines;
}

bool is_marker(std::string_view line, std::string_view marker) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line == marker;
}

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Rewrites `path` in place: the fallback when it is a mount point (a bind
// mount of a single file), where rename() fails with EBUSY.
std::optional<std::string> write_in_place(const std::string& path, std::string_view content) {
  platform::Fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return path + ": " + errno_text(errno);
  if (!write_all(fd.get(), content) || ::fsync(fd.get()) != 0) return path + ": " + errno_text(errno);
  return std::nullopt;
}

// Writes `content` to a temporary file next to `path`, mode 0644, then
// renames it over `path`: a reader sees the old file or the new one.
std::optional<std::string> write_atomically(const std::string& path, std::string_view content) {
  std::string temp = path + ".smlaunch-XXXXXX";
  platform::Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return temp + ": " + errno_text(errno);
  auto fail = [&](int err) {
    ::unlink(temp.c_str());
    return std::optional<std::string>(temp + ": " + errno_text(err));
  };
  // fchmod, not the umask-filtered creation mode: pam_env reads the file as
  // the user logging in, so it must be world-readable.
  if (::fchmod(fd.get(), kFileMode) != 0) return fail(errno);
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

}  // namespace

bool exportable(std::string_view name, std::string_view value) {
  return name_allowed(name) && representable(name, value);
}

std::string render_block(const std::map<std::string, std::string>& variables,
                         std::vector<std::string>* skipped) {
  const bool leave_out_aggregates = has_secret_hyperparameter(variables);
  std::string out;
  for (const auto& [name, value] : variables) {
    if (!name_allowed(name)) continue;
    if (leave_out_aggregates &&
        std::find(std::begin(kAggregates), std::end(kAggregates), name) != std::end(kAggregates)) {
      continue;
    }
    if (!representable(name, value)) {
      if (skipped != nullptr) skipped->push_back(name);
      continue;
    }
    out.append(name).append("=\"").append(value).append("\"\n");
  }
  return out;
}

std::string replace_block(std::string_view existing, std::string_view block) {
  std::string out;
  out.reserve(existing.size() + block.size() + kBlockBegin.size() + kBlockEnd.size() + 3);
  bool placed = false;
  bool inside = false;
  auto place = [&] {
    // Our first marker must start a line of its own.
    if (!out.empty() && out.back() != '\n') out += '\n';
    out.append(kBlockBegin).append("\n").append(block);
    if (!block.empty() && block.back() != '\n') out += '\n';
    out.append(kBlockEnd).append("\n");
    placed = true;
  };
  for (const std::string_view line : split_lines(existing)) {
    if (inside) {
      if (is_marker(line, kBlockEnd)) inside = false;
      continue;
    }
    if (is_marker(line, kBlockBegin)) {
      // The first old block is replaced where it stood; any later one (left
      // by an interrupted tool) is dropped. A block without its end marker
      // runs to the end of the file.
      if (!placed) place();
      inside = true;
      continue;
    }
    out.append(line);
  }
  if (!placed) place();
  return out;
}

std::optional<std::string> write_managed_block(const std::string& path,
                                               const std::map<std::string, std::string>& variables,
                                               std::vector<std::string>* skipped) {
  // Rewrite the file a symlink points to, not the link.
  std::error_code ec;
  std::string target = path;
  if (std::filesystem::is_symlink(path, ec)) {
    const auto resolved = std::filesystem::canonical(path, ec);
    if (ec) return path + ": " + ec.message();
    target = resolved.string();
  }

  std::string existing;
  auto read = platform::read_file(target, kMaxExistingBytes);
  if (auto* content = std::get_if<std::string>(&read)) {
    existing = std::move(*content);
  } else if (const auto& error = std::get<platform::ReadError>(read);
             error.failure != platform::ReadFailure::NotFound) {
    if (error.failure == platform::ReadFailure::TooLarge)
      return target + ": larger than 16 MiB, not rewritten";
    if (error.failure == platform::ReadFailure::NotAFile) return target + ": not a regular file";
    return target + ": " + error.detail;
  }
  return write_atomically(target, replace_block(existing, render_block(variables, skipped)));
}

}  // namespace smlaunch::cluster
