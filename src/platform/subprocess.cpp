// run_capture: posix_spawn with an argv vector (never a shell). glibc's
// posix_spawn runs the child with CLONE_VFORK semantics and returns the exec
// error itself (ENOENT, EACCES, ...), so "could not start" needs no error pipe.
// The child gets stdin from /dev/null, our two pipes as stdout/stderr, its own
// process group (so a timeout can kill its whole tree) and default signal
// dispositions. The parent multiplexes both pipes and a pidfd for the child
// with poll(), so neither pipe can fill up and block the child while we wait
// on the other; output past the cap is read and dropped. The deadline is on
// the steady clock. Every descriptor we open is close-on-exec (pipe2,
// F_DUPFD_CLOEXEC, pidfd_open) and owned by an Fd; the child is owned by a
// Child that kills and reaps it if we leave early.
#include "platform/subprocess.hpp"
#include "platform/spawn_parts.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "platform/fd.hpp"

namespace smlaunch::platform {
namespace {

using spawn_parts::check_executable;
using spawn_parts::error_text;
using spawn_parts::move_above_stdio;
using spawn_parts::open_pidfd;
using spawn_parts::SpawnActions;
using spawn_parts::SpawnAttributes;


using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunkBytes = std::size_t{64} * 1024;
// Without pidfd_open (kernels before 5.3, or a seccomp filter refusing it) we
// cannot poll for the child's exit, so we look at it this often instead.
constexpr std::chrono::milliseconds kReapPollInterval{5};
// Longer timeouts are clamped so that now() + timeout cannot overflow.
constexpr std::chrono::milliseconds kLongestTimeout = std::chrono::hours(24 * 365 * 10);

/// The directory `dir` of a PATH entry made absolute against the working
/// directory ("" and "." are the working directory itself); returned
/// unchanged when it already is absolute, or when the cwd is unknown.
std::string absolute_dir(std::string_view dir) {
  if (dir.starts_with('/')) return std::string(dir);
  std::error_code ec;
  const std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) return std::string(dir.empty() ? std::string_view(".") : dir);
  std::string result = cwd.string();
  while (dir.starts_with("./")) dir.remove_prefix(2);
  if (!dir.empty() && dir != ".") {
    if (result.empty() || result.back() != '/') result += '/';
    result += dir;
  }
  return result;
}

struct Lookup {
  std::optional<std::string> path;
  int error = ENOENT;  // when !path: ENOENT, or EACCES when a candidate was not executable
};

/// Searches `name` the way execvp/`command -v` do: as given when it contains
/// '/', else in each entry of `path_env` (an empty entry is "."). Returns the
/// first executable regular file, or the errno execvp would report.
Lookup search_path(std::string_view name, std::string_view path_env) {
  Lookup lookup;
  if (name.empty()) return lookup;
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    if (const int err = check_executable(path); err != 0) {
      lookup.error = err;
    } else {
      lookup.path = std::move(path);
    }
    return lookup;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = path_env.find(':', start);
    const std::string_view dir =
        path_env.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    std::string candidate(dir.empty() ? std::string_view(".") : dir);
    if (candidate.back() != '/') candidate += '/';
    candidate += name;
    const int err = check_executable(candidate);
    if (err == 0) {
      std::string found = absolute_dir(dir);
      if (found.back() != '/') found += '/';
      lookup.path = found + std::string(name);
      return lookup;
    }
    if (err == EACCES) lookup.error = EACCES;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return lookup;
}

struct Pipe {
  Fd read_end;   // ours; non-blocking
  Fd write_end;  // the child's stdout or stderr; blocking as usual
};

/// Creates a close-on-exec pipe for one output stream. Returns 0 or errno.
int make_output_pipe(Pipe& pipe) {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) return errno;
  pipe.read_end.reset(ends[0]);
  pipe.write_end.reset(ends[1]);
  if (const int err = move_above_stdio(pipe.read_end); err != 0) return err;
  if (const int err = move_above_stdio(pipe.write_end); err != 0) return err;
  const int flags = ::fcntl(pipe.read_end.get(), F_GETFL);
  if (flags < 0 || ::fcntl(pipe.read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) return errno;
  return 0;
}

/// A started child that leads its own process group. If it is still unreaped
/// when this object goes away (an early return, an exception), the whole
/// group is SIGKILLed and the child reaped: no stray process, no zombie.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped_) {
      kill_group();
      wait();
    }
  }

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool reaped() const { return reaped_; }
  /// The wait status once reaped; nullopt when unknown (someone else reaped it).
  [[nodiscard]] std::optional<int> status() const { return status_; }

  /// Reaps the child if it has exited. Returns whether it is reaped now.
  bool try_reap() { return reap(WNOHANG); }
  /// Blocks until the child has exited and reaps it.
  void wait() { reap(0); }
  /// SIGKILLs the child's process group (the child and what it started).
  void kill_group() const {
    if (!reaped_) ::kill(-pid_, SIGKILL);
  }

 private:
  bool reap(int options) {
    while (!reaped_) {
      int raw = 0;
      const pid_t got = ::waitpid(pid_, &raw, options);
      if (got == pid_) {
        status_ = raw;
        reaped_ = true;
      } else if (got == 0) {
        return false;  // still running (WNOHANG)
      } else if (errno != EINTR) {
        reaped_ = true;  // ECHILD: reaped elsewhere (e.g. SIGCHLD ignored); status unknown
      }
    }
    return true;
  }

  pid_t pid_;
  bool reaped_ = false;
  std::optional<int> status_;
};

/// One of the child's output pipes and where its bytes go.
struct Stream {
  Fd fd;
  std::string* sink = nullptr;
};

/// Reads once from `stream`: appends up to `cap` bytes in total to its sink and
/// drops the rest; closes it at end of file or on a read error.
void read_once(Stream& stream, std::size_t cap, std::vector<char>& buffer) {
  const ssize_t got = ::read(stream.fd.get(), buffer.data(), buffer.size());
  if (got > 0) {
    const std::size_t size = static_cast<std::size_t>(got);
    const std::size_t room = cap - std::min(cap, stream.sink->size());
    stream.sink->append(buffer.data(), std::min(room, size));
  } else if (got == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
    stream.fd.reset();
  }
}

/// Milliseconds from `now` to `deadline`, rounded up, as a poll() timeout.
int poll_timeout_ms(Clock::time_point now, Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

}  // namespace

// Returns what the program printed and how it ended. Failures are values:
// started=false with start_error when it could not be executed (or the pipes
// could not be made), timed_out (with term_signal SIGKILL) when the deadline
// passed. Returns once the child has exited and its pipes are drained; output
// a grandchild writes after that is not waited for.
CaptureResult run_capture(const std::vector<std::string>& argv, std::string_view path_env,
                          std::chrono::milliseconds timeout, std::size_t max_output_bytes) {
  CaptureResult result;
  const Clock::time_point deadline =
      Clock::now() + std::clamp(timeout, std::chrono::milliseconds{0}, kLongestTimeout);
  if (argv.empty()) {
    result.start_error = error_text(EINVAL) + " (empty command line)";
    return result;
  }

  std::string program = argv.front();
  if (program.find('/') == std::string::npos) {
    Lookup lookup = search_path(program, path_env);
    if (!lookup.path) {
      result.start_error = error_text(lookup.error);
      return result;
    }
    program = std::move(*lookup.path);
  }

  Pipe out_pipe;
  Pipe err_pipe;
  if (int err = make_output_pipe(out_pipe); err != 0 || (err = make_output_pipe(err_pipe)) != 0) {
    result.start_error = error_text(err);
    return result;
  }

  SpawnActions actions;
  actions.dup2(out_pipe.write_end.get(), STDOUT_FILENO);
  actions.dup2(err_pipe.write_end.get(), STDERR_FILENO);
  actions.open(STDIN_FILENO, "/dev/null", O_RDONLY);
  const SpawnAttributes attributes;
  if (const int err = actions.error() != 0 ? actions.error() : attributes.error(); err != 0) {
    result.start_error = error_text(err);
    return result;
  }

  std::vector<char*> child_argv;
  child_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);

  pid_t pid = -1;
  if (const int err =
          ::posix_spawn(&pid, program.c_str(), actions.get(), attributes.get(), child_argv.data(), environ);
      err != 0) {
    result.start_error = error_text(err);
    return result;
  }
  Child child(pid);
  result.started = true;
  // Only the child may hold the write ends now, so its exit brings end of file.
  out_pipe.write_end.reset();
  err_pipe.write_end.reset();

  std::array<Stream, 2> streams{Stream{std::move(out_pipe.read_end), &result.out},
                                Stream{std::move(err_pipe.read_end), &result.err}};
  const Fd pidfd = open_pidfd(pid);
  std::vector<char> buffer(kReadChunkBytes);

  while (true) {
    child.try_reap();
    const bool any_open =
        std::any_of(streams.begin(), streams.end(), [](const Stream& s) { return s.fd.valid(); });
    if (child.reaped() && !any_open) break;

    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      if (!child.reaped()) {
        child.kill_group();
        child.wait();
        result.timed_out = true;
      }
      break;  // (if it had exited, a grandchild is still writing: stop reading)
    }

    std::array<pollfd, 3> fds{};
    std::array<Stream*, 3> owners{};
    nfds_t count = 0;
    for (Stream& stream : streams) {
      if (!stream.fd.valid()) continue;
      owners[count] = &stream;
      fds[count++] = pollfd{stream.fd.get(), POLLIN, 0};
    }
    int wait_ms = 0;  // once it has exited, only take what is already in the pipes
    if (!child.reaped()) {
      wait_ms = poll_timeout_ms(now, deadline);
      if (pidfd.valid()) {
        fds[count++] = pollfd{pidfd.get(), POLLIN, 0};
      } else {
        wait_ms = std::min(wait_ms, static_cast<int>(kReapPollInterval.count()));
      }
    }

    const int ready = ::poll(fds.data(), count, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;  // cannot wait any more (ENOMEM): the child is killed below
    }
    if (ready == 0 && child.reaped()) {
      for (Stream& stream : streams) stream.fd.reset();  // drained; a grandchild may hold them
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (owners[i] != nullptr && (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
        read_once(*owners[i], max_output_bytes, buffer);
      }
    }
  }

  if (!child.reaped()) {  // poll() failed: give up on the child
    child.kill_group();
    child.wait();
  }
  if (const std::optional<int> status = child.status()) {
    if (WIFEXITED(*status)) {
      result.exit_code = WEXITSTATUS(*status);
    } else if (WIFSIGNALED(*status)) {
      result.term_signal = WTERMSIG(*status);
    }
  }
  return result;
}

// Returns the path of the first executable regular file called `name` in
// `path_env` (absolute when found through a relative or empty entry), `name`
// itself when it contains '/' and is executable, or nullopt.
std::optional<std::string> find_executable(std::string_view name, std::string_view path_env) {
  return search_path(name, path_env).path;
}

}  // namespace smlaunch::platform
