// `smlaunch doctor` (see doctor.hpp for the contract).
//
// The config checks reuse the loader itself: load() either succeeds (every
// file valid, a plan made) or throws a ConfigError holding every problem,
// which doctor turns into one FAIL line each, with the loader's own message.
// The later checks still need the host list and the interface name, so after
// a failed load the files are read once more into a partial training
// environment (its problems already reported, so ignored here).
//
// Time. The checks that wait on something outside (name lookups, SSH to the
// peers, `mpirun --version`, `python -c 'import mpi4py'`, fi_info) each have
// a short deadline; the subprocess checks start first on their own threads
// and the network checks run meanwhile, the peers all at once. So a cluster
// whose peers are down costs one handshake timeout (2 s), not one per peer.
// The lines still come out in a fixed order.
#include "app/doctor.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>

#include "app/secrets.hpp"
#include "net/reach.hpp"
#include "platform/files.hpp"
#include "platform/host_info.hpp"
#include "platform/subprocess.hpp"
#include "smlaunch/mpi_options.hpp"
#include "smlaunch/plan.hpp"
#include "ssh/client.hpp"
#include "ssh/sshd.hpp"

namespace smlaunch::app::doctor {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the EFA installer puts fi_info (often not on PATH).
constexpr std::string_view kEfaBin = "/opt/amazon/efa/bin";
/// Key files libssh and ssh try by default, in their order.
constexpr std::array<std::string_view, 3> kIdentityNames = {"id_ed25519", "id_ecdsa", "id_rsa"};
constexpr std::array<std::string_view, 3> kHostKeyTypes = {"ed25519", "ecdsa", "rsa"};
/// Small text files (keys, authorized_keys) are read up to this size.
constexpr std::uintmax_t kMaxKeyFileBytes = std::uintmax_t{1} << 20;
/// How many names a summary line lists before "...".
constexpr std::size_t kListedNames = 8;

Check ok(std::string name, std::string detail) {
  return {Status::kOk, std::move(name), std::move(detail), {}};
}
Check warn(std::string name, std::string detail, std::string fix) {
  return {Status::kWarn, std::move(name), std::move(detail), std::move(fix)};
}
Check fail(std::string name, std::string detail, std::string fix) {
  return {Status::kFail, std::move(name), std::move(detail), std::move(fix)};
}
/// FAIL when the job needs it, else WARN.
Check needed(bool required, std::string name, std::string detail, std::string fix) {
  return {required ? Status::kFail : Status::kWarn, std::move(name), std::move(detail), std::move(fix)};
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ",
                 std::size_t max_items = SIZE_MAX) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < max_items; ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  if (items.size() > max_items) out += fmt::format("{}... ({} in all)", separator, items.size());
  return out;
}

/// "64 MiB", "1.5 GiB".
std::string bytes_text(std::uint64_t bytes) {
  constexpr std::array<std::string_view, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0 || value >= 100.0 || value == static_cast<double>(static_cast<std::uint64_t>(value))) {
    return fmt::format("{:.0f} {}", value, kUnits[unit]);
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

/// The first non-blank line of `text`, trimmed.
std::string first_line(std::string_view text) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start != std::string::npos) return line.substr(start);
  }
  return {};
}

/// The last non-blank line of `text` (a Python traceback's error line).
std::string last_line(std::string_view text) {
  std::string last;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  while (!last.empty() && (last.back() == '\r' || last.back() == ' ')) last.pop_back();
  return last;
}

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<std::string> read_small_file(const std::string& path) {
  auto content = platform::read_file(path, kMaxKeyFileBytes);
  if (auto* text = std::get_if<std::string>(&content)) return std::move(*text);
  return std::nullopt;
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

/// SMLAUNCH_PYTHON, else python3, else python (as the loader picks it).
std::optional<std::string> find_python(const config::Environ& environ, const std::string& path) {
  if (const auto forced = config::lookup(environ, "SMLAUNCH_PYTHON"); forced && !forced->empty()) {
    return platform::find_executable(*forced, path);
  }
  if (auto p = platform::find_executable("python3", path)) return p;
  return platform::find_executable("python", path);
}

bool runs_mpirun(plan::RunnerKind runner) {
  return runner == plan::RunnerKind::Mpi || runner == plan::RunnerKind::Smddp;
}

// ---- config ---------------------------------------------------------------

/// The path of a config file named in a Problem, or nullopt for other sources
/// ("command line", "environment").
std::optional<std::string> config_path(const config::Paths& paths, std::string_view file) {
  if (file == config::kResourceConfigFile) return paths.resource_config_file;
  if (file == config::kHyperparametersFile) return paths.hyperparameters_file;
  if (file == config::kInputDataConfigFile) return paths.input_data_config_file;
  return std::nullopt;
}

/// One FAIL line for a loader problem: the check is the file, the detail the
/// rest of the loader's message. Values of secret-looking fields are masked.
Check problem_line(const Problem& problem, const config::Paths& paths) {
  Problem shown = problem;
  if (is_secret_name(shown.field)) shown.found = std::string(kMasked);
  const std::string message = shown.message();
  const std::string prefix = shown.file + ": ";
  std::string detail = message.starts_with(prefix) ? message.substr(prefix.size()) : message;
  std::string fix;
  const auto path = config_path(paths, shown.file);
  if (!path) {
    fix = fmt::format("give {} {}", shown.field, shown.expected);
  } else if (shown.field == "file") {
    fix = fmt::format("{} is written by the platform: mount the job's /opt/ml, or pass --base-dir", *path);
  } else if (shown.field == "document") {
    fix = fmt::format("rewrite {} as {}", *path, shown.expected);
  } else {
    fix = fmt::format("set {} in {} to {}", shown.field, *path, shown.expected);
  }
  return fail(shown.file, std::move(detail), std::move(fix));
}

hardware::Facts probe_hardware(const config::Environ& environ, const std::string& path,
                               const config::ConfigFiles& files) {
  hardware::ProbeInputs probe;
  probe.path_env = path;
  probe.cuda_visible_devices = config::lookup(environ, "CUDA_VISIBLE_DEVICES");
  if (files.resource_config.is_dict()) {
    const py::Value* type = files.resource_config.as_dict().find("current_instance_type");
    if (type != nullptr && type->is_str()) probe.instance_type = type->as_str();
  }
  if (auto nvml = config::lookup(environ, "SMLAUNCH_NVML_LIBRARY")) probe.nvml_library = *nvml;
  return hardware::probe(probe);
}

std::vector<std::string> without(const std::vector<std::string>& hosts, const std::string& host) {
  std::vector<std::string> out;
  for (const auto& h : hosts) {
    if (h != host && std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

/// The facts from a configuration the loader refused: what can be read.
void partial_facts(const Settings& s, const config::BaseDirChoice& base, JobFacts& f) {
  Diagnostics ignored;  // already reported from load()
  const auto paths = config::Paths::from_base(base.base);
  const config::ConfigFiles files =
      base.local_mode ? config::local_mode_files(hostname()) : config::load_config_files(paths, ignored);
  f.resource_config_read = files.resource_config_read;
  config::HostFacts host;
  host.hardware = probe_hardware(s.environ, f.path_env, files);
  f.hardware = host.hardware;
  f.python = find_python(s.environ, f.path_env);
  if (!f.resource_config_read) return;
  const auto env = config::build_training_env(paths, files, s.environ, host, ignored);
  f.current_host = env.current_host;
  f.hosts = env.hosts;
  f.peers = without(env.distribution_hosts.empty() ? env.hosts : env.distribution_hosts, env.current_host);
  f.leader = env.master_hostname;
  f.network_interface = env.network_interface_name;
  f.runner = s.options.runner.value_or(
      s.options.mpi_command ? plan::RunnerKind::Mpi
                            : plan::runner_from_hyperparameters(env.additional_framework_parameters));
  f.python_entry_point = !s.options.mpi_command && env.user_entry_point.is_str() &&
                         env.user_entry_point.as_str().ends_with(".py");
  f.needs_ssh = !f.peers.empty() && f.runner != plan::RunnerKind::Process;
}

// ---- ssh ------------------------------------------------------------------

/// "<type> <base64>" of a .pub file's first key line, or nullopt.
std::optional<std::pair<std::string, std::string>> public_key(const std::string& text) {
  const auto parts = words(first_line(text));
  if (parts.size() < 2) return std::nullopt;
  return std::make_pair(parts[0], parts[1]);
}

/// sshd's StrictModes: the file and the directories above it must not be
/// writable by group or others. The first offending path, or nullopt.
std::optional<std::pair<std::string, mode_t>> group_writable(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (const auto mode = platform::permission_bits(p); mode && (*mode & 022) != 0)
      return std::make_pair(p, *mode);
  }
  return std::nullopt;
}

Check peer_check(const Settings& s, const std::string& peer) {
  const std::string name = "ssh " + peer;
  const ssh::Endpoint endpoint{peer, s.ssh_port};
  if (const auto failure = ssh::handshake(endpoint, s.handshake_timeout)) {
    return warn(
        name, failure->message + " (normal before smlaunch starts on " + peer + ")",
        "run doctor again while smlaunch runs on " + peer + ", or check that it is up and on this network");
  }
  ssh::SessionOptions options;
  options.connect_timeout = s.login_timeout;
  auto session = ssh::Session::open(endpoint, options);
  if (const auto* failure = std::get_if<ssh::Failure>(&session)) {
    if (ssh::is_permanent(*failure)) {
      return fail(
          name, failure->message,
          "every host needs the same key pair in /root/.ssh and its public key in /root/.ssh/authorized_keys "
          "(check " +
              peer + "'s)");
    }
    return warn(name, failure->message, "check sshd on " + peer + " (its log: /run/smlaunch/sshd.log)");
  }
  return ok(name, fmt::format("{}:{}: SSH handshake and public-key login as root", peer, s.ssh_port));
}

// ---- efa ------------------------------------------------------------------

/// "rdmap16s27 (efa)" for each RDMA device under `dir`.
std::vector<std::string> rdma_devices(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    const auto driver = std::filesystem::read_symlink(entry.path() / "device" / "driver", link_ec);
    out.push_back(entry.path().filename().string() +
                  (link_ec ? std::string() : " (" + driver.filename().string() + ")"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string format_line(const Check& check) {
  std::string_view label;
  switch (check.status) {
    case Status::kOk:
      label = "OK  ";
      break;
    case Status::kWarn:
      label = "WARN";
      break;
    case Status::kFail:
      label = "FAIL";
      break;
  }
  std::string line = fmt::format("{} {}: {}", label, check.name, check.detail);
  if (check.status != Status::kOk && !check.fix.empty()) line += " -- fix: " + check.fix;
  return line;
}

int exit_code(const std::vector<Check>& checks) {
  const bool failed =
      std::any_of(checks.begin(), checks.end(), [](const Check& c) { return c.status == Status::kFail; });
  return failed ? 1 : 0;
}

std::vector<Check> check_config(const Settings& s, JobFacts& f) {
  std::vector<Check> out;
  f.path_env = config::lookup(s.environ, "PATH").value_or(std::string(kDefaultPath));
  Options options = s.options;
  const auto base = options.base ? *options.base : choose_base_dir(options, s.environ);
  options.base = base;
  const auto paths = config::Paths::from_base(base.base);

  std::unique_ptr<Loaded> loaded;
  std::vector<Problem> problems;
  try {
    loaded = load(options);
  } catch (const ConfigError& e) {
    problems = e.problems();
  } catch (const std::exception& e) {
    problems.push_back(Problem{"configuration", "loading", e.what(), "a configuration smlaunch can load"});
  }

  if (loaded) {
    const auto& l = *loaded;
    f.resource_config_read = true;
    f.current_host = l.env.current_host;
    f.hosts = l.env.hosts;
    f.peers = without(l.plan.hosts, l.env.current_host);
    f.leader = l.plan.leader;
    f.network_interface = l.env.network_interface_name;
    f.runner = l.plan.runner;
    f.python_entry_point = !s.options.mpi_command && l.plan.entry_type == plan::EntryPointType::PythonProgram;
    f.needs_ssh = l.plan.hosts.size() > 1 && l.plan.role != plan::Role::Single;
    f.python = l.inputs.tools.python;
    f.hardware = l.env.hardware;
  } else {
    partial_facts(s, base, f);
  }

  if (base.local_mode) {
    out.push_back(
        warn("config",
             fmt::format("no {} and neither --base-dir nor SAGEMAKER_BASE_DIR: smlaunch would run in "
                         "local mode (this host alone, under {})",
                         config::kDefaultBaseDir, base.base),
             "mount the job's /opt/ml (docker run -v DIR:/opt/ml), or pass --base-dir"));
  } else {
    const std::pair<std::string_view, const std::string*> files[] = {
        {config::kResourceConfigFile, &paths.resource_config_file},
        {config::kHyperparametersFile, &paths.hyperparameters_file},
        {config::kInputDataConfigFile, &paths.input_data_config_file}};
    for (const auto& entry : files) {
      // Named copies, not a structured binding: clang 14 cannot capture one.
      const std::string_view file = entry.first;
      const std::string* path = entry.second;
      const bool bad =
          std::any_of(problems.begin(), problems.end(), [&](const Problem& p) { return p.file == file; });
      if (bad) {
        for (const auto& p : problems) {
          if (p.file == file) out.push_back(problem_line(p, paths));
        }
      } else if (!platform::path_exists(*path)) {
        out.push_back(ok(std::string(file), *path + " is absent (read as {})"));
      } else if (!f.resource_config_read) {
        out.push_back(
            ok(std::string(file), *path + " is JSON (its fields are checked once resourceconfig.json is)"));
      } else {
        out.push_back(ok(std::string(file), *path + " is valid"));
      }
    }
  }
  // Problems from elsewhere (the environment, the code directory, ...), and
  // every problem in local mode.
  for (const auto& p : problems) {
    if (base.local_mode || !config_path(paths, p.file)) out.push_back(problem_line(p, paths));
  }
  return out;
}

Check check_host_listed(const JobFacts& f) {
  constexpr std::string_view kName = "host";
  const std::string fix =
      "current_host must be one of hosts in resourceconfig.json (the platform writes each container its own)";
  if (f.current_host.empty())
    return fail(std::string(kName), "resourceconfig.json names no current_host", fix);
  const auto it = std::find(f.hosts.begin(), f.hosts.end(), f.current_host);
  if (it == f.hosts.end()) {
    return fail(std::string(kName),
                fmt::format("{} is not in hosts [{}]", f.current_host, join(f.hosts, ", ", kListedNames)),
                fix);
  }
  const auto index = static_cast<std::size_t>(it - f.hosts.begin()) + 1;
  std::string detail = fmt::format("{} is host {} of {}", f.current_host, index, f.hosts.size());
  if (!f.leader.empty() && f.hosts.size() > 1) {
    detail += f.leader == f.current_host ? " (the leader)" : fmt::format(" (the leader is {})", f.leader);
  }
  return ok(std::string(kName), std::move(detail));
}

Check check_interface(const std::string& name) {
  const std::string check = "interface " + name;
  const auto found = platform::network_interface(name);
  if (!found) {
    std::vector<std::string> names;
    for (const auto& i : platform::network_interfaces()) names.push_back(i.name);
    return fail(
        check,
        fmt::format("no interface {} on this host (it has: {})", name, names.empty() ? "none" : join(names)),
        "set network_interface_name in resourceconfig.json to the interface the hosts reach each other on");
  }
  if (found->addresses.empty()) {
    return fail(check, name + " has no IPv4 or IPv6 address",
                "give it an address, or set network_interface_name in resourceconfig.json to an interface "
                "that has one");
  }
  if (!found->up) {
    return fail(check, fmt::format("{} is down ({})", name, join(found->addresses)),
                "ip link set " + name + " up");
  }
  return ok(check, fmt::format("up, {}", join(found->addresses)));
}

std::vector<Check> check_names(const std::vector<std::string>& hosts, std::chrono::milliseconds timeout) {
  std::vector<Check> out;
  if (hosts.empty()) return out;
  const auto unresolved = net::wait_for_names(hosts, timeout);
  // One host talks to nobody: its own name matters less (WARN).
  const bool required = hosts.size() > 1;
  for (const auto& host : unresolved) {
    out.push_back(needed(required, "resolve " + host,
                         fmt::format("{} does not resolve (waited {} ms){}", host, timeout.count(),
                                     required ? "" : " (a 1-host job needs no peer names)"),
                         "every host name must resolve on every host: the platform's DNS, or /etc/hosts "
                         "(docker run --add-host NAME:ADDRESS) in a local cluster"));
  }
  if (unresolved.empty()) {
    out.push_back(ok("resolve", hosts.size() == 1
                                    ? fmt::format("{} resolves", hosts.front())
                                    : fmt::format("all {} host names resolve ({})", hosts.size(),
                                                  join(hosts, ", ", kListedNames))));
  }
  return out;
}

std::vector<Check> check_sshd(const Settings& s, const JobFacts& f) {
  std::vector<Check> out;
  const std::string when = f.needs_ssh ? "" : " (needed only for a multi-host job)";
  ssh::SshdOptions options;
  options.path_env = f.path_env;
  if (const auto sshd = ssh::find_sshd(options)) {
    out.push_back(ok("sshd", *sshd));
  } else {
    out.push_back(needed(f.needs_ssh, "sshd", "no sshd on PATH nor at /usr/sbin/sshd" + when,
                         "install openssh-server (apt-get install openssh-server)"));
  }
  std::vector<std::string> types;
  for (const auto type : kHostKeyTypes) {
    if (platform::is_regular_file(fmt::format("{}/ssh_host_{}_key", s.etc_ssh, type)))
      types.emplace_back(type);
  }
  if (!types.empty()) {
    out.push_back(ok("sshd host keys", fmt::format("{}: {}", s.etc_ssh, join(types))));
  } else if (platform::find_executable("ssh-keygen", f.path_env) ||
             platform::path_exists("/usr/bin/ssh-keygen")) {
    out.push_back(
        warn("sshd host keys",
             fmt::format("none in {} (smlaunch makes them with ssh-keygen -A when it starts sshd, which "
                         "takes a few seconds)",
                         s.etc_ssh),
             "make them in the image: RUN ssh-keygen -A"));
  } else {
    out.push_back(needed(f.needs_ssh, "sshd host keys",
                         fmt::format("none in {}, and no ssh-keygen to make them{}", s.etc_ssh, when),
                         "install openssh-client and RUN ssh-keygen -A in the image"));
  }
  return out;
}

std::vector<Check> check_keys(const std::string& home, bool needs_ssh) {
  std::vector<Check> out;
  const std::string dir = home + "/.ssh";
  const std::string when = needs_ssh ? "" : " (needed only for a multi-host job)";
  const std::string make_pair = fmt::format(
      "ssh-keygen -t ed25519 -N '' -f {0}/id_ed25519 && cat {0}/id_ed25519.pub >> {0}/authorized_keys "
      "(the same pair on every host)",
      dir);
  std::optional<std::string> key;
  for (const auto name : kIdentityNames) {
    if (const auto path = fmt::format("{}/{}", dir, name); platform::is_regular_file(path)) {
      key = path;
      break;
    }
  }
  if (!key) {
    out.push_back(needed(needs_ssh, "ssh key",
                         fmt::format("no private key in {} (id_ed25519, id_ecdsa, id_rsa){}", dir, when),
                         make_pair));
    return out;
  }
  if (const auto mode = platform::permission_bits(*key); mode && (*mode & 077) != 0) {
    out.push_back(
        needed(needs_ssh, "ssh key",
               fmt::format("{} has mode {:04o}: ssh ignores a private key others can read", *key, *mode),
               "chmod 600 " + *key));
    return out;
  }
  const std::string pub_path = *key + ".pub";
  const auto pub_text = read_small_file(pub_path);
  const auto pub = pub_text ? public_key(*pub_text) : std::nullopt;
  if (!pub) {
    out.push_back(warn(
        "ssh key", fmt::format("{}, but no readable {}: authorized_keys cannot be checked", *key, pub_path),
        fmt::format("ssh-keygen -y -f {} > {}", *key, pub_path)));
    return out;
  }
  out.push_back(ok("ssh key", fmt::format("{} ({})", *key, pub->first)));

  const std::string authorized = dir + "/authorized_keys";
  const std::string add_it = fmt::format("cat {} >> {} (on every host)", pub_path, authorized);
  const auto text = read_small_file(authorized);
  if (!text) {
    out.push_back(needed(needs_ssh, "authorized_keys",
                         authorized + " does not exist or cannot be read" + when, add_it));
    return out;
  }
  bool holds = false;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line) && !holds;) {
    if (line.starts_with('#')) continue;
    const auto w = words(line);  // [options] type base64 [comment]
    holds = std::find(w.begin(), w.end(), pub->second) != w.end();
  }
  if (!holds) {
    out.push_back(needed(needs_ssh, "authorized_keys",
                         fmt::format("{} does not hold the public key of {}{}", authorized, *key, when),
                         add_it));
    return out;
  }
  if (const auto loose = group_writable({authorized, dir, home})) {
    out.push_back(needed(needs_ssh, "authorized_keys",
                         fmt::format("sshd ignores {}: {} is writable by group or others (mode {:04o})",
                                     authorized, loose->first, loose->second),
                         "chmod go-w " + loose->first));
    return out;
  }
  out.push_back(ok("authorized_keys", fmt::format("{} holds the public key of {}", authorized, *key)));
  return out;
}

Check check_ssh_client(const Settings& s, const JobFacts& f) {
  constexpr std::string_view kName = "ssh client";
  const auto ssh = platform::find_executable("ssh", f.path_env);
  const bool required = f.needs_ssh && runs_mpirun(f.runner);
  if (!ssh) {
    return needed(required, std::string(kName),
                  "no ssh on PATH (mpirun starts its daemons on the other hosts with it)",
                  "install openssh-client (apt-get install openssh-client)");
  }
  const std::string peer = f.peers.empty() ? std::string("algo-2") : f.peers.front();
  const auto result = platform::run_capture({*ssh, "-G", peer}, f.path_env, s.command_timeout);
  if (!result.ok()) {
    return warn(std::string(kName),
                fmt::format("{} -G {} failed: {}", *ssh, peer, last_line(result.err + result.start_error)),
                "check /root/.ssh/config and /etc/ssh/ssh_config");
  }
  std::string strict = "ask";
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) {
    const auto w = words(line);
    if (w.size() >= 2 && w[0] == "stricthostkeychecking") strict = w[1];
  }
  if (strict == "false" || strict == "no" || strict == "off" || strict == "accept-new") {
    return ok(std::string(kName), fmt::format("{} (StrictHostKeyChecking {} for {})", *ssh, strict, peer));
  }
  return needed(
      required, std::string(kName),
      fmt::format("{}: StrictHostKeyChecking is {} for {}: mpirun's ssh would stop at the unknown host key",
                  *ssh, strict, peer),
      "add 'StrictHostKeyChecking no' and 'UserKnownHostsFile /dev/null' to /root/.ssh/config");
}

std::vector<Check> check_peers(const Settings& s, const std::vector<std::string>& peers) {
  std::vector<Check> out(peers.size());
  {
    std::vector<std::jthread> threads;
    threads.reserve(peers.size());
    for (std::size_t i = 0; i < peers.size(); ++i) {
      threads.emplace_back([&, i] { out[i] = peer_check(s, peers[i]); });
    }
  }
  return out;
}

Check check_mpirun(const Settings& s, const JobFacts& f) {
  constexpr std::string_view kName = "mpirun";
  const bool required = runs_mpirun(f.runner);
  const auto mpirun = platform::find_executable("mpirun", f.path_env);
  if (!mpirun) {
    return needed(
        required, std::string(kName),
        fmt::format("no mpirun on PATH{}", required ? "" : " (needed only for the mpi and smddp runners)"),
        "install Open MPI (apt-get install openmpi-bin), or put its bin/ on PATH");
  }
  const auto result = platform::run_capture({*mpirun, "--version"}, f.path_env, s.command_timeout);
  if (result.timed_out) {
    return warn(std::string(kName),
                fmt::format("{} --version did not answer within {} ms", *mpirun, s.command_timeout.count()),
                "check the Open MPI installation, or pass --openmpi-version");
  }
  const std::string said = first_line(result.out.empty() ? result.err : result.out);
  const auto version = mpi::parse_mpirun_version(result.out + "\n" + result.err);
  if (!version) {
    return needed(
        required, std::string(kName),
        fmt::format("{}: not Open MPI 4 or 5 (--version said: {})", *mpirun, said.empty() ? "nothing" : said),
        "install Open MPI 4 or 5 (smlaunch speaks their command lines), first on PATH");
  }
  std::string detail = fmt::format("{}: {} (Open MPI {})", *mpirun, said, static_cast<int>(*version));
  if (s.options.openmpi_version && *s.options.openmpi_version != *version) {
    return warn(
        std::string(kName),
        detail + fmt::format(", but --openmpi-version {}", static_cast<int>(*s.options.openmpi_version)),
        "drop --openmpi-version, or install the Open MPI it names");
  }
  return ok(std::string(kName), std::move(detail));
}

std::vector<Check> check_python(const Settings& s, const JobFacts& f) {
  std::vector<Check> out;
  const bool mpi4py_required = f.runner == plan::RunnerKind::Mpi && f.python_entry_point;
  if (!f.python) {
    const auto forced = config::lookup(s.environ, "SMLAUNCH_PYTHON");
    const std::string detail = forced && !forced->empty()
                                   ? fmt::format("SMLAUNCH_PYTHON={} is not an executable", *forced)
                                   : std::string("neither python3 nor python on PATH");
    out.push_back(
        needed(f.python_entry_point, "python", detail, "install python3, or set SMLAUNCH_PYTHON to one"));
    out.push_back(needed(mpi4py_required, "mpi4py", "no Python to import it with",
                         "install python3 and mpi4py (apt-get install python3-mpi4py)"));
    return out;
  }
  // One interpreter start for both facts; stderr keeps a traceback if any.
  static constexpr std::string_view kScript =
      "import sys\n"
      "print(sys.version.split()[0], flush=True)\n"
      "import mpi4py\n"
      "print(mpi4py.__version__)\n";
  const auto result = platform::run_capture({*f.python, "-c", std::string(kScript)}, f.path_env,
                                            s.command_timeout, 64 * 1024);
  const auto lines = [&] {
    std::vector<std::string> v;
    std::istringstream in(result.out);
    for (std::string line; std::getline(in, line);) v.push_back(line);
    return v;
  }();
  if (!result.started || lines.empty()) {
    const std::string why = !result.started ? result.start_error
                            : result.timed_out
                                ? fmt::format("no answer within {} ms", s.command_timeout.count())
                                : last_line(result.err);
    out.push_back(needed(f.python_entry_point, "python", fmt::format("{} does not run: {}", *f.python, why),
                         "fix the interpreter, or set SMLAUNCH_PYTHON to a working one"));
    out.push_back(needed(mpi4py_required, "mpi4py", "not checked (no working Python)", "see python"));
    return out;
  }
  out.push_back(ok("python", fmt::format("{} (Python {})", *f.python, lines[0])));
  if (result.ok() && lines.size() >= 2) {
    out.push_back(ok("mpi4py", fmt::format("{} (imported with {})", lines[1], *f.python)));
  } else {
    const std::string why = result.timed_out
                                ? fmt::format("import did not finish within {} ms", s.command_timeout.count())
                                : last_line(result.err);
    out.push_back(needed(
        mpi4py_required, "mpi4py",
        fmt::format("import mpi4py failed with {}: {}{}", *f.python, why,
                    mpi4py_required ? "" : " (needed for MPI jobs with a Python entry point)"),
        "install mpi4py for that interpreter (apt-get install python3-mpi4py, or pip install mpi4py)"));
  }
  return out;
}

std::vector<Check> check_devices(const Settings& s, const JobFacts& f) {
  std::vector<Check> out;
  const auto& h = f.hardware;
  out.push_back(ok("gpus", h.gpus > 0 ? fmt::format("{} (seen by {})", h.gpus, h.gpu_source)
                                      : std::string("none seen (no NVML library, no nvidia-smi)")));
  out.push_back(
      ok("neuron cores", h.neuron_cores > 0 ? fmt::format("{}", h.neuron_cores) : std::string("none seen")));
  for (const auto& w : h.warnings) {
    out.push_back(
        warn("hardware", w, "check the device driver and its tool (nvidia-smi, neuron-ls) in the image"));
  }

  std::string efa;
  const auto devices = rdma_devices(s.infiniband_dir);
  efa = devices.empty() ? fmt::format("no RDMA devices in {}", s.infiniband_dir)
                        : fmt::format("{} in {}", join(devices, ", ", kListedNames), s.infiniband_dir);
  const std::string fi_path = f.path_env + ":" + std::string(kEfaBin);
  if (const auto fi_info = platform::find_executable("fi_info", fi_path)) {
    const auto r =
        platform::run_capture({*fi_info, "-p", "efa", "-t", "FI_EP_RDM"}, fi_path, s.command_timeout);
    efa += r.ok() && r.out.find("provider: efa") != std::string::npos
               ? "; libfabric's efa provider is available"
               : "; libfabric has no efa provider";
  } else {
    efa += "; no fi_info";
  }
  out.push_back(ok("efa", std::move(efa)));
  out.push_back(ok("cpus", fmt::format("{}", h.cpus)));
  return out;
}

Check check_space(const std::string& path, std::uint64_t min_free, const std::string& why) {
  const std::string name = "free space " + path;
  const auto space = platform::file_system_space(path);
  if (const auto* error = std::get_if<std::string>(&space)) {
    return warn(name, fmt::format("cannot tell: {}: {}", path, *error), why);
  }
  const auto& info = std::get<platform::SpaceInfo>(space);
  const std::string detail =
      fmt::format("{} free of {}", bytes_text(info.available_bytes), bytes_text(info.total_bytes));
  if (info.available_bytes < min_free) {
    return warn(name, fmt::format("{} (under {})", detail, bytes_text(min_free)), why);
  }
  return ok(name, detail);
}

std::vector<Check> run(const Settings& s, const std::function<void(const Check&)>& sink) {
  std::vector<Check> all;
  const auto emit = [&](Check c) {
    if (sink) sink(c);
    all.push_back(std::move(c));
  };
  const auto emit_all = [&](std::vector<Check> checks) {
    for (auto& c : checks) emit(std::move(c));
  };

  // 1. The configuration (the loader's verdict) and the facts it gives.
  JobFacts f;
  emit_all(check_config(s, f));

  // The subprocess checks run meanwhile (each has its own deadline).
  auto mpirun = std::async(std::launch::async, [&] { return check_mpirun(s, f); });
  auto python = std::async(std::launch::async, [&] { return check_python(s, f); });
  auto devices = std::async(std::launch::async, [&] { return check_devices(s, f); });

  // 2. This host and the network.
  std::vector<std::string> unresolved;
  if (f.resource_config_read) {
    emit(check_host_listed(f));
    emit(check_interface(f.network_interface));
    for (auto& c : check_names(f.hosts, s.name_timeout)) {
      if (c.status != Status::kOk) unresolved.push_back(c.name.substr(std::string_view("resolve ").size()));
      emit(std::move(c));
    }
  } else {
    emit(warn("cluster",
              "host, interface, name and peer checks skipped: resourceconfig.json could not be read",
              "see the resourceconfig.json line above"));
  }

  // 3. SSH: this host's side, then every peer.
  const std::string home = config::lookup(s.environ, "HOME").value_or("/root");
  emit_all(check_sshd(s, f));
  emit_all(check_keys(home.empty() ? "/root" : home, f.needs_ssh));
  if (f.needs_ssh && runs_mpirun(f.runner)) emit(check_ssh_client(s, f));
  std::vector<std::string> peers;
  for (const auto& p : f.peers) {
    if (std::find(unresolved.begin(), unresolved.end(), p) == unresolved.end()) {
      peers.push_back(p);
    } else {
      emit(warn("ssh " + p, "not tried: the name does not resolve", "see resolve " + p));
    }
  }
  if (f.resource_config_read && f.peers.empty()) emit(ok("ssh peers", "none (a 1-host job)"));
  emit_all(check_peers(s, peers));

  // 4. Tools, devices and space.
  emit(mpirun.get());
  emit_all(python.get());
  emit_all(devices.get());
  emit(check_space(s.tmp_dir, s.min_free_tmp,
                   "free some space in " + s.tmp_dir +
                       ", or mount a larger volume there (the job and Open MPI write there)"));
  emit(check_space(s.shm_dir, s.min_free_shm,
                   "NCCL and Open MPI's shared-memory transport use " + s.shm_dir +
                       ": docker run --shm-size=8g (or --ipc=host)"));
  return all;
}

int main(const Settings& settings) {
  const auto checks =
      run(settings, [](const Check& c) { std::cout << format_line(c) << '\n'
                                                   << std::flush; });
  std::size_t counts[3] = {0, 0, 0};
  for (const auto& c : checks) ++counts[static_cast<int>(c.status)];
  std::cout << fmt::format("smlaunch doctor: {} OK, {} WARN, {} FAIL", counts[0], counts[1], counts[2])
            << std::endl;
  return exit_code(checks);
}

}  // namespace smlaunch::app::doctor
