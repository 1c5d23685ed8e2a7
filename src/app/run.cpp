// run_plan: the job's life on one host.
//
//   1. make a command entry point executable (0755, never 0777: D30)
//   2. wire the output (exec::JobOutput): lines, rank tags rewritten for
//      mpirun's --tag-output, shown on our stdout/stderr and watched by the
//      error capture
//   3. supervise: the job in its own process group, stop signals forwarded,
//      SIGKILL after the grace, zombies reaped (platform::Supervisor)
//   4. report: output/success, or output/failure with the captured error
//      class and text (the user's own failure file wins), and the exit code
//   5. stop whatever children are left (setsid'd grandchildren included)
#include "app/run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>

#include "app/log.hpp"
#include "app/report.hpp"
#include "app/secrets.hpp"
#include "exec/error_capture.hpp"
#include "exec/job_output.hpp"
#include "exec/relay.hpp"
#include "platform/files.hpp"
#include "platform/output.hpp"
#include "platform/process.hpp"
#include "smlaunch/pyvalue.hpp"
#include "smlaunch/sm_env.hpp"

namespace smlaunch::app {
namespace {

constexpr int kExitCodeNotStarted = 127;  // the shell's "command not found"

// Lines to smlaunch's own stdout/stderr: the job's streams stay apart.
class StdioSink final : public exec::LineSink {
 public:
  void line(exec::Stream stream, std::string_view bytes) override {
    (stream == exec::Stream::Stdout ? out_ : err_).append(bytes);
  }
  // Whole lines at once (exec::LineSink::lines): one append per block.
  void lines(exec::Stream stream, std::string_view block) override {
    (stream == exec::Stream::Stdout ? out_ : err_).append(block);
  }
  void flush() override {
    out_.flush();
    err_.flush();
  }

 private:
  platform::OutputWriter out_{1};
  platform::OutputWriter err_{2};
};

bool tags_ranks(const plan::LaunchPlan& p) {
  return p.runner == plan::RunnerKind::Mpi || p.runner == plan::RunnerKind::Smddp;
}

std::vector<std::string> environment_strings(const Loaded& l) {
  config::Environ merged = l.environ;
  for (const auto& [name, value] : l.plan.env) merged[name] = value;
  std::vector<std::string> env;
  env.reserve(merged.size());
  for (const auto& [name, value] : merged) env.push_back(name + "=" + value);
  return env;
}

// The user's own error class names (SMLAUNCH_ERROR_CLASSES, separated by
// commas or white space): they start the capture and are reported as the
// class, like the frameworks' classes.
std::vector<std::string> user_error_classes(const Loaded& l) {
  std::vector<std::string> names;
  const auto it = l.environ.find("SMLAUNCH_ERROR_CLASSES");
  if (it == l.environ.end()) return names;
  std::string name;
  for (const char c : it->second + ",") {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!name.empty()) names.push_back(std::move(name));
      name.clear();
    } else {
      name.push_back(c);
    }
  }
  return names;
}

std::string display_command(const Loaded& l) {
  std::string command;
  for (const auto& a : masked_argv(l.env, l.plan.argv)) {
    if (!command.empty()) command += ' ';
    command += plan::shell_quote(a);
  }
  return command;
}

}  // namespace

std::optional<std::vector<std::string>> framework_handover(const std::string& module, const std::string& python) {
  const auto colon = module.find(':');
  if (colon == std::string::npos || module.find(':', colon + 1) != std::string::npos) return std::nullopt;
  const std::string package = module.substr(0, colon);
  const std::string function = module.substr(colon + 1);
  const auto identifier = [](std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    return s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string_view::npos;
  };
  std::size_t start = 0;
  for (;;) {
    const auto dot = package.find('.', start);
    if (!identifier(std::string_view(package).substr(start, dot == std::string::npos ? std::string::npos : dot - start))) {
      return std::nullopt;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!identifier(function)) return std::nullopt;
  return std::vector<std::string>{python, "-c", fmt::format("import {} as m; m.{}()", package, function)};
}

JobReport run_job(const Loaded& l, const RunOptions& options) {
  const auto& p = l.plan;
  const auto started = std::chrono::steady_clock::now();
  (void)platform::become_child_subreaper();
  platform::ignore_sigpipe();

  // 1. A command entry point runs directly: it must be executable.
  if (p.entry_type == plan::EntryPointType::Command && !l.inputs.user_command && !p.argv.empty()) {
    const std::string file = l.paths.code + "/" + l.env.user_entry_point.as_str();
    if (auto error = platform::make_executable_within(file, l.paths.code)) {
      log::warning("could not make the entry point executable: {}", *error);
    }
  }

  // 2. Output: split into lines, shown (rank tags naming each rank's host)
  //    and watched for errors.
  StdioSink stdio;
  exec::ErrorCapture capture(user_error_classes(l));
  std::optional<exec::JobOutput::Ranks> ranks;
  if (tags_ranks(p)) ranks = exec::JobOutput::Ranks{p.hosts, p.processes_per_host};
  exec::JobOutput output(stdio, capture, ranks);
  const auto relay = [&](platform::OutputStream stream, std::string_view chunk) {
    output.feed(stream == platform::OutputStream::kStdout ? exec::Stream::Stdout : exec::Stream::Stderr, chunk);
  };

  // 3. Supervise.
  std::string variables;
  for (const auto& [name, value] : masked_environment(l.env, p)) variables += name + "=" + value + "\n";
  JobReport report;
  report.command = display_command(l);
  const std::string training_env = py::dumps_indented(env::training_env_value(mask_training_env(l.env)), 4);
  log::info(
      "Invoking user script\n\nTraining Env:\n\n{}\n\nEnvironment variables:\n\n{}\nInvoking script with the "
      "following command:\n\n{}\n",
      training_env, variables, report.command);
  log::info("Starting the job ({:.3f} s after smlaunch started)", log::seconds_since_start());
  platform::Supervisor supervisor({.term_grace = options.term_grace, .abort_fd = options.abort_fd});
  auto result = supervisor.run(platform::Command{p.argv, environment_strings(l), p.cwd}, relay);
  output.finish();
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log::info("Job finished after {:.3f} s", seconds);

  // 4. Judge.
  FailureReport failure{"ExecuteUserScriptError", std::nullopt, "", std::nullopt, report.command};
  if (const auto* error = std::get_if<platform::SpawnError>(&result)) {
    failure.exit_code = kExitCodeNotStarted;
    failure.message = error->message;
    report.failure = failure;
    report.exit_code = kExitJobFailed;
    return report;
  }
  const auto& outcome = std::get<platform::JobOutcome>(result);
  report.aborted = outcome.aborted;
  if (outcome.stopped_by_signal()) {
    failure.error_class = "StoppedBySignal";
    failure.exit_code = outcome.job.exited() ? outcome.job.exit_code() : -outcome.job.term_signal();
    failure.message = outcome.describe();  // "stopped by signal 15 (SIGTERM); the job exited with code 7"
    report.failure = failure;
    report.exit_code = kExitSignalBase + outcome.stop_signal;
    return report;
  }
  if (outcome.job.success() && !outcome.aborted) return report;
  const auto summary = exec::summarize_failure(capture, outcome.job.exit_code(), outcome.job.term_signal());
  failure.error_class = summary.error_class;
  failure.exit_code = outcome.job.exited() ? outcome.job.exit_code() : -outcome.job.term_signal();
  failure.message = summary.message;
  failure.extra_info = summary.extra_info;
  report.failure = failure;
  report.exit_code = kExitJobFailed;
  return report;
}

int report_job(const Loaded& l, const JobReport& report) {
  if (!report.failure) {
    log::info("Reporting training SUCCESS");
    write_success(l.paths);
    return report.exit_code;
  }
  log::info("Reporting training FAILURE");
  log::error("{}", format_failure(*report.failure));
  write_failure(l.paths, *report.failure);
  log::error("Encountered exit_code {}", report.exit_code);
  return report.exit_code;
}

int run_plan(const Loaded& l, const RunOptions& options) {
  const JobReport report = run_job(l, options);
  platform::stop_all_children(options.term_grace);
  return report_job(l, report);
}

}  // namespace smlaunch::app
