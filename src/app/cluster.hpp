// `train` on a host of a multi-host job (DESIGN.md "Leader/worker protocol",
// SPEC.md section 2):
//
//   leader  DNS wait -> sshd -> every worker's sshd up -> our key opens a
//           session on each, which reads the worker's readiness (its code
//           installed, or why not) -> the job, with a heartbeat on the
//           workers (no job when a host's code is not ready) ->
//           the outcome to every worker (/tmp/done.<leader>) -> the files ->
//           workers gone (at most 10 s) -> exit
//   worker  stale outcome removed -> DNS wait -> the leader's sshd up ->
//           /etc/environment block -> readiness published -> sshd -> wait
//           for the outcome while
//           watching the leader -> the files -> exit with the leader's code
//   node    (torchrun, xla) DNS wait -> the job on this host -> exit
//
// Every wait has a deadline; a stop signal ends any of them at once.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "app/load.hpp"
#include "app/run.hpp"

namespace smlaunch::app {

struct ClusterOptions {
  std::chrono::milliseconds peer_timeout{3'600'000};  // leader <-> workers readiness
  std::chrono::milliseconds dns_budget{900'000};      // all names resolve
  std::chrono::milliseconds term_grace{10'000};
  std::string invocation;                      // for failure files
  std::string outcome_dir = "/tmp";            // where /tmp/done.<leader> lives
  std::string etc_environment = "/etc/environment";
  int ssh_port = 22;
  int heartbeat_port = 7786;  // cluster::kHeartbeatPort
  std::chrono::milliseconds heartbeat_interval{2'000};
  std::chrono::milliseconds lost_after{10'000};   // no answer that long: the host is lost
  std::chrono::milliseconds deliver_timeout{5'000};  // the outcome to one worker
  std::chrono::milliseconds leave_timeout{10'000};   // workers gone after the outcome
  std::chrono::milliseconds read_timeout{10'000};    // a worker's readiness, session included
  /// Why this host's code is not ready (its fetch or install failed): the
  /// host still joins the cluster so that the whole job fails at once with
  /// its name, rather than the others waiting --peer-timeout for it; it then
  /// exits with this failure.
  std::optional<JobReport> code_failure;
};

/// The leader of an MPI/SMDDP job. Returns smlaunch's exit code.
[[nodiscard]] int run_leader(const Loaded& loaded, const ClusterOptions& options);
/// A worker of an MPI/SMDDP job. Returns smlaunch's exit code (the leader's).
[[nodiscard]] int run_worker(const Loaded& loaded, const ClusterOptions& options);
/// A host of a torchrun/XLA job: every host runs its own command.
[[nodiscard]] int run_node(const Loaded& loaded, const ClusterOptions& options);

}  // namespace smlaunch::app
