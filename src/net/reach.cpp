// Reachability: name lookups that cannot overrun a deadline, and a TCP
// connect probe.
//
// The problem is getaddrinfo(). It has no timeout parameter: with a dead
// nameserver it blocks for resolv.conf's `timeout` x `attempts` x servers
// (5 s x 2 x 3 = 30 s by default), and nothing can interrupt it. Every
// caller has a bound that must hold anyway: the DNS wait has one overall
// budget, a heartbeat probe must answer within its timeout, and the SSH
// client (through resolve(), handing libssh a numeric address) must connect
// within its own.
//
// Approach: every lookup of a name runs getaddrinfo on its own detached
// thread and publishes the result into a Lookup record; callers wait for the
// record with a deadline (a condition variable) and simply stop waiting when
// it passes. A stuck thread is abandoned, not joined: it finishes whenever
// the resolver gives up, stores a result nobody reads, and exits. That is
// safe because the thread touches nothing but the Lookup (kept alive by its
// own shared_ptr) and the Registry, which is allocated once and never
// destroyed, so a thread still running while the process exits (static
// destructors, exit()) never sees freed memory. getaddrinfo_a() was
// considered: glibc implements it with the same kind of helper threads, and
// gai_cancel() cannot cancel a lookup that has started, so it bounds the
// wait no better and adds signal/notification plumbing.
//
// Abandoned threads must not pile up (the heartbeat probes every host every
// 2 s, for hours): the Registry keeps one lookup in flight per name, and a
// caller asking for a name whose lookup is still running waits for that one
// instead of starting another. So a dead nameserver costs at most one
// blocked thread per distinct name. Numeric addresses never take a thread.
//
// The probe itself is a non-blocking connect() polled for the rest of the
// time; each address of the name gets an equal share of what remains, so an
// IPv6 address that blackholes cannot starve the IPv4 one after it. A
// connected socket is closed with SO_LINGER 0 (an RST, no TIME_WAIT) since a
// long job would otherwise leave thousands of TIME_WAIT entries behind.
#include "net/reach.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "platform/fd.hpp"

namespace smlaunch::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstRetryDelay{100};
constexpr milliseconds kMaxRetryDelay{1000};
constexpr int kMaxPort = 65535;
constexpr int kLookupRecheckMs = 5;  // tcp_probe_all(): how often it looks at running lookups

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// The outcome of one getaddrinfo call. Guarded by Registry::mutex until
// `finished` is set; immutable after.
struct Lookup {
  bool finished = false;
  int gai_error = 0;     // 0 or an EAI_* code
  int system_error = 0;  // errno when gai_error == EAI_SYSTEM
  std::vector<Address> addresses;
};

// The lookups in flight, one per name. Never destroyed (see the top comment).
struct Registry {
  std::mutex mutex;
  std::condition_variable finished;  // notified whenever any lookup finishes
  std::unordered_map<std::string, std::shared_ptr<Lookup>> in_flight;
};

Registry& registry() {
  static Registry* const instance = new Registry;  // deliberately leaked
  return *instance;
}

// Copies getaddrinfo's list (TCP entries only) and frees it.
std::vector<Address> copy_addresses(addrinfo* list) {
  std::vector<Address> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addr == nullptr || ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  if (list != nullptr) ::freeaddrinfo(list);
  return out;
}

addrinfo tcp_hints(int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // IPv4 and IPv6
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  return hints;
}

// Runs on the lookup's own thread.
void run_lookup(const std::string& host, const std::shared_ptr<Lookup>& lookup) {
  const addrinfo hints = tcp_hints(0);
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  const int saved_errno = errno;
  std::vector<Address> addresses = copy_addresses(rc == 0 ? list : nullptr);

  Registry& r = registry();
  {
    const std::lock_guard lock(r.mutex);
    lookup->gai_error = rc;
    lookup->system_error = rc == EAI_SYSTEM ? saved_errno : 0;
    lookup->addresses = std::move(addresses);
    lookup->finished = true;
    if (const auto it = r.in_flight.find(host); it != r.in_flight.end() && it->second == lookup) {
      r.in_flight.erase(it);
    }
  }
  r.finished.notify_all();
}

// The lookup of `host` in flight, or a new one started on a detached thread.
// Never blocks on the resolver.
std::shared_ptr<Lookup> start_lookup(const std::string& host) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  if (const auto it = r.in_flight.find(host); it != r.in_flight.end()) return it->second;
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread(run_lookup, host, lookup).detach();
  } catch (const std::system_error& e) {
    lookup->gai_error = EAI_SYSTEM;
    lookup->system_error = e.code().value();
    lookup->finished = true;
    return lookup;
  }
  r.in_flight.emplace(host, lookup);
  return lookup;
}

// Waits until `lookup` has finished or `deadline` passes; true when finished.
bool wait_for(const std::shared_ptr<Lookup>& lookup, Clock::time_point deadline) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  return r.finished.wait_until(lock, deadline, [&] { return lookup->finished; });
}

// Whether `lookup` has finished, without waiting.
bool finished_now(const Lookup& lookup) {
  const std::lock_guard lock(registry().mutex);
  return lookup.finished;
}

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// "1.5 s", "2 s", "0.3 s".
std::string seconds_text(milliseconds ms) {
  const auto tenths = (ms.count() + 50) / 100;
  if (tenths % 10 == 0) return fmt::format("{} s", tenths / 10);
  return fmt::format("{}.{} s", tenths / 10, tenths % 10);
}

std::string lookup_error_text(const Lookup& lookup) {
  if (lookup.gai_error == EAI_SYSTEM) return "name lookup failed: " + errno_text(lookup.system_error);
  if (lookup.gai_error != 0) return std::string("name does not resolve: ") + ::gai_strerror(lookup.gai_error);
  return "name resolves to no IPv4 or IPv6 address";
}

// A numeric IPv4/IPv6 address (no lookup, never blocks), or nullopt.
std::optional<std::vector<Address>> numeric_addresses(const std::string& host) {
  const addrinfo hints = tcp_hints(AI_NUMERICHOST);
  addrinfo* list = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0) return std::nullopt;
  return copy_addresses(list);
}

// The addresses of `host` (port 0, never empty), looked up by `deadline`:
// resolve() before it is turned into text.
std::variant<std::vector<Address>, ResolveError> lookup_addresses(const std::string& host,
                                                                  Clock::time_point deadline) {
  if (auto numeric = numeric_addresses(host)) {
    if (numeric->empty())
      return ResolveError{ResolveFailure::kNoAddress, "name resolves to no IPv4 or IPv6 address"};
    return std::move(*numeric);
  }
  const auto lookup = start_lookup(host);
  if (!wait_for(lookup, deadline)) {
    return ResolveError{ResolveFailure::kTimedOut, "name lookup did not finish in time"};
  }
  // Finished: no longer written by anyone, so read without the mutex.
  if (lookup->gai_error != 0 || lookup->addresses.empty()) {
    return ResolveError{ResolveFailure::kNoAddress, lookup_error_text(*lookup)};
  }
  return lookup->addresses;
}

// The numeric form of `address` ("10.0.0.2", "fd00::2"), or "" when it has none.
std::string numeric_host(const Address& address) {
  std::array<char, NI_MAXHOST> host{};
  // sockaddr_storage -> sockaddr is the socket API's own idiom.
  const auto* sa = reinterpret_cast<const sockaddr*>(&address.storage);
  if (::getnameinfo(sa, address.length, host.data(), host.size(), nullptr, 0, NI_NUMERICHOST) != 0) return "";
  return host.data();
}

void set_port(Address& a, int port) {
  const auto net_port = htons(static_cast<std::uint16_t>(port));
  if (a.storage.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &a.storage, sizeof sin);
    sin.sin_port = net_port;
    std::memcpy(&a.storage, &sin, sizeof sin);
  } else {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &a.storage, sizeof sin6);
    sin6.sin6_port = net_port;
    std::memcpy(&a.storage, &sin6, sizeof sin6);
  }
}

// poll()'s timeout until `deadline`: 0 once it has passed.
int poll_wait(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000));
}

// Closes with an RST instead of a FIN: no TIME_WAIT entry per probe.
void close_abortively(platform::Fd& fd) {
  const linger abort_on_close{1, 0};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  fd.reset();
}

// One connect attempt to `address` that ends by `deadline`. Returns the
// errno-style outcome: 0 connected, ETIMEDOUT for no answer in time. A
// connection is handed to `keep` when given, else closed at once.
int connect_once(const Address& address, Clock::time_point deadline, platform::Fd* keep = nullptr) {
  platform::Fd fd(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno;
  // sockaddr_storage -> sockaddr is the socket API's own idiom.
  const auto* sa = reinterpret_cast<const sockaddr*>(&address.storage);
  if (::connect(fd.get(), sa, address.length) == 0) {
    if (keep != nullptr)
      *keep = std::move(fd);
    else
      close_abortively(fd);
    return 0;
  }
  if (errno != EINPROGRESS && errno != EINTR) return errno;
  for (;;) {
    // Past the deadline, one last look without waiting: a thread that was
    // not scheduled until after the deadline must not call an answer that
    // has arrived a timeout.
    const int wait = poll_wait(deadline);
    pollfd p{fd.get(), POLLOUT, 0};
    const int ready = ::poll(&p, 1, wait);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0 && wait == 0) return ETIMEDOUT;
    if (ready == 0) continue;  // re-check the deadline (poll rounds)
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    if (error == 0 && keep != nullptr)
      *keep = std::move(fd);
    else if (error == 0)
      close_abortively(fd);
    return error;
  }
}

// Orders outcomes: a connection beats a refusal beats silence beats errors.
int rank(Reach reach) {
  switch (reach) {
    case Reach::kUp:
      return 4;
    case Reach::kRefused:
      return 3;
    case Reach::kNoAnswer:
      return 2;
    case Reach::kUnreachable:
      return 1;
    case Reach::kUnresolved:
      return 0;
  }
  return 0;
}

ProbeResult classify(int error, milliseconds timeout) {
  switch (error) {
    case 0:
      return {Reach::kUp, "connected"};
    case ECONNREFUSED:
      return {Reach::kRefused, "connection refused"};
    case EHOSTUNREACH:
      return {Reach::kUnreachable, "host unreachable"};
    case ENETUNREACH:
      return {Reach::kUnreachable, "network unreachable"};
    case ETIMEDOUT:
      return {Reach::kNoAnswer, "no answer within " + seconds_text(timeout)};
    default:
      return {Reach::kUnreachable, errno_text(error)};
  }
}

}  // namespace

std::variant<std::vector<std::string>, ResolveError> resolve(const std::string& host,
                                                             Clock::time_point deadline) {
  auto found = lookup_addresses(host, deadline);
  if (auto* error = std::get_if<ResolveError>(&found)) return std::move(*error);
  std::vector<std::string> hosts;
  for (const Address& address : std::get<std::vector<Address>>(found)) {
    if (std::string text = numeric_host(address); !text.empty()) hosts.push_back(std::move(text));
  }
  if (hosts.empty()) return ResolveError{ResolveFailure::kNoAddress, "name resolves to no usable address"};
  return hosts;
}

namespace {

// tcp_probe(), handing a connection to `keep` when given.
ProbeResult connect_to(const std::string& host, int port, milliseconds timeout, Clock::time_point deadline,
                       platform::Fd* keep) {
  if (port <= 0 || port > kMaxPort)
    return {Reach::kUnreachable, fmt::format("port {} is out of range", port)};

  auto found = lookup_addresses(host, deadline);
  if (const auto* error = std::get_if<ResolveError>(&found)) {
    if (error->failure == ResolveFailure::kTimedOut) {
      return {Reach::kUnresolved, "name lookup did not finish within " + seconds_text(timeout)};
    }
    return {Reach::kUnresolved, error->detail};
  }
  std::vector<Address> addresses = std::get<std::vector<Address>>(std::move(found));

  ProbeResult best{Reach::kUnresolved, "name resolves to no IPv4 or IPv6 address"};
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const auto now = Clock::now();
    if (now >= deadline && i > 0) break;
    // An equal share of what is left for each remaining address; the last
    // one gets all of it.
    const auto share = (deadline - now) / static_cast<long>(addresses.size() - i);
    set_port(addresses[i], port);
    ProbeResult result = classify(connect_once(addresses[i], now + share, keep), timeout);
    if (result.up()) return result;
    if (rank(result.reach) > rank(best.reach)) best = std::move(result);
  }
  return best;
}

}  // namespace

ProbeResult tcp_probe(const std::string& host, int port, milliseconds timeout) {
  return connect_to(host, port, timeout, Clock::now() + timeout, nullptr);
}

namespace {

/// read_greeting() and read_first_line(): what the server sends until it
/// closes, or (first_line) until its first "\n".
Greeting read_answer(const std::string& host, int port, milliseconds timeout, std::size_t limit,
                     bool first_line) {
  const auto deadline = Clock::now() + timeout;
  platform::Fd fd;
  Greeting greeting{connect_to(host, port, timeout, deadline, &fd), {}, false};
  if (!greeting.probe.up()) return greeting;
  greeting.connected = true;
  const std::string_view what = first_line ? "a line" : "the answer";
  std::array<char, 4096> buffer{};
  for (;;) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      greeting.probe = {Reach::kUnreachable, (first_line ? "connected, but no whole line within "
                                                         : "connected, but the answer did not end within ") +
                                                 seconds_text(timeout)};
      break;
    }
    pollfd p{fd.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1'000'000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      greeting.probe = {Reach::kUnreachable, errno_text(errno)};
      break;
    }
    if (ready == 0) continue;
    // A line is read a byte at a time: nothing after it is taken off the socket.
    const std::size_t want = first_line ? 1 : buffer.size();
    const ssize_t n = ::read(fd.get(), buffer.data(), want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      greeting.probe = {Reach::kUnreachable, "reading the answer: " + errno_text(errno)};
      break;
    }
    if (n == 0) {
      // The server closed: the answer is complete; a line is not.
      if (first_line)
        greeting.probe = {Reach::kUnreachable, "connected, but the server closed before a line"};
      break;
    }
    if (greeting.text.size() + static_cast<std::size_t>(n) > limit) {
      greeting.probe = {Reach::kUnreachable, fmt::format("{} is longer than {} bytes", what, limit)};
      break;
    }
    greeting.text.append(buffer.data(), static_cast<std::size_t>(n));
    if (first_line && greeting.text.back() == '\n') {
      greeting.text.pop_back();
      if (!greeting.text.empty() && greeting.text.back() == '\r') greeting.text.pop_back();
      break;
    }
  }
  if (!greeting.probe.up()) greeting.text.clear();
  return greeting;
}

}  // namespace

Greeting read_greeting(const std::string& host, int port, milliseconds timeout, std::size_t limit) {
  return read_answer(host, port, timeout, limit, false);
}

Greeting read_first_line(const std::string& host, int port, milliseconds timeout, std::size_t limit) {
  return read_answer(host, port, timeout, limit, true);
}

std::vector<ProbeResult> tcp_probe_all(const std::vector<std::string>& hosts, int port,
                                       milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<ProbeResult> results(hosts.size(), ProbeResult{Reach::kUnreachable, "not probed"});
  if (port <= 0 || port > kMaxPort) {
    for (auto& r : results) r = {Reach::kUnreachable, fmt::format("port {} is out of range", port)};
    return results;
  }

  // A non-blocking connect to every address of every host, all polled
  // together; a host is up as soon as one of its addresses connects.
  struct Attempt {
    platform::Fd fd;
    std::size_t host = 0;
  };
  std::vector<Attempt> attempts;
  std::vector<char> decided(hosts.size(), 0);  // up: nothing better can come
  std::vector<char> answered(hosts.size(), 0);
  const auto settle = [&](std::size_t host, const ProbeResult& result) {
    if (decided[host] != 0) return;
    if (answered[host] == 0 || rank(result.reach) > rank(results[host].reach)) results[host] = result;
    answered[host] = 1;
    if (result.up()) decided[host] = 1;
  };
  const auto connect_all = [&](std::size_t host, std::vector<Address> addresses) {
    if (addresses.empty()) settle(host, {Reach::kUnresolved, "name resolves to no IPv4 or IPv6 address"});
    for (Address& a : addresses) {
      set_port(a, port);
      platform::Fd fd(::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) {
        settle(host, classify(errno, timeout));
        continue;
      }
      const auto* sa = reinterpret_cast<const sockaddr*>(&a.storage);
      if (::connect(fd.get(), sa, a.length) == 0) {
        close_abortively(fd);
        settle(host, classify(0, timeout));
      } else if (errno == EINPROGRESS || errno == EINTR) {
        attempts.push_back({std::move(fd), host});
      } else {
        settle(host, classify(errno, timeout));
      }
    }
  };

  // Numeric addresses are connected at once; every name's lookup starts now
  // (each on its own resolver thread) and its host is connected as soon as
  // that lookup finishes, so one slow lookup delays only its own host.
  std::vector<std::shared_ptr<Lookup>> lookups(hosts.size());
  std::size_t looking_up = 0;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (auto numeric = numeric_addresses(hosts[i])) {
      connect_all(i, std::move(*numeric));
    } else {
      lookups[i] = start_lookup(hosts[i]);
      ++looking_up;
    }
  }
  const auto connect_looked_up = [&] {
    for (std::size_t i = 0; i < hosts.size() && looking_up > 0; ++i) {
      if (!lookups[i] || !finished_now(*lookups[i])) continue;
      const Lookup& lookup = *lookups[i];  // finished: read without the mutex
      if (lookup.gai_error != 0 || lookup.addresses.empty()) {
        settle(i, {Reach::kUnresolved, lookup_error_text(lookup)});
      } else {
        connect_all(i, lookup.addresses);
      }
      lookups[i].reset();
      --looking_up;
    }
  };

  while (true) {
    connect_looked_up();
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t k = 0; k < attempts.size(); ++k) {
      if (!attempts[k].fd || decided[attempts[k].host] != 0) continue;
      fds.push_back({attempts[k].fd.get(), POLLOUT, 0});
      index.push_back(k);
    }
    if (fds.empty() && looking_up == 0) break;
    // While lookups are still running, look at them again every few ms.
    // Past the deadline, one last look without waiting: a thread scheduled
    // late must not call answers that have arrived timeouts.
    int wait = poll_wait(deadline);
    if (looking_up > 0) wait = std::min(wait, kLookupRecheckMs);
    const int ready = ::poll(fds.data(), fds.size(), wait);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (std::size_t j = 0; j < fds.size() && ready > 0; ++j) {
      if (fds[j].revents == 0) continue;
      Attempt& attempt = attempts[index[j]];
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(attempt.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error == 0) close_abortively(attempt.fd);
      attempt.fd.reset();
      settle(attempt.host, classify(error, timeout));
    }
    if (Clock::now() >= deadline && wait == 0) break;
  }
  // Still looking up or connecting at the deadline: no answer in time.
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (lookups[i])
      settle(i, {Reach::kUnresolved, "name lookup did not finish within " + seconds_text(timeout)});
  }
  for (auto& attempt : attempts) {
    if (attempt.fd) settle(attempt.host, classify(ETIMEDOUT, timeout));
  }
  return results;
}

std::vector<std::string> wait_for_names(const std::vector<std::string>& hosts, milliseconds budget,
                                        const std::function<void(std::size_t, std::size_t)>& progress) {
  struct Name {
    std::shared_ptr<Lookup> lookup;  // in flight, or null
    Clock::time_point next_attempt;
    milliseconds retry_delay = kFirstRetryDelay;
    bool resolved = false;
  };
  const auto start = Clock::now();
  const auto deadline = start + budget;
  std::vector<Name> names(hosts.size(), Name{nullptr, start, kFirstRetryDelay, false});
  std::size_t resolved = 0;

  Registry& r = registry();
  for (;;) {
    const auto now = Clock::now();
    // Start a lookup for every name that is due (never holding the mutex
    // while spawning more than start_lookup itself does).
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      Name& n = names[i];
      if (!n.resolved && !n.lookup && n.next_attempt <= now) n.lookup = start_lookup(hosts[i]);
    }

    // Collect finished lookups; find the next time something is due.
    const std::size_t before = resolved;
    auto wake = deadline;
    {
      std::unique_lock lock(r.mutex);
      for (Name& n : names) {
        if (n.resolved) continue;
        if (n.lookup && n.lookup->finished) {
          if (n.lookup->gai_error == 0 && !n.lookup->addresses.empty()) {
            n.resolved = true;
            ++resolved;
            n.lookup.reset();
            continue;
          }
          n.lookup.reset();
          n.next_attempt = Clock::now() + n.retry_delay;
          n.retry_delay = std::min(n.retry_delay * 2, kMaxRetryDelay);
        }
        if (!n.lookup) wake = std::min(wake, n.next_attempt);
      }
      if (resolved == before && resolved < hosts.size() && Clock::now() < deadline) {
        // Sleep until a lookup finishes or a retry is due. Every finish
        // notifies, so a finished lookup of ours is seen on wake-up.
        auto any_finished = [&] {
          return std::any_of(names.begin(), names.end(),
                             [](const Name& n) { return n.lookup && n.lookup->finished; });
        };
        r.finished.wait_until(lock, wake, any_finished);
      }
    }
    if (resolved != before && progress) progress(resolved, hosts.size());
    if (resolved == hosts.size() || Clock::now() >= deadline) break;
  }

  // Lookups still in flight are abandoned here: their threads finish on
  // their own and the results are dropped.
  std::vector<std::string> unresolved;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (!names[i].resolved) unresolved.push_back(hosts[i]);
  }
  return unresolved;
}

}  // namespace smlaunch::net
