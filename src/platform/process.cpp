// Supervising the job: PID 1 done right.
//
// smlaunch is often PID 1 of the container. The kernel gives PID 1 no default
// signal actions (a SIGTERM without a handler is ignored) and makes it the
// parent of every orphan. So smlaunch must pass the platform's SIGTERM on to
// the job, escalate to SIGKILL when the job ignores it, reap every zombie
// (not only its own child), and leave no process behind.
//
// Signals are read, not handled. SIGTERM/SIGINT/SIGHUP/SIGCHLD are blocked
// and taken from a signalfd in the same poll() as the job's two pipes and its
// pidfd: no handler runs at an arbitrary point, there is no async-signal-
// safety puzzle and no self-pipe, and a signal that arrives between two polls
// stays pending and wakes the next one. The child starts with an empty mask
// and default actions, so our blocking does not leak into the job.
//
// The job leads its own process group, so one kill(-pgid) reaches mpirun and
// everything it started (a non-interactive shell keeps its children in its
// group). A terminal's Ctrl-C reaches only us, and we forward it once.
//
// Reaping. SIGCHLD does not queue (many exits can raise one signal), so every
// wakeup reaps with waitpid(-1, WNOHANG) until nothing is left. That loop
// races with "wait for the job's pid": whichever call reaps the job first gets
// its status, and a later waitpid(pid) sees only ECHILD. So there is exactly
// one reaping loop, and it files statuses by pid: the job's goes into its
// Child, others are counted. The pidfd only says "the job exited"; it never
// reaps. With PR_SET_CHILD_SUBREAPER, orphaned grandchildren re-parent to us
// even when we are not PID 1, so the same loop reaps them, and
// stop_all_children() finds the ones that left the group (setsid) by their
// PPid in /proc.
//
// The end of the job. The main process exiting is not the end of its output:
// a grandchild that inherited stdout (a backgrounded helper, a daemon) keeps
// the pipe open, and waiting for end of file would hang. So once the main
// process is reaped, the rest of its group gets SIGTERM (SIGKILL after the
// grace) and the pipes are read for at most kDrainGrace, then closed unread.
// The group id stays safe to signal after the leader is reaped: the kernel
// does not hand out a pid that is still some live process's group id.
#include "platform/process.hpp"
#include "platform/spawn_parts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

namespace smlaunch::platform {
namespace {

using spawn_parts::c_strings;
using spawn_parts::check_executable;
using spawn_parts::error_text;
using spawn_parts::move_above_stdio;
using spawn_parts::open_pidfd;
using spawn_parts::SpawnActions;
using spawn_parts::SpawnAttributes;


using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunkBytes = std::size_t{64} * 1024;
// The job's output pipes are made this large (best effort; Linux's default
// limit for anyone is 1 MiB), so the job can keep writing while we batch.
constexpr int kOutputPipeBytes = 1 << 20;
// Output batching. A job that prints steadily (mpirun forwards every line of
// every rank with its own write) would wake us once per line. When a wake-up
// drains a pipe holding less than a quarter of its capacity, we leave that
// pipe alone until, at the rate it filled since the last read, it would be
// half full: between kOutputBatchMin and kOutputBatchMax (about 50 ms at
// 10 MB/s; the most for a trickle). The next read takes a batch's worth in
// one go. A pipe that fills faster (at 1 MiB, past ~13 MB/s) is read without
// pause, so a writer is never held up by the batching.
// Output reaches our stdout at most kOutputBatchMax later; signals and the
// job's exit are never delayed.
constexpr std::chrono::milliseconds kOutputBatchMin{20};
constexpr std::chrono::milliseconds kOutputBatchMax{100};
// One wake-up reads at most this much from a pipe before it looks at signals
// and deadlines again.
constexpr std::size_t kMaxBytesPerWake = std::size_t{1} << 20;
// How long to leave a pipe that a wake-up just drained of `taken` bytes,
// `since` after the read before: until it would be half full again at that
// rate, within [kOutputBatchMin, kOutputBatchMax].
std::chrono::milliseconds batch_window(std::size_t taken, Clock::duration since, std::size_t capacity) {
  const double seconds = std::chrono::duration<double>(since).count();
  if (taken == 0 || seconds <= 0) return kOutputBatchMin;
  const double fill_ms =
      1000.0 * (static_cast<double>(capacity) / 2) / (static_cast<double>(taken) / seconds);
  const double bounded = std::clamp(fill_ms, static_cast<double>(kOutputBatchMin.count()),
                                    static_cast<double>(kOutputBatchMax.count()));
  return std::chrono::milliseconds(static_cast<long long>(bounded));
}

// Where execvp looks when the environment has no PATH (glibc's _CS_PATH).
constexpr std::string_view kDefaultPath = "/bin:/usr/bin";
// Once the main process has exited, members of its group that are not our
// children exit without telling us; we look whether the group is empty this
// often.
constexpr std::chrono::milliseconds kGroupPollInterval{20};
// Without a pidfd or a signalfd we cannot be woken by the job's exit; we look
// this often instead (and reap at least this often in any case).
constexpr std::chrono::milliseconds kReapPollInterval{50};
// stop_all_children: how often we look for processes newly re-parented to us
// (their exit wakes us through a pidfd; their arrival does not).
constexpr std::chrono::milliseconds kChildScanInterval{50};

/// Milliseconds from now to `deadline`, rounded up, as a poll() timeout.
int poll_timeout_ms(Clock::time_point now, Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

/// The value of PATH in `env` (the first entry wins, as with getenv), or
/// execvp's default when there is none.
std::string_view path_of(const std::vector<std::string>& env) {
  for (const std::string& entry : env) {
    if (entry.starts_with("PATH=")) return std::string_view(entry).substr(5);
  }
  return kDefaultPath;
}

/// The file to execute for `name`: `name` itself when it contains '/' (exec
/// resolves a relative one in the child's working directory, and reports a
/// missing file itself), else the first executable regular file `name` in
/// `path_env`, whose relative entries ("" is ".") count from `cwd` as they
/// would for execvp in the child. Otherwise the errno execvp would give.
std::variant<std::string, int> find_program(const std::string& name, std::string_view path_env,
                                            const std::string& cwd) {
  if (name.empty()) return ENOENT;
  if (name.find('/') != std::string::npos) return name;
  int error = ENOENT;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = path_env.find(':', start);
    std::string dir(
        path_env.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    // push_back, not = ".": GCC 12 -O3 warns -Wrestrict (a false positive) on the assignment.
    if (dir.empty()) dir.push_back('.');
    if (dir.front() != '/' && !cwd.empty()) dir = cwd + "/" + dir;
    std::string candidate = dir + "/" + name;
    const int err = check_executable(candidate);
    if (err == 0) return candidate;
    if (err == EACCES) error = EACCES;
    if (colon == std::string_view::npos) return error;
    start = colon + 1;
  }
}

/// A close-on-exec pipe for one of the child's output streams; our read end
/// is non-blocking. Returns 0 or errno.
int make_output_pipe(Fd& read_end, Fd& write_end) {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) return errno;
  read_end.reset(ends[0]);
  write_end.reset(ends[1]);
  if (const int err = move_above_stdio(read_end); err != 0) return err;
  if (const int err = move_above_stdio(write_end); err != 0) return err;
  const int flags = ::fcntl(read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) return errno;
  (void)::fcntl(read_end.get(), F_SETPIPE_SZ, kOutputPipeBytes);  // the default (64 KiB) works too
  return 0;
}

/// Reaps every child that has exited, without blocking. Returns the pids
/// with their wait statuses.
std::vector<std::pair<pid_t, int>> reap_exited() {
  std::vector<std::pair<pid_t, int>> reaped;
  while (true) {
    int status = 0;
    const pid_t got = ::waitpid(-1, &status, WNOHANG);
    if (got > 0) {
      reaped.emplace_back(got, status);
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else {
      return reaped;  // 0: children left, none exited; ECHILD: no children at all
    }
  }
}

/// One of our children, as /proc shows it.
struct ProcChild {
  pid_t pid = 0;
  pid_t pgrp = 0;
  char state = '?';
};

/// Fields of /proc/<pid>/stat after the command name (which may itself hold
/// spaces and parentheses, so we parse from the last ')').
std::optional<ProcChild> read_proc_stat(pid_t pid, pid_t& ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const std::size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  ProcChild child;
  long parent = 0;
  long pgrp = 0;
  rest >> child.state >> parent >> pgrp;
  if (!rest) return std::nullopt;
  child.pid = pid;
  child.pgrp = static_cast<pid_t>(pgrp);
  ppid = static_cast<pid_t>(parent);
  return child;
}

/// Every process whose parent is `parent`, from /proc (empty when /proc is
/// not mounted).
std::vector<ProcChild> children_of(pid_t parent) {
  std::vector<ProcChild> children;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return children;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(std::string(name)));
    pid_t ppid = 0;
    if (const std::optional<ProcChild> child = read_proc_stat(pid, ppid); child && ppid == parent) {
      children.push_back(*child);
    }
  }
  ::closedir(dir);
  return children;
}

}  // namespace

// ---- ProcessStatus, JobOutcome -------------------------------------------

ProcessStatus ProcessStatus::from_wait_status(int wait_status) noexcept {
  if (WIFEXITED(wait_status)) return exited_with(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return killed_by(WTERMSIG(wait_status));
  return {};
}

ProcessStatus ProcessStatus::exited_with(int code) noexcept {
  return {Kind::kExited, code};
}

ProcessStatus ProcessStatus::killed_by(int signal) noexcept {
  return {Kind::kSignaled, signal};
}

std::string ProcessStatus::describe() const {
  switch (kind_) {
    case Kind::kExited:
      return "exited with code " + std::to_string(value_);
    case Kind::kSignaled:
      return "killed by signal " + std::to_string(value_) + " (" + signal_name(value_) + ")";
    case Kind::kUnknown:
      break;
  }
  return "exit status unknown";
}

std::string JobOutcome::describe() const {
  if (!stopped_by_signal()) return job.describe();
  std::string text = "stopped by signal " + std::to_string(stop_signal) + " (" + signal_name(stop_signal) +
                     "); the job " + (job.signaled() ? "was " : "") + job.describe();
  if (killed_after_grace && job.term_signal() == SIGKILL) text += " after the grace period";
  return text;
}

// ---- Child -----------------------------------------------------------------

Child::Child(pid_t pid, Fd out, Fd err, Fd pidfd) noexcept
    : pid_(pid), out_(std::move(out)), err_(std::move(err)), pidfd_(std::move(pidfd)) {}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)),
      pidfd_(std::move(other.pidfd_)),
      reaped_(other.reaped_),
      status_(other.status_) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
    pidfd_ = std::move(other.pidfd_);
    reaped_ = other.reaped_;
    status_ = other.status_;
  }
  return *this;
}

Child::~Child() {
  kill_and_reap();
}

bool Child::signal_group(int signal) const noexcept {
  if (pid_ <= 0) return false;
  if (::kill(-pid_, signal) == 0 || errno == EPERM) return true;
  // The main process left its group (setpgid): it is still ours to signal
  // until reaped, and its pid cannot be reused before that.
  return running() && ::kill(pid_, signal) == 0;
}

void Child::kill_and_reap() noexcept {
  if (!running()) return;
  signal_group(SIGKILL);
  ::kill(pid_, SIGKILL);
  while (true) {
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, 0);
    if (got == pid_) {
      record_exit(status);
      return;
    }
    if (got < 0 && errno == EINTR) continue;
    record_lost();  // ECHILD: someone else reaped it
    return;
  }
}

void Child::record_exit(int wait_status) noexcept {
  reaped_ = true;
  status_ = ProcessStatus::from_wait_status(wait_status);
  pidfd_.reset();
}

void Child::record_lost() noexcept {
  reaped_ = true;
  status_ = ProcessStatus();
  pidfd_.reset();
}

// ---- spawn -----------------------------------------------------------------

std::variant<Child, SpawnError> spawn(const Command& command) {
  if (command.argv.empty()) return SpawnError{SpawnStep::kCommand, EINVAL, "empty command line"};
  const std::string& name = command.argv.front();

  // posix_spawn says ENOENT for a missing directory as for a missing
  // program; look first so that the message names the right one.
  if (!command.cwd.empty()) {
    struct stat info {};
    int err = 0;
    if (::stat(command.cwd.c_str(), &info) != 0) {
      err = errno;
    } else if (!S_ISDIR(info.st_mode)) {
      err = ENOTDIR;
    }
    if (err != 0) {
      return SpawnError{SpawnStep::kWorkingDirectory, err,
                        "working directory " + command.cwd + ": " + error_text(err)};
    }
  }

  std::variant<std::string, int> found = find_program(name, path_of(command.env), command.cwd);
  if (const int* err = std::get_if<int>(&found)) {
    return SpawnError{SpawnStep::kProgram, *err, name + ": " + error_text(*err)};
  }
  const std::string& program = std::get<std::string>(found);

  Fd out_read;
  Fd out_write;
  Fd err_read;
  Fd err_write;
  if (int err = make_output_pipe(out_read, out_write);
      err != 0 || (err = make_output_pipe(err_read, err_write)) != 0) {
    return SpawnError{SpawnStep::kSetup, err, "cannot create the output pipes: " + error_text(err)};
  }

  SpawnActions actions;
  actions.open(STDIN_FILENO, "/dev/null", O_RDONLY);
  actions.dup2(out_write.get(), STDOUT_FILENO);
  actions.dup2(err_write.get(), STDERR_FILENO);
  if (!command.cwd.empty()) actions.chdir(command.cwd.c_str());
  const SpawnAttributes attributes;
  if (const int err = actions.error() != 0 ? actions.error() : attributes.error(); err != 0) {
    return SpawnError{SpawnStep::kSetup, err, "cannot prepare the child: " + error_text(err)};
  }

  std::vector<char*> argv = c_strings(command.argv);
  std::vector<char*> envp = c_strings(command.env);
  pid_t pid = -1;
  // glibc runs the child with CLONE_VFORK semantics and returns the exec
  // error itself (ENOENT, EACCES, ENOEXEC), reaping the failed child.
  if (const int err =
          ::posix_spawn(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(), envp.data());
      err != 0) {
    return SpawnError{SpawnStep::kProgram, err, name + ": " + error_text(err)};
  }
  // The pid cannot be reused before we reap it, so the pidfd is for our child.
  Fd pidfd = open_pidfd(pid);
  // Only the child holds the write ends now: its exit (and its
  // descendants') brings end of file.
  out_write.reset();
  err_write.reset();
  return Child(pid, std::move(out_read), std::move(err_read), std::move(pidfd));
}

// ---- Supervisor ------------------------------------------------------------

Supervisor::Supervisor(SupervisorOptions options) : options_(options), signals_(SignalSet::supervised()) {}

std::variant<JobOutcome, SpawnError> Supervisor::run(const Command& command, const OutputHandler& on_output) {
  if (!signals_.valid()) {
    return SpawnError{SpawnStep::kSetup, signals_.error(),
                      "cannot watch signals: " + error_text(signals_.error())};
  }
  std::variant<Child, SpawnError> spawned = spawn(command);
  if (SpawnError* error = std::get_if<SpawnError>(&spawned)) return std::move(*error);
  return supervise(std::get<Child>(spawned), on_output);
}

JobOutcome Supervisor::supervise(Child& child, const OutputHandler& on_output) {
  JobOutcome outcome;
  std::array<Fd*, 2> pipes{&child.out_, &child.err_};  // indexed by OutputStream
  std::vector<char> buffer(kReadChunkBytes);
  // Per pipe: its capacity, and until when it is left to fill (batching).
  std::array<std::size_t, 2> capacity{};
  for (std::size_t i = 0; i < pipes.size(); ++i) {
    const int size = pipes[i]->valid() ? ::fcntl(pipes[i]->get(), F_GETPIPE_SZ) : -1;
    capacity[i] = size > 0 ? static_cast<std::size_t>(size) : kReadChunkBytes;
  }
  std::array<std::optional<Clock::time_point>, 2> resume_at;
  std::array<Clock::time_point, 2> read_at{Clock::now(), Clock::now()};  // each pipe's last read

  std::optional<Clock::time_point> kill_at;      // SIGKILL the group then
  std::optional<Clock::time_point> drain_until;  // stop reading the pipes then
  std::optional<Clock::time_point> give_up_at;   // stop waiting for a SIGKILLed group then
  bool group_gone = false;
  bool group_killed = false;
  const auto start_grace = [&](Clock::time_point now, std::chrono::milliseconds grace) {
    if (!kill_at || now + grace < *kill_at) kill_at = now + grace;
  };
  const auto any_pipe_open = [&] {
    return std::any_of(pipes.begin(), pipes.end(), [](const Fd* fd) { return fd->valid(); });
  };

  // Whether a child may have exited since we last reaped: set by SIGCHLD and
  // the job's pidfd; without them (or should a SIGCHLD go astray) we reap at
  // least every kReapPollInterval. Output wake-ups alone need no waitpid.
  bool reap_due = true;
  Clock::time_point reaped_at;

  while (true) {
    // 1. Reap. This is the only place that waits for children while we
    //    supervise, so the job's status cannot be taken from under us.
    const bool reap = reap_due || !child.pidfd_.valid() || !signals_.valid() ||
                      Clock::now() - reaped_at >= kReapPollInterval;
    if (reap) {
      reap_due = false;
      reaped_at = Clock::now();
    }
    if (reap && child.running()) {
      int status = 0;
      const pid_t got = ::waitpid(child.pid_, &status, WNOHANG);
      if (got == child.pid_) {
        child.record_exit(status);
      } else if (got < 0 && errno == ECHILD) {
        child.record_lost();  // reaped elsewhere (another thread): the status is gone
      }
    }
    for (const auto& [pid, status] : reap ? reap_exited() : std::vector<std::pair<pid_t, int>>{}) {
      if (pid == child.pid_) {
        child.record_exit(status);
      } else {
        ++outcome.others_reaped;
      }
    }

    // 2. Move the teardown along.
    Clock::time_point now = Clock::now();
    if (!child.running()) {
      if (!drain_until) {
        drain_until = now + options_.drain_grace;
        // What is left of the group (backgrounded helpers, a grandchild
        // holding the pipes) goes too.
        if (child.signal_group(SIGTERM)) {
          start_grace(now, options_.term_grace);
        } else {
          group_gone = true;
        }
      } else if (!group_gone) {
        group_gone = !child.signal_group(0);
      }
    }
    if (!group_gone && !group_killed && kill_at && now >= *kill_at) {
      child.signal_group(SIGKILL);
      group_killed = true;
      outcome.killed_after_grace = true;
      give_up_at = now + kKillWait;
    }
    if (drain_until && now >= *drain_until) {
      for (Fd* fd : pipes) {
        if (fd->valid()) outcome.output_cut_short = true;
        fd->reset();
      }
    }
    if (!child.running() && !group_gone && give_up_at && now >= *give_up_at) {
      group_gone = true;
      outcome.group_left_running = true;
    }
    if (!child.running() && group_gone && !any_pipe_open()) break;

    // 3. Wait for the next event or deadline.
    std::optional<Clock::time_point> wake;
    const auto wake_by = [&wake](Clock::time_point t) {
      if (!wake || t < *wake) wake = t;
    };
    if (kill_at && !group_killed && !group_gone) wake_by(*kill_at);
    if (drain_until && any_pipe_open()) wake_by(*drain_until);
    if (give_up_at && !group_gone) wake_by(*give_up_at);
    if (!child.running() && !group_gone) wake_by(now + kGroupPollInterval);
    if (child.running() && (!child.pidfd_.valid() || !signals_.valid())) wake_by(now + kReapPollInterval);

    enum class Source { kSignals, kExit, kStdout, kStderr, kAbort };
    std::array<pollfd, 5> fds{};
    std::array<Source, 5> sources{};
    nfds_t count = 0;
    if (options_.abort_fd >= 0 && !outcome.aborted && !group_gone) {
      sources[count] = Source::kAbort;
      fds[count++] = pollfd{options_.abort_fd, POLLIN, 0};
    }
    if (signals_.valid()) {
      sources[count] = Source::kSignals;
      fds[count++] = pollfd{signals_.fd(), POLLIN, 0};
    }
    if (child.running() && child.pidfd_.valid()) {
      sources[count] = Source::kExit;
      fds[count++] = pollfd{child.pidfd_.get(), POLLIN, 0};
    }
    for (const Source source : {Source::kStdout, Source::kStderr}) {
      const std::size_t index = source == Source::kStdout ? 0 : 1;
      if (!pipes[index]->valid()) continue;
      if (resume_at[index] && now < *resume_at[index]) {
        wake_by(*resume_at[index]);  // filling up: read it then
        continue;
      }
      sources[count] = source;
      fds[count++] = pollfd{pipes[index]->get(), POLLIN, 0};
    }
    const int timeout = wake ? poll_timeout_ms(now, *wake) : -1;
    const int ready = ::poll(fds.data(), count, timeout);
    if (ready < 0) {
      // EINTR: go round. Anything else (ENOMEM) is transient: the deadlines
      // keep the loop bounded either way.
      reap_due = true;
      continue;
    }
    now = Clock::now();

    // 4. Handle what is ready. (Exits are picked up by the reaping above.)
    for (nfds_t i = 0; i < count; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) == 0) continue;
      switch (sources[i]) {
        case Source::kSignals:
          reap_due = true;  // SIGCHLD among them, perhaps
          for (const ReceivedSignal& received : signals_.take_pending()) {
            if (!is_stop_signal(received.number)) continue;  // SIGCHLD: reaped above
            // Only a stop that finds the job running stopped it; a later one
            // still reaches what is left of the group.
            if (child.running() && outcome.stop_signal == 0) outcome.stop_signal = received.number;
            if (!group_gone) {
              child.signal_group(received.number);
              start_grace(now, options_.term_grace);
            }
          }
          break;
        case Source::kExit:
          reap_due = true;
          break;
        case Source::kAbort:
          outcome.aborted = true;
          if (child.signal_group(SIGTERM)) start_grace(now, options_.abort_grace);
          break;
        case Source::kStdout:
        case Source::kStderr: {
          const bool is_out = sources[i] == Source::kStdout;
          const std::size_t index = is_out ? 0 : 1;
          Fd& fd = *pipes[index];
          // Read what is there (up to kMaxBytesPerWake), then decide whether
          // to let the pipe fill before the next read.
          std::size_t taken = 0;
          while (fd.valid() && taken < kMaxBytesPerWake) {
            const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
            if (got > 0) {
              taken += static_cast<std::size_t>(got);
              if (on_output) {
                on_output(is_out ? OutputStream::kStdout : OutputStream::kStderr,
                          std::string_view(buffer.data(), static_cast<std::size_t>(got)));
              }
              if (static_cast<std::size_t>(got) < buffer.size()) break;  // drained
            } else if (got < 0 && errno == EINTR) {
              continue;
            } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
              fd.reset();  // end of file (or a read error: nothing more will come)
            } else {
              break;  // EAGAIN: drained
            }
          }
          resume_at[index].reset();
          if (fd.valid() && taken > 0 && taken < capacity[index] / 4 && child.running()) {
            resume_at[index] = now + batch_window(taken, now - read_at[index], capacity[index]);
          }
          read_at[index] = now;
          break;
        }
      }
    }
  }

  outcome.job = child.status();
  return outcome;
}

// ---- stop_all_children ------------------------------------------------------

std::size_t stop_all_children(std::chrono::milliseconds grace) {
  const pid_t self = ::getpid();
  std::set<pid_t> signalled;
  std::set<pid_t> killed;
  int signal = SIGTERM;
  Clock::time_point deadline = Clock::now() + grace;
  while (true) {
    (void)reap_exited();
    std::vector<ProcChild> children = children_of(self);
    std::erase_if(children, [](const ProcChild& c) { return c.state == 'Z' || c.state == 'X'; });
    if (children.empty()) break;

    // Our unreaped children: their pids cannot be reused under us. A child
    // that leads a group (setsid) takes its group with it.
    std::set<pid_t>& this_round = signal == SIGTERM ? signalled : killed;
    for (const ProcChild& c : children) {
      if (!this_round.insert(c.pid).second) continue;
      signalled.insert(c.pid);
      if (c.pgrp == c.pid) ::kill(-c.pid, signal);
      ::kill(c.pid, signal);
    }

    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      if (signal == SIGKILL) break;  // gave up: uninterruptible, or not ours to kill
      signal = SIGKILL;
      deadline = now + kKillWait;
      continue;
    }
    // Sleep until one of them exits, the deadline, or the next look for
    // newly re-parented processes.
    std::vector<Fd> pidfds;
    std::vector<pollfd> fds;
    for (const ProcChild& c : children) {
      Fd fd = open_pidfd(c.pid);
      if (!fd.valid()) continue;
      fds.push_back(pollfd{fd.get(), POLLIN, 0});
      pidfds.push_back(std::move(fd));
    }
    const int timeout =
        std::min(poll_timeout_ms(now, deadline), static_cast<int>(kChildScanInterval.count()));
    ::poll(fds.data(), fds.size(), timeout);
  }
  (void)reap_exited();
  return signalled.size();
}

}  // namespace smlaunch::platform
