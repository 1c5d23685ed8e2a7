// Errors, as the layers above the platform see them.
//
// Two tiers (ccache's): expected problems in the user's files are collected
// as values in a Diagnostics list, so every problem is reported together, one
// line each, before anything starts; `checkpoint()` then throws ConfigError
// once. Anything that stops smlaunch outright is a FatalError carrying its
// exit code. Both are caught only in the CLI's main.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch {

/// Exit codes (DESIGN.md "Exit codes and files").
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitJobFailed = 1;
inline constexpr int kExitBadConfig = 2;
inline constexpr int kExitClusterFailed = 3;
inline constexpr int kExitSignalBase = 128;

/// One problem in one file: `<file>: <field>: <found>, expected <expected>`.
struct Problem {
  std::string file;      // "resourceconfig.json", or "command line", "environment"
  std::string field;     // "hosts[2]", "sagemaker_mpi_num_of_processes_per_host"
  std::string found;     // "got 42", "missing", "\"eight\""
  std::string expected;  // "a string", "an integer from 1 to 4096"

  /// The one-line message without the "smlaunch: error: " prefix.
  [[nodiscard]] std::string message() const;
};

/// Collects problems; the order of report is the order of discovery.
class Diagnostics {
 public:
  void add(std::string file, std::string field, std::string found, std::string expected);
  [[nodiscard]] bool empty() const { return problems_.empty(); }
  [[nodiscard]] const std::vector<Problem>& problems() const { return problems_; }
  /// Throws ConfigError holding every problem so far, if there is any.
  void checkpoint() const;

 private:
  std::vector<Problem> problems_;
};

/// Bad configuration or usage: exit 2, nothing started.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  [[nodiscard]] const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

/// Anything else that ends smlaunch: the message and the exit code to use.
class FatalError : public std::runtime_error {
 public:
  FatalError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// How a value is shown in a message: strings quoted and cut to a readable
/// length, everything else as JSON.
[[nodiscard]] std::string describe_for_message(std::string_view text, std::size_t max_chars = 60);

}  // namespace smlaunch
