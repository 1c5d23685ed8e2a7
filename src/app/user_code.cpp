// Fetching and installing the user's code (B58 steps 2-3, B60, B61).
//
// The platform passes the code as `sagemaker_submit_directory`: the code
// directory itself (code baked into the image), another local directory, a
// local tarball, or `s3://bucket/key/sourcedir.tar.gz`. We act only when the
// code directory is empty (B60: a restarted or warm container keeps what it
// has), and an unfinished fetch leaves it empty again, so that a retry starts
// clean instead of finding half a tree and skipping the fetch.
//
// - s3:// is downloaded by the `aws` CLI when it is installed (no AWS SDK in
//   smlaunch), into a file of a private 0700 directory, with the job's region
//   and $S3_ENDPOINT_URL; then unpacked like a local tarball.
// - Tarballs are unpacked by platform::extract_tar, which refuses members
//   that would land or point outside the code directory (D30).
// - Copies and unpacked files get 0755/0644 modes: nothing world-writable.
//
// Then B61: a package (setup.py, or pyproject.toml) is installed with
// `python -m pip install . [-r requirements.txt]`, a program's
// requirements.txt with `python -m pip install -r requirements.txt`, in the
// code directory, with the environment we were given (PIP_* honoured) and
// with the plan's Python. We pass no --break-system-packages: images run
// their own Python (conda, /usr/local), which pip installs into as is; an
// image whose Python is "externally managed" (Debian's) opts in with
// PIP_BREAK_SYSTEM_PACKAGES=1 or uses a virtual environment, and the failure
// report says so. pip's and aws's output is relayed line for line as it
// comes; a bounded tail of it is kept for the failure report.
#include "app/user_code.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <variant>

#include "app/log.hpp"
#include "platform/archive.hpp"
#include "platform/files.hpp"
#include "platform/output.hpp"
#include "platform/subprocess.hpp"
#include "platform/tree.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::app {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kS3Scheme = "s3://";
constexpr std::string_view kTempPrefix = "smlaunch-code-";
constexpr std::string_view kDownloadName = "sourcedir.tar.gz";
constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr std::string_view kDefaultTmp = "/tmp";
// What is kept of a child's output for the failure report.
constexpr std::size_t kOutputTailBytes = std::size_t{16} * 1024;
// The failure message: pip's ERROR lines first (what failed), then the end
// of its output (why), each capped.
constexpr std::size_t kErrorLinesBytes = std::size_t{2} * 1024;
constexpr std::size_t kContextBytes = std::size_t{4} * 1024;
constexpr std::size_t kEntryNameChars = 200;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& a : argv) {
    if (!command.empty()) command += ' ';
    command += plan::shell_quote(a);
  }
  return command;
}

CodeFailure fetch_failure(const UserCodeOptions& o, std::string message, const std::string& command = {}) {
  return CodeFailure{FailureReport{std::string(kSubmitDirectoryError), kExitBadConfig, std::move(message),
                                   std::nullopt, command.empty() ? o.invocation : command},
                     kExitBadConfig};
}

// The last `limit` bytes of a stream, from a line start when one is near.
class Tail {
 public:
  void append(std::string_view chunk) {
    text_.append(chunk);
    if (text_.size() > 2 * kOutputTailBytes) text_.erase(0, text_.size() - kOutputTailBytes);
  }
  [[nodiscard]] std::string last(std::size_t limit) const {
    if (text_.size() <= limit) return text_;
    std::string_view tail = std::string_view(text_).substr(text_.size() - limit);
    if (const auto newline = tail.find('\n');
        newline != std::string_view::npos && newline + 1 < tail.size()) {
      tail.remove_prefix(newline + 1);
    }
    return std::string(tail);
  }
  [[nodiscard]] bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

struct Relayed {
  std::variant<platform::JobOutcome, platform::SpawnError> result;
  Tail out;
  Tail err;
};

// Runs `argv` in `cwd` under a Supervisor, relaying its output to ours.
Relayed run_relayed(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& cwd, const UserCodeOptions& o) {
  platform::OutputWriter out(1);
  platform::OutputWriter err(2);
  Relayed relayed{platform::JobOutcome{}, {}, {}};
  platform::Supervisor supervisor({.term_grace = o.term_grace, .abort_fd = o.abort_fd});
  relayed.result = supervisor.run(
      platform::Command{argv, env, cwd}, [&](platform::OutputStream stream, std::string_view chunk) {
        auto& writer = stream == platform::OutputStream::kStdout ? out : err;
        (stream == platform::OutputStream::kStdout ? relayed.out : relayed.err).append(chunk);
        writer.append(chunk);
        writer.flush();
      });
  return relayed;
}

// The children's environment: ours as given, and Python unbuffered so that
// pip's (and aws's) lines arrive as they are printed, not at exit.
std::vector<std::string> child_environment(const config::Environ& environ) {
  std::vector<std::string> env;
  env.reserve(environ.size() + 1);
  for (const auto& [name, value] : environ) env.push_back(name + "=" + value);
  if (!environ.contains("PYTHONUNBUFFERED")) env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

// A stop signal ended the child: we exit with 128 + N like the job would.
std::optional<CodeFailure> stopped(const platform::JobOutcome& outcome, const std::string& command) {
  if (!outcome.stopped_by_signal()) return std::nullopt;
  const int code = outcome.job.exited() ? outcome.job.exit_code() : -outcome.job.term_signal();
  return CodeFailure{FailureReport{"StoppedBySignal", code, outcome.describe(), std::nullopt, command},
                     kExitSignalBase + outcome.stop_signal};
}

// ---- fetching ----

struct S3Uri {
  std::string bucket;
  std::string key;
};

std::optional<S3Uri> parse_s3_uri(std::string_view uri) {
  if (!uri.starts_with(kS3Scheme)) return std::nullopt;
  uri.remove_prefix(kS3Scheme.size());
  const auto slash = uri.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == uri.size() || uri.ends_with('/')) {
    return std::nullopt;
  }
  const bool printable = std::all_of(
      uri.begin(), uri.end(), [](char c) { return static_cast<unsigned char>(c) > ' ' && c != '\x7f'; });
  if (!printable) return std::nullopt;
  return S3Uri{std::string(uri.substr(0, slash)), std::string(uri.substr(slash + 1))};
}

std::optional<CodeFailure> unpack(const std::string& archive, const std::string& shown,
                                  const std::string& code, const UserCodeOptions& o) {
  const auto started = Clock::now();
  const auto result = platform::extract_tar(archive, code);
  if (const auto* stats = std::get_if<platform::ArchiveStats>(&result)) {
    log::info("Unpacked {} entries ({} bytes) of {} into {} in {:.3f} s", stats->entries, stats->bytes, shown,
              code, seconds_since(started));
    return std::nullopt;
  }
  const auto& error = std::get<platform::ArchiveError>(result);
  const std::string entry =
      error.entry.empty() ? "" : "entry " + describe_for_message(error.entry, kEntryNameChars);
  switch (error.failure) {
    case platform::ArchiveFailure::kUnsafeEntry:
    case platform::ArchiveFailure::kUnsupportedEntry:
      return fetch_failure(o, fmt::format("refusing to unpack {}: {} {}", shown, entry, error.reason));
    case platform::ArchiveFailure::kNotAnArchive:
      return fetch_failure(o, fmt::format("{} is not a tar archive: {}", shown, error.reason));
    case platform::ArchiveFailure::kReadError:
    case platform::ArchiveFailure::kWriteError:
      break;
  }
  return fetch_failure(o, fmt::format("could not unpack {} into {}: {}{}", shown, code,
                                      entry.empty() ? "" : entry + ": ", error.reason));
}

std::optional<CodeFailure> fetch_s3(const Loaded& l, const UserCodeOptions& o, const std::string& uri) {
  const std::string& code = l.paths.code;
  if (!parse_s3_uri(uri)) {
    return fetch_failure(o, fmt::format("sagemaker_submit_directory: {} is not an S3 object URI, expected "
                                        "s3://bucket/key (such as s3://bucket/job/source/sourcedir.tar.gz)",
                                        describe_for_message(uri)));
  }
  const std::string path = config::lookup(l.environ, "PATH").value_or(std::string(kDefaultPath));
  const auto aws = platform::find_executable("aws", path);
  if (!aws) {
    return fetch_failure(o, fmt::format("sagemaker_submit_directory is {}, but the aws CLI is not installed "
                                        "(no aws on PATH): install it in the image, or put the code in {}",
                                        uri, code));
  }
  std::vector<std::string> argv{*aws, "s3", "cp", "--no-progress"};
  if (const auto& region = l.env.sagemaker_region; !region.empty()) {
    if (region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      return fetch_failure(o, fmt::format("region {} (sagemaker_region, AWS_DEFAULT_REGION or AWS_REGION): "
                                          "expected a name such as us-west-2",
                                          describe_for_message(region)));
    }
    argv.insert(argv.end(), {"--region", region});
  }
  if (const auto endpoint = config::lookup(l.environ, "S3_ENDPOINT_URL"); endpoint && !endpoint->empty()) {
    if (!endpoint->starts_with("https://") && !endpoint->starts_with("http://")) {
      return fetch_failure(o, fmt::format("environment: S3_ENDPOINT_URL: got {}, expected an http:// or "
                                          "https:// URL",
                                          describe_for_message(*endpoint)));
    }
    argv.insert(argv.end(), {"--endpoint-url", *endpoint});
  }

  const std::string tmp_parent = config::lookup(l.environ, "TMPDIR").value_or(std::string(kDefaultTmp));
  auto tmp = platform::PrivateTempDir::create(tmp_parent.empty() ? std::string(kDefaultTmp) : tmp_parent,
                                              kTempPrefix);
  if (const auto* error = std::get_if<std::string>(&tmp)) {
    return fetch_failure(o, "could not make a private directory for the download: " + *error);
  }
  const auto& dir = std::get<platform::PrivateTempDir>(tmp);
  const std::string file = dir.path() + "/" + std::string(kDownloadName);
  if (const auto claimed = platform::create_exclusive(file); std::holds_alternative<std::string>(claimed)) {
    return fetch_failure(o, "could not create the download file " + std::get<std::string>(claimed));
  }
  argv.insert(argv.end(), {uri, file});

  const std::string command = join_command(argv);
  const auto started = Clock::now();
  log::info("Downloading {} with: {}", uri, command);
  const auto relayed = run_relayed(argv, child_environment(l.environ), "", o);
  if (const auto* error = std::get_if<platform::SpawnError>(&relayed.result)) {
    return fetch_failure(o, "could not run the aws CLI: " + error->message, command);
  }
  const auto& outcome = std::get<platform::JobOutcome>(relayed.result);
  if (auto failure = stopped(outcome, command)) return failure;
  if (outcome.aborted) {
    auto failure =
        fetch_failure(o, fmt::format("the download of {} was stopped: the job was aborted", uri), command);
    failure.exit_code = kExitClusterFailed;
    failure.report.exit_code = std::nullopt;
    return failure;
  }
  if (!outcome.job.success()) {
    std::string said = (relayed.err.empty() ? relayed.out : relayed.err).last(kContextBytes);
    while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.pop_back();
    return fetch_failure(o,
                         fmt::format("could not download {}: aws {}{}{}", uri, outcome.job.describe(),
                                     said.empty() ? "" : ": ", said),
                         command);
  }
  std::error_code ec;
  log::info("Downloaded {} ({} bytes) in {:.3f} s", uri, fs::file_size(file, ec), seconds_since(started));
  return unpack(file, uri, code, o);
}

bool named_like_a_tarball(std::string_view path) {
  constexpr std::string_view kSuffixes[] = {".tar",  ".tar.gz", ".tgz", ".tar.bz2",
                                            ".tbz2", ".tar.xz", ".txz", ".tar.zst"};
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes),
                     [&](std::string_view s) { return path.ends_with(s); });
}

std::optional<CodeFailure> fetch_local(const UserCodeOptions& o, const std::string& source,
                                       const std::string& code) {
  std::error_code ec;
  const auto status = fs::status(source, ec);
  if (ec || !fs::exists(status)) {
    return fetch_failure(o, fmt::format("sagemaker_submit_directory: {} does not exist, expected a local "
                                        "directory, a .tar.gz file or an s3:// URI",
                                        describe_for_message(source)));
  }
  const auto started = Clock::now();
  if (fs::is_directory(status)) {
    const auto from = fs::weakly_canonical(source, ec);
    const auto to = fs::weakly_canonical(code, ec);
    if (from == to) return std::nullopt;  // B60: the code dir itself
    const auto rel = to.lexically_relative(from);
    if (!rel.empty() && *rel.begin() != "..") {
      return fetch_failure(o, fmt::format("sagemaker_submit_directory: {} contains the code directory {}: "
                                          "it cannot be copied into it",
                                          source, code));
    }
    if (auto error = platform::copy_tree_into(source, code)) {
      return fetch_failure(o, fmt::format("could not copy {} into {}: {}", source, code, *error));
    }
    log::info("Copied {} into {} in {:.3f} s", source, code, seconds_since(started));
    return std::nullopt;
  }
  if (fs::is_regular_file(status) && platform::is_tar_archive(source)) return unpack(source, source, code, o);
  if (named_like_a_tarball(source)) {  // not copied as a plain file, as B60 would: that hides the problem
    return fetch_failure(o,
                         fmt::format("sagemaker_submit_directory: {} is not a tar archive (empty, corrupt or "
                                     "another format)",
                                     source));
  }
  if (auto error = platform::copy_file_into(source, code)) {  // B60: anything else is copied
    return fetch_failure(o, fmt::format("could not copy {} into {}: {}", source, code, *error));
  }
  log::info("Copied {} into {} in {:.3f} s", source, code, seconds_since(started));
  return std::nullopt;
}

std::optional<CodeFailure> fetch(const Loaded& l, const UserCodeOptions& o) {
  const std::string& source = l.env.module_dir;
  const std::string& code = l.paths.code;
  // B60 creates it when missing; 0755 whatever the umask.
  if (auto error = platform::create_directories(code)) {
    return fetch_failure(o, fmt::format("could not create the code directory {}", *error));
  }
  if (platform::directory_has_entries(code)) {
    log::info("Provided path: {} is not empty, abandoning unzipping sourcedir.tar.gz", code);
    return std::nullopt;
  }
  if (source == code) return std::nullopt;
  if (source.empty()) {
    return fetch_failure(o,
                         "sagemaker_submit_directory is empty, expected a local directory, a .tar.gz file "
                         "or an s3:// URI");
  }
  const auto scheme = source.find("://");
  const bool is_s3 = source.starts_with(kS3Scheme);
  if (!is_s3 && scheme != std::string::npos &&
      source.substr(0, scheme).find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+.-") ==
          std::string::npos) {
    return fetch_failure(o,
                         fmt::format("sagemaker_submit_directory: {} has an unsupported scheme, expected a "
                                     "local path or an s3:// URI",
                                     describe_for_message(source)));
  }
  const auto started = Clock::now();
  log::info("Fetching the code from {} into {}", source, code);
  auto failure = is_s3 ? fetch_s3(l, o, source) : fetch_local(o, source, code);
  if (failure) {
    // Leave it empty, so that a retry fetches again (B60 skips a non-empty dir).
    if (!platform::remove_contents(code)) log::warning("could not empty {} after the failed fetch", code);
    return failure;
  }
  log::info("Code ready in {} after {:.3f} s", code, seconds_since(started));
  return std::nullopt;
}

// ---- installing ----

// pip's "ERROR: ..." (and rich "error: ...") lines first: they say what
// failed; then the end of its output: why. Each capped.
std::string pip_error_message(const Relayed& relayed) {
  const std::string text = (relayed.err.empty() ? relayed.out : relayed.err).last(kOutputTailBytes);
  std::string errors;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = std::string_view(text).substr(start, end - start);
    // Nested under a build step's report, the line is indented.
    std::string_view trimmed = line;
    trimmed.remove_prefix(std::min(trimmed.find_first_not_of(' '), trimmed.size()));
    const bool error_line = trimmed.starts_with("ERROR:") || trimmed.starts_with("error:");
    if (error_line && errors.size() + trimmed.size() < kErrorLinesBytes) {
      errors.append(trimmed).push_back('\n');
    }
    start = end + 1;
  }
  std::string context = (relayed.err.empty() ? relayed.out : relayed.err).last(kContextBytes);
  while (!context.empty() && (context.back() == '\n' || context.back() == '\r')) context.pop_back();
  if (errors.empty()) return context;
  return errors + "\n" + context;
}

}  // namespace

InstallKind install_kind(std::string_view entry, bool has_setup_py, bool has_pyproject_toml,
                         bool has_requirements_txt) {
  if (entry.ends_with(".sh")) return InstallKind::kNone;  // B61: a command is only made executable
  if (has_setup_py || has_pyproject_toml) return InstallKind::kPackage;
  if (has_requirements_txt && (entry.empty() || entry.ends_with(".py"))) return InstallKind::kRequirements;
  return InstallKind::kNone;
}

std::vector<std::string> pip_command(InstallKind kind, const std::string& python, bool has_requirements_txt) {
  switch (kind) {
    case InstallKind::kPackage: {
      std::vector<std::string> argv{python, "-m", "pip", "install", "."};
      if (has_requirements_txt) argv.insert(argv.end(), {"-r", "requirements.txt"});
      return argv;
    }
    case InstallKind::kRequirements:
      return {python, "-m", "pip", "install", "-r", "requirements.txt"};
    case InstallKind::kNone:
      break;
  }
  return {};
}

std::optional<CodeFailure> prepare_user_code(const Loaded& l, const UserCodeOptions& o) {
  if (auto failure = fetch(l, o)) return failure;

  // B61: install what the code directory holds.
  const std::string& code = l.paths.code;
  const std::string entry = l.env.user_entry_point.is_str() ? l.env.user_entry_point.as_str() : "";
  const bool requirements = platform::is_regular_file(code + "/requirements.txt");
  const InstallKind kind = install_kind(entry, platform::path_exists(code + "/setup.py"),
                                        platform::path_exists(code + "/pyproject.toml"), requirements);
  if (kind == InstallKind::kNone) {
    if (requirements) log::info("{} is run as a command: requirements.txt is not installed", entry);
    return std::nullopt;
  }
  if (config::lookup(l.environ, "CA_REPOSITORY_ARN")) {
    log::warning(
        "CA_REPOSITORY_ARN is set, but smlaunch does not look up CodeArtifact index URLs: set "
        "PIP_INDEX_URL for pip instead");
  }
  const std::string error_class(kind == InstallKind::kPackage ? kInstallModuleError
                                                              : kInstallRequirementsError);
  if (!l.inputs.tools.python) {
    return CodeFailure{
        FailureReport{"ConfigurationError", kExitBadConfig,
                      "no Python to run pip with: set SMLAUNCH_PYTHON, or put python3 or python "
                      "on PATH",
                      std::nullopt, o.invocation},
        kExitBadConfig};
  }
  const auto argv = pip_command(kind, *l.inputs.tools.python, requirements);
  const std::string command = join_command(argv);
  if (kind == InstallKind::kPackage) {
    log::info("Installing module with the following command:\n{}", command);
  } else {
    log::info("Installing dependencies from requirements.txt:\n{}", command);
  }
  const auto started = Clock::now();
  const auto relayed = run_relayed(argv, child_environment(l.environ), code, o);
  if (const auto* error = std::get_if<platform::SpawnError>(&relayed.result)) {
    return CodeFailure{FailureReport{error_class, std::nullopt, "could not run pip: " + error->message,
                                     std::nullopt, command},
                       kExitJobFailed};
  }
  const auto& outcome = std::get<platform::JobOutcome>(relayed.result);
  if (auto failure = stopped(outcome, command)) return failure;
  if (outcome.aborted) {  // abort_fd: someone else (a lost or failed host) ended the job
    return CodeFailure{FailureReport{error_class, std::nullopt, "pip was stopped: the job was aborted",
                                     std::nullopt, command},
                       kExitClusterFailed};
  }
  if (!outcome.job.success()) {
    FailureReport report{error_class,
                         outcome.job.exited() ? outcome.job.exit_code() : -outcome.job.term_signal(),
                         pip_error_message(relayed), std::nullopt, command};
    if (report.message.empty()) report.message = "pip " + outcome.job.describe();
    if (report.message.find("externally-managed-environment") != std::string::npos) {
      report.extra_info = fmt::format(
          "{} is managed by the system: set PIP_BREAK_SYSTEM_PACKAGES=1 to install "
          "into it anyway, or run with a virtual environment's Python (SMLAUNCH_PYTHON)",
          *l.inputs.tools.python);
    }
    log::error("pip {} after {:.3f} s", outcome.job.describe(), seconds_since(started));
    return CodeFailure{std::move(report), kExitJobFailed};
  }
  log::info("Installed {} in {:.3f} s", kind == InstallKind::kPackage ? "the module" : "the requirements",
            seconds_since(started));
  return std::nullopt;
}

}  // namespace smlaunch::app
