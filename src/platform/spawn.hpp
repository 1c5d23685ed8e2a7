// Starting the job's program: an argv vector (no shell), with its
// environment and working directory, stdio inherited. This is the first,
// simple form; process-group supervision, output relay and signal
// forwarding build on it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace smlaunch::platform {

struct ExitStatus {
  bool started = false;
  std::string start_error;  // strerror text when !started
  int exit_code = 0;        // when exited normally
  int term_signal = 0;      // when killed by a signal
};

/// Runs argv[0] (searched in the PATH of `env` when it has no '/'), in `cwd`,
/// with exactly the environment `env` ("NAME=value" strings), and waits.
[[nodiscard]] ExitStatus spawn_and_wait(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env, const std::string& cwd);

}  // namespace smlaunch::platform
