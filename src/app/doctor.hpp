// `smlaunch doctor`: preflight checks of this host, one line each.
//
//   OK   <check>: <detail>
//   WARN <check>: <detail> -- fix: <how>
//   FAIL <check>: <detail> -- fix: <how>
//
// The checks: the three config files (the loader's own messages, one FAIL
// line per problem), this host in the host list, the network interface,
// name resolution of every host, sshd and its host keys, root's key pair and
// authorized_keys, the ssh client's host-key setting, SSH to every peer,
// mpirun and its Open MPI version, Python and mpi4py, GPUs / Neuron cores /
// EFA devices (information), free space in /tmp and /dev/shm.
//
// Doctor never throws for what it finds: a bad config file is a FAIL line,
// not a ConfigError. Every check is bounded in time (the network ones run
// concurrently, with timeouts of a few seconds), and nothing it prints holds
// a secret (no environment values; problems in secret-looking fields are
// masked). Exit status: 0 when no line is FAIL, 1 otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/load.hpp"
#include "smlaunch/config.hpp"
#include "smlaunch/diagnostics.hpp"
#include "smlaunch/hardware.hpp"

namespace smlaunch::app::doctor {

enum class Status { kOk, kWarn, kFail };

/// The outcome of one check.
struct Check {
  Status status = Status::kOk;
  std::string name;    // "config hyperparameters.json", "ssh algo-2", "free space /dev/shm"
  std::string detail;  // what was found
  std::string fix;     // how to fix it (WARN and FAIL only)
};

/// The line printed for `check` (no newline).
[[nodiscard]] std::string format_line(const Check& check);

/// 0 when no check FAILed, else 1.
[[nodiscard]] int exit_code(const std::vector<Check>& checks);

inline constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

/// Where doctor looks and how long it may wait. The defaults are the real
/// machine's; tests point them at temporary directories.
struct Settings {
  Options options;          // --base-dir, --runner, --openmpi-version
  config::Environ environ;  // PATH, HOME, SMLAUNCH_PYTHON, ...
  std::string etc_ssh = "/etc/ssh";
  std::string infiniband_dir = "/sys/class/infiniband";
  std::string tmp_dir = "/tmp";
  std::string shm_dir = "/dev/shm";
  std::uint64_t min_free_tmp = kGiB;
  std::uint64_t min_free_shm = kGiB;  // NCCL puts its shared-memory segments there
  int ssh_port = 22;
  std::chrono::milliseconds name_timeout{2'000};       // all host names, together
  std::chrono::milliseconds handshake_timeout{2'000};  // per peer, connect + SSH handshake
  std::chrono::milliseconds login_timeout{3'000};      // per peer, connect + handshake + public-key login
  std::chrono::milliseconds command_timeout{5'000};    // mpirun --version, python -c, fi_info
};

/// What the host and peer checks need from the configuration.
struct JobFacts {
  bool resource_config_read = false;
  std::string current_host;
  std::vector<std::string> hosts;  // resourceconfig.json "hosts"
  std::vector<std::string> peers;  // the job's other hosts (the distribution hosts but this one)
  std::string leader;
  std::string network_interface = "eth0";
  plan::RunnerKind runner = plan::RunnerKind::Process;
  bool python_entry_point = false;    // the job runs a Python program
  bool needs_ssh = false;             // more than one host and a runner that forms a cluster
  std::optional<std::string> python;  // SMLAUNCH_PYTHON, python3 or python, resolved
  std::string path_env;
  hardware::Facts hardware;
};

// ---- the checks, one function each (exposed for the tests) ----------------

/// The config checks: one OK line per valid file, one FAIL line per problem
/// the loader found (same message), a WARN in local mode. Fills `facts`.
[[nodiscard]] std::vector<Check> check_config(const Settings& settings, JobFacts& facts);

/// current_host is one of hosts.
[[nodiscard]] Check check_host_listed(const JobFacts& facts);

/// network_interface_name exists here, is up and has an address.
[[nodiscard]] Check check_interface(const std::string& name);

/// Every host name resolves; one FAIL line per name that does not.
[[nodiscard]] std::vector<Check> check_names(const std::vector<std::string>& hosts,
                                             std::chrono::milliseconds timeout);

/// The sshd binary and its host keys (/etc/ssh/ssh_host_*_key).
[[nodiscard]] std::vector<Check> check_sshd(const Settings& settings, const JobFacts& facts);

/// ~/.ssh: a private key libssh and ssh would use, its .pub, authorized_keys
/// holding it, and modes that sshd's StrictModes and ssh accept.
[[nodiscard]] std::vector<Check> check_keys(const std::string& home, bool needs_ssh);

/// The OpenSSH client mpirun starts its daemons with: found, and not asking
/// about unknown host keys (`ssh -G <peer>`).
[[nodiscard]] Check check_ssh_client(const Settings& settings, const JobFacts& facts);

/// An SSH handshake and a public-key login as root to every peer,
/// concurrently. Unreachable: WARN; key refused: FAIL.
[[nodiscard]] std::vector<Check> check_peers(const Settings& settings, const std::vector<std::string>& peers);

/// mpirun on PATH and its Open MPI major version (4 or 5).
[[nodiscard]] Check check_mpirun(const Settings& settings, const JobFacts& facts);

/// The Python interpreter and `import mpi4py` with it.
[[nodiscard]] std::vector<Check> check_python(const Settings& settings, const JobFacts& facts);

/// GPUs, Neuron cores, EFA devices and CPUs seen (information; WARN for a
/// device tool that is present but broken).
[[nodiscard]] std::vector<Check> check_devices(const Settings& settings, const JobFacts& facts);

/// Free space of `path`: WARN below `min_free` or when it cannot be asked.
[[nodiscard]] Check check_space(const std::string& path, std::uint64_t min_free, const std::string& why);

/// Runs every check in order, handing each to `sink` as soon as it is known.
/// Returns them all.
std::vector<Check> run(const Settings& settings, const std::function<void(const Check&)>& sink);

/// `smlaunch doctor`: runs the checks, prints a line each on stdout, returns
/// the exit status (exit_code()).
[[nodiscard]] int main(const Settings& settings);

}  // namespace smlaunch::app::doctor
