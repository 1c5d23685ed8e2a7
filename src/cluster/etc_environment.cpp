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
// world-readable; secrets reach the ranks through `mpirun -x`). Secret names
// follow config::is_secret_name, the rule the log masking uses too, except
// that AWS_ACCESS_KEY_ID, safe to print, is still a credential here.
// Hyperparameter values are repeated inside SM_HPS, SM_TRAINING_ENV and
// SM_USER_ARGS, so when any hyperparameter has a secret name those three are
// left out as a whole (the ranks get them via -x). Likewise SM_FRAMEWORK_PARAMS
// and SM_TRAINING_ENV when the custom mpirun options set a secret-named
// variable (`-x DB_PASSWORD=...`), and any variable whose value contains the
// value of a secret-named one (8 bytes or more: shorter ones are not
// searched for).
//
// The file is replaced, not appended: the text between our two markers is
// rewritten, everything else kept byte for byte, and the new file is
// renamed into place from a temporary file in the same directory.
#include "cluster/etc_environment.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>
#include <variant>

#include "config/secret_names.hpp"
#include "platform/files.hpp"
#include "smlaunch/mpi_options.hpp"
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

// The shared secret-name rule, plus every AWS_ name with KEY in it
// (AWS_ACCESS_KEY_ID, safe to print, is still a credential here).
bool is_secret(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (upper.starts_with("AWS_") && upper.find("KEY") != std::string::npos) return true;
  return config::is_secret_name(name);
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

// Secret values the variables carry under innocent names. Custom mpirun
// options can set a secret-named variable for every rank (`-x
// DB_PASSWORD=...`); the option text is repeated in SM_FRAMEWORK_PARAMS
// and SM_TRAINING_ENV (additional_framework_parameters). And a secret-named
// variable (HF_TOKEN, left out by name) may have its value repeated in
// another one.
constexpr std::string_view kCustomMpiOptionsSuffix = "custom_mpi_options";
// Values shorter than this are not searched for in other values: "1" or
// "true" under a secret name would otherwise empty the block.
constexpr std::size_t kMinSearchedSecretBytes = 8;

// Where the framework parameters are in a variable's JSON object.
enum class ParamsAt { TopLevel, InTrainingEnv };

// The values custom MPI options in the JSON object `text` (the dict of
// SM_FRAMEWORK_PARAMS, or SM_TRAINING_ENV's additional_framework_parameters)
// give to secret-named variables.
void add_option_secrets(std::string_view text, ParamsAt where, std::vector<std::string>& secrets) {
  const auto decoded = py::loads(text);
  const auto* value = std::get_if<py::Value>(&decoded);
  if (value == nullptr || !value->is_dict()) return;
  const py::Dict* params = &value->as_dict();
  if (where == ParamsAt::InTrainingEnv) {
    const py::Value* inner = params->find("additional_framework_parameters");
    if (inner == nullptr || !inner->is_dict()) return;
    params = &inner->as_dict();
  }
  for (const auto& [key, item] : *params) {
    if (!key.ends_with(kCustomMpiOptionsSuffix) || !item.is_str()) continue;
    const auto parsed = mpi::parse_custom_options(item.as_str());
    const auto* options = std::get_if<mpi::CustomOptions>(&parsed);
    if (options == nullptr) continue;
    for (auto& [name, secret] : mpi::exported_assignments(options->passthrough)) {
      if (is_secret(name)) secrets.push_back(std::move(secret));
    }
  }
}

// Whether the custom MPI options set a secret-named variable, and the
// secret values (of those and of secret-named variables) long enough to be
// searched for in other values.
struct SecretValues {
  bool in_custom_options = false;
  std::vector<std::string> searched;
};

SecretValues secret_values(const std::map<std::string, std::string>& variables) {
  SecretValues out;
  std::vector<std::string> option_secrets;
  if (const auto it = variables.find("SM_FRAMEWORK_PARAMS"); it != variables.end()) {
    add_option_secrets(it->second, ParamsAt::TopLevel, option_secrets);
  }
  if (const auto it = variables.find("SM_TRAINING_ENV"); it != variables.end()) {
    add_option_secrets(it->second, ParamsAt::InTrainingEnv, option_secrets);
  }
  out.in_custom_options = !option_secrets.empty();
  for (auto& secret : option_secrets) {
    if (secret.size() >= kMinSearchedSecretBytes) out.searched.push_back(std::move(secret));
  }
  for (const auto& [name, value] : variables) {
    if (is_secret(name) && value.size() >= kMinSearchedSecretBytes) out.searched.push_back(value);
  }
  return out;
}

bool holds_any(std::string_view value, const std::vector<std::string>& secrets) {
  return std::any_of(secrets.begin(), secrets.end(),
                     [&](const std::string& s) { return value.find(s) != std::string_view::npos; });
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

}  // namespace

bool exportable(std::string_view name, std::string_view value) {
  return name_allowed(name) && representable(name, value);
}

std::string render_block(const std::map<std::string, std::string>& variables,
                         std::vector<std::string>* skipped) {
  const bool leave_out_aggregates = has_secret_hyperparameter(variables);
  const SecretValues secrets = secret_values(variables);
  std::string out;
  for (const auto& [name, value] : variables) {
    if (!name_allowed(name)) continue;
    if (leave_out_aggregates &&
        std::find(std::begin(kAggregates), std::end(kAggregates), name) != std::end(kAggregates)) {
      continue;
    }
    if (secrets.in_custom_options && (name == "SM_FRAMEWORK_PARAMS" || name == "SM_TRAINING_ENV")) continue;
    if (holds_any(value, secrets.searched)) continue;
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
  // Exactly 0644, whatever the umask: pam_env reads the file as the user
  // logging in, so it must be world-readable.
  return platform::write_file_atomically(target, replace_block(existing, render_block(variables, skipped)),
                                         kFileMode);
}

}  // namespace smlaunch::cluster
