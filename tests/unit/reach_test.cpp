// resolve, tcp_probe and wait_for_names against the real network stack and
// resolver: a listening socket on 127.0.0.1, a port nobody listens on, a name
// under .invalid (RFC 6761: never resolves) and an address that does not
// answer.
#include "net/reach.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "platform/fd.hpp"
#include "platform/subprocess.hpp"
#include "test_support.hpp"

namespace smlaunch::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test::TcpListener;

constexpr milliseconds kProbeTimeout{2000};
constexpr milliseconds kShortTimeout{300};
// Bounds that tell "returned at its deadline" from "waited for the resolver
// or the kernel's connect timeout": not speed checks.
constexpr milliseconds kSlack{700};
constexpr milliseconds kFast{1000};
constexpr const char* kUnresolvable = "no-such-host.invalid";

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

TEST(TcpProbe, ListeningPortIsUp) {
  TcpListener listener;
  const ProbeResult r = tcp_probe("127.0.0.1", listener.port(), kProbeTimeout);
  EXPECT_EQ(r.reach, Reach::kUp) << r.detail;
  EXPECT_TRUE(r.up());
}

TEST(TcpProbe, NameIsResolvedBeforeConnecting) {
  TcpListener listener;
  const ProbeResult r = tcp_probe("localhost", listener.port(), kProbeTimeout);
  EXPECT_EQ(r.reach, Reach::kUp) << r.detail;
}

TEST(TcpProbe, ClosedPortIsRefusedAtOnce) {
  TcpListener listener;
  const int port = listener.port();
  listener.close();
  const auto start = Clock::now();
  const ProbeResult r = tcp_probe("127.0.0.1", port, kProbeTimeout);
  EXPECT_EQ(r.reach, Reach::kRefused) << r.detail;
  EXPECT_EQ(r.detail, "connection refused");
  EXPECT_LT(since(start), kFast);
}

TEST(TcpProbe, UnresolvableNameIsUnresolved) {
  const auto start = Clock::now();
  const ProbeResult r = tcp_probe(kUnresolvable, 22, kShortTimeout);
  EXPECT_EQ(r.reach, Reach::kUnresolved) << r.detail;
  EXPECT_FALSE(r.detail.empty());
  // Whether the resolver answers or hangs, the probe keeps its timeout.
  EXPECT_LT(since(start), kShortTimeout + kSlack);
}

TEST(TcpProbe, SilentAddressIsNoAnswerOrUnreachableWithinTheTimeout) {
  // Documentation addresses (RFC 5737): nothing answers there, unless the
  // network intercepts them (some sandboxes accept every connect). The probe
  // either times out (kNoAnswer) or fails fast (no route: kUnreachable).
  for (const char* address : {"192.0.2.99", "198.51.100.7", "203.0.113.7", "10.255.255.1"}) {
    const auto start = Clock::now();
    const ProbeResult r = tcp_probe(address, 22, kShortTimeout);
    const auto took = since(start);
    EXPECT_LT(took, kShortTimeout + kSlack) << address;
    if (r.reach == Reach::kUp || r.reach == Reach::kRefused) continue;  // intercepted: try the next
    if (r.reach == Reach::kNoAnswer) {
      EXPECT_EQ(r.detail, "no answer within 0.3 s");
      EXPECT_GE(took, kShortTimeout);
    } else {
      EXPECT_EQ(r.reach, Reach::kUnreachable) << address << ": " << r.detail;
    }
    return;
  }
  GTEST_SKIP() << "every documentation address answers on this network";
}

TEST(TcpProbe, PortOutOfRangeIsAnError) {
  EXPECT_EQ(tcp_probe("127.0.0.1", 0, kShortTimeout).reach, Reach::kUnreachable);
  EXPECT_EQ(tcp_probe("127.0.0.1", 70000, kShortTimeout).reach, Reach::kUnreachable);
}

TEST(TcpProbe, ConcurrentProbesFromManyThreads) {
  TcpListener listener;
  constexpr int kThreads = 16;
  constexpr int kProbesEach = 20;
  std::atomic<int> up{0};
  std::atomic<int> unresolved{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kProbesEach; ++i) {
        if (tcp_probe(t % 2 == 0 ? "localhost" : "127.0.0.1", listener.port(), kProbeTimeout).up()) ++up;
        if (i % 5 == 0 && tcp_probe(kUnresolvable, 22, kShortTimeout).reach == Reach::kUnresolved)
          ++unresolved;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(up.load(), kThreads * kProbesEach);
  EXPECT_EQ(unresolved.load(), kThreads * (kProbesEach / 5));
}

TEST(TcpProbeAll, EachHostGetsWhatTcpProbeWouldSayInInputOrder) {
  TcpListener open;
  TcpListener closing;
  const int closed = closing.port();
  closing.close();
  const auto start = Clock::now();
  const auto results =
      tcp_probe_all({"127.0.0.1", kUnresolvable, "localhost", "127.0.0.1"}, open.port(), kShortTimeout);
  ASSERT_EQ(results.size(), 4U);
  EXPECT_EQ(results[0].reach, Reach::kUp) << results[0].detail;
  EXPECT_EQ(results[1].reach, Reach::kUnresolved) << results[1].detail;
  EXPECT_EQ(results[2].reach, Reach::kUp) << results[2].detail;  // a name: resolved first
  EXPECT_EQ(results[3].reach, Reach::kUp) << results[3].detail;
  EXPECT_LT(since(start), kShortTimeout + kSlack);

  const auto refused = tcp_probe_all({"127.0.0.1"}, closed, kProbeTimeout);
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_EQ(refused[0].reach, Reach::kRefused);
  EXPECT_EQ(refused[0].detail, "connection refused");
  EXPECT_TRUE(tcp_probe_all({}, closed, kProbeTimeout).empty());
  EXPECT_EQ(tcp_probe_all({"127.0.0.1"}, 0, kShortTimeout)[0].reach, Reach::kUnreachable);
}

TEST(TcpProbeAll, SilentHostsShareOneTimeoutNotOneEach) {
  // A full accept queue: the kernel drops further SYNs (a blackholed host).
  TcpListener silent(TcpListener::Accepting::kNever, 0);
  const auto fillers = test::fill_accept_queue(silent.port());
  const std::vector<std::string> hosts(8, "127.0.0.1");
  const auto start = Clock::now();
  const auto results = tcp_probe_all(hosts, silent.port(), kShortTimeout);
  EXPECT_LT(since(start), kShortTimeout + kSlack);  // not 8 x 0.3 s
  int unanswered = 0;
  for (const auto& r : results) {
    if (r.reach == Reach::kNoAnswer) {
      ++unanswered;
      EXPECT_EQ(r.detail, "no answer within 0.3 s");
    }
  }
  EXPECT_GT(unanswered, 0) << "the kernel accepted every connect: the queue did not fill";
}

TEST(Resolve, NumericAddressNeedsNoLookup) {
  // A deadline already past: only an address that needs no lookup comes back.
  const auto v4 = resolve("127.0.0.1", Clock::now());
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(v4)) << std::get<ResolveError>(v4).detail;
  EXPECT_EQ(std::get<std::vector<std::string>>(v4), std::vector<std::string>{"127.0.0.1"});
  const auto v6 = resolve("::1", Clock::now());
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(v6)) << std::get<ResolveError>(v6).detail;
  EXPECT_EQ(std::get<std::vector<std::string>>(v6), std::vector<std::string>{"::1"});
}

TEST(Resolve, NameGivesNumericAddresses) {
  const auto r = resolve("localhost", Clock::now() + kProbeTimeout);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(r)) << std::get<ResolveError>(r).detail;
  const auto& addresses = std::get<std::vector<std::string>>(r);
  ASSERT_FALSE(addresses.empty());
  for (const std::string& address : addresses) {
    EXPECT_TRUE(address.starts_with("127.") || address == "::1") << address;
  }
}

TEST(Resolve, UnresolvableNameIsAnErrorByTheDeadline) {
  const auto start = Clock::now();
  const auto r = resolve(kUnresolvable, start + kShortTimeout);
  ASSERT_TRUE(std::holds_alternative<ResolveError>(r));
  EXPECT_FALSE(std::get<ResolveError>(r).detail.empty());
  EXPECT_LT(since(start), kShortTimeout + kSlack);
}

TEST(WaitForNames, AllResolvableReturnsEmptyQuickly) {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  const auto start = Clock::now();
  const auto missing =
      wait_for_names({"localhost", "127.0.0.1", "localhost"}, milliseconds(10'000),
                     [&](std::size_t resolved, std::size_t total) { calls.emplace_back(resolved, total); });
  EXPECT_TRUE(missing.empty());
  EXPECT_LT(since(start), kFast);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), (std::pair<std::size_t, std::size_t>{3, 3}));
  for (std::size_t i = 1; i < calls.size(); ++i) EXPECT_GT(calls[i].first, calls[i - 1].first);
}

TEST(WaitForNames, ReturnsOnlyTheUnresolvableInInputOrderWithinTheBudget) {
  constexpr milliseconds kBudget{800};
  std::vector<std::size_t> seen;
  const auto start = Clock::now();
  const auto missing = wait_for_names({"zz-no-such-host.invalid", "localhost", kUnresolvable, "127.0.0.1"},
                                      kBudget, [&](std::size_t resolved, std::size_t total) {
                                        EXPECT_EQ(total, 4U);
                                        seen.push_back(resolved);
                                      });
  const auto took = since(start);
  EXPECT_EQ(missing, (std::vector<std::string>{"zz-no-such-host.invalid", kUnresolvable}));
  // It retried until the budget ran out, and not (much) longer.
  EXPECT_GE(took, kBudget);
  EXPECT_LT(took, kBudget + kSlack);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 2U);
}

TEST(WaitForNames, NoNamesIsImmediate) {
  bool called = false;
  EXPECT_TRUE(
      wait_for_names({}, milliseconds(5000), [&](std::size_t, std::size_t) { called = true; }).empty());
  EXPECT_FALSE(called);
}

TEST(WaitForNames, ProgressIsCalledOnTheCallingThread) {
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  (void)wait_for_names({"localhost"}, milliseconds(5000), [&](std::size_t, std::size_t) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

// --- A resolver that never answers ------------------------------------------
//
// The test re-runs this binary in its own mount and network namespaces with
// a resolv.conf that points at 127.0.0.1, where the inner run binds a UDP
// port 53 that never answers: every DNS lookup then blocks for resolv.conf's
// 30 s timeout, which the budgets must not wait for. Needs root, unshare and
// ip; skipped otherwise.

constexpr const char* kHangingDnsVariable = "SMLAUNCH_TEST_HANGING_DNS";

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

void check_budgets_with_hanging_resolver() {
  platform::Fd silent(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(53);
  if (::bind(silent.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    GTEST_SKIP() << "cannot bind 127.0.0.1:53 for a silent nameserver";
  }
  // ThreadSanitizer's runtime starts a thread of its own once the program
  // creates its first thread: allowed for.
#if defined(__SANITIZE_THREAD__)
  constexpr std::size_t kRuntimeThreads = 1;
#else
  constexpr std::size_t kRuntimeThreads = 0;
#endif
  const std::size_t threads_before = thread_count() + kRuntimeThreads;

  auto start = Clock::now();
  const ProbeResult r = tcp_probe("hangs-1.example", 22, kShortTimeout);
  EXPECT_LT(since(start), kShortTimeout + kSlack);
  EXPECT_EQ(r.reach, Reach::kUnresolved) << r.detail;
  EXPECT_EQ(r.detail, "name lookup did not finish within 0.3 s");

  // Probing the same name again waits for the lookup in flight: no new
  // thread per probe while the resolver hangs.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(tcp_probe("hangs-1.example", 22, milliseconds(50)).reach, Reach::kUnresolved);
  // resolve() (the SSH client's lookup) waits for that same lookup too.
  const auto lookup = resolve("hangs-1.example", Clock::now() + milliseconds(50));
  ASSERT_TRUE(std::holds_alternative<ResolveError>(lookup));
  EXPECT_EQ(std::get<ResolveError>(lookup).failure, ResolveFailure::kTimedOut);
  EXPECT_LE(thread_count(), threads_before + 1);

  constexpr milliseconds kBudget{600};
  std::vector<std::size_t> seen;
  start = Clock::now();
  const auto missing = wait_for_names({"hangs-1.example", "localhost", "hangs-2.example"}, kBudget,
                                      [&](std::size_t resolved, std::size_t) { seen.push_back(resolved); });
  const auto took = since(start);
  EXPECT_GE(took, kBudget);
  EXPECT_LT(took, kBudget + kSlack);
  EXPECT_EQ(missing, (std::vector<std::string>{"hangs-1.example", "hangs-2.example"}));
  EXPECT_EQ(seen, std::vector<std::size_t>{1});
  EXPECT_LE(thread_count(), threads_before + 2);

  // tcp_probe_all: a hanging lookup holds back only its own host; the others
  // (a number, a name found in /etc/hosts) are connected and answer.
  const TcpListener open(TcpListener::Accepting::kNever);  // no thread: connects complete from its queue
  start = Clock::now();
  const auto probes =
      tcp_probe_all({"hangs-3.example", "127.0.0.1", "localhost"}, open.port(), kShortTimeout);
  EXPECT_LT(since(start), kShortTimeout + kSlack);
  ASSERT_EQ(probes.size(), 3U);
  EXPECT_EQ(probes[0].reach, Reach::kUnresolved) << probes[0].detail;
  EXPECT_EQ(probes[0].detail, "name lookup did not finish within 0.3 s");
  EXPECT_EQ(probes[1].reach, Reach::kUp) << probes[1].detail;
  EXPECT_EQ(probes[2].reach, Reach::kUp) << probes[2].detail;
  EXPECT_LE(thread_count(), threads_before + 3);
  // Returning from here with two lookups still blocked is the point: the
  // process then exits with them running.
}

TEST(WaitForNames, BudgetsHoldWhenTheResolverHangs) {
  if (std::getenv(kHangingDnsVariable) != nullptr) {
    check_budgets_with_hanging_resolver();
    return;
  }
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a private mount namespace)";
  const std::string path =
      std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin";
  for (const char* tool : {"unshare", "ip"}) {
    if (!platform::find_executable(tool, path)) GTEST_SKIP() << tool << " not found";
  }
  const test::TempDir dir;
  const std::string resolv =
      dir.write("resolv.conf", "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n");
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const auto result = platform::run_capture(
      {"unshare", "--mount", "--net", "--propagation", "private", "sh", "-c",
       "ip link set lo up && mount --bind \"$1\" /etc/resolv.conf && exec env \"$2=1\" \"$3\" "
       "--gtest_filter=$4",
       "sh", resolv, kHangingDnsVariable, self, "WaitForNames.BudgetsHoldWhenTheResolverHangs"},
      path, std::chrono::seconds(30));
  if (result.out.find("[  SKIPPED ]") != std::string::npos) GTEST_SKIP() << result.out;
  EXPECT_TRUE(result.ok()) << result.out << result.err;
  EXPECT_NE(result.out.find("[  PASSED  ] 1 test"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace smlaunch::net
