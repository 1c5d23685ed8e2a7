// Signals for the supervisor: a set of signal numbers, a scoped blocked mask,
// a signalfd that turns SIGTERM/SIGINT/SIGHUP/SIGCHLD into readable events,
// the child-subreaper flag, and signal names for messages.
//
// Blocking is per thread, delivery of a process-directed signal (kill(pid))
// goes to any thread that does not block it. So a process that wants its
// signals through a signalfd must block them in every thread: block them in
// main() before any thread is started (threads inherit the mask). A thread
// started earlier with the signals unblocked would take a SIGTERM with the
// default action and end the process.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "platform/fd.hpp"

namespace smlaunch::platform {

/// A set of signal numbers (a sigset_t with value semantics).
class SignalSet {
 public:
  SignalSet() noexcept { ::sigemptyset(&set_); }
  SignalSet(std::initializer_list<int> signals) noexcept;
  /// The signals a supervisor takes through its signalfd: SIGTERM, SIGINT,
  /// SIGHUP (the stop requests) and SIGCHLD.
  [[nodiscard]] static SignalSet supervised() noexcept;

  /// Adds `signal`; returns *this.
  SignalSet& add(int signal) noexcept;
  [[nodiscard]] bool contains(int signal) const noexcept;
  [[nodiscard]] const sigset_t& native() const noexcept { return set_; }

 private:
  sigset_t set_{};
};

/// True for the signals that ask smlaunch to stop: SIGTERM, SIGINT, SIGHUP.
[[nodiscard]] bool is_stop_signal(int signal) noexcept;

/// Blocks a set of signals in the calling thread for one scope, then puts the
/// thread's previous mask back. A signal that arrives while blocked stays
/// pending and is delivered when the old mask returns (unless it was taken
/// with a signalfd or sigtimedwait first). Neither copyable nor movable: a
/// mask belongs to a thread.
class BlockedSignals {
 public:
  explicit BlockedSignals(const SignalSet& signals) noexcept;
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  ~BlockedSignals();

  /// 0, or the error of pthread_sigmask (then nothing was changed).
  [[nodiscard]] int error() const noexcept { return error_; }

 private:
  sigset_t previous_{};
  int error_ = 0;
};

/// For one scope, `signal` has its default action if it was ignored; the
/// ignoring comes back afterwards. Used for SIGCHLD: a parent that exec'd us
/// with SIGCHLD ignored would otherwise make the kernel reap our children
/// itself, and their exit statuses would be lost. Process-wide, like every
/// disposition.
class UnignoredSignal {
 public:
  explicit UnignoredSignal(int signal) noexcept;
  UnignoredSignal(const UnignoredSignal&) = delete;
  UnignoredSignal& operator=(const UnignoredSignal&) = delete;
  ~UnignoredSignal();

 private:
  int signal_;
  bool changed_ = false;
};

/// One signal taken from a SignalFd.
struct ReceivedSignal {
  int number = 0;
  pid_t sender = 0;  // who sent it (0 for the kernel, e.g. SIGCHLD from a child is the child)
};

/// A signalfd for a set of signals: blocks them in the calling thread (they
/// must be blocked to be read rather than acted on), lifts an inherited
/// SIG_IGN from SIGCHLD, and is readable whenever one of them is pending.
/// Non-blocking and close-on-exec. Use it in the thread that created it.
class SignalFd {
 public:
  explicit SignalFd(const SignalSet& signals = SignalSet::supervised());
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  ~SignalFd() = default;

  /// True when the descriptor exists; else error() says why.
  [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }
  [[nodiscard]] int error() const noexcept { return error_; }
  /// The descriptor, to poll for POLLIN (-1 when !valid()).
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

  /// Every signal of the set pending now, in the order the kernel hands them
  /// out (consumed: they will not be delivered later). Never blocks; empty
  /// when none is pending or the descriptor is missing.
  [[nodiscard]] std::vector<ReceivedSignal> take_pending();

 private:
  BlockedSignals blocked_;
  UnignoredSignal sigchld_;
  Fd fd_;
  int error_ = 0;
};

/// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER):
/// orphaned descendants are re-parented to us instead of to init, so we can
/// reap and, at the end, stop them. Process-wide and permanent for the
/// process; calling it again is harmless. Returns false when the kernel
/// refuses (then orphans go to init as usual).
[[nodiscard]] bool become_child_subreaper() noexcept;

/// Whether this process is a child subreaper now.
[[nodiscard]] bool is_child_subreaper() noexcept;

/// "SIGTERM" for 15; "signal 77" for a number without a name.
[[nodiscard]] std::string signal_name(int signal);

}  // namespace smlaunch::platform
