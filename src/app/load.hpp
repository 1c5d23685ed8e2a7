// The read-only phases of every subcommand: choose the base directory, read
// the files, detect the hardware and tools, build the training environment,
// decide the plan. Validation stops once, after everything was checked.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smlaunch/config.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::app {

struct Options {
  std::optional<std::string> base_dir;
  std::optional<plan::RunnerKind> runner;
  std::optional<mpi::OpenMpiVersion> openmpi_version;
  std::optional<std::vector<std::string>> mpi_command;  // smlaunch --mpi CMD ARGS
  /// --peer-timeout: how long the leader waits for the workers, and a worker
  /// for the leader.
  std::chrono::milliseconds peer_timeout{3'600'000};
  /// --term-grace: stop signal (or the job's end) -> SIGKILL for the rest.
  std::chrono::milliseconds term_grace{10'000};
  /// The base directory when the caller already chose it (so that a failure
  /// file lands in the same local-mode tree); else chosen by load().
  std::optional<config::BaseDirChoice> base;
};

/// Everything decided for this host. Not movable: the plan inputs point into it.
struct Loaded {
  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;

  config::BaseDirChoice base;
  config::Paths paths;
  config::Environ environ;
  config::TrainingEnv env;
  plan::PlanInputs inputs;
  plan::LaunchPlan plan;
};

/// Runs the phases. Throws ConfigError (all problems at once) on bad input.
[[nodiscard]] std::unique_ptr<Loaded> load(const Options& options);

/// Where the base directory is, without reading anything else (for the
/// failure file when loading fails).
[[nodiscard]] config::BaseDirChoice choose_base_dir(const Options& options, const config::Environ& environ);

/// Creates what `train` needs on disk before it runs: the local-mode tree
/// (B4: model/, input/config/ with the three files, output/data/) and the
/// code directory (B5). `plan` and `env` never call this.
void prepare_directories(const Loaded& loaded);

/// The LD_PRELOAD hostname shim: $SMLAUNCH_HOSTNAME_SHIM, else
/// <dir of smlaunch>/../lib/smlaunch/libsmlaunch_hostname.so (same in the
/// build tree and an installed prefix).
[[nodiscard]] std::string hostname_shim_path(const config::Environ& environ);

/// The Open MPI major version of `mpirun`: the daemon next to it (orted: 4,
/// prted: 5), else `mpirun --version`, else 4.
[[nodiscard]] mpi::OpenMpiVersion detect_openmpi_version(const std::string& path_env);

}  // namespace smlaunch::app
