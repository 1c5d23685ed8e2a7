// Starting our own sshd and knowing when it is ready.
//
// sshd runs in the foreground (-D) as our child, logging to stderr (-e),
// which goes to a log file we read back when it dies. It is started with
// posix_spawn (smlaunch may already run threads: SSH probes, name lookups;
// fork() in a threaded process may only call async-signal-safe functions),
// with stdin from /dev/null, in its own process group, with an empty signal
// mask and default signal actions (spawn_parts::SpawnAttributes), so our
// blocked signals do not leak into it.
//
// Ready means "answers with its SSH version banner on 127.0.0.1:PORT"
// (ssh::banner), not "the port accepts TCP": sshd binds before it can answer.
// No key exchange: that would load libssh and the crypto library into every
// worker for one check (the leader's session to each worker does the full
// handshake and login, and says so when they fail). We probe with a short
// backoff (10 ms doubling to 200 ms) and between probes look whether sshd
// has exited (waitpid WNOHANG): a
// bad option, a missing host key or a port in use ends it within
// milliseconds, and its last log lines say why. A banner can also come
// against someone else's server on the same port while ours dies of "Address
// already in use"; we look at our child once more after a success for that.
//
// Stopping: SIGTERM, up to kStopGrace for it to exit, then SIGKILL, and reap.
// The job Supervisor reaps every child with waitpid(-1) while it runs, so
// ECHILD means "already reaped elsewhere", not an error; we then never signal
// the pid again (it may have been reused).
#include "ssh/sshd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "platform/fd.hpp"
#include "platform/process.hpp"
#include "platform/spawn_parts.hpp"
#include "platform/subprocess.hpp"
#include "ssh/client.hpp"
#include "ssh/text.hpp"

namespace smlaunch::ssh {
namespace {

using Clock = std::chrono::steady_clock;
using platform::Fd;
using platform::ProcessStatus;
using platform::spawn_parts::error_text;
using std::chrono::milliseconds;
using text::duration_text;
using text::one_line;

constexpr std::string_view kFallbackSshd = "/usr/sbin/sshd";
constexpr std::string_view kFallbackKeygen = "/usr/bin/ssh-keygen";
/// sshd's privilege separation directory; it refuses to start without it.
constexpr std::string_view kPrivsepDir = "/run/sshd";
constexpr std::string_view kSystemKeyDir = "/etc/ssh";
constexpr std::string_view kLocalAddress = "127.0.0.1";
constexpr mode_t kDirectoryMode = 0755;
constexpr mode_t kLogFileMode = 0600;
/// `ssh-keygen -A` makes an RSA key too: seconds on a slow machine.
constexpr milliseconds kKeygenTimeout{60'000};
constexpr std::size_t kKeygenOutputBytes = std::size_t{16} * 1024;
constexpr milliseconds kFirstProbeDelay{10};
constexpr milliseconds kMaxProbeDelay{200};
/// One readiness probe; a local sshd answers in milliseconds.
constexpr milliseconds kProbeTimeout{1'000};
constexpr milliseconds kStopGrace{2'000};
constexpr milliseconds kStopPollInterval{10};
/// How much of the end of sshd's log an error quotes.
constexpr std::size_t kLogTailBytes = 2048;

/// Creates `dir` and its missing parents with mode 0755. Returns 0 or errno.
int make_directories(const std::filesystem::path& dir) {
  if (dir.empty()) return 0;
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), kDirectoryMode) != 0 && errno != EEXIST) return errno;
  }
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) return errno;
  return S_ISDIR(info.st_mode) ? 0 : ENOTDIR;
}

/// Reaps `pid` if it has exited: how it ended (unknown when someone else
/// reaped it), or nullopt while it runs.
std::optional<ProcessStatus> try_reap(pid_t pid) noexcept {
  while (true) {
    int raw = 0;
    const pid_t got = ::waitpid(pid, &raw, WNOHANG);
    if (got == pid) return ProcessStatus::from_wait_status(raw);
    if (got == 0) return std::nullopt;
    if (errno != EINTR) return ProcessStatus{};  // ECHILD: reaped elsewhere
  }
}

/// The last kLogTailBytes of `path` on one line (from a line start), or "".
std::string log_tail(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || info.st_size <= 0) return "";
  const auto size = static_cast<std::size_t>(info.st_size);
  const std::size_t offset = size > kLogTailBytes ? size - kLogTailBytes : 0;
  std::string text(size - offset, '\0');
  const ssize_t got = ::pread(fd.get(), text.data(), text.size(), static_cast<off_t>(offset));
  if (got <= 0) return "";
  text.resize(static_cast<std::size_t>(got));
  if (offset > 0) {  // drop the partial first line
    const std::size_t newline = text.find('\n');
    text.erase(0, newline == std::string::npos ? 0 : newline + 1);
  }
  return one_line(text);
}

/// True when /etc/ssh holds at least one ssh_host_*_key.
bool system_host_key_exists() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kSystemKeyDir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("ssh_host_") && name.ends_with("_key")) return true;
  }
  return false;
}

/// Runs ssh-keygen with `args`; an error naming the command when it fails.
std::optional<SshdError> run_keygen(const std::string& keygen, const std::vector<std::string>& args,
                                    const SshdOptions& options) {
  std::vector<std::string> argv{keygen};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string shown = "ssh-keygen";
  for (const std::string& arg : args) shown += " " + (arg.empty() ? std::string("''") : arg);
  const platform::CaptureResult run =
      platform::run_capture(argv, options.path_env, kKeygenTimeout, kKeygenOutputBytes);
  if (run.ok()) return std::nullopt;
  std::string why;
  if (!run.started) {
    why = run.start_error;
  } else if (run.timed_out) {
    why = "did not finish within " + duration_text(kKeygenTimeout);
  } else if (run.term_signal != 0) {
    why = fmt::format("killed by signal {}", run.term_signal);
  } else {
    why = fmt::format("exited with code {}", run.exit_code);
  }
  if (const std::string said = one_line(run.err + run.out); !said.empty()) why += ": " + said;
  return SshdError{fmt::format("cannot make host keys: `{}` {}", shown, why)};
}

/// Makes the host keys sshd will need; appends `-h FILE` for explicit ones.
std::optional<SshdError> prepare_host_keys(const SshdOptions& options, std::vector<std::string>& args) {
  const bool need_system_keys = options.host_key_files.empty() && !system_host_key_exists();
  const bool need_files = std::any_of(options.host_key_files.begin(), options.host_key_files.end(),
                                      [](const std::string& f) { return ::access(f.c_str(), F_OK) != 0; });
  std::string keygen;
  if (need_system_keys || need_files) {
    auto found = platform::find_executable("ssh-keygen", options.path_env);
    if (!found) found = platform::find_executable(kFallbackKeygen, "");
    if (!found) {
      return SshdError{fmt::format("cannot make host keys: ssh-keygen not found on PATH={} nor at {}",
                                   options.path_env, kFallbackKeygen)};
    }
    keygen = *found;
  }
  if (need_system_keys) {
    if (auto error = run_keygen(keygen, {"-A"}, options)) return error;
  }
  for (const std::string& file : options.host_key_files) {
    const std::string path = std::filesystem::absolute(file).string();
    if (::access(path.c_str(), F_OK) != 0) {
      if (const int err = make_directories(std::filesystem::path(path).parent_path()); err != 0) {
        return SshdError{fmt::format("cannot make host key {}: {}", path, error_text(err))};
      }
      if (auto error = run_keygen(keygen, {"-q", "-t", "ed25519", "-N", "", "-f", path}, options))
        return error;
    }
    args.emplace_back("-h");
    args.push_back(path);
  }
  return std::nullopt;
}

/// The log file, truncated, mode 0600, in a directory made 0755 if missing;
/// above stdio and close-on-exec. Or an error.
std::variant<Fd, SshdError> open_log(const std::string& log_file) {
  const std::filesystem::path path(log_file);
  if (const int err = make_directories(path.parent_path()); err != 0) {
    return SshdError{fmt::format("cannot create the directory of {}: {}", log_file, error_text(err))};
  }
  Fd fd(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, kLogFileMode));
  if (!fd || ::fchmod(fd.get(), kLogFileMode) != 0) {
    return SshdError{fmt::format("cannot open {}: {}", log_file, error_text(errno))};
  }
  if (const int err = platform::spawn_parts::move_above_stdio(fd); err != 0) {
    return SshdError{fmt::format("cannot open {}: {}", log_file, error_text(err))};
  }
  return fd;
}

/// "sshd exited with code 255 before ...: <its log>".
std::string died_message(const ProcessStatus& status, std::string_view when, const std::string& log_file) {
  std::string message = "sshd ";
  message += status.known() ? status.describe() : "exited";
  message += " ";
  message += when;
  const std::string tail = log_tail(log_file);
  message += tail.empty() ? fmt::format(" (nothing in {})", log_file) : ": " + tail;
  return message;
}

}  // namespace

std::optional<std::string> find_sshd(const SshdOptions& options) {
  if (!options.program.empty()) {
    auto found = platform::find_executable(options.program, options.path_env);
    if (found && !found->starts_with('/')) found = std::filesystem::absolute(*found).string();
    return found;  // sshd re-executes itself: it needs an absolute path
  }
  if (auto found = platform::find_executable("sshd", options.path_env)) return found;
  return platform::find_executable(kFallbackSshd, "");
}

std::variant<Sshd, SshdError> Sshd::start(const SshdOptions& options) {
  const auto deadline = Clock::now() + options.ready_deadline;

  const std::optional<std::string> program = find_sshd(options);
  if (!program) {
    if (!options.program.empty()) {
      return SshdError{fmt::format("{}: not an executable file", options.program)};
    }
    return SshdError{fmt::format("sshd not found on PATH={} nor at {} (is openssh-server installed?)",
                                 options.path_env, kFallbackSshd)};
  }

  std::vector<std::string> argv{*program,
                                "-D",
                                "-e",
                                "-p",
                                std::to_string(options.port),
                                "-o",
                                "PasswordAuthentication=no",
                                "-o",
                                "KbdInteractiveAuthentication=no"};
  if (auto error = prepare_host_keys(options, argv)) return *error;
  for (const std::string& option : options.extra_options) {
    argv.emplace_back("-o");
    argv.push_back(option);
  }

  if (const int err = make_directories(std::string(kPrivsepDir)); err != 0) {
    return SshdError{fmt::format("cannot create {}: {}", kPrivsepDir, error_text(err))};
  }
  auto opened = open_log(options.log_file);
  if (auto* error = std::get_if<SshdError>(&opened)) return std::move(*error);
  Fd log = std::get<Fd>(std::move(opened));

  platform::spawn_parts::SpawnActions actions;
  actions.open(STDIN_FILENO, "/dev/null", O_RDONLY);
  actions.dup2(log.get(), STDOUT_FILENO);
  actions.dup2(log.get(), STDERR_FILENO);
  const platform::spawn_parts::SpawnAttributes attributes;
  if (const int err = actions.error() != 0 ? actions.error() : attributes.error(); err != 0) {
    return SshdError{fmt::format("cannot start {}: {}", *program, error_text(err))};
  }
  std::vector<char*> child_argv = platform::spawn_parts::c_strings(argv);
  pid_t pid = -1;
  if (const int err =
          ::posix_spawn(&pid, program->c_str(), actions.get(), attributes.get(), child_argv.data(), environ);
      err != 0) {
    return SshdError{fmt::format("cannot start {}: {}", *program, error_text(err))};
  }
  Sshd sshd(pid);  // stopped and reaped on every error path below
  log.reset();

  const Endpoint local{std::string(kLocalAddress), options.port};
  const std::string where = fmt::format("{}:{}", kLocalAddress, options.port);
  milliseconds delay = kFirstProbeDelay;
  std::string last_failure;
  while (true) {
    if (const std::optional<ProcessStatus> ended = try_reap(pid)) {
      sshd.pid_ = -1;
      return SshdError{died_message(*ended, "before accepting connections on " + where, options.log_file)};
    }
    const auto now = Clock::now();
    const auto left = std::chrono::ceil<milliseconds>(deadline - now);
    if (left.count() <= 0) break;
    const std::optional<Failure> probe = banner(local, std::min(kProbeTimeout, left));
    if (!probe) {
      if (const std::optional<ProcessStatus> ended = try_reap(pid)) {
        sshd.pid_ = -1;
        return SshdError{
            died_message(*ended, "while another server answered SSH on " + where, options.log_file)};
      }
      return sshd;
    }
    last_failure = probe->message;
    std::this_thread::sleep_for(std::min(delay, std::chrono::ceil<milliseconds>(deadline - Clock::now())));
    delay = std::min(delay * 2, kMaxProbeDelay);
  }

  std::string message = fmt::format("sshd did not answer with an SSH banner on {} within {}", where,
                                    duration_text(options.ready_deadline));
  if (!last_failure.empty()) message += " (last: " + last_failure + ")";
  if (const std::string tail = log_tail(options.log_file); !tail.empty()) message += "; its log: " + tail;
  return SshdError{message};  // `sshd` stops it
}

Sshd::Sshd(Sshd&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

Sshd& Sshd::operator=(Sshd&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

Sshd::~Sshd() {
  stop();
}

void Sshd::stop() noexcept {
  const pid_t pid = std::exchange(pid_, -1);
  if (pid <= 0) return;
  if (try_reap(pid)) return;  // already gone (or reaped elsewhere: never signal a reused pid)
  (void)::kill(pid, SIGTERM);
  const auto give_up = Clock::now() + kStopGrace;
  while (Clock::now() < give_up) {
    if (try_reap(pid)) return;
    std::this_thread::sleep_for(kStopPollInterval);
  }
  (void)::kill(pid, SIGKILL);
  int raw = 0;
  while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace smlaunch::ssh
