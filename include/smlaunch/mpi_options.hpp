// The user's custom mpirun options (sagemaker_mpi_custom_mpi_options and
// sagemaker_distributed_dataparallel_custom_mpi_options) and the Open MPI
// version that decides option spellings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace smlaunch::mpi {

/// The options after parsing: `--NCCL_DEBUG X` taken out (B91), the rest in
/// order, each token byte for byte (B92), split with POSIX-shell quoting.
struct CustomOptions {
  std::optional<std::string> nccl_debug;
  std::vector<std::string> passthrough;
};

/// Why the options were refused; `message` is one line, fit to follow
/// "hyperparameters.json: <field>: ".
struct OptionsError {
  std::string message;
};

/// Splits `text` like a POSIX shell would split words (quotes, backslashes; no
/// expansion of any kind), then handles --NCCL_DEBUG (also `--NCCL_DEBUG=X`
/// and unique abbreviations, as argparse did) and refuses what must not reach
/// mpirun silently: -h/--help, options that set the host list (-host, -H,
/// -hostfile, -machinefile, ...), --NCCL_DEBUG without a value, unterminated
/// quotes, NUL bytes.
[[nodiscard]] std::variant<CustomOptions, OptionsError> parse_custom_options(std::string_view text);

/// The `NAME=VALUE` assignments that `-x NAME=VALUE` (also spelled --x,
/// -env, --env) in mpirun's argument `words` makes, in order: the variables
/// the options set for every rank. `-x NAME` alone (forward by name) is not
/// an assignment and is not returned.
struct Assignment {
  std::string name;
  std::string value;
};
[[nodiscard]] std::vector<Assignment> exported_assignments(const std::vector<std::string>& words);

/// True for the option words that take a `NAME[=VALUE]` to export: -x, --x,
/// -env, --env.
[[nodiscard]] bool is_export_option(std::string_view word);

enum class OpenMpiVersion { V4 = 4, V5 = 5 };

/// The major version from `mpirun --version` output ("mpirun (Open MPI)
/// 4.1.4"); nullopt when it is not Open MPI or unreadable. Majors below 4 are
/// treated as 4, above 5 as 5.
[[nodiscard]] std::optional<OpenMpiVersion> parse_mpirun_version(std::string_view output);

}  // namespace smlaunch::mpi
