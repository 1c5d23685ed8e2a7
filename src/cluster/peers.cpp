// The SSH steps run one thread per host, joined before each function
// returns. A thread never outlives its data: the results live in a vector
// indexed like `hosts`, written only by that host's thread and read after the
// join. The TCP probes (net::tcp_probe_all) poll every host from the calling
// thread; the Heartbeat has one thread of its own, joined when destroyed.
#include "cluster/peers.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <optional>

#include "net/reach.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::cluster {
namespace {

constexpr std::chrono::milliseconds kQuickRetryCap{200};

// Runs fn(i) for every index on its own thread and waits for all.
template <typename Fn>
void for_each_concurrently(std::size_t count, Fn fn) {
  std::vector<std::jthread> threads;
  threads.reserve(count);
  for (std::size_t i = 0; i < count; ++i) threads.emplace_back([&fn, i] { fn(i); });
}

std::vector<PeerProblem> collect(const std::vector<std::string>& hosts,
                                 const std::vector<std::optional<std::string>>& failures) {
  std::vector<PeerProblem> problems;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (failures[i]) problems.push_back({hosts[i], *failures[i]});
  }
  return problems;
}

}  // namespace

std::string describe(const std::vector<PeerProblem>& problems) {
  std::string text;
  for (const auto& p : problems) text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", p.host, p.why);
  return text;
}

namespace {

// Probes every host (probe(i, timeout): nullopt when host i is up, else why
// not) until each is up, the deadline passes or a stop is requested, with
// the per-host backoff described at wait_for_sshd().
std::vector<PeerProblem> wait_for_each(
    const std::vector<std::string>& hosts, const WaitOptions& options,
    const std::function<std::optional<std::string>(std::size_t, std::chrono::milliseconds)>& probe) {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::optional<std::string>> last_failure(hosts.size(), std::string("not probed yet"));
  std::size_t up = 0;
  std::atomic<bool> stop{false};

  std::vector<std::jthread> threads;
  threads.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    threads.emplace_back([&, i] {
      auto backoff = std::chrono::milliseconds(50);
      while (!stop.load()) {
        const auto now = Clock::now();
        if (now >= options.deadline) return;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(options.deadline - now);
        auto failure = probe(i, std::min(options.probe_timeout, left));
        std::unique_lock lock(mutex);
        if (!failure) {
          last_failure[i].reset();
          ++up;
          changed.notify_all();
          return;
        }
        last_failure[i] = std::move(*failure);
        changed.wait_for(lock, backoff, [&] { return stop.load(); });
        // A quick failure (refused: the host is there, its sshd not yet) is
        // cheap for the peer: retry often. Slow ones (timeouts) back off to
        // the cap.
        const bool quick = Clock::now() - now < std::chrono::milliseconds(100);
        backoff = std::min(backoff * 2, quick ? std::min(options.backoff_cap, kQuickRetryCap) : options.backoff_cap);
      }
    });
  }

  std::size_t reported = static_cast<std::size_t>(-1);
  std::vector<char> announced(hosts.size(), 0);
  {
    std::unique_lock lock(mutex);
    while (true) {
      if (options.on_up) {
        std::vector<std::string> newly_up;
        for (std::size_t i = 0; i < hosts.size(); ++i) {
          if (!last_failure[i] && announced[i] == 0) {
            announced[i] = 1;
            newly_up.push_back(hosts[i]);
          }
        }
        lock.unlock();
        for (const auto& h : newly_up) options.on_up(h);
        lock.lock();
      }
      if (up != reported && options.progress) {
        reported = up;
        const std::size_t now_up = up;
        lock.unlock();
        options.progress(now_up, hosts.size());
        lock.lock();
      }
      if (up == hosts.size() || Clock::now() >= options.deadline) break;
      if (options.stop_requested) {
        lock.unlock();
        const bool asked = options.stop_requested();
        lock.lock();
        if (asked) break;
      }
      changed.wait_until(lock, std::min(options.deadline, Clock::now() + std::chrono::milliseconds(100)));
    }
    stop = true;
    changed.notify_all();
  }
  threads.clear();  // join: each is at most one probe_timeout away from seeing `stop`
  return collect(hosts, last_failure);
}

}  // namespace

std::vector<PeerProblem> wait_for_sshd(const std::vector<std::string>& hosts, const WaitOptions& options) {
  return wait_for_each(hosts, options, [&](std::size_t i, std::chrono::milliseconds timeout) {
    auto failure = ssh::banner({hosts[i], options.port}, timeout);
    return failure ? std::optional<std::string>(std::move(failure->message)) : std::nullopt;
  });
}

std::vector<RemoteFile> wait_for_greetings(const std::vector<std::string>& hosts, const WaitOptions& options,
                                           std::vector<PeerProblem>& never) {
  std::vector<std::string> texts(hosts.size());
  never = wait_for_each(hosts, options, [&](std::size_t i, std::chrono::milliseconds timeout) {
    auto greeting = net::read_greeting(hosts[i], options.port, timeout);
    if (!greeting.probe.up()) return std::optional<std::string>(std::move(greeting.probe.detail));
    texts[i] = std::move(greeting.text);
    return std::optional<std::string>();
  });
  std::vector<RemoteFile> answers;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (std::none_of(never.begin(), never.end(), [&](const auto& p) { return p.host == hosts[i]; })) {
      answers.push_back({hosts[i], std::move(texts[i])});
    }
  }
  return answers;
}

// ---- Sessions -----------------------------------------------------------------

namespace {

// A session to `host` within `per_host`, or why not.
std::variant<ssh::Session, ssh::Failure> open_bounded(const std::string& host, int port,
                                                      const ssh::SessionOptions& options,
                                                      std::chrono::milliseconds per_host) {
  ssh::SessionOptions bounded = options;
  bounded.connect_timeout = std::min(options.connect_timeout, per_host);
  return ssh::Session::open({host, port}, bounded);
}

// What is left of `per_host` since `started`, never less than 100 ms.
std::chrono::milliseconds left_of(std::chrono::milliseconds per_host, Clock::time_point started) {
  const auto used = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return std::max(per_host - used, std::chrono::milliseconds(100));
}

}  // namespace

Sessions Sessions::open(const std::vector<std::string>& hosts, int port, const ssh::SessionOptions& options,
                        std::chrono::milliseconds per_host, std::vector<PeerProblem>& problems) {
  Sessions sessions(port, options);
  sessions.hosts_.resize(hosts.size());
  std::vector<std::optional<std::string>> failures(hosts.size());
  for_each_concurrently(hosts.size(), [&](std::size_t i) {
    Host& h = sessions.hosts_[i];
    h.name = hosts[i];
    auto opened = open_bounded(hosts[i], port, options, per_host);
    if (auto* failure = std::get_if<ssh::Failure>(&opened)) {
      failures[i] = std::move(failure->message);
    } else {
      h.session.emplace(std::get<ssh::Session>(std::move(opened)));
    }
  });
  problems = collect(hosts, failures);
  return sessions;
}

std::vector<RemoteFile> Sessions::read(const std::function<std::string(const std::string& host)>& path_of,
                                       std::chrono::milliseconds per_host,
                                       std::vector<PeerProblem>& problems) {
  std::vector<std::string> names;
  std::vector<std::string> paths;
  for (const auto& h : hosts_) {
    names.push_back(h.name);
    paths.push_back(path_of(h.name));
  }
  std::vector<std::optional<std::string>> failures(hosts_.size());
  std::vector<std::string> contents(hosts_.size());
  for_each_concurrently(hosts_.size(), [&](std::size_t i) {
    if (!hosts_[i].session) return;  // already reported by open()
    // A missing file is not an error (an older launcher publishes nothing);
    // any other failure to read it is.
    const std::string quoted = plan::shell_quote(paths[i]);
    auto ran =
        hosts_[i].session->exec(fmt::format("if [ -e {0} ]; then cat -- {0}; fi", quoted), {}, per_host);
    if (auto* failure = std::get_if<ssh::Failure>(&ran)) {
      failures[i] = std::move(failure->message);
    } else if (auto& result = std::get<ssh::ExecResult>(ran); result.exit_status != 0) {
      failures[i] = fmt::format("cannot read {} (exit status {})", paths[i], result.exit_status);
    } else {
      contents[i] = std::move(result.output);
    }
  });
  problems = collect(names, failures);
  std::vector<RemoteFile> files;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].session && !failures[i]) files.push_back({hosts_[i].name, std::move(contents[i])});
  }
  return files;
}

std::vector<PeerProblem> Sessions::write(const std::vector<std::string>& hosts, const std::string& path,
                                         const std::string& content, std::chrono::milliseconds per_host) {
  std::vector<std::optional<std::string>> failures(hosts.size());
  for_each_concurrently(hosts.size(), [&](std::size_t i) {
    const auto started = Clock::now();
    auto known =
        std::find_if(hosts_.begin(), hosts_.end(), [&](const Host& h) { return h.name == hosts[i]; });
    std::optional<ssh::Session> fresh;
    ssh::Session* session = known != hosts_.end() && known->session ? &*known->session : nullptr;
    if (session != nullptr) {
      auto failure = session->write_file(path, content, per_host);
      if (!failure) return;
      // Only a session gone stale (its connection dropped during the job) is
      // worth a new one: not a command that ran and failed, nor a timeout
      // that has used up the time.
      if (failure->kind != ssh::FailureKind::kChannel) {
        failures[i] = std::move(failure->message);
        return;
      }
    }
    auto opened = open_bounded(hosts[i], port_, options_, left_of(per_host, started));
    if (auto* failure = std::get_if<ssh::Failure>(&opened)) {
      failures[i] = std::move(failure->message);
      return;
    }
    fresh.emplace(std::get<ssh::Session>(std::move(opened)));
    if (auto failure = fresh->write_file(path, content, left_of(per_host, started))) {
      failures[i] = std::move(failure->message);
    }
  });
  return collect(hosts, failures);
}

std::vector<PeerProblem> unreachable_now(const std::vector<std::string>& hosts, int port,
                                         std::chrono::milliseconds timeout) {
  const auto probes = net::tcp_probe_all(hosts, port, timeout);
  std::vector<PeerProblem> problems;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (!probes[i].up()) problems.push_back({hosts[i], probes[i].detail});
  }
  return problems;
}

std::vector<std::string> wait_until_gone(const std::vector<std::string>& hosts, int port,
                                         Clock::time_point deadline) {
  std::vector<std::string> there = hosts;
  while (!there.empty()) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const auto probes = net::tcp_probe_all(there, port, std::min(left, std::chrono::milliseconds(500)));
    std::vector<std::string> still;
    for (std::size_t i = 0; i < there.size(); ++i) {
      if (probes[i].up()) still.push_back(there[i]);
    }
    there = std::move(still);
    if (!there.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return there;
}

// ---- HeartbeatListener ------------------------------------------------------

std::variant<std::unique_ptr<HeartbeatListener>, std::string> HeartbeatListener::start(int port,
                                                                                       std::string greeting) {
  std::vector<platform::Fd> sockets;
  const auto listen_on = [&](int family) -> std::string {
    platform::Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return std::strerror(errno);
    const int one = 1;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = -1;
    if (family == AF_INET) {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_ANY);
      rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } else {
      (void)::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(static_cast<std::uint16_t>(port));
      addr.sin6_addr = in6addr_any;
      rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }
    if (rc != 0 || ::listen(fd.get(), 4096) != 0) return std::strerror(errno);
    sockets.push_back(std::move(fd));
    return {};
  };
  if (auto error = listen_on(AF_INET); !error.empty()) {
    return fmt::format("cannot listen on heartbeat port {}: {}", port, error);
  }
  (void)listen_on(AF_INET6);  // optional: hosts without IPv6 are fine
  platform::Fd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return fmt::format("heartbeat port {}: eventfd: {}", port, std::strerror(errno));
  return std::unique_ptr<HeartbeatListener>(
      new HeartbeatListener(std::move(sockets), std::move(stop), std::move(greeting)));
}

HeartbeatListener::HeartbeatListener(std::vector<platform::Fd> sockets, platform::Fd stop,
                                     std::string greeting)
    : sockets_(std::move(sockets)),
      stop_(std::move(stop)),
      greeting_(std::move(greeting)),
      thread_([this] { serve(); }) {}

HeartbeatListener::~HeartbeatListener() {
  const std::uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void HeartbeatListener::serve() {
  std::vector<pollfd> fds{pollfd{stop_.get(), POLLIN, 0}};
  for (const auto& s : sockets_) fds.push_back(pollfd{s.get(), POLLIN, 0});
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if ((fds[0].revents & POLLIN) != 0) return;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      // Drain the queue: accept, greet and close (a heartbeat probe only
      // needs the handshake). The greeting is small: it fits in the new
      // socket's send buffer, so the send never blocks; a probe that has
      // closed already just makes it fail.
      while (true) {
        const int conn = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn < 0) break;
        if (!greeting_.empty())
          (void)::send(conn, greeting_.data(), greeting_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(conn);
      }
    }
  }
}

// ---- Heartbeat --------------------------------------------------------------

Heartbeat::Heartbeat(std::vector<std::string> hosts, Options options)
    : options_(options),
      abort_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_([this, hosts = std::move(hosts)](const std::stop_token& stop) { watch(hosts, stop); }) {}

Heartbeat::~Heartbeat() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();  // condition_variable_any wakes on the stop request
}

std::vector<PeerProblem> Heartbeat::lost() const {
  std::scoped_lock lock(mutex_);
  return lost_;
}

Heartbeat::Inconclusive Heartbeat::inconclusive() const {
  std::scoped_lock lock(mutex_);
  return inconclusive_;
}

void Heartbeat::watch(std::vector<std::string> hosts, const std::stop_token& stop) {
  // Each host's address is looked up once, here: a lookup per host per round
  // is a resolver thread each, and on a starved machine (64 simulated hosts
  // on 2 cores during mpirun's launch) those threads, not the hosts, missed
  // the probe timeout and every worker was "lost" at once. A host's address
  // does not change during a job; a name that does not resolve now is kept
  // and looked up each round.
  struct Watched {
    std::string host;
    std::string target;  // its address, or the name when it did not resolve
    Clock::time_point last_answer;
    Clock::duration silent{};  // unanswered in conclusive rounds since
  };
  std::vector<Watched> watched;
  watched.reserve(hosts.size());
  for (auto& host : hosts) {
    auto found = net::resolve(host, Clock::now() + options_.probe_timeout);
    const auto* addresses = std::get_if<std::vector<std::string>>(&found);
    std::string target = addresses != nullptr && !addresses->empty() ? addresses->front() : host;
    watched.push_back({std::move(host), std::move(target), Clock::now()});
  }
  auto previous = Clock::now();
  auto stretch = Clock::duration::zero();  // inconclusive rounds in a row
  while (!stop.stop_requested() && !watched.empty()) {
    const auto tick = Clock::now();
    std::vector<std::string> targets;
    targets.reserve(watched.size());
    for (const auto& w : watched) targets.push_back(w.target);
    const auto probes = net::tcp_probe_all(targets, options_.port, options_.probe_timeout);
    const auto now = Clock::now();
    const auto elapsed = now - previous;
    previous = now;
    const bool inconclusive =
        watched.size() >= 2 && std::all_of(probes.begin(), probes.end(), [](const net::ProbeResult& p) {
          return p.reach == net::Reach::kNoAnswer;
        });
    if (inconclusive) {
      stretch += elapsed;
      std::scoped_lock lock(mutex_);
      ++inconclusive_.rounds;
      inconclusive_.longest = std::max(inconclusive_.longest, stretch);
    } else {
      stretch = Clock::duration::zero();
    }
    std::vector<PeerProblem> newly_lost;
    std::vector<Watched> still;  // a lost host is not probed again
    for (std::size_t i = 0; i < watched.size(); ++i) {
      Watched& w = watched[i];
      if (probes[i].up()) {
        w.last_answer = now;
        w.silent = Clock::duration::zero();
      } else if (!inconclusive) {
        w.silent += elapsed;
      }
      if (!probes[i].up() &&
          (w.silent >= options_.lost_after || now - w.last_answer >= options_.silent_limit)) {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - w.last_answer).count();
        newly_lost.push_back(
            {w.host, fmt::format("no heartbeat answer for {} s: {}", seconds, probes[i].detail)});
      } else {
        still.push_back(std::move(w));
      }
    }
    watched = std::move(still);
    if (!newly_lost.empty()) {
      {
        std::scoped_lock lock(mutex_);
        lost_.insert(lost_.end(), newly_lost.begin(), newly_lost.end());
      }
      const std::uint64_t one = 1;
      (void)!::write(abort_.get(), &one, sizeof one);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, tick + options_.interval, [] { return false; });
  }
}

}  // namespace smlaunch::cluster
