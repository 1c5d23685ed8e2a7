// Running a short helper command and capturing its output (nvidia-smi,
// neuron-ls, mpirun --version). No shell: argv goes straight to exec.
// Long-running children with pipes and signals are a different interface
// (process supervision), not this one.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch::platform {

struct CaptureResult {
  bool started = false;      // false: the program could not be executed
  int exit_code = -1;        // when it exited normally
  int term_signal = 0;       // when a signal ended it (including our timeout kill)
  bool timed_out = false;
  std::string out;           // stdout, capped at the limit given
  std::string err;           // stderr, capped likewise
  std::string start_error;   // strerror text when !started
  [[nodiscard]] bool ok() const { return started && !timed_out && term_signal == 0 && exit_code == 0; }
};

/// Runs argv[0] (looked up in `path_env` when it has no '/') with stdin from
/// /dev/null, waits at most `timeout` (then SIGKILLs it and its process group),
/// and returns what it printed. Never throws for a failing program.
[[nodiscard]] CaptureResult run_capture(const std::vector<std::string>& argv,
                                        std::string_view path_env,
                                        std::chrono::milliseconds timeout,
                                        std::size_t max_output_bytes = 1 << 20);

/// The absolute path of an executable `name` found in `path_env` (like
/// `command -v`), or nullopt. A name containing '/' is checked as given.
[[nodiscard]] std::optional<std::string> find_executable(std::string_view name,
                                                         std::string_view path_env);

}  // namespace smlaunch::platform
