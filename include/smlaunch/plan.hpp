// The launch plan: everything about this host's part of the job, decided
// without side effects from (training environment, process environment,
// tool facts, options). `smlaunch plan --json` prints it; execution only
// carries it out (DESIGN.md principle 1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smlaunch/config.hpp"
#include "smlaunch/diagnostics.hpp"
#include "smlaunch/mpi_options.hpp"
#include "smlaunch/sm_env.hpp"

namespace smlaunch::plan {

enum class RunnerKind { Mpi, Smddp, Torchrun, Xla, Process };
/// leader/worker for mpi and smddp; node when every host runs its own
/// command (torchrun, xla); single for the process runner.
enum class Role { Leader, Worker, Node, Single };
enum class EntryPointType { PythonProgram, PythonPackage, Command };

[[nodiscard]] std::string_view to_string(RunnerKind kind);
[[nodiscard]] std::string_view to_string(Role role);
[[nodiscard]] std::string_view to_string(EntryPointType type);
/// "mpi", "smddp", "torchrun", "xla", "process"; nullopt otherwise.
[[nodiscard]] std::optional<RunnerKind> parse_runner(std::string_view name);

/// Processes per host are capped: a larger value is a typo, not a plan.
inline constexpr std::int64_t kMaxProcessesPerHost = 4096;

/// Executables and libraries the plan names, resolved by the caller.
struct Tools {
  std::optional<std::string> python;    // absolute path (SMLAUNCH_PYTHON, python3, python)
  std::optional<std::string> torchrun;  // absolute path when on PATH
  std::optional<std::string> neuron_parallel_compile;
  std::string mpirun = "mpirun";
  std::string smddprun = "smddprun";
  std::string smddpmprun = "smddpmprun";
  mpi::OpenMpiVersion openmpi_version = mpi::OpenMpiVersion::V4;
  std::string hostname_shim;  // absolute path of the LD_PRELOAD library
};

/// What the code directory holds (read by the caller).
struct CodeDirFacts {
  bool has_setup_py = false;
  bool entry_point_exists = false;
  bool populated = false;  // has any entry (B60: nothing is fetched then)
};

struct PlanInputs {
  const config::TrainingEnv* env = nullptr;
  const config::Environ* environ = nullptr;
  Tools tools;
  CodeDirFacts code;
  std::optional<RunnerKind> forced_runner;  // --runner
  /// Set when the base directory came from --base-dir or local mode: the job
  /// (and the hostname shim in every rank) then gets $SAGEMAKER_BASE_DIR.
  std::optional<std::string> export_base_dir;
  /// `smlaunch --mpi CMD ARGS`: run this command under mpirun instead of the
  /// entry point (no python -m mpi4py, no hyperparameter arguments).
  std::optional<std::vector<std::string>> user_command;
};

struct LaunchPlan {
  RunnerKind runner = RunnerKind::Process;
  Role role = Role::Single;
  std::string current_host;
  std::string leader;
  std::vector<std::string> hosts;  // the distribution hosts, in order
  std::int64_t processes_per_host = 1;
  std::int64_t num_processes = 1;
  std::vector<std::string> argv;  // [] on an MPI/SMDDP worker
  env::EnvMap env;                // what smlaunch adds to the child's environment
  std::string cwd;

  // Details for execution and logs (not part of the plan --json contract).
  EntryPointType entry_type = EntryPointType::PythonProgram;
  std::vector<std::string> user_args;   // to_cmd_args of the hyperparameters
  std::string hostname_shim;            // the LD_PRELOAD library the ranks get
  mpi::OpenMpiVersion openmpi_version = mpi::OpenMpiVersion::V4;
  std::vector<std::string> notes;       // informational log lines
  std::vector<std::string> warnings;
};

/// Decides the plan. Problems (bad counts, bad MPI options, a missing entry
/// point, ...) are added to `diagnostics`; the returned plan is only
/// meaningful when no problem was added.
[[nodiscard]] LaunchPlan make_plan(const PlanInputs& inputs, Diagnostics& diagnostics);

/// What one exec can carry on Linux. A longer argument or environment
/// string, or more in all, makes execve fail with E2BIG ("Argument list too
/// long") after everything was prepared: these are checked with the plan.
struct ExecLimits {
  /// MAX_ARG_STRLEN (32 pages): the bytes of one argument or one NAME=VALUE
  /// environment string, its terminating NUL included.
  static constexpr std::size_t kMaxStringBytes = 131072;
  /// The argument and environment strings together (with their NULs and
  /// pointers): the caller's sysconf(_SC_ARG_MAX), capped as the kernel caps
  /// it, minus room for what mpirun and its daemons add for the ranks.
  std::size_t max_total_bytes = std::size_t{2} << 20;
};

/// Checks `plan.argv` and the environment the program gets (`environ` with
/// `plan.env` over it) against `limits`. Each hyperparameter that makes a
/// string too long is one problem for hyperparameters.json naming the
/// hyperparameter, the variables or argument it makes too long (SM_HP_<KEY>,
/// SM_HPS, SM_TRAINING_ENV, SM_USER_ARGS, ...) and the limit; a string no
/// hyperparameter accounts for is a problem of the environment. A total
/// over the limit (when no single string is) names the largest
/// hyperparameter.
void check_exec_limits(const LaunchPlan& plan, const config::TrainingEnv& env, const config::Environ& environ,
                       const ExecLimits& limits, Diagnostics& diagnostics);

/// The runner the hyperparameters ask for (SPEC order: smddp, mpi, xla,
/// torchrun, process); truthiness of the decoded values (B29).
[[nodiscard]] RunnerKind runner_from_hyperparameters(const py::Dict& framework_parameters);

/// The DESIGN.md JSON object (runner, role, current_host, leader, hosts,
/// processes_per_host, num_processes, argv, env, cwd), pretty-printed.
[[nodiscard]] std::string to_json(const LaunchPlan& plan);
/// A human-readable rendering, the command shell-quoted for copy and paste.
[[nodiscard]] std::string to_text(const LaunchPlan& plan);

/// POSIX-shell quoting of one word, for display only (nothing is ever run
/// through a shell).
[[nodiscard]] std::string shell_quote(std::string_view word);

}  // namespace smlaunch::plan
