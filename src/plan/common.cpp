#include "plan/common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "config/secret_names.hpp"
#include "config/validate.hpp"

namespace smlaunch::plan {

namespace {
constexpr std::string_view kHp = config::kHyperparametersFile;
constexpr std::string_view kPphKey = "sagemaker_mpi_num_of_processes_per_host";

// B154, exact strings.
constexpr std::string_view kEfaNcclInstances[] = {
    "ml.g4dn.8xlarge",  "ml.g4dn.12xlarge",  "ml.g5.48xlarge",
    "ml.p3dn.24xlarge", "ml.p4d.24xlarge",   "ml.p4de.24xlarge",
    "ml.p5.48xlarge",   "ml.trn1.32xlarge",  "ml.p6e-gb200.36xlarge",
};
constexpr std::string_view kEfaRdmaInstances[] = {
    "ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.trn1.32xlarge", "ml.p6e-gb200.36xlarge",
};

template <std::size_t N>
bool contains(const std::string_view (&list)[N], std::string_view item) {
  return std::find(std::begin(list), std::end(list), item) != std::end(list);
}

// Letters, digits and '_', not starting with a digit: a name `-x NAME` can
// carry and every shell can hold.
bool is_shell_identifier(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}
}  // namespace

std::vector<std::string> PlanContext::mpi_program() {
  if (inputs.user_command) return *inputs.user_command;
  return entry_command(entry, require_python(*this), args, /*under_mpi4py=*/true);
}

EntryPointType entry_point_type(std::string_view name, bool has_setup_py) {
  if (name.ends_with(".sh")) return EntryPointType::Command;
  // D37: a setup.py makes a top-level name a module; a nested path stays a
  // program (the reference turned "pkg/train.py" into "-m pkg/train").
  if (has_setup_py && name.find('/') == std::string_view::npos) return EntryPointType::PythonPackage;
  if (name.ends_with(".py")) return EntryPointType::PythonProgram;
  return EntryPointType::Command;
}

std::vector<std::string> entry_command(const EntryPoint& entry, const std::string& python,
                                       const std::vector<std::string>& args, bool under_mpi4py) {
  std::vector<std::string> cmd;
  switch (entry.type) {
    case EntryPointType::PythonPackage:
      cmd = {python};
      if (under_mpi4py) cmd.insert(cmd.end(), {"-m", "mpi4py"});
      cmd.insert(cmd.end(), {"-m", entry.module});
      break;
    case EntryPointType::PythonProgram:
      cmd = {python};
      if (under_mpi4py) cmd.insert(cmd.end(), {"-m", "mpi4py"});
      cmd.push_back(entry.name);
      break;
    case EntryPointType::Command:
      // Executed directly, arguments as separate argv elements (no /bin/sh -c).
      // Relative to the working directory (the code dir), like the reference's "./name".
      cmd = {entry.name.starts_with("./") ? entry.name : "./" + entry.name};
      break;
  }
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

namespace {
// A positive integer framework parameter, or nullopt (absent). Problems are
// reported with the range expected.
std::optional<std::int64_t> positive_int_hp(PlanContext& ctx, std::string_view key, std::int64_t max) {
  const py::Value* v = ctx.env.additional_framework_parameters.find(key);
  if (v == nullptr || v->is_none()) return std::nullopt;
  const auto n = v->to_int64();
  if (!n || *n < 1 || *n > max) {
    ctx.diagnostics.add(std::string(kHp), std::string(key), config::found_value(*v),
                        fmt::format("an integer from 1 to {}", max));
    return std::nullopt;
  }
  return n;
}
}  // namespace

std::int64_t processes_per_host(PlanContext& ctx) {
  const auto& hw = ctx.env.hardware;
  const std::int64_t detected = hw.gpus > 0 ? hw.gpus : hw.neuron_cores > 0 ? hw.neuron_cores : 1;
  return positive_int_hp(ctx, kPphKey, kMaxProcessesPerHost).value_or(detected);
}

std::vector<std::string> distribution_hosts(PlanContext& ctx, std::string_view runner) {
  std::vector<std::string> hosts = ctx.env.distribution_hosts;
  if (hosts.empty() && ctx.runner_forced) {
    // A runner chosen on the command line with no distribution configured:
    // span the current instance group (or every host without groups).
    const py::Value& group = ctx.env.current_instance_group_hosts;
    if (group.is_list() && !group.as_list().empty()) {
      for (const auto& h : group.as_list()) {
        if (h.is_str()) hosts.push_back(h.as_str());
      }
    } else {
      hosts = ctx.env.hosts;
    }
  }
  if (std::find(hosts.begin(), hosts.end(), ctx.env.current_host) == hosts.end() &&
      !ctx.env.current_host.empty()) {
    ctx.diagnostics.add(std::string(config::kResourceConfigFile), "current_host",
                        fmt::format("{} is not among the distribution hosts [{}]",
                                    describe_for_message(ctx.env.current_host),
                                    fmt::join(hosts, ", ")),
                        fmt::format("a host of the distribution instance groups for the {} runner", runner));
  }
  return hosts;
}

void assign_hosts_and_role(PlanContext& ctx, LaunchPlan& plan, std::string_view runner, Launch launch) {
  plan.hosts = distribution_hosts(ctx, runner);
  plan.leader = plan.hosts.empty() ? ctx.env.current_host : plan.hosts.front();
  if (launch == Launch::OnEveryNode) {
    plan.role = Role::Node;
  } else {
    plan.role = ctx.env.current_host == plan.leader ? Role::Leader : Role::Worker;
  }
}

void append_credential_names(const PlanContext& ctx, std::vector<std::string>& argv) {
  static constexpr std::string_view kCredentialNames[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                          "AWS_SESSION_TOKEN"};
  for (std::string_view name : kCredentialNames) {
    if (config::lookup(ctx.environ, name)) argv.insert(argv.end(), {"-x", std::string(name)});
  }
  // Every other secret-named variable (HF_TOKEN, WANDB_API_KEY, ...): kept
  // out of the workers' world-readable /etc/environment, so a rank on
  // another host gets it only this way. In name order (Environ is sorted);
  // names forwarded anyway (SM_*, PYTHONPATH) are not repeated.
  for (const auto& [name, value] : ctx.environ) {
    if (!is_shell_identifier(name) || !config::is_secret_name(name) || contains(kCredentialNames, name) ||
        std::find(ctx.forwarded_names.begin(), ctx.forwarded_names.end(), name) != ctx.forwarded_names.end()) {
      continue;
    }
    argv.insert(argv.end(), {"-x", name});
  }
}

void bound_mpirun_ssh(const PlanContext& ctx, LaunchPlan& plan) {
  if (plan.hosts.size() < 2) return;  // one host: mpirun starts no daemon over ssh
  const bool v5 = plan.openmpi_version == mpi::OpenMpiVersion::V5;
  const std::string_view name = v5 ? kPrteSshArgsVariable : kOmpiRshArgsVariable;
  // The job's own setting wins (either spelling under 5: PRRTE 3.0.3 and
  // later translate the old one).
  if (config::lookup(ctx.environ, name) || config::lookup(ctx.environ, kOmpiRshArgsVariable)) return;
  plan.env.set(std::string(name), std::string(kMpirunSshArgs));
}

mpi::CustomOptions custom_mpi_options(PlanContext& ctx, std::string_view key) {
  const py::Value* v = ctx.env.additional_framework_parameters.find(key);
  if (v == nullptr || v->is_none()) return {};
  if (!v->is_str()) {
    ctx.diagnostics.add(std::string(kHp), std::string(key), config::found_value(*v),
                        "mpirun options as a string");
    return {};
  }
  auto parsed = mpi::parse_custom_options(v->as_str());
  if (const auto* error = std::get_if<mpi::OptionsError>(&parsed)) {
    ctx.diagnostics.add(std::string(kHp), std::string(key), error->message,
                        "mpirun options written as shell words, without -h/--help or a host list");
    return {};
  }
  return std::get<mpi::CustomOptions>(std::move(parsed));
}

std::string host_list(const std::vector<std::string>& hosts, std::int64_t pph, bool bare) {
  std::string out;
  for (const auto& h : hosts) {
    if (!out.empty()) out += ',';
    out += bare ? h : fmt::format("{}:{}", h, pph);
  }
  return out;
}

std::string ld_preload_value(const PlanContext& ctx) {
  const auto existing = config::lookup(ctx.environ, "LD_PRELOAD");
  std::string value = ctx.inputs.tools.hostname_shim;
  if (existing && !existing->empty()) value += ":" + *existing;
  return value;
}

bool is_efa_nccl_instance(std::string_view instance_type) {
  return contains(kEfaNcclInstances, instance_type);
}
bool is_efa_rdma_instance(std::string_view instance_type) {
  return contains(kEfaRdmaInstances, instance_type);
}

std::string require_python(PlanContext& ctx) {
  if (ctx.inputs.tools.python) return *ctx.inputs.tools.python;
  ctx.diagnostics.add("environment", "python", "no SMLAUNCH_PYTHON, python3 or python on PATH",
                      "a Python interpreter for a Python entry point");
  return "python3";
}

std::int64_t index_of(const std::vector<std::string>& hosts, const std::string& host) {
  const auto it = std::find(hosts.begin(), hosts.end(), host);
  return it == hosts.end() ? 0 : static_cast<std::int64_t>(it - hosts.begin());
}

}  // namespace smlaunch::plan
