// Cheap reachability of a peer: name resolution for all hosts at once (the
// DNS wait before a job), a TCP connect to its sshd port (the heartbeat
// during a job: no login, no handshake), and the name lookup under a
// deadline that both of those and the SSH client use.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace smlaunch::net {

enum class ResolveFailure {
  kTimedOut,   // the lookup did not finish by the deadline
  kNoAddress,  // the name does not resolve (or to no IPv4/IPv6 address), or the lookup failed
};

struct ResolveError {
  ResolveFailure failure = ResolveFailure::kNoAddress;
  /// One line: "name does not resolve: Name or service not known". For
  /// kTimedOut it names no duration; callers say how long they waited.
  std::string detail;
};

/// The IPv4 and IPv6 addresses of `host` in numeric form ("10.0.0.2",
/// "fd00::2"), in the resolver's order, never empty. A numeric `host` needs
/// no lookup. A name is looked up by the system resolver, waited for at most
/// until `deadline`: a lookup still running then is abandoned (its thread
/// finishes on its own), and later calls for the same name wait for it
/// instead of starting another.
[[nodiscard]] std::variant<std::vector<std::string>, ResolveError> resolve(
    const std::string& host, std::chrono::steady_clock::time_point deadline);

enum class Reach {
  kUp,           // the TCP connect completed
  kRefused,      // RST: the host is there, nothing listens (its sshd is gone)
  kNoAnswer,     // no answer within the timeout: the host, the network or this host is slow, or it is gone
  kUnreachable,  // no route / host unreachable / another error
  kUnresolved,   // the name does not resolve
};

struct ProbeResult {
  Reach reach = Reach::kUnreachable;
  std::string detail;  // "connection refused", "no answer within 1.5 s", ...
  [[nodiscard]] bool up() const noexcept { return reach == Reach::kUp; }
};

/// One TCP connect to host:port (non-blocking connect + poll), closed at once.
[[nodiscard]] ProbeResult tcp_probe(const std::string& host, int port, std::chrono::milliseconds timeout);

/// tcp_probe() for many hosts at once, from the calling thread (no thread
/// per host): a non-blocking connect to every address of every host, all
/// polled together until each host has answered or `timeout` has passed.
/// Every name's lookup starts at once, and each host is connected as soon as
/// its own lookup finishes. Results in input order; a host is up as soon as
/// one of its addresses connects.
[[nodiscard]] std::vector<ProbeResult> tcp_probe_all(const std::vector<std::string>& hosts, int port,
                                                     std::chrono::milliseconds timeout);

/// What a server said on connecting: read_greeting(), read_first_line().
struct Greeting {
  ProbeResult probe;       // up(): connected and read the whole answer
  std::string text;        // everything the server sent before closing (or the line)
  bool connected = false;  // the TCP connection was made (whatever came after)
};

/// Connects to host:port and reads what the server sends until it closes the
/// connection (at most `limit` bytes), all within `timeout`.
[[nodiscard]] Greeting read_greeting(const std::string& host, int port, std::chrono::milliseconds timeout,
                                     std::size_t limit = 64 * 1024);

/// Connects to host:port and reads the first line the server sends (an SSH
/// server's version banner), at most `limit` bytes with its "\n", within
/// `timeout`; then closes the connection. up() when a whole line came; `text`
/// is the line without its line ending.
[[nodiscard]] Greeting read_first_line(const std::string& host, int port, std::chrono::milliseconds timeout,
                                       std::size_t limit = 255);

/// Resolves every name in `hosts` concurrently, retrying each unresolved one
/// (backoff from 100 ms, capped at 1 s) until all resolve or `budget` has
/// passed. `progress(resolved, total)` is called (from the calling thread)
/// when the count changes. Returns the names that never resolved, in input
/// order (empty: all resolved).
[[nodiscard]] std::vector<std::string> wait_for_names(
    const std::vector<std::string>& hosts, std::chrono::milliseconds budget,
    const std::function<void(std::size_t resolved, std::size_t total)>& progress = {});

}  // namespace smlaunch::net
