// What the runners share: the entry point, processes per host, the
// distribution hosts, custom MPI options and the instance-type lists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smlaunch/mpi_options.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::plan {

/// The entry point as resolved (B64-B67, with D37 fixed).
struct EntryPoint {
  EntryPointType type = EntryPointType::PythonProgram;
  std::string name;    // as given: "train.py", "scripts/run.sh"
  std::string module;  // for packages: name without its trailing ".py"
};

/// Everything a runner reads, passed as one context.
struct PlanContext {
  const PlanInputs& inputs;
  const config::TrainingEnv& env;
  const config::Environ& environ;
  Diagnostics& diagnostics;
  bool runner_forced = false;
  EntryPoint entry;                // resolved unless user_command is set
  std::vector<std::string> args;   // to_cmd_args of the hyperparameters
  std::vector<std::string> forwarded_names;  // env names the ranks get via -x

  /// The program part of an MPI command: the --mpi command as given, or the
  /// entry point (under python -m mpi4py for Python entry points).
  [[nodiscard]] std::vector<std::string> mpi_program();
};

/// The entry point type (B64): ".sh" -> command; setup.py and a top-level
/// name -> package; ".py" -> program; else command.
[[nodiscard]] EntryPointType entry_point_type(std::string_view name, bool has_setup_py);

/// The command that runs the user's program (B65-B67, B69), without a shell:
/// [python, "-m", module] / [python, name] / ["./name"], plus `args`.
/// With `under_mpi4py`, Python commands get "-m mpi4py" (B69).
[[nodiscard]] std::vector<std::string> entry_command(const EntryPoint& entry,
                                                     const std::string& python,
                                                     const std::vector<std::string>& args,
                                                     bool under_mpi4py);

/// Processes per host (B54-B56): sagemaker_mpi_num_of_processes_per_host, else
/// GPUs, else Neuron cores, else 1. Validated to 1..kMaxProcessesPerHost.
[[nodiscard]] std::int64_t processes_per_host(PlanContext& ctx);

/// The hosts a distributed runner spans: the distribution hosts, or when a
/// runner is forced with no distribution groups configured, the current
/// group's hosts (all hosts without groups). Adds a problem when the current
/// host is not among them.
[[nodiscard]] std::vector<std::string> distribution_hosts(PlanContext& ctx, std::string_view runner);

/// Who runs the command: the leader alone (the others serve sshd and wait),
/// or every node its own.
enum class Launch { FromLeader, OnEveryNode };

/// Sets plan.hosts (distribution_hosts()), plan.leader (the first of them)
/// and plan.role (Node, or Leader/Worker).
void assign_hosts_and_role(PlanContext& ctx, LaunchPlan& plan, std::string_view runner, Launch launch);

/// Appends `-x NAME` for each AWS credential variable that is set (B95),
/// then for every other secret-named variable of the environment
/// (config::is_secret_name, identifiers only, in name order), by name only:
/// the value never appears in argv.
void append_credential_names(const PlanContext& ctx, std::vector<std::string>& argv);

/// The ssh options mpirun's own `ssh HOST orted ...` gets (Open MPI's rsh
/// launcher), so that a host that vanished or never answers ends mpirun's
/// wait instead of hanging it: the TCP connect and the SSH banner exchange
/// are bounded (ConnectTimeout), a connection whose peer goes silent is
/// dropped after 6 x 10 s (ServerAlive*), and ssh never waits for a password
/// or passphrase (BatchMode).
///
/// Passed through the environment (OMPI_MCA_plm_rsh_args, Open MPI 4;
/// PRTE_MCA_plm_ssh_args, Open MPI 5), not as `-mca plm_rsh_args` in argv:
/// the mpirun command line stays byte for byte the reference's (B88, B122),
/// and a value with spaces is never copied onto the daemons' remote command
/// line (Open MPI only forwards command-line MCA values, and only those
/// without a space). Host-key settings are left to the image's ssh config
/// (README "For container authors"), as before.
inline constexpr std::string_view kMpirunSshArgs =
    "-o ConnectTimeout=30 -o ServerAliveInterval=10 -o ServerAliveCountMax=6 -o BatchMode=yes";
inline constexpr std::string_view kOmpiRshArgsVariable = "OMPI_MCA_plm_rsh_args";
inline constexpr std::string_view kPrteSshArgsVariable = "PRTE_MCA_plm_ssh_args";

/// On the leader of a multi-host job, sets kMpirunSshArgs in plan.env under
/// the variable plan.openmpi_version reads, unless the environment already
/// sets it (the job's choice wins). Nothing on one host: no ssh there.
void bound_mpirun_ssh(const PlanContext& ctx, LaunchPlan& plan);

/// Parses a custom-MPI-options hyperparameter (a string; null means none).
[[nodiscard]] mpi::CustomOptions custom_mpi_options(PlanContext& ctx, std::string_view key);

/// "<h>:<n>" joined with ',' (or bare names when `bare`).
[[nodiscard]] std::string host_list(const std::vector<std::string>& hosts, std::int64_t pph, bool bare);

/// The value for -x LD_PRELOAD=: the shim, before any existing LD_PRELOAD (D27).
[[nodiscard]] std::string ld_preload_value(const PlanContext& ctx);

/// B154: instance types with EFA for NCCL, and with EFA RDMA.
[[nodiscard]] bool is_efa_nccl_instance(std::string_view instance_type);
[[nodiscard]] bool is_efa_rdma_instance(std::string_view instance_type);

/// The python interpreter, adding a problem when none was found.
[[nodiscard]] std::string require_python(PlanContext& ctx);

/// The index of `host` in `hosts` (the caller checked it is there).
[[nodiscard]] std::int64_t index_of(const std::vector<std::string>& hosts, const std::string& host);

}  // namespace smlaunch::plan
