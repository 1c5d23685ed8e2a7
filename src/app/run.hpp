// Carrying out a plan on this host: the job under supervision, its output
// relayed line by line (rank tags rewritten for MPI), errors captured, and
// the result files written. The steps, in order, are in run.cpp.
#pragma once

#include <chrono>
#include <string>

#include "app/load.hpp"

namespace smlaunch::app {

struct RunOptions {
  std::chrono::milliseconds term_grace{10'000};  // stop signal -> SIGKILL
  std::string invocation;                        // smlaunch's own command line, for reports
};

/// Runs `loaded.plan` (single host) and returns smlaunch's exit code: 0
/// success, 1 the job failed, 128+N stopped by signal N. Writes
/// output/success or output/failure. Never throws for a failing job.
[[nodiscard]] int run_plan(const Loaded& loaded, const RunOptions& options);

/// The argv handing over to SAGEMAKER_TRAINING_MODULE ("pkg.mod:fn"):
/// [python, "-c", "import pkg.mod as m; m.fn()"], or nullopt when the value is
/// not of that form (exactly one ':', dotted Python identifiers).
[[nodiscard]] std::optional<std::vector<std::string>> framework_handover(const std::string& module,
                                                                         const std::string& python);

}  // namespace smlaunch::app
