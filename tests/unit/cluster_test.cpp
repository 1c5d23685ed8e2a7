// The cluster layer's pieces that need no sshd: the outcome file, and the
// concurrent waits and the heartbeat against real sockets on 127.0.0.1.
// (The leader/worker protocol end to end is tests/e2e.)
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "cluster/outcome.hpp"
#include "cluster/peers.hpp"
#include "net/reach.hpp"
#include "test_support.hpp"

namespace smlaunch::cluster {
namespace {

using namespace std::chrono_literals;
using test::TcpListener;
using test::unused_port;

TEST(Outcome, RoundTripsSuccessAndFailure) {
  EXPECT_EQ(outcome_path("/tmp", "algo-1"), "/tmp/done.algo-1");
  EXPECT_EQ(outcome_path("/tmp/", "algo-1"), "/tmp/done.algo-1");
  EXPECT_EQ(to_text(Outcome{}), "{\"exit_code\":0,\"status\":\"success\"}\n");
  const auto ok = parse_outcome(to_text(Outcome{}));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->success());

  const Outcome failed{1, "ExecuteUserScriptError", "ZeroDivisionError: division by zero\nsecond line"};
  const auto back = parse_outcome(to_text(failed));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->exit_code, 1);
  EXPECT_EQ(back->error_class, "ExecuteUserScriptError");
  EXPECT_EQ(back->message, failed.message);
}

TEST(Outcome, MessageIsCutAt1024BytesWithoutSplittingACharacter) {
  const std::string message = std::string(1023, 'x') + "\xC3\xA9" + std::string(100, 'y');
  const auto back = parse_outcome(to_text(Outcome{1, "E", message}));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->message, std::string(1023, 'x'));
}

TEST(Outcome, IncompleteOrForeignContentIsNotAnOutcome) {
  EXPECT_FALSE(parse_outcome(""));
  EXPECT_FALSE(parse_outcome("{\"exit_code\":1"));  // a writer half way through
  EXPECT_FALSE(parse_outcome("[]"));
  EXPECT_FALSE(parse_outcome("{\"exit_code\":\"1\"}"));
  EXPECT_FALSE(parse_outcome("{\"exit_code\":300}"));
  EXPECT_FALSE(parse_outcome("{\"status\":\"success\"}"));
}

TEST(Peers, WaitForSshdGivesUpAtTheDeadlineNamingTheHostAndWhy) {
  WaitOptions options;
  options.port = unused_port();
  options.deadline = Clock::now() + 300ms;
  const auto problems = wait_for_sshd({"127.0.0.1"}, options);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].host, "127.0.0.1");
  EXPECT_NE(problems[0].why.find("refused"), std::string::npos) << problems[0].why;
  EXPECT_EQ(describe(problems), "127.0.0.1 (" + problems[0].why + ")");
}

TEST(Peers, WaitForSshdEndsWhenAStopIsRequested) {
  WaitOptions options;
  options.port = unused_port();
  options.deadline = Clock::now() + 60s;  // a hang guard: the stop must end it long before
  int polls = 0;
  options.stop_requested = [&] { return ++polls >= 3; };
  const auto started = Clock::now();
  const auto problems = wait_for_sshd({"127.0.0.1", "localhost"}, options);
  EXPECT_LT(Clock::now() - started, 30s);
  EXPECT_EQ(problems.size(), 2u);
  EXPECT_GE(polls, 3);
}

TEST(Peers, UnreachableNowAndWaitUntilGoneSeeAClosedPort) {
  TcpListener open;
  const int closed = unused_port();
  EXPECT_TRUE(unreachable_now({"127.0.0.1"}, open.port(), 1s).empty());
  const auto down = unreachable_now({"127.0.0.1"}, closed, 1s);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].host, "127.0.0.1");

  // Still listening: still there at the deadline. Closed: gone at once.
  EXPECT_EQ(wait_until_gone({"127.0.0.1"}, open.port(), Clock::now() + 200ms),
            std::vector<std::string>{"127.0.0.1"});
  open.close();
  EXPECT_TRUE(wait_until_gone({"127.0.0.1"}, open.port(), Clock::now() + 10s).empty());
}

TEST(Heartbeat, AHostThatStopsAnsweringIsLostAndTheAbortDescriptorFires) {
  TcpListener peer;
  Heartbeat heartbeat({"127.0.0.1"},
                      {.port = peer.port(), .interval = 50ms, .lost_after = 300ms, .probe_timeout = 200ms});
  pollfd fd{heartbeat.abort_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&fd, 1, 200), 0);  // answering: not lost
  EXPECT_TRUE(heartbeat.lost().empty());
  peer.close();
  ASSERT_EQ(::poll(&fd, 1, 20'000), 1);  // a hang guard
  const auto lost = heartbeat.lost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].host, "127.0.0.1");
  EXPECT_NE(lost[0].why.find("refused"), std::string::npos) << lost[0].why;
}

// Quick rounds for the tests: probed every 50 ms, lost after 200 ms.
Heartbeat::Options quick_rounds(int port, std::chrono::milliseconds silent_limit) {
  return {.port = port,
          .interval = 50ms,
          .lost_after = 200ms,
          .probe_timeout = 100ms,
          .silent_limit = silent_limit};
}

TEST(Heartbeat, EveryHostSilentAtOnceIsInconclusiveUntilTheSilentLimit) {
  // Both probes go unanswered (a full accept queue drops the SYNs): this
  // host, not the others, may be what is slow, so lost_after does not apply.
  TcpListener silent(TcpListener::Accepting::kNever, 0);
  const auto fillers = test::fill_accept_queue(silent.port());
  Heartbeat heartbeat({"127.0.0.1", "127.0.0.1"}, quick_rounds(silent.port(), 3s));
  pollfd fd{heartbeat.abort_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&fd, 1, 600), 0);     // well past lost_after: not lost
  ASSERT_EQ(::poll(&fd, 1, 20'000), 1);  // the silent limit (a hang guard)
  const auto lost = heartbeat.lost();
  ASSERT_EQ(lost.size(), 2u);
  EXPECT_NE(lost[0].why.find("no answer within 0.1 s"), std::string::npos) << lost[0].why;
  const auto inconclusive = heartbeat.inconclusive();
  EXPECT_GT(inconclusive.rounds, 1u);
  EXPECT_GE(inconclusive.longest, 600ms);
}

TEST(Heartbeat, OneSilentHostAmongAnsweringOnesIsLostAfterLostAfter) {
  TcpListener silent(TcpListener::Accepting::kNever, 0);
  const auto fillers = test::fill_accept_queue(silent.port());
  constexpr std::uint32_t kOtherLoopback = 0x7f000002;  // 127.0.0.2, same port
  TcpListener answering(TcpListener::Accepting::kAndDrop, TcpListener::kDefaultBacklog, kOtherLoopback,
                        silent.port());
  Heartbeat heartbeat({"127.0.0.2", "127.0.0.1"}, quick_rounds(silent.port(), 1h));
  pollfd fd{heartbeat.abort_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 20'000), 1);  // long before the silent limit (a hang guard)
  const auto lost = heartbeat.lost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].host, "127.0.0.1");
  EXPECT_NE(lost[0].why.find("no answer within 0.1 s"), std::string::npos) << lost[0].why;
  EXPECT_EQ(heartbeat.inconclusive().rounds, 0u);
}

TEST(Heartbeat, StopsPromptlyWhenDestroyed) {
  TcpListener peer;
  const auto started = Clock::now();
  { Heartbeat heartbeat({"127.0.0.1", "127.0.0.1"}, {.port = peer.port(), .interval = 10s}); }
  EXPECT_LT(Clock::now() - started, 5s);  // not the 10 s interval
}

}  // namespace
}  // namespace smlaunch::cluster

namespace smlaunch::cluster {
namespace {

TEST(HeartbeatListener, AnswersProbesWhileItLivesAndIsRefusedAfter) {
  const int port = test::unused_port();
  auto started = HeartbeatListener::start(port);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<HeartbeatListener>>(started))
      << std::get<std::string>(started);
  {
    auto listener = std::move(std::get<std::unique_ptr<HeartbeatListener>>(started));
    for (int i = 0; i < 50; ++i) EXPECT_TRUE(net::tcp_probe("127.0.0.1", port, 1s).up());
    // A second listener on the same port is a clear error, not a crash.
    auto second = HeartbeatListener::start(port);
    ASSERT_TRUE(std::holds_alternative<std::string>(second));
    EXPECT_NE(std::get<std::string>(second).find(std::to_string(port)), std::string::npos);
  }
  EXPECT_EQ(net::tcp_probe("127.0.0.1", port, 1s).reach, net::Reach::kRefused);
}

}  // namespace
}  // namespace smlaunch::cluster

namespace smlaunch::cluster {
namespace {

std::unique_ptr<HeartbeatListener> listen_greeting(int port, std::string greeting) {
  auto started = HeartbeatListener::start(port, std::move(greeting));
  if (auto* error = std::get_if<std::string>(&started)) {
    ADD_FAILURE() << *error;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<HeartbeatListener>>(started));
}

TEST(HeartbeatListener, GreetsEveryConnectionWithItsReadiness) {
  const int port = test::unused_port();
  const std::string text = to_text(Outcome{1, "InstallRequirementsError", "ERROR: No matching distribution"});
  auto listener = listen_greeting(port, text);
  ASSERT_TRUE(listener);
  for (int i = 0; i < 20; ++i) {
    const auto greeting = net::read_greeting("127.0.0.1", port, 2s);
    ASSERT_TRUE(greeting.probe.up()) << greeting.probe.detail;
    EXPECT_EQ(greeting.text, text);
  }
  // Plain heartbeat probes still work beside it.
  EXPECT_TRUE(net::tcp_probe("127.0.0.1", port, 1s).up());
}

TEST(ReadGreeting, BoundsAServerThatNeverClosesAndOneThatSaysTooMuch) {
  // Accepted by the kernel, never answered nor closed: bounded by the timeout.
  TcpListener silent(TcpListener::Accepting::kNever, 4);
  const auto started = Clock::now();
  const auto greeting = net::read_greeting("127.0.0.1", silent.port(), 300ms);
  EXPECT_FALSE(greeting.probe.up());
  EXPECT_NE(greeting.probe.detail.find("did not end within"), std::string::npos) << greeting.probe.detail;
  EXPECT_LT(Clock::now() - started, 3s);

  const int port = test::unused_port();
  auto listener = listen_greeting(port, std::string(3000, 'x'));
  ASSERT_TRUE(listener);
  const auto big = net::read_greeting("127.0.0.1", port, 2s, 1000);
  EXPECT_FALSE(big.probe.up());
  EXPECT_TRUE(big.text.empty());
  EXPECT_NE(big.probe.detail.find("longer than 1000 bytes"), std::string::npos) << big.probe.detail;

  EXPECT_EQ(net::read_greeting("127.0.0.1", test::unused_port(), 1s).probe.reach, net::Reach::kRefused);
}

TEST(Peers, WaitForGreetingsWaitsForAHostThatStartsListeningLate) {
  const int port = test::unused_port();
  WaitOptions options;
  options.port = port;
  options.deadline = Clock::now() + 20s;  // a hang guard
  std::unique_ptr<HeartbeatListener> late;
  std::jthread starter([&] {
    std::this_thread::sleep_for(300ms);
    late = listen_greeting(port, "ready\n");
  });
  std::vector<PeerProblem> never;
  const auto answers = wait_for_greetings({"127.0.0.1"}, options, never);
  EXPECT_TRUE(never.empty()) << describe(never);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].host, "127.0.0.1");
  EXPECT_EQ(answers[0].content, "ready\n");

  // Nobody ever listens: named at the deadline.
  options.port = test::unused_port();
  options.deadline = Clock::now() + 300ms;
  EXPECT_TRUE(wait_for_greetings({"127.0.0.1"}, options, never).empty());
  ASSERT_EQ(never.size(), 1u);
  EXPECT_NE(never[0].why.find("refused"), std::string::npos) << never[0].why;
}

}  // namespace
}  // namespace smlaunch::cluster
