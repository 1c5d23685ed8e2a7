// Carrying out a plan on this host: the job under supervision, its output
// relayed line by line (rank tags rewritten for MPI), errors captured, and
// the result files written. The steps, in order, are in run.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app/load.hpp"
#include "app/report.hpp"

namespace smlaunch::app {

struct RunOptions {
  std::chrono::milliseconds term_grace{10'000};  // stop signal -> SIGKILL
  std::string invocation;                        // smlaunch's own command line, for reports
  /// Readable when the job must stop (a host was lost); see
  /// platform::SupervisorOptions::abort_fd. -1: none.
  int abort_fd = -1;
};

/// What came of the job on this host, before anything is written down.
struct JobReport {
  int exit_code = 0;                     // smlaunch's exit code for it
  std::optional<FailureReport> failure;  // nullopt: the job succeeded
  bool aborted = false;                  // stopped through RunOptions::abort_fd
  std::string command;                   // the command as logged (secrets masked)
};

/// Runs `loaded.plan` under supervision with its output relayed and errors
/// captured, and says how it went: 0 success, 1 the job failed, 128+N
/// stopped by signal N. Writes no file and leaves other children (sshd)
/// alone. Never throws for a failing job.
[[nodiscard]] JobReport run_job(const Loaded& loaded, const RunOptions& options);

/// Logs "Reporting training SUCCESS/FAILURE", writes output/success or
/// output/failure (the user's own failure file wins) and returns the exit
/// code.
int report_job(const Loaded& loaded, const JobReport& report);

/// run_job + report_job + stop every child left: a whole single-host run.
[[nodiscard]] int run_plan(const Loaded& loaded, const RunOptions& options);

/// The argv handing over to SAGEMAKER_TRAINING_MODULE ("pkg.mod:fn"):
/// [python, "-c", "import pkg.mod as m; m.fn()"], or nullopt when the value is
/// not of that form (exactly one ':', dotted Python identifiers).
[[nodiscard]] std::optional<std::vector<std::string>> framework_handover(const std::string& module,
                                                                         const std::string& python);

}  // namespace smlaunch::app
