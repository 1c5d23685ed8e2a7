// Supervising the job: spawning its program (an argv vector, no shell) in its
// own process group with piped stdout/stderr, relaying that output in chunks,
// forwarding SIGTERM/SIGINT/SIGHUP to the group with a SIGKILL after a grace
// period, reaping every zombie, and tearing down what the job leaves behind.
// The layer above sees a Command, chunks of output and a JobOutcome; pids and
// descriptors stay in here. The approach is explained at the top of
// process.cpp.
//
// Typical use, in smlaunch's main thread:
//
//   (void)become_child_subreaper();             // once, at startup
//   Supervisor supervisor({.term_grace = ...}); // blocks the signals
//   auto result = supervisor.run(command, relay);
//   ...report...
//   stop_all_children();                        // setsid'd leftovers
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "platform/fd.hpp"
#include "platform/signals.hpp"

namespace smlaunch::platform {

/// Time between forwarding a stop signal (or the job's main process exiting)
/// and SIGKILL for what is left of the job's process group, by default.
inline constexpr std::chrono::milliseconds kTermGrace{10'000};
/// How long the pipes are still read after the job's main process exited. A
/// grandchild outside the group can hold them open for ever; we stop reading
/// then.
inline constexpr std::chrono::milliseconds kDrainGrace{1'000};
/// After a SIGKILL, how long we wait for the processes to disappear before
/// giving up on them (a process in uninterruptible sleep dies late).
inline constexpr std::chrono::milliseconds kKillWait{2'000};

/// What to run. Nothing here is interpreted by a shell.
struct Command {
  std::vector<std::string> argv;  // argv[0] is searched in env's PATH when it has no '/'
  std::vector<std::string> env;   // exactly the child's environment, "NAME=value"
  std::string cwd;                // working directory; empty: ours
};

/// Which part of starting the program failed.
enum class SpawnStep { kCommand, kWorkingDirectory, kProgram, kSetup };

/// Why a program was not started.
struct SpawnError {
  SpawnStep step = SpawnStep::kSetup;
  int error = 0;        // errno: ENOENT, EACCES, ENOEXEC, EMFILE, ...
  std::string message;  // "train.sh: No such file or directory"
};

/// How a process ended: a value type made from a wait status.
class ProcessStatus {
 public:
  enum class Kind { kUnknown, kExited, kSignaled };

  /// Unknown: still running, or reaped by someone else.
  ProcessStatus() = default;
  [[nodiscard]] static ProcessStatus from_wait_status(int wait_status) noexcept;
  [[nodiscard]] static ProcessStatus exited_with(int code) noexcept;
  [[nodiscard]] static ProcessStatus killed_by(int signal) noexcept;

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] bool known() const noexcept { return kind_ != Kind::kUnknown; }
  [[nodiscard]] bool exited() const noexcept { return kind_ == Kind::kExited; }
  [[nodiscard]] bool signaled() const noexcept { return kind_ == Kind::kSignaled; }
  /// The exit code when exited(), else -1.
  [[nodiscard]] int exit_code() const noexcept { return exited() ? value_ : -1; }
  /// The signal that ended it when signaled(), else 0.
  [[nodiscard]] int term_signal() const noexcept { return signaled() ? value_ : 0; }
  /// Exited with code 0.
  [[nodiscard]] bool success() const noexcept { return exited() && value_ == 0; }
  /// "exited with code 3", "killed by signal 9 (SIGKILL)", "exit status unknown".
  [[nodiscard]] std::string describe() const;

  friend bool operator==(const ProcessStatus&, const ProcessStatus&) = default;

 private:
  ProcessStatus(Kind kind, int value) noexcept : kind_(kind), value_(value) {}
  Kind kind_ = Kind::kUnknown;
  int value_ = 0;
};

/// A started job process that leads its own process group, with the read
/// ends of its stdout/stderr pipes. Move-only. If it is still running when
/// the handle goes away (an early return, an exception), its whole group is
/// SIGKILLed and it is reaped: no stray job, no zombie.
class Child {
 public:
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  /// The process id, which is also its process group id. For logs and
  /// tests; the layer above has no use for it.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// True until the process has been reaped.
  [[nodiscard]] bool running() const noexcept { return pid_ > 0 && !reaped_; }
  /// How it ended; unknown while running().
  [[nodiscard]] const ProcessStatus& status() const noexcept { return status_; }

  /// Sends `signal` to every process in the child's group (0: only checks).
  /// Returns whether some process was there to receive it.
  bool signal_group(int signal) const noexcept;
  /// SIGKILLs the group and waits for the child itself (blocking; SIGKILL
  /// makes that short). Does nothing once reaped.
  void kill_and_reap() noexcept;

 private:
  friend class Supervisor;
  friend std::variant<Child, SpawnError> spawn(const Command& command);

  Child(pid_t pid, Fd out, Fd err, Fd pidfd) noexcept;
  void record_exit(int wait_status) noexcept;
  void record_lost() noexcept;

  pid_t pid_ = -1;
  Fd out_;
  Fd err_;
  Fd pidfd_;  // readable once the child exits; empty without pidfd_open
  bool reaped_ = false;
  ProcessStatus status_;
};

/// Starts `command`: argv[0] looked up in the PATH of command.env (or
/// "/bin:/usr/bin" without one; relative entries count from command.cwd),
/// in command.cwd, with exactly command.env, in a new process group, with
/// stdin from /dev/null, stdout and stderr to pipes, an empty signal mask
/// and every signal at its default action. None of our descriptors leaks
/// into it. Failures are values: a missing program (ENOENT), one we may not
/// execute (EACCES), a missing working directory, no descriptors left.
[[nodiscard]] std::variant<Child, SpawnError> spawn(const Command& command);

/// Which of the job's output pipes a chunk came from.
enum class OutputStream { kStdout, kStderr };

/// Receives the job's output as it arrives: chunks of bytes in the order
/// they were written to each pipe, split anywhere (not at lines).
using OutputHandler = std::function<void(OutputStream stream, std::string_view chunk)>;

struct SupervisorOptions {
  std::chrono::milliseconds term_grace = kTermGrace;    // stop signal -> SIGKILL
  std::chrono::milliseconds drain_grace = kDrainGrace;  // main exit -> stop reading
  /// A descriptor (an eventfd, a pipe) that becomes readable when someone
  /// else decides the job must stop (a host of the cluster was lost): the
  /// job's group then gets SIGTERM, and SIGKILL `abort_grace` later. -1: none.
  /// Not read: the caller owns it and knows why.
  int abort_fd = -1;
  std::chrono::milliseconds abort_grace{2'000};
};

/// How a supervised job ended, and what we did to it.
struct JobOutcome {
  ProcessStatus job;                // how the job's main process ended
  int stop_signal = 0;              // the stop signal we received and forwarded while it ran; 0: none
  bool killed_after_grace = false;  // we SIGKILLed its group when the grace ran out
  bool output_cut_short = false;    // a pipe was still open when the drain grace ran out
  bool group_left_running = false;  // some of its group survived SIGKILL for kKillWait
  bool aborted = false;             // stopped because abort_fd became readable
  std::size_t others_reaped = 0;    // other children (orphans) reaped meanwhile

  /// True when a stop signal we received ended the job; smlaunch then exits
  /// with 128 + stop_signal.
  [[nodiscard]] bool stopped_by_signal() const noexcept { return stop_signal != 0; }
  /// "exited with code 3", or "stopped by signal 15 (SIGTERM); the job
  /// exited with code 7".
  [[nodiscard]] std::string describe() const;
};

/// Runs one job at a time and watches it: its two pipes, its exit (pidfd),
/// and the stop signals and SIGCHLD (signalfd). SIGTERM, SIGINT and SIGHUP
/// are all stop requests: each is forwarded as itself to the job's group, and
/// the first starts the grace period. Construct it in the thread
/// that will call run()/supervise() (the signals are blocked in that thread
/// for the Supervisor's lifetime; see signals.hpp about other threads).
///
/// While supervising it reaps every child of this process (waitpid(-1)), so
/// other code must not wait for its own children at the same time: their
/// statuses would be taken here.
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options = {});
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Spawns `command` and supervises it (see supervise()). Returns the
  /// outcome, or why the program could not be started (or the signals not
  /// watched).
  [[nodiscard]] std::variant<JobOutcome, SpawnError> run(const Command& command,
                                                         const OutputHandler& on_output);

  /// Relays `child`'s output to `on_output` until its main process has
  /// exited and both pipes are at end of file (or kDrainGrace after the
  /// exit), forwarding stop signals to its group and SIGKILLing the group
  /// term_grace after the first. When the main process exits, what is left
  /// of the group gets SIGTERM, then SIGKILL after term_grace; we return
  /// once the group is gone. Exceptions from `on_output` propagate (the
  /// Child then kills its group when destroyed).
  [[nodiscard]] JobOutcome supervise(Child& child, const OutputHandler& on_output);

 private:
  SupervisorOptions options_;
  SignalFd signals_;
};

/// Stops every remaining child of this process, found in /proc (with the
/// subreaper flag these include setsid'd grandchildren of the job that left
/// its group): SIGTERM to each (and to its process group when it leads one),
/// then, `grace` later, SIGKILL to what is left; reaps them all and any
/// zombie. Children that other parts of smlaunch started (sshd) are stopped
/// too: call it last. Returns how many processes it signalled.
std::size_t stop_all_children(std::chrono::milliseconds grace = kTermGrace);

}  // namespace smlaunch::platform
