// One interface for every runner (mpi, smddp, torchrun, xla, process), one
// file each, chosen by one factory: adding a runner adds a file.
#pragma once

#include <memory>

#include "plan/common.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::plan {

class Runner {
 public:
  virtual ~Runner() = default;
  /// Fills role, hosts, counts, argv and runner-specific env into `plan`
  /// (which already holds the base environment and entry point); problems go
  /// to ctx.diagnostics.
  virtual void plan(PlanContext& ctx, LaunchPlan& plan) const = 0;
};

[[nodiscard]] std::unique_ptr<Runner> make_mpi_runner();
[[nodiscard]] std::unique_ptr<Runner> make_smddp_runner();
[[nodiscard]] std::unique_ptr<Runner> make_torchrun_runner();
[[nodiscard]] std::unique_ptr<Runner> make_xla_runner();
[[nodiscard]] std::unique_ptr<Runner> make_process_runner();

[[nodiscard]] std::unique_ptr<Runner> make_runner(RunnerKind kind);

}  // namespace smlaunch::plan
