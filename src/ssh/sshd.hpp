// Our own sshd: found, given host keys, started in the foreground as our
// child with password login off, and waited for until it completes an SSH
// handshake on the local address. Its early death is an error carrying what
// it printed. Stopped (SIGTERM, then SIGKILL) and reaped when the Sshd goes
// away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace smlaunch::ssh {

struct SshdOptions {
  /// The sshd binary; empty: `sshd` on `path_env`, else /usr/sbin/sshd.
  std::string program;
  std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int port = 22;
  /// Where sshd's stderr (-e) is written; read back when it dies early.
  std::string log_file = "/run/smlaunch/sshd.log";
  /// Host key files (`-h FILE` each), made with `ssh-keygen -t ed25519` when
  /// missing. Empty: sshd's configured keys (/etc/ssh/ssh_host_*_key), made
  /// with `ssh-keygen -A` when /etc/ssh has none.
  std::vector<std::string> host_key_files;
  /// Extra `-o Name=value` settings, after ours (tests use them).
  std::vector<std::string> extra_options;
  /// How long it may take to accept a local SSH handshake.
  std::chrono::milliseconds ready_deadline{10'000};
};

struct SshdError {
  std::string message;  // one line, with sshd's own last words when it died
};

/// A running sshd child.
class Sshd {
 public:
  /// Finds sshd, makes missing host keys (`ssh-keygen -A`), creates
  /// /run/sshd, starts `sshd -D -e -p PORT -o PasswordAuthentication=no
  /// -o KbdInteractiveAuthentication=no ...` and returns once a local SSH
  /// handshake (127.0.0.1:PORT) succeeds, or an error when sshd exits first
  /// or the deadline passes (sshd is then stopped).
  [[nodiscard]] static std::variant<Sshd, SshdError> start(const SshdOptions& options);

  Sshd(Sshd&& other) noexcept;
  Sshd& operator=(Sshd&& other) noexcept;
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;
  ~Sshd();  // stop()

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// SIGTERM, up to 2 s, SIGKILL; reaps it unless someone else already did
  /// (the job Supervisor reaps every child). Idempotent.
  void stop() noexcept;

 private:
  explicit Sshd(pid_t pid) noexcept : pid_(pid) {}
  pid_t pid_ = -1;
};

/// Where sshd would be found (for doctor and errors), or nullopt.
[[nodiscard]] std::optional<std::string> find_sshd(const SshdOptions& options);

}  // namespace smlaunch::ssh
