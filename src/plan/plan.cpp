// make_plan: the phases of deciding a launch, in order.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "config/validate.hpp"
#include "plan/runner.hpp"

namespace smlaunch::plan {

std::string_view to_string(RunnerKind kind) {
  switch (kind) {
    case RunnerKind::Mpi: return "mpi";
    case RunnerKind::Smddp: return "smddp";
    case RunnerKind::Torchrun: return "torchrun";
    case RunnerKind::Xla: return "xla";
    case RunnerKind::Process: return "process";
  }
  return "process";
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::Leader: return "leader";
    case Role::Worker: return "worker";
    case Role::Node: return "node";
    case Role::Single: return "single";
  }
  return "single";
}

std::string_view to_string(EntryPointType type) {
  switch (type) {
    case EntryPointType::PythonProgram: return "python program";
    case EntryPointType::PythonPackage: return "python package";
    case EntryPointType::Command: return "command";
  }
  return "command";
}

std::optional<RunnerKind> parse_runner(std::string_view name) {
  for (auto kind : {RunnerKind::Mpi, RunnerKind::Smddp, RunnerKind::Torchrun, RunnerKind::Xla,
                    RunnerKind::Process}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

RunnerKind runner_from_hyperparameters(const py::Dict& fw) {
  const auto enabled = [&](std::string_view key) {
    const py::Value* v = fw.find(key);
    return v != nullptr && v->truthy();
  };
  if (enabled("sagemaker_distributed_dataparallel_enabled")) return RunnerKind::Smddp;
  if (enabled("sagemaker_mpi_enabled")) return RunnerKind::Mpi;
  if (enabled("sagemaker_pytorch_xla_multi_worker_enabled")) return RunnerKind::Xla;
  if (enabled("sagemaker_torch_distributed_enabled")) return RunnerKind::Torchrun;
  return RunnerKind::Process;
}

std::unique_ptr<Runner> make_runner(RunnerKind kind) {
  switch (kind) {
    case RunnerKind::Mpi: return make_mpi_runner();
    case RunnerKind::Smddp: return make_smddp_runner();
    case RunnerKind::Torchrun: return make_torchrun_runner();
    case RunnerKind::Xla: return make_xla_runner();
    case RunnerKind::Process: return make_process_runner();
  }
  return make_process_runner();
}

namespace {

constexpr std::string_view kHp = config::kHyperparametersFile;

// B138: a distributed runner applies only to hosts of a distribution group.
bool in_distribution_group(const config::TrainingEnv& env) {
  const py::Value& groups = env.distribution_instance_groups;
  if (!groups.is_list()) return false;
  return std::any_of(groups.as_list().begin(), groups.as_list().end(), [&](const py::Value& g) {
    return g.is_str() && g.as_str() == env.current_instance_group;
  });
}

// The environment every runner starts from: SM_* (B42), PYTHONPATH with the
// code dir first (D28), and the B24 variables.
void base_environment(PlanContext& ctx, LaunchPlan& plan) {
  plan.env = env::to_env_vars(ctx.env);
  for (const auto& [name, value] : plan.env) ctx.forwarded_names.push_back(name);
  const auto existing = config::lookup(ctx.environ, "PYTHONPATH");
  plan.env.set("PYTHONPATH", existing && !existing->empty() ? ctx.env.paths.code + ":" + *existing
                                                            : ctx.env.paths.code);
  if (ctx.inputs.export_base_dir) {
    plan.env.set("SAGEMAKER_BASE_DIR", *ctx.inputs.export_base_dir);
    ctx.forwarded_names.emplace_back("SAGEMAKER_BASE_DIR");
  }
  ctx.forwarded_names.emplace_back("PYTHONPATH");  // last, as in the reference (B96)
  plan.env.set("SAGEMAKER_JOB_NAME", ctx.env.sagemaker_job_name);
  plan.env.set("CURRENT_HOST", ctx.env.current_host);
  plan.env.set("SAGEMAKER_REGION", ctx.env.sagemaker_region);

  for (const auto& [name, value] : plan.env) {
    if (value.find('\0') != std::string::npos) {
      ctx.diagnostics.add("environment", name, "a value containing a NUL character",
                          "text without NUL characters (environment values cannot hold them)");
    }
  }
}

void resolve_entry_point(PlanContext& ctx) {
  const py::Value& entry = ctx.env.user_entry_point;
  if (entry.is_none()) {
    ctx.diagnostics.add(std::string(kHp), "sagemaker_program", "missing",
                        "the entry point's file name (or $SAGEMAKER_PROGRAM)");
    return;
  }
  const std::string& name = entry.as_str();
  const bool escapes = name.starts_with("/") || name == ".." || name.starts_with("../") ||
                       name.find("/../") != std::string::npos || name.ends_with("/..");
  if (name.empty() || escapes || name.find('\0') != std::string::npos) {
    ctx.diagnostics.add(std::string(kHp), "sagemaker_program", "got " + describe_for_message(name),
                        fmt::format("a file name relative to the code directory {}", ctx.env.paths.code));
    return;
  }
  ctx.entry.name = name;
  ctx.entry.type = entry_point_type(name, ctx.inputs.code.has_setup_py);
  ctx.entry.module = name.ends_with(".py") ? name.substr(0, name.size() - 3) : name;
  // The code is there unless it is still to be fetched: B60 fetches only into
  // an empty code dir, from a submit directory other than the code dir.
  const bool to_be_fetched = ctx.env.module_dir != ctx.env.paths.code && !ctx.inputs.code.populated;
  if (!to_be_fetched && !ctx.inputs.code.entry_point_exists) {
    ctx.diagnostics.add(std::string(kHp), "sagemaker_program",
                        fmt::format("{} does not exist in {}", describe_for_message(name), ctx.env.paths.code),
                        "the entry point file inside the code directory");
  }
}

}  // namespace

LaunchPlan make_plan(const PlanInputs& inputs, Diagnostics& diagnostics) {
  PlanContext ctx{inputs, *inputs.env, *inputs.environ, diagnostics, inputs.forced_runner.has_value(), {}, {}, {}};
  LaunchPlan plan;
  plan.current_host = ctx.env.current_host;
  plan.cwd = ctx.env.paths.code;
  plan.hostname_shim = inputs.tools.hostname_shim;
  plan.openmpi_version = inputs.tools.openmpi_version;
  plan.notes = ctx.env.notes;

  // 1. The runner: --runner, else the hyperparameters (B29, B138).
  plan.runner = inputs.forced_runner.value_or(runner_from_hyperparameters(ctx.env.additional_framework_parameters));
  if (!inputs.forced_runner && plan.runner != RunnerKind::Process && !in_distribution_group(ctx.env)) {
    plan.notes.push_back(fmt::format("instance group {} is not a distribution group: running the {} entry point as a single process",
                                     ctx.env.current_instance_group, to_string(plan.runner)));
    plan.runner = RunnerKind::Process;
  }
  // 2. What the program sees: environment and arguments (B42-B51).
  base_environment(ctx, plan);
  ctx.args = env::to_cmd_args(ctx.env.hyperparameters);
  plan.user_args = ctx.args;
  for (const auto& arg : ctx.args) {
    if (arg.find('\0') != std::string::npos) {
      ctx.diagnostics.add(std::string(kHp), "arguments", "an argument containing a NUL character",
                          "hyperparameter values without NUL characters");
      break;
    }
  }
  // 3. The entry point (B64), unless --mpi gave a command.
  if (!inputs.user_command) {
    resolve_entry_point(ctx);
    plan.entry_type = ctx.entry.type;
  } else if (inputs.user_command->empty()) {
    ctx.diagnostics.add("command line", "--mpi", "no command", "--mpi [--] CMD [ARGS...]");
  }
  // 4. The runner's own decisions.
  make_runner(plan.runner)->plan(ctx, plan);
  return plan;
}

namespace {

// One hyperparameter that may account for a string that is too long.
struct Contributor {
  std::string key;
  std::size_t bytes = 0;  // key and value as they appear in SM_HPS and friends
  std::string env_name;   // SM_HP_<KEY> (user hyperparameters only)
  std::string flag;       // --key / -k (user hyperparameters only)
};

std::vector<Contributor> contributors(const config::TrainingEnv& env) {
  std::vector<Contributor> out;
  for (const auto& [key, value] : env.hyperparameters) {
    out.push_back({key, key.size() + env::env_value(value).size(), "SM_HP_" + env::env_name(key).substr(3),
                   (py::code_point_length(key) > 1 ? "--" : "-") + key});
  }
  for (const auto& [key, value] : env.additional_framework_parameters) {
    out.push_back({key, key.size() + env::env_value(value).size(), {}, {}});
  }
  return out;
}

// The hyperparameter a string too long is blamed on: the one it is
// (SM_HP_<KEY>, the value after --key), else the largest one when that is a
// fair share of the string; nullptr when none is.
const Contributor* blame(const std::vector<Contributor>& all, std::string_view env_name,
                         std::string_view flag_before, std::size_t string_bytes) {
  for (const auto& c : all) {
    if ((!env_name.empty() && c.env_name == env_name) || (!flag_before.empty() && c.flag == flag_before)) {
      return &c;
    }
  }
  const auto largest = std::max_element(all.begin(), all.end(), [](const Contributor& a, const Contributor& b) {
    return a.bytes < b.bytes;
  });
  if (largest == all.end() || largest->bytes < string_bytes / 4) return nullptr;
  return &*largest;
}

std::string bytes_text(std::size_t bytes) { return fmt::format("{} bytes", bytes); }

}  // namespace

void check_exec_limits(const LaunchPlan& plan, const config::TrainingEnv& env, const config::Environ& environ,
                       const ExecLimits& limits, Diagnostics& diagnostics) {
  constexpr std::size_t kMaxLength = ExecLimits::kMaxStringBytes - 1;  // without the NUL
  const std::string limit_text = fmt::format(
      "at most {} bytes in one argument or NAME=VALUE environment string (Linux's MAX_ARG_STRLEN, {} "
      "with the NUL); pass large data in a file or a channel",
      kMaxLength, bytes_text(ExecLimits::kMaxStringBytes));
  const auto all = contributors(env);

  // What is too long, grouped by the hyperparameter to blame (in order of discovery).
  struct TooLong {
    std::vector<std::string> carriers;  // "SM_HPS", "an argument of the command"
    std::size_t longest = 0;
  };
  std::vector<std::pair<const Contributor*, TooLong>> found;
  auto add = [&](const Contributor* who, std::string carrier, std::size_t length) {
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == who; });
    if (it == found.end()) it = found.emplace(found.end(), who, TooLong{});
    if (std::find(it->second.carriers.begin(), it->second.carriers.end(), carrier) == it->second.carriers.end()) {
      it->second.carriers.push_back(std::move(carrier));
    }
    it->second.longest = std::max(it->second.longest, length);
  };

  std::size_t total = 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < plan.argv.size(); ++i) {
    const std::size_t length = plan.argv[i].size();
    total += length + 1;
    ++count;
    if (length <= kMaxLength) continue;
    const std::string_view before = i > 0 ? std::string_view(plan.argv[i - 1]) : std::string_view();
    const Contributor* who = blame(all, {}, before, length);
    add(who, who != nullptr && who->flag == before ? fmt::format("the argument after {}", before)
                                                   : fmt::format("argument {} of the command", i),
        length);
  }
  config::Environ merged = environ;
  for (const auto& [name, value] : plan.env) merged[name] = value;
  for (const auto& [name, value] : merged) {
    const std::size_t length = name.size() + 1 + value.size();
    total += length + 1;
    ++count;
    if (length <= kMaxLength) continue;
    add(blame(all, name, {}, length), name, length);
  }

  for (const auto& [who, too_long] : found) {
    const std::string carriers = fmt::format("{}", fmt::join(too_long.carriers, ", "));
    if (who == nullptr) {
      for (const auto& carrier : too_long.carriers) {
        diagnostics.add("environment", carrier, fmt::format("a string of {} or more", bytes_text(too_long.longest)),
                        limit_text);
      }
      continue;
    }
    diagnostics.add(std::string(config::kHyperparametersFile), who->key,
                    fmt::format("a value of {}, which makes {} too long ({} for the longest)",
                                bytes_text(who->bytes), carriers, bytes_text(too_long.longest)),
                    limit_text);
  }
  total += (count + 2) * sizeof(void*);
  if (found.empty() && total > limits.max_total_bytes) {
    const Contributor* who = blame(all, {}, {}, 0);
    const std::string found_text =
        fmt::format("the command and its environment come to {} in all", bytes_text(total));
    const std::string expected = fmt::format(
        "at most {} in all (sysconf(ARG_MAX) less room for what mpirun adds); pass large data in a file or a "
        "channel",
        bytes_text(limits.max_total_bytes));
    if (who != nullptr) {
      diagnostics.add(std::string(config::kHyperparametersFile), who->key,
                      fmt::format("a value of {} (the largest), and {}", bytes_text(who->bytes), found_text), expected);
    } else {
      diagnostics.add("environment", "the whole environment", found_text, expected);
    }
  }
}

std::string to_json(const LaunchPlan& plan) {
  nlohmann::ordered_json j;
  j["runner"] = to_string(plan.runner);
  j["role"] = to_string(plan.role);
  j["current_host"] = plan.current_host;
  j["leader"] = plan.leader;
  j["hosts"] = plan.hosts;
  j["processes_per_host"] = plan.processes_per_host;
  j["num_processes"] = plan.num_processes;
  j["argv"] = plan.argv;
  nlohmann::ordered_json env = nlohmann::ordered_json::object();
  for (const auto& [name, value] : plan.env) env[name] = value;
  j["env"] = std::move(env);
  j["cwd"] = plan.cwd;
  // Values are valid UTF-8 (checked on input); replace defensively anyway.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string shell_quote(std::string_view word) {
  constexpr std::string_view kSafe =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
  if (!word.empty() && word.find_first_not_of(kSafe) == std::string_view::npos) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\"'\"'";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string to_text(const LaunchPlan& plan) {
  std::string out;
  out += fmt::format("runner:             {}\n", to_string(plan.runner));
  out += fmt::format("role:               {}\n", to_string(plan.role));
  out += fmt::format("current host:       {}\n", plan.current_host);
  out += fmt::format("leader:             {}\n", plan.leader);
  out += fmt::format("hosts:              {}\n", fmt::join(plan.hosts, ", "));
  out += fmt::format("processes per host: {}\n", plan.processes_per_host);
  out += fmt::format("processes:          {}\n", plan.num_processes);
  out += fmt::format("working directory:  {}\n", plan.cwd);
  std::string command;
  for (const auto& arg : plan.argv) {
    if (!command.empty()) command += ' ';
    command += shell_quote(arg);
  }
  out += fmt::format("command:            {}\n",
                     plan.argv.empty() ? std::string("(none: waits for the leader)") : command);
  out += fmt::format("environment ({} variables):\n", plan.env.size());
  for (const auto& [name, value] : plan.env) out += fmt::format("  {}={}\n", name, shell_quote(value));
  if (!plan.hostname_shim.empty()) out += fmt::format("hostname shim:      {}\n", plan.hostname_shim);
  for (const auto& w : plan.warnings) out += fmt::format("warning: {}\n", w);
  return out;
}

}  // namespace smlaunch::plan
