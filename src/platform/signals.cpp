// Signal masks, a signalfd, the subreaper flag. See signals.hpp for why the
// signals must be blocked in every thread, and process.cpp for how the
// supervisor uses them.
#include "platform/signals.hpp"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smlaunch::platform {

SignalSet::SignalSet(std::initializer_list<int> signals) noexcept : SignalSet() {
  for (const int signal : signals) add(signal);
}

SignalSet SignalSet::supervised() noexcept {
  return SignalSet{SIGTERM, SIGINT, SIGHUP, SIGCHLD};
}

SignalSet& SignalSet::add(int signal) noexcept {
  ::sigaddset(&set_, signal);
  return *this;
}

bool SignalSet::contains(int signal) const noexcept {
  return ::sigismember(&set_, signal) == 1;
}

bool is_stop_signal(int signal) noexcept {
  return signal == SIGTERM || signal == SIGINT || signal == SIGHUP;
}

BlockedSignals::BlockedSignals(const SignalSet& signals) noexcept {
  error_ = ::pthread_sigmask(SIG_BLOCK, &signals.native(), &previous_);
}

BlockedSignals::~BlockedSignals() {
  if (error_ == 0) ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

UnignoredSignal::UnignoredSignal(int signal) noexcept : signal_(signal) {
  struct sigaction current {};
  if (::sigaction(signal_, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_IGN) return;
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  ::sigemptyset(&fallback.sa_mask);
  changed_ = ::sigaction(signal_, &fallback, nullptr) == 0;
}

UnignoredSignal::~UnignoredSignal() {
  if (!changed_) return;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigemptyset(&ignore.sa_mask);
  ::sigaction(signal_, &ignore, nullptr);
}

SignalFd::SignalFd(const SignalSet& signals) : blocked_(signals), sigchld_(SIGCHLD) {
  if (blocked_.error() != 0) {
    error_ = blocked_.error();
    return;
  }
  const int fd = ::signalfd(-1, &signals.native(), SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    error_ = errno;
    return;
  }
  fd_.reset(fd);
}

std::vector<ReceivedSignal> SignalFd::take_pending() {
  std::vector<ReceivedSignal> taken;
  if (!fd_.valid()) return taken;
  while (true) {
    signalfd_siginfo info{};
    const ssize_t got = ::read(fd_.get(), &info, sizeof info);
    if (got == static_cast<ssize_t>(sizeof info)) {
      taken.push_back(ReceivedSignal{static_cast<int>(info.ssi_signo), static_cast<pid_t>(info.ssi_pid)});
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    break;  // EAGAIN: nothing (more) pending
  }
  return taken;
}

bool become_child_subreaper() noexcept {
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) == 0;
}

bool is_child_subreaper() noexcept {
  int flag = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &flag, 0UL, 0UL, 0UL) == 0 && flag != 0;
}

std::string signal_name(int signal) {
  if (const char* abbreviation = ::sigabbrev_np(signal); abbreviation != nullptr) {
    return std::string("SIG") + abbreviation;
  }
  return "signal " + std::to_string(signal);
}

}  // namespace smlaunch::platform
