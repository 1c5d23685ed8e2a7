// The SSH client side of cluster formation, over libssh: a handshake probe
// ("is that host's sshd up?"), and an authenticated session that runs one
// command at a time (delivering the job's outcome to a worker).
//
// Host keys: the platform gives no host identity (every container of a job
// comes from one image, often with one baked-in host key, and the addresses
// are private to the job's network), so host keys are not checked: no
// known_hosts is read or written. Every operation has a deadline.
//
// Thread safety: a Session is used by one thread at a time; different
// Sessions and handshake() calls may run concurrently in different threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace smlaunch::ssh {

inline constexpr int kDefaultPort = 22;

struct Endpoint {
  std::string host;  // a name (resolved by the system resolver) or an address
  int port = kDefaultPort;
};

/// Why an SSH operation failed, in the order it can happen.
enum class FailureKind {
  kResolve,     // the name does not resolve
  kConnect,     // TCP refused, unreachable, or no answer in time
  kHandshake,   // no SSH banner / key exchange failed or timed out
  kAuthDenied,  // the server refused every key we offered (will not fix itself)
  kChannel,     // the session could not open a channel / run the command
  kCommand,     // the command ran and failed (a write to a bad path): trying again will not help
  kTimeout,     // the command did not finish in time
};

struct Failure {
  FailureKind kind = FailureKind::kConnect;
  std::string message;  // one line: "algo-2:22: connection refused"
};

/// True for failures that waiting will not cure (a refused key).
[[nodiscard]] inline bool is_permanent(const Failure& f) { return f.kind == FailureKind::kAuthDenied; }

/// Connects and completes the SSH handshake (banner + key exchange), then
/// disconnects without authenticating. Success means the peer's sshd is up.
/// Bounded by `timeout` in all (connect included).
[[nodiscard]] std::optional<Failure> handshake(const Endpoint& endpoint, std::chrono::milliseconds timeout);

/// Connects and reads the server's SSH version banner ("SSH-2.0-..."), then
/// closes: the peer's sshd is up and answering SSH. No key exchange, so no
/// crypto and no libssh: this is how hosts wait for each other's sshd (the
/// leader's session to each worker then proves the rest). Bounded by
/// `timeout` in all (connect included).
[[nodiscard]] std::optional<Failure> banner(const Endpoint& endpoint, std::chrono::milliseconds timeout);

struct SessionOptions {
  std::string user = "root";
  /// Private key files to offer; empty: libssh's defaults for the user
  /// (~/.ssh/id_ed25519, id_ecdsa, id_rsa) and the agent.
  std::vector<std::string> identity_files;
  std::chrono::milliseconds connect_timeout{10'000};  // connect + handshake + auth
};

/// What a remote command did.
struct ExecResult {
  int exit_status = -1;  // -1 when the server did not say
  std::string output;    // stdout and stderr, capped at 64 KiB
};

/// An authenticated SSH session (public key). Move-only; disconnects when
/// destroyed.
class Session {
 public:
  /// Connects, handshakes and authenticates by public key.
  [[nodiscard]] static std::variant<Session, Failure> open(const Endpoint& endpoint, const SessionOptions& options);

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  /// Runs `command` (interpreted by the remote user's shell, as with ssh:
  /// quote anything that is not ours), feeds it `input` on stdin then EOF,
  /// and waits at most `timeout` for it to finish.
  [[nodiscard]] std::variant<ExecResult, Failure> exec(const std::string& command, std::string_view input,
                                                       std::chrono::milliseconds timeout);

  /// Writes `content` to the absolute `path` on the remote host atomically:
  /// to `path.tmp.<random>` first, then renamed over `path`, so a reader
  /// never sees a partial file. Mode 0644.
  [[nodiscard]] std::optional<Failure> write_file(const std::string& path, std::string_view content,
                                                  std::chrono::milliseconds timeout);

  [[nodiscard]] const Endpoint& endpoint() const noexcept;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smlaunch::ssh
