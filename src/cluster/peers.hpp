// The other hosts of the job, seen from this one: waiting for their sshd,
// checking that our key opens a session on each, telling each the outcome,
// watching them during the job, and waiting for them to leave. Every host is
// handled concurrently, and every wait has a deadline. The SSH steps (sshd
// waits, sessions) use one short-lived thread per host, blocked in libssh;
// the TCP probes (heartbeat, "gone" waits) poll every host from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "platform/fd.hpp"
#include "ssh/client.hpp"

namespace smlaunch::cluster {

using Clock = std::chrono::steady_clock;

/// A host that did not do what was asked, and why (one line).
struct PeerProblem {
  std::string host;
  std::string why;
};

/// "algo-2 (connection refused), algo-3 (no answer)".
[[nodiscard]] std::string describe(const std::vector<PeerProblem>& problems);

struct WaitOptions {
  int port = ssh::kDefaultPort;
  Clock::time_point deadline;
  std::chrono::milliseconds backoff_cap{1'000};   // per host, between probes
  std::chrono::milliseconds probe_timeout{2'000};  // one probe
  /// Called from the calling thread when the number of hosts up changes.
  std::function<void(std::size_t up, std::size_t total)> progress;
  /// Called from the calling thread for each host once it is up.
  std::function<void(const std::string& host)> on_up;
  /// Polled by the calling thread about every 100 ms; true ends the wait
  /// early (a stop signal arrived). The hosts not up yet are then returned.
  std::function<bool()> stop_requested;
};

/// Probes every host's sshd (ssh::banner: its SSH version banner, no key
/// exchange) until each has answered (its sshd is up), or the deadline passes, or stop_requested(). Per host,
/// probes back off from 50 ms to backoff_cap. Returns the hosts never up,
/// with the last reason, in input order.
[[nodiscard]] std::vector<PeerProblem> wait_for_sshd(const std::vector<std::string>& hosts,
                                                     const WaitOptions& options);

/// What a host published, read by Sessions::read() or wait_for_greetings().
struct RemoteFile {
  std::string host;
  std::string content;  // empty when the host published nothing
};

/// One authenticated SSH session per host, opened concurrently and kept.
/// The leader opens them once its workers' sshd are up (its key works on
/// each, as mpirun needs), reads each worker's readiness on them, and at the
/// end writes the outcome on them: one key exchange and login per worker for
/// the whole job, not one per use. A session that has gone stale meanwhile
/// (the connection dropped during a long job) is opened again once.
class Sessions {
 public:
  /// Opens a session to every host, each bounded by `per_host`. The hosts
  /// where it failed go to `problems` (and have no session).
  [[nodiscard]] static Sessions open(const std::vector<std::string>& hosts, int port,
                                     const ssh::SessionOptions& options, std::chrono::milliseconds per_host,
                                     std::vector<PeerProblem>& problems);

  /// Reads the file `path_of(host)` on every host with a session (`cat`, at
  /// most 64 KiB), concurrently, each bounded by `per_host`; a missing file
  /// reads as empty. Hosts where the read failed go to `problems`; the
  /// others' contents are returned in input order.
  [[nodiscard]] std::vector<RemoteFile> read(
      const std::function<std::string(const std::string& host)>& path_of, std::chrono::milliseconds per_host,
      std::vector<PeerProblem>& problems);

  /// Writes `content` to `path` (atomically, see ssh::Session::write_file)
  /// on each of `hosts` (a subset of the hosts opened), concurrently, each
  /// bounded by `per_host`. Returns the hosts where it failed.
  [[nodiscard]] std::vector<PeerProblem> write(const std::vector<std::string>& hosts, const std::string& path,
                                               const std::string& content,
                                               std::chrono::milliseconds per_host);

  Sessions(Sessions&&) noexcept = default;
  Sessions& operator=(Sessions&&) noexcept = default;
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;
  ~Sessions() = default;

 private:
  struct Host {
    std::string name;
    std::optional<ssh::Session> session;
  };
  Sessions(int port, ssh::SessionOptions options) : port_(port), options_(std::move(options)) {}

  int port_;
  ssh::SessionOptions options_;
  std::vector<Host> hosts_;
};

/// wait_for_sshd() for the hosts' HeartbeatListeners (options.port: their
/// heartbeat port): reads each one's greeting, retrying the hosts not
/// listening yet. Returns the greetings in input order; the hosts never
/// answered go to `never`. Unauthenticated: a greeting may say a host is not
/// ready, never make this host run anything.
[[nodiscard]] std::vector<RemoteFile> wait_for_greetings(const std::vector<std::string>& hosts,
                                                         const WaitOptions& options,
                                                         std::vector<PeerProblem>& never);

/// Probes every host's port once, concurrently (TCP connect, `timeout`):
/// the hosts that do not answer.
[[nodiscard]] std::vector<PeerProblem> unreachable_now(const std::vector<std::string>& hosts, int port,
                                                       std::chrono::milliseconds timeout);

/// Waits until no host accepts connections on `port` any more (its
/// smlaunch stopped its sshd, or the host is gone), polling every 50 ms, or
/// until `deadline`. Returns the hosts still there.
[[nodiscard]] std::vector<std::string> wait_until_gone(const std::vector<std::string>& hosts, int port,
                                                       Clock::time_point deadline);

/// The port every smlaunch of a multi-host job listens on while it runs, for
/// the others' heartbeat probes (a connect, closed at once).
inline constexpr int kHeartbeatPort = 7786;

/// smlaunch's own heartbeat endpoint: a listening TCP socket whose
/// connections are accepted and closed at once by one thread. The kernel
/// completes the handshake from the listen queue, so a probe is answered
/// even when this host's CPUs are saturated, and costs no process (probing
/// sshd instead makes it fork for every probe: 63 workers probing every 2 s
/// starve a busy leader's sshd, and healthy hosts then look lost). When
/// smlaunch exits, probes are refused at once.
class HeartbeatListener {
 public:
  /// Listens on every IPv4 (and, when available, IPv6) address at `port`;
  /// sends `greeting` (at most a few KiB: this host's readiness, see
  /// wait_for_greetings()) on every connection before closing it.
  [[nodiscard]] static std::variant<std::unique_ptr<HeartbeatListener>, std::string> start(
      int port, std::string greeting = {});
  HeartbeatListener(const HeartbeatListener&) = delete;
  HeartbeatListener& operator=(const HeartbeatListener&) = delete;
  ~HeartbeatListener();  // stops answering (probes are then refused)

 private:
  HeartbeatListener(std::vector<platform::Fd> sockets, platform::Fd stop, std::string greeting);
  void serve();

  std::vector<platform::Fd> sockets_;
  platform::Fd stop_;
  std::string greeting_;
  std::thread thread_;
};

/// Watches hosts during the job: every `interval`, one thread probes every
/// host's heartbeat port (HeartbeatListener) at once (net::tcp_probe_all: a
/// TCP connect each, no thread per host). A host that has not answered for
/// `lost_after` is lost: it is recorded, no longer probed, and abort_fd()
/// becomes readable (for platform::SupervisorOptions::abort_fd).
///
/// A round in which two or more hosts were probed and not one answered or
/// refused (every probe timed out) is inconclusive: it says more about this
/// host (starved, its network stack behind) than about them, and its time
/// does not count towards `lost_after`. Silence that goes on is still an
/// answer: a host silent for `silent_limit` is lost whatever the others did.
class Heartbeat {
 public:
  struct Options {
    int port = kHeartbeatPort;
    std::chrono::milliseconds interval{2'000};
    std::chrono::milliseconds lost_after{10'000};
    std::chrono::milliseconds probe_timeout{1'500};
    std::chrono::milliseconds silent_limit{30'000};
  };

  Heartbeat(std::vector<std::string> hosts, Options options);
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  ~Heartbeat();  // stops and joins the probing thread (within probe_timeout)

  /// Readable once a host is lost (an eventfd; never read by us).
  [[nodiscard]] int abort_fd() const noexcept { return abort_.get(); }
  /// The hosts lost so far, in the order they were lost.
  [[nodiscard]] std::vector<PeerProblem> lost() const;

  /// The inconclusive rounds so far (every host silent), and the longest
  /// stretch of them in a row: how long this host could not tell.
  struct Inconclusive {
    std::size_t rounds = 0;
    Clock::duration longest{};
  };
  [[nodiscard]] Inconclusive inconclusive() const;

 private:
  void watch(std::vector<std::string> hosts, const std::stop_token& stop);

  Options options_;
  platform::Fd abort_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::vector<PeerProblem> lost_;
  Inconclusive inconclusive_;
  std::jthread thread_;  // last: started once everything above exists
};

}  // namespace smlaunch::cluster
