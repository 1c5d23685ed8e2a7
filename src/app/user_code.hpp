// The user's code on this host (B58 steps 2-3): fetch
// sagemaker_submit_directory into the code directory, then install its
// package or requirements with pip. Runs on every host before anything else.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/load.hpp"
#include "app/report.hpp"
#include "platform/process.hpp"

namespace smlaunch::app {

/// Failure classes of this phase (the failure file's first line).
inline constexpr std::string_view kSubmitDirectoryError = "SubmitDirectoryError";
inline constexpr std::string_view kInstallModuleError = "InstallModuleError";              // B61
inline constexpr std::string_view kInstallRequirementsError = "InstallRequirementsError";  // B61

struct UserCodeOptions {
  /// A stop signal during a download or pip -> SIGKILL this much later.
  std::chrono::milliseconds term_grace = platform::kTermGrace;
  /// Readable when the job must stop (see SupervisorOptions::abort_fd); -1: none.
  int abort_fd = -1;
  /// smlaunch's own command line, for the failure report of a fetch that
  /// ran no program (a bad URI, an unsafe archive).
  std::string invocation;
};

/// Why the code is not ready: what to write to output/failure and the exit
/// code smlaunch ends with (2: the submit directory could not be fetched or
/// unpacked, or no Python; 1: pip failed; 3: stopped through abort_fd;
/// 128+N: stopped by signal N).
struct CodeFailure {
  FailureReport report;
  int exit_code = kExitJobFailed;
};

/// How the code directory is installed (B61, with pyproject.toml added).
enum class InstallKind {
  kNone,          // a command entry point (.sh, or no setup.py and not .py), or nothing to install
  kPackage,       // setup.py or pyproject.toml: pip install . [-r requirements.txt]
  kRequirements,  // a .py program with requirements.txt: pip install -r requirements.txt
};

/// The install for entry point `entry` (empty when none is configured) given
/// what the code directory holds.
[[nodiscard]] InstallKind install_kind(std::string_view entry, bool has_setup_py, bool has_pyproject_toml,
                                       bool has_requirements_txt);

/// The pip command for `kind` (B61's exact argv), run in the code directory.
[[nodiscard]] std::vector<std::string> pip_command(InstallKind kind, const std::string& python,
                                                   bool has_requirements_txt);

/// Fetches sagemaker_submit_directory into the code dir (B60: only when the
/// code dir is empty; a local directory is copied, a local tar archive
/// unpacked, another local file copied, an s3:// URI downloaded with the aws
/// CLI and unpacked) and installs its requirements/package (B61). Returns
/// nullopt when the code is ready, else the failure to report; writes no
/// failure file itself. Logs each step with its time; pip's and aws's output
/// is relayed to our stdout/stderr as it comes. Runs children under a
/// platform::Supervisor, which reaps every child of this process: nothing
/// else may wait for children meanwhile.
[[nodiscard]] std::optional<CodeFailure> prepare_user_code(const Loaded& loaded,
                                                           const UserCodeOptions& options);

}  // namespace smlaunch::app
