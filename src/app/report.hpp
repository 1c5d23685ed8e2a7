// The platform's result files (B139, B144, B86): output/success on success,
// output/failure otherwise, unless the user's program wrote its own first.
#pragma once

#include <optional>
#include <string>

#include "smlaunch/config.hpp"

namespace smlaunch::app {

struct FailureReport {
  std::string error_class;  // "ExecuteUserScriptError", "ConfigurationError", ...
  std::optional<int> exit_code;
  std::string message;
  std::optional<std::string> extra_info;
  std::string command;
};

/// The B86 text: "<Class>:\nExitCode <n>\nErrorMessage \"<text>\"\n
/// [ExtraInfo \"<info>\"\n]Command \"<cmd>\"".
[[nodiscard]] std::string format_failure(const FailureReport& report);

/// Writes output/failure unless it exists (B144). Returns false (and logs)
/// when it could not be written.
bool write_failure(const config::Paths& paths, const FailureReport& report);
/// Writes an empty output/success (B139).
bool write_success(const config::Paths& paths);

}  // namespace smlaunch::app
