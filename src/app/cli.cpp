// smlaunch's subcommands. Each is a list of phases over the library:
// load (config -> hardware -> environment -> plan) and then print or run.
#include "smlaunch/cli.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>

#include "app/cluster.hpp"
#include "app/doctor.hpp"
#include "app/load.hpp"
#include "app/log.hpp"
#include "app/report.hpp"
#include "app/secrets.hpp"
#include "app/user_code.hpp"
#include "app/run.hpp"
#include "platform/signals.hpp"

#ifndef SMLAUNCH_VERSION
#define SMLAUNCH_VERSION "0.0.0"
#endif

namespace smlaunch::cli {
namespace {

enum class Command { Train, Plan, Env, Doctor };
enum class EnvFormat { Lines, Json, Export };

constexpr std::string_view kExamples = R"(
Examples:
  smlaunch                                  run the training job (the container ENTRYPOINT)
  smlaunch --base-dir ./examples/mpi-2host/opt/ml plan
  smlaunch plan --json                      this host's launch plan as JSON; runs nothing
  smlaunch env --export                     the SM_* environment, for eval in a shell script
  smlaunch doctor                           preflight checks of this host; exit 1 when one FAILs
  smlaunch --mpi -- python3 train.py --lr 0.1   run a command under mpirun across the cluster
  smlaunch --runner torchrun --log-level debug
)";

void print_problems(const ConfigError& e) {
  for (const auto& p : e.problems()) (void)std::fprintf(stderr, "smlaunch: error: %s\n", p.message().c_str());
}

std::string join_problems(const ConfigError& e) {
  std::string text;
  for (const auto& p : e.problems()) {
    if (!text.empty()) text += '\n';
    text += p.message();
  }
  return text;
}

std::string command_line(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) text += ' ';
    text += plan::shell_quote(argv[i]);
  }
  return text;
}

// Whether argv (before parsing succeeded) asked for `train`: no plan/env/doctor
// subcommand word.
bool is_train_invocation(const std::vector<std::string>& args) {
  return std::none_of(args.begin(), args.end(),
                      [](const std::string& a) { return a == "plan" || a == "env" || a == "doctor"; });
}

// A number of seconds above 0 given to `option`, or nullopt (a problem is
// added when the text is not empty).
std::optional<std::chrono::milliseconds> parse_seconds(const std::string& text, const char* option,
                                                       Diagnostics& usage) {
  if (text.empty()) return std::nullopt;
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || ptr != end || !(seconds > 0) || !std::isfinite(seconds) || seconds > 1e9) {
    usage.add("command line", option, "got " + describe_for_message(text), "a number of seconds above 0");
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

// --base-dir's value from raw arguments, for when parsing failed.
std::optional<std::string> scan_base_dir(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--base-dir" && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with("--base-dir=")) return args[i].substr(std::string_view("--base-dir=").size());
  }
  return std::nullopt;
}

// A copy of the plan fit for logs and terminals: secrets masked.
plan::LaunchPlan display_plan(const app::Loaded& l) {
  plan::LaunchPlan shown = l.plan;
  shown.env = app::masked_environment(l.env, l.plan);
  shown.argv = app::masked_argv(l.env, l.plan.argv);
  return shown;
}

// `plan --json` is a machine contract and keeps real values; the text form
// is for people and masks secrets.
int print_plan(const app::Loaded& l, bool json) {
  for (const auto& w : l.plan.warnings) log::warning("{}", w);
  std::cout << (json ? plan::to_json(l.plan) + "\n" : plan::to_text(display_plan(l))) << std::flush;
  return kExitSuccess;
}

int print_env(const app::Loaded& l, EnvFormat format) {
  if (format == EnvFormat::Json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [name, value] : l.plan.env) j[name] = value;
    std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& [name, value] : l.plan.env) {
      if (format == EnvFormat::Export) {
        // Names such as SM_HP_LEARNING-RATE are not shell identifiers: they
        // cannot be exported by a shell, so they are listed as a comment.
        // The comment holds the name escaped (control bytes as \xNN), never
        // raw and without the value: a newline in a hyperparameter key must
        // not end the comment and turn the rest into a command for `eval`.
        const bool identifier = !name.empty() && name.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos &&
            !(name[0] >= '0' && name[0] <= '9');
        if (identifier) {
          std::cout << "export " << name << '=' << plan::shell_quote(value) << '\n';
        } else {
          std::cout << "# not a shell name (not exported): "
                    << describe_for_message(name, std::numeric_limits<std::size_t>::max()) << '\n';
        }
      } else {
        std::cout << name << '=' << value << '\n';
      }
    }
  }
  std::cout << std::flush;
  return kExitSuccess;
}

// `train` on this host: prepare the directories, hand over to a framework
// module when the image asks for it, then carry out the plan.
int train(std::unique_ptr<app::Loaded>& loaded, const app::Options& options, const std::string& invocation) {
  const bool runner_forced = options.runner.has_value();
  app::prepare_directories(*loaded);

  // The submitted code (sagemaker_submit_directory) and its requirements,
  // unless a framework module or `--mpi CMD` takes care of its own code.
  const bool framework_handover = loaded->env.framework_module && !runner_forced && !loaded->inputs.user_command;
  std::optional<app::JobReport> code_failure;
  if (!framework_handover && !loaded->inputs.user_command) {
    if (auto failure = app::prepare_user_code(*loaded, {.term_grace = options.term_grace, .invocation = invocation})) {
      app::JobReport report;
      report.exit_code = failure->exit_code;
      report.failure = failure->report;
      // On a host of a multi-host job the host still joins the cluster, so that the job fails at once with
      // this host's name instead of the others waiting --peer-timeout for it. A stop signal ends it here.
      const auto role = loaded->plan.role;
      const bool joins =
          loaded->plan.hosts.size() > 1 && role != plan::Role::Single && failure->exit_code < kExitSignalBase;
      if (!joins) return app::report_job(*loaded, report);
      code_failure = std::move(report);
    } else {
      // The plan depends on the code (a setup.py makes the entry point a
      // package): decide it again now that the code is in place.
      loaded = app::load(options);
    }
  }
  auto& l = *loaded;
  auto& p = l.plan;
  for (const auto& note : p.notes) log::info("{}", note);
  for (const auto& w : p.warnings) log::warning("{}", w);

  // SAGEMAKER_TRAINING_MODULE (B137): the framework's own entry point runs
  // instead, with the same environment; --runner keeps smlaunch in charge.
  if (framework_handover) {
    auto handover = app::framework_handover(*l.env.framework_module, l.inputs.tools.python.value_or("python3"));
    if (!handover || !l.inputs.tools.python) {
      Diagnostics d;
      d.add("environment", "SAGEMAKER_TRAINING_MODULE", "got " + describe_for_message(*l.env.framework_module),
            handover ? "a Python interpreter to run it (SMLAUNCH_PYTHON, python3 or python)"
                     : "package.module:function");
      d.checkpoint();
    }
    log::info("Imported framework {}", *l.env.framework_module);
    p.argv = std::move(*handover);
    p.runner = plan::RunnerKind::Process;
    p.entry_type = plan::EntryPointType::PythonProgram;
  }
  if (p.hosts.size() > 1 && p.role != plan::Role::Single) {
    app::ClusterOptions cluster;
    cluster.peer_timeout = options.peer_timeout;
    cluster.term_grace = options.term_grace;
    cluster.invocation = invocation;
    cluster.code_failure = std::move(code_failure);
    switch (p.role) {
      case plan::Role::Leader: return app::run_leader(l, cluster);
      case plan::Role::Worker: return app::run_worker(l, cluster);
      case plan::Role::Node: return app::run_node(l, cluster);
      case plan::Role::Single: break;
    }
  }
  return app::run_plan(l, {.term_grace = options.term_grace, .invocation = invocation});
}

}  // namespace

namespace {

int run_main(int argc, char** argv) {
  // `--mpi [--] CMD ARGS...`: everything after it is the command, verbatim.
  std::vector<std::string> args(argv + 1, argv + argc);
  app::Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--mpi") {
      std::size_t start = i + 1;
      if (start < args.size() && args[start] == "--") ++start;
      options.mpi_command = std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(start), args.end());
      args.resize(i);
      break;
    }
  }

  CLI::App cli{"smlaunch: the entrypoint of multi-node training containers"};
  cli.footer(std::string(kExamples));
  cli.set_version_flag("--version", std::string("smlaunch ") + SMLAUNCH_VERSION);
  std::string base_dir, runner, log_level, openmpi_version;
  std::string peer_timeout_text, term_grace_text;
  cli.add_option("--base-dir", base_dir, "the /opt/ml tree (default $SAGEMAKER_BASE_DIR, else /opt/ml)");
  cli.add_option("--runner", runner, "force a runner: mpi, smddp, torchrun, xla or process");
  cli.add_option("--log-level", log_level, "debug, info, warning or error");
  cli.add_option("--peer-timeout", peer_timeout_text, "seconds to wait for the other hosts (default 3600)");
  cli.add_option("--term-grace", term_grace_text,
                 "seconds between a stop signal to the job and SIGKILL (default 10)");
  cli.add_option("--openmpi-version", openmpi_version, "4 or 5 (default: detected from mpirun)");
  bool mpi_flag = false;  // consumed before parsing; declared for --help
  cli.add_flag("--mpi", mpi_flag, "run CMD under mpirun across the cluster: smlaunch --mpi [--] CMD [ARGS...]");
  cli.fallthrough();
  cli.require_subcommand(0, 1);
  auto* train_cmd = cli.add_subcommand("train", "run the training job (the default)");
  auto* plan_cmd = cli.add_subcommand("plan", "print this host's launch plan; runs nothing");
  bool plan_json = false;
  plan_cmd->add_flag("--json", plan_json, "as one JSON object");
  auto* env_cmd = cli.add_subcommand("env", "print the environment the user program will see");
  bool env_json = false, env_export = false;
  auto* env_json_opt = env_cmd->add_flag("--json", env_json, "as one JSON object");
  env_cmd->add_flag("--export", env_export, "as export lines for eval in a shell")->excludes(env_json_opt);
  // doctor: see app/doctor.hpp.
  auto* doctor_cmd = cli.add_subcommand(
      "doctor", "preflight checks of this host, one OK/WARN/FAIL line each; exit 0 when none FAILs, else 1");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  std::vector<char*> unused;
  try {
    cli.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli.help();
    return kExitSuccess;
  } catch (const CLI::CallForVersion&) {
    std::cout << "smlaunch " << SMLAUNCH_VERSION << "\n";
    return kExitSuccess;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      cli.exit(e);
      return kExitSuccess;
    }
    const Problem problem{"command line", "arguments", e.what(), "the options listed by smlaunch --help"};
    (void)std::fprintf(stderr, "smlaunch: error: %s\n", problem.message().c_str());
    if (is_train_invocation(args)) {
      // Bad usage of the entrypoint is still a failed job: say so where the platform looks.
      app::Options fallback;
      fallback.base_dir = scan_base_dir(args);
      const auto base = app::choose_base_dir(fallback, config::current_environ());
      app::write_failure(config::Paths::from_base(base.base),
                         {"ConfigurationError", kExitBadConfig, problem.message(), std::nullopt,
                          command_line(argc, argv)});
    }
    return kExitBadConfig;
  }

  const Command command = plan_cmd->parsed()     ? Command::Plan
                          : env_cmd->parsed()    ? Command::Env
                          : doctor_cmd->parsed() ? Command::Doctor
                                                 : Command::Train;
  (void)train_cmd;
  const std::string invocation = command_line(argc, argv);
  config::Environ environ_now = config::current_environ();
  if (!base_dir.empty()) {
    // Every host and rank gets these paths: make them absolute.
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(base_dir, ec);
    options.base_dir = ec ? base_dir : absolute.lexically_normal().string();
    if (options.base_dir->size() > 1 && options.base_dir->back() == '/') options.base_dir->pop_back();
  }

  try {
    Diagnostics usage;
    if (!runner.empty()) {
      options.runner = plan::parse_runner(runner);
      if (!options.runner) usage.add("command line", "--runner", "got " + describe_for_message(runner), "mpi, smddp, torchrun, xla or process");
    }
    // doctor reports what the loader would warn about as its own lines.
    log::Level level = command == Command::Train    ? log::Level::Info
                       : command == Command::Doctor ? log::Level::Error
                                                    : log::Level::Warning;
    if (!log_level.empty() && !log::parse_level(log_level, &level)) {
      usage.add("command line", "--log-level", "got " + describe_for_message(log_level), "debug, info, warning or error");
    }
    log::set_level(level);
    if (!openmpi_version.empty()) {
      if (openmpi_version == "4") options.openmpi_version = mpi::OpenMpiVersion::V4;
      else if (openmpi_version == "5") options.openmpi_version = mpi::OpenMpiVersion::V5;
      else usage.add("command line", "--openmpi-version", "got " + describe_for_message(openmpi_version), "4 or 5");
    }
    if (const auto t = parse_seconds(peer_timeout_text, "--peer-timeout", usage)) options.peer_timeout = *t;
    if (const auto t = parse_seconds(term_grace_text, "--term-grace", usage)) options.term_grace = *t;
    usage.checkpoint();
    options.base = app::choose_base_dir(options, environ_now);
    if (command == Command::Doctor) return app::doctor::main({.options = options, .environ = environ_now});

    // train: hold SIGTERM/SIGINT/SIGHUP/SIGCHLD from the start, so a stop
    // request during loading is not lost; the supervisor takes them over.
    std::optional<platform::BlockedSignals> held;
    if (command == Command::Train) held.emplace(platform::SignalSet::supervised());
    auto loaded = app::load(options);
    switch (command) {
      case Command::Plan: return print_plan(*loaded, plan_json);
      case Command::Env: return print_env(*loaded, env_json ? EnvFormat::Json : env_export ? EnvFormat::Export : EnvFormat::Lines);
      case Command::Train: return train(loaded, options, invocation);
      case Command::Doctor: break;  // handled above: it never stops at a bad config
    }
  } catch (const ConfigError& e) {
    print_problems(e);
    if (command == Command::Train) {
      // Nothing was started; say why where the platform looks (DESIGN.md).
      const auto base = options.base ? *options.base : app::choose_base_dir(options, environ_now);
      app::write_failure(config::Paths::from_base(base.base),
                         {"ConfigurationError", kExitBadConfig, join_problems(e), std::nullopt, invocation});
    }
    return kExitBadConfig;
  } catch (const FatalError& e) {
    (void)std::fprintf(stderr, "smlaunch: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "smlaunch: error: internal error: %s\n", e.what());
    return kExitJobFailed;
  }
  return kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape: an exception before run_main's own handlers (an
  // allocation failure while reading the arguments) still ends in one line
  // and an exit code, not in std::terminate.
  try {
    return run_main(argc, argv);
  } catch (...) {
    (void)std::fputs("smlaunch: error: internal error (an unexpected exception)\n", stderr);
    return kExitJobFailed;
  }
}

}  // namespace smlaunch::cli
