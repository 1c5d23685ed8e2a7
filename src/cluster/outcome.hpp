// The job's outcome as the leader tells it to every worker: a small file,
// /tmp/done.<leader> (the name the Python toolkit uses, kept so that images
// which look for it keep working), holding one JSON object:
//
//   {"exit_code":1,"status":"failure","class":"ExecuteUserScriptError",
//    "message":"ZeroDivisionError: division by zero"}
//
// A worker exits with exit_code and, on failure, writes a failure file that
// says it is the leader's outcome. An empty or unreadable file (an older
// launcher's `touch`) counts as success, as it did for the toolkit.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smlaunch::cluster {

struct Outcome {
  int exit_code = 0;
  std::string error_class;  // empty on success
  std::string message;      // the first 1024 characters of the failure text
  [[nodiscard]] bool success() const noexcept { return exit_code == 0; }
};

/// "/tmp/done.algo-1" for leader "algo-1" (dir "/tmp").
[[nodiscard]] std::string outcome_path(std::string_view dir, std::string_view leader);

/// "/tmp/smlaunch-ready.algo-2" for host "algo-2" (dir "/tmp"): where a
/// worker of a multi-host job publishes, before its sshd starts, whether its
/// code is ready (an Outcome: exit code 0) or why not (the install's
/// failure). The leader reads it over SSH before it starts the job, so a
/// host whose install failed fails the job at once, named.
[[nodiscard]] std::string readiness_path(std::string_view dir, std::string_view host);

/// The file's content for `outcome` (one line of JSON, ending in '\n').
[[nodiscard]] std::string to_text(const Outcome& outcome);

/// The outcome a file's content says; nullopt when the content is not a
/// complete outcome object (an empty file: see above, handled by the caller).
[[nodiscard]] std::optional<Outcome> parse_outcome(std::string_view text);

}  // namespace smlaunch::cluster
