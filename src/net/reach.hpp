// Cheap reachability of a peer: name resolution for all hosts at once (the
// DNS wait before a job) and a TCP connect to its sshd port (the heartbeat
// during a job: no login, no handshake).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace smlaunch::net {

enum class Reach {
  kUp,           // the TCP connect completed
  kRefused,      // RST: the host is there, nothing listens (its sshd is gone)
  kUnreachable,  // no route / host unreachable / no answer within the timeout
  kUnresolved,   // the name does not resolve
};

struct ProbeResult {
  Reach reach = Reach::kUnreachable;
  std::string detail;  // "connection refused", "no answer within 1.5 s", ...
  [[nodiscard]] bool up() const noexcept { return reach == Reach::kUp; }
};

/// One TCP connect to host:port (non-blocking connect + poll), closed at once.
[[nodiscard]] ProbeResult tcp_probe(const std::string& host, int port, std::chrono::milliseconds timeout);

/// Resolves every name in `hosts` concurrently, retrying each unresolved one
/// (backoff from 100 ms, capped at 1 s) until all resolve or `budget` has
/// passed. `progress(resolved, total)` is called (from the calling thread)
/// when the count changes. Returns the names that never resolved, in input
/// order (empty: all resolved).
[[nodiscard]] std::vector<std::string> wait_for_names(
    const std::vector<std::string>& hosts, std::chrono::milliseconds budget,
    const std::function<void(std::size_t resolved, std::size_t total)>& progress = {});

}  // namespace smlaunch::net
