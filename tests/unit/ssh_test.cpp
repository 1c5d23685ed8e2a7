// The SSH layer against a real sshd and real libssh: our own sshd on a free
// 127.0.0.1 port with host keys, an authorized key and a log in a temporary
// directory (the machine's /etc/ssh host keys and /root/.ssh are not touched;
// /run/sshd is created if missing, as Sshd::start always does). The silent
// hosts are local sockets: one that never sends a banner (the kernel
// completes the TCP handshake, nobody accept()s), and one whose accept queue
// is full so the kernel drops further SYNs (no RST: a blackholed host).
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/peers.hpp"
#include "platform/fd.hpp"
#include "platform/subprocess.hpp"
#include "ssh/client.hpp"
#include "ssh/sshd.hpp"
#include "test_support.hpp"

namespace smlaunch::ssh {
namespace {

using Clock = std::chrono::steady_clock;
using platform::Fd;
using std::chrono::milliseconds;

constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr milliseconds kShortTimeout{300};
// Scheduling slack on a busy 2-core machine, on top of a timeout.
constexpr milliseconds kSlack{700};

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// A socket on 127.0.0.1 listening with `backlog` that nobody accept()s.
test::TcpListener silent_listener(int backlog) {
  return test::TcpListener(test::TcpListener::Accepting::kNever, backlog);
}

/// Makes an ed25519 key pair `dir/name` (+ .pub); returns the private key's path.
std::string make_key(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  const auto run = platform::run_capture({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path}, kPath,
                                         milliseconds{30'000});
  EXPECT_TRUE(run.ok()) << run.err;
  return path;
}

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

/// Our sshd on a free port, with keys and its log in a temporary directory,
/// accepting `client_key` for root.
class LocalSshd {
 public:
  LocalSshd() {
    client_key_ = make_key(dir_.path(), "id_ed25519");
    dir_.write("authorized_keys", read_file(client_key_ + ".pub"), 0600);
    options_.port = test::unused_port();
    options_.log_file = dir_.path() + "/log/sshd.log";
    options_.host_key_files = {dir_.path() + "/host/ssh_host_ed25519_key"};
    options_.ready_deadline = milliseconds{10'000};
    // UsePAM=no: independent of the machine's PAM stack (pam_loginuid is
    // "required" on Debian and fails in containers without CAP_AUDIT_CONTROL).
    options_.extra_options = {"AuthorizedKeysFile=" + dir_.path() + "/authorized_keys", "StrictModes=no",
                              "PidFile=none", "ListenAddress=127.0.0.1", "UsePAM=no"};
  }

  /// Starts it; a test failure when it does not start.
  bool start() {
    auto started = Sshd::start(options_);
    if (auto* error = std::get_if<SshdError>(&started)) {
      ADD_FAILURE() << "sshd did not start: " << error->message;
      return false;
    }
    sshd_.emplace(std::get<Sshd>(std::move(started)));
    return true;
  }

  [[nodiscard]] Endpoint endpoint() const { return {"127.0.0.1", options_.port}; }
  [[nodiscard]] SessionOptions session_options() const {
    SessionOptions options;
    options.identity_files = {client_key_};
    options.connect_timeout = milliseconds{5'000};
    return options;
  }
  [[nodiscard]] const test::TempDir& dir() const { return dir_; }
  SshdOptions& options() { return options_; }
  Sshd& sshd() { return *sshd_; }

 private:
  test::TempDir dir_;
  std::string client_key_;
  SshdOptions options_;
  std::optional<Sshd> sshd_;
};

/// An open session to `server` (a test failure when it does not open).
std::optional<Session> open_session(const LocalSshd& server) {
  auto opened = Session::open(server.endpoint(), server.session_options());
  if (auto* f = std::get_if<Failure>(&opened)) {
    ADD_FAILURE() << "session did not open: " << f->message;
    return std::nullopt;
  }
  return std::get<Session>(std::move(opened));
}

/// What `command` did on `session` (a test failure, and exit status -1 with
/// no output, when it could not run or did not finish within `timeout`).
ExecResult exec_ok(Session& session, const std::string& command, std::string_view input = "",
                   milliseconds timeout = milliseconds{5'000}) {
  auto ran = session.exec(command, input, timeout);
  if (auto* f = std::get_if<Failure>(&ran)) {
    ADD_FAILURE() << "`" << command << "` failed: " << f->message;
    return {};
  }
  return std::get<ExecResult>(std::move(ran));
}

// ---- handshake ----------------------------------------------------------------

TEST(SshHandshake, SucceedsAgainstARunningSshd) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const auto failure = handshake(server.endpoint(), milliseconds{5'000});
  EXPECT_FALSE(failure) << failure->message;
}

TEST(SshHandshake, NothingListeningIsARefusedConnectAndFast) {
  const int port = test::unused_port();
  const auto start = Clock::now();
  const auto failure = handshake({"127.0.0.1", port}, milliseconds{5'000});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kConnect);
  EXPECT_EQ(failure->message, "127.0.0.1:" + std::to_string(port) + ": connection refused");
  EXPECT_LT(since(start), milliseconds{1'000});
  EXPECT_FALSE(is_permanent(*failure));
}

TEST(SshHandshake, HostDroppingSynsIsBoundedByTheTimeout) {
  // Backlog 0 with one connection queued: the kernel drops further SYNs
  // (no RST), as a blackholed address does.
  const test::TcpListener listener = silent_listener(0);
  Fd queued(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(listener.port()));
  ASSERT_EQ(::connect(queued.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

  const auto start = Clock::now();
  const auto failure = handshake({"127.0.0.1", listener.port()}, kShortTimeout);
  const auto took = since(start);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kConnect) << failure->message;
  EXPECT_EQ(failure->message, "127.0.0.1:" + std::to_string(listener.port()) + ": no answer within 300 ms");
  EXPECT_GE(took, kShortTimeout - milliseconds{5});
  EXPECT_LT(took, kShortTimeout + kSlack);
}

TEST(SshHandshake, ServerThatNeverSendsABannerIsBoundedByTheTimeout) {
  const test::TcpListener listener =
      silent_listener(16);  // the kernel completes the TCP handshake; nobody answers
  const auto start = Clock::now();
  const auto failure = handshake({"127.0.0.1", listener.port()}, kShortTimeout);
  const auto took = since(start);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kHandshake) << failure->message;
  EXPECT_NE(failure->message.find("no SSH handshake within 300 ms"), std::string::npos) << failure->message;
  EXPECT_LT(took, kShortTimeout + kSlack);
}

TEST(SshHandshake, NameThatDoesNotResolveIsAResolveFailure) {
  const auto start = Clock::now();
  const auto failure = handshake({"no-such-host.invalid", 22}, milliseconds{2'000});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kResolve) << failure->message;
  EXPECT_TRUE(failure->message.starts_with("no-such-host.invalid:22: name ")) << failure->message;
  EXPECT_LT(since(start), milliseconds{2'000} + kSlack);
}

// ---- banner ---------------------------------------------------------------------

/// A server that sends `greeting` on every connection and closes it.
std::unique_ptr<cluster::HeartbeatListener> greeter(int port, std::string greeting) {
  auto started = cluster::HeartbeatListener::start(port, std::move(greeting));
  if (auto* error = std::get_if<std::string>(&started)) {
    ADD_FAILURE() << *error;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<cluster::HeartbeatListener>>(started));
}

TEST(SshBanner, SucceedsAgainstARunningSshd) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const auto failure = banner(server.endpoint(), milliseconds{5'000});
  EXPECT_FALSE(failure) << failure->message;
}

TEST(SshBanner, AcceptsSsh2AndSsh199BannersOnly) {
  for (const auto& [text, ok] :
       std::vector<std::pair<std::string, bool>>{{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", true},
                                                 {"SSH-1.99-Old\r\n", true},
                                                 {"SSH-2.0-NoCarriageReturn\n", true},
                                                 {"SSH-1.5-Ancient\r\n", false},
                                                 {"HTTP/1.1 400 Bad Request\r\n\r\n", false}}) {
    const int port = test::unused_port();
    const auto server = greeter(port, text);
    ASSERT_TRUE(server);
    const auto failure = banner({"127.0.0.1", port}, milliseconds{5'000});
    EXPECT_EQ(!failure, ok) << text << (failure ? failure->message : "");
    if (failure) {
      EXPECT_EQ(failure->kind, FailureKind::kHandshake) << failure->message;
      EXPECT_NE(failure->message.find("not an SSH 2 banner"), std::string::npos) << failure->message;
    }
  }
}

TEST(SshBanner, AServerClosingWithoutALineIsAHandshakeFailure) {
  const int port = test::unused_port();
  const auto server = greeter(port, "SSH-2.0-but no line end");
  ASSERT_TRUE(server);
  const auto failure = banner({"127.0.0.1", port}, milliseconds{5'000});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kHandshake);
  EXPECT_EQ(failure->message, "127.0.0.1:" + std::to_string(port) +
                                  ": no SSH banner: connected, but the server closed before a line");
}

TEST(SshBanner, NothingListeningIsARefusedConnect) {
  const int port = test::unused_port();
  const auto failure = banner({"127.0.0.1", port}, milliseconds{5'000});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kConnect);
  EXPECT_EQ(failure->message, "127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST(SshBanner, ServerThatNeverSendsABannerIsBoundedByTheTimeout) {
  const test::TcpListener listener = silent_listener(16);
  const auto start = Clock::now();
  const auto failure = banner({"127.0.0.1", listener.port()}, kShortTimeout);
  const auto took = since(start);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kHandshake) << failure->message;
  EXPECT_NE(failure->message.find("no SSH banner: connected, but no whole line within 0.3 s"),
            std::string::npos)
      << failure->message;
  EXPECT_LT(took, kShortTimeout + kSlack);
}

TEST(SshBanner, NameThatDoesNotResolveAndBadPortAreResolveFailures) {
  const auto unresolved = banner({"no-such-host.invalid", 22}, milliseconds{2'000});
  ASSERT_TRUE(unresolved);
  EXPECT_EQ(unresolved->kind, FailureKind::kResolve) << unresolved->message;
  const auto bad_port = banner({"127.0.0.1", 70000}, milliseconds{2'000});
  ASSERT_TRUE(bad_port);
  EXPECT_EQ(bad_port->kind, FailureKind::kResolve) << bad_port->message;
}

TEST(SshHandshake, ManyConcurrentHandshakesFromThreads) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  constexpr int kThreads = 6;
  constexpr int kRounds = 4;
  std::atomic<int> succeeded{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        if (const auto f = handshake(server.endpoint(), milliseconds{5'000})) {
          errors[static_cast<std::size_t>(t)] = f->message;
        } else {
          ++succeeded;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), kThreads * kRounds);
  for (const std::string& error : errors) EXPECT_EQ(error, "");
}

// ---- sessions -----------------------------------------------------------------

/// A running sshd and a session open on it.
class SshSession : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    session_ = open_session(server_);
    ASSERT_TRUE(session_);
  }

  LocalSshd server_;
  std::optional<Session> session_;
};

TEST_F(SshSession, ExecReturnsOutputAndExitStatus) {
  EXPECT_EQ(session_->endpoint().port, server_.endpoint().port);

  const ExecResult first = exec_ok(*session_, "echo hi; exit 3");
  EXPECT_EQ(first.output, "hi\n");
  EXPECT_EQ(first.exit_status, 3);

  // The same session runs the next command; stderr is part of the output.
  const ExecResult second = exec_ok(*session_, "echo out; echo err >&2");
  EXPECT_NE(second.output.find("out\n"), std::string::npos);
  EXPECT_NE(second.output.find("err\n"), std::string::npos);
  EXPECT_EQ(second.exit_status, 0);
}

TEST_F(SshSession, ExecFeedsInputThenEndOfFile) {
  EXPECT_EQ(exec_ok(*session_, "cat; echo done", "line 1\nline 2\n").output, "line 1\nline 2\ndone\n");

  // More than one channel window (OpenSSH's is 2 MiB) goes through in pieces.
  const std::string big(3 * 1024 * 1024 + 7, 'x');
  EXPECT_EQ(exec_ok(*session_, "wc -c", big, milliseconds{10'000}).output, std::to_string(big.size()) + "\n");

  // A command that does not read its input still finishes.
  EXPECT_EQ(exec_ok(*session_, "exit 0", big).exit_status, 0);
}

TEST_F(SshSession, ExecOutputIsCappedAt64KiB) {
  // 1 MB through the channel: a generous bound (the cap is what is tested;
  // a loaded 2-core machine has taken over 5 s).
  const ExecResult capped = exec_ok(*session_, "head -c 1000000 /dev/zero; exit 4", "", milliseconds{60'000});
  EXPECT_EQ(capped.output.size(), 64U * 1024U);
  EXPECT_EQ(capped.exit_status, 4);
}

TEST_F(SshSession, ExecThatDoesNotFinishTimesOut) {
  const auto start = Clock::now();
  auto ran = session_->exec("sleep 30", "", kShortTimeout);
  ASSERT_TRUE(std::holds_alternative<Failure>(ran));
  EXPECT_EQ(std::get<Failure>(ran).kind, FailureKind::kTimeout);
  EXPECT_NE(std::get<Failure>(ran).message.find("`sleep 30` did not finish within 300 ms"), std::string::npos)
      << std::get<Failure>(ran).message;
  EXPECT_LT(since(start), kShortTimeout + kSlack + milliseconds{1'000});  // + closing the channel
}

TEST_F(SshSession, WriteFileIsAtomicWithMode0644) {
  // A name that needs quoting; an existing file with other permissions.
  const std::string dir = server_.dir().path() + "/out dir";
  const std::string path = server_.dir().write("out dir/it's $HOME `x`.env", "old", 0600);
  const std::string content = "A=\"1\"\nB='2'\n";
  const auto failure = session_->write_file(path, content, milliseconds{5'000});
  ASSERT_FALSE(failure) << failure->message;

  EXPECT_EQ(read_file(path), content);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0644U);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"it's $HOME `x`.env"});  // no temporary file left
}

TEST_F(SshSession, WriteFileCutShortByItsTimeoutPublishesNothing) {
  const std::string dir = server_.dir().path() + "/out";
  const std::string path = server_.dir().write("out/file", "old");
  const std::string content(64 * 1024 * 1024, 'x');  // far more than goes through in 100 ms
  const auto failure = session_->write_file(path, content, milliseconds{100});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kTimeout);
  EXPECT_NE(failure->message.find("writing " + path + " did not finish within 100 ms"), std::string::npos)
      << failure->message;

  // The remote shell sees end of file when the channel closes; it must find
  // the content short and remove its temporary file instead of renaming it.
  const auto give_up = Clock::now() + milliseconds{3'000};
  std::size_t entries = 0;
  do {
    std::this_thread::sleep_for(milliseconds{20});
    entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  } while (entries > 1 && Clock::now() < give_up);
  EXPECT_EQ(entries, 1U);
  EXPECT_EQ(read_file(path), "old");
}

TEST_F(SshSession, WriteFileFailureNamesThePathAndLeavesNothing) {
  const std::string path = server_.dir().path() + "/missing/file";
  const auto failure = session_->write_file(path, "x", milliseconds{5'000});
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, FailureKind::kCommand);
  EXPECT_NE(failure->message.find("cannot write " + path + " (exit status 1)"), std::string::npos)
      << failure->message;

  const auto relative = session_->write_file("relative/file", "x", milliseconds{5'000});
  ASSERT_TRUE(relative);
  EXPECT_EQ(relative->kind, FailureKind::kCommand);
  EXPECT_NE(relative->message.find("not an absolute path"), std::string::npos);
}

// ---- cluster::Sessions: the leader's kept sessions -------------------------------

/// A TCP relay on 127.0.0.1 to `target_port`, one connection at a time, that
/// the test can cut (both sides closed): a connection dropped under a session.
class CuttableRelay {
 public:
  explicit CuttableRelay(int target_port) : target_port_(target_port) {
    listener_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    (void)::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_.get(), 8), 0);
    socklen_t length = sizeof addr;
    (void)::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    thread_ = std::jthread([this](const std::stop_token& stop) { serve(stop); });
  }
  [[nodiscard]] int port() const { return port_; }
  /// Closes the current connection on both sides.
  void cut() { cuts_.fetch_add(1); }

 private:
  void serve(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      Fd server(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<std::uint16_t>(target_port_));
      if (!client || ::connect(server.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        continue;
      const int cuts = cuts_.load();
      std::array<char, 65536> buffer{};
      while (!stop.stop_requested() && cuts_.load() == cuts) {
        std::array<pollfd, 2> fds{pollfd{client.get(), POLLIN, 0}, pollfd{server.get(), POLLIN, 0}};
        if (::poll(fds.data(), 2, 50) <= 0) continue;
        bool closed = false;
        for (int i = 0; i < 2 && !closed; ++i) {
          if (fds[i].revents == 0) continue;
          const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
          closed = n <= 0 || ::write(fds[1 - i].fd, buffer.data(), static_cast<std::size_t>(n)) != n;
        }
        if (closed) break;
      }
    }
  }

  int target_port_;
  int port_ = 0;
  Fd listener_;
  std::atomic<int> cuts_{0};
  std::jthread thread_;
};

TEST_F(SshSession, KeptSessionsReadWhatAHostPublishedOrNothing) {
  const std::string path = server_.dir().write("ready dir/it's ready.algo-2", "{\"exit_code\":1}\n", 0644);
  const auto port = server_.endpoint().port;
  std::vector<cluster::PeerProblem> problems;
  auto sessions =
      cluster::Sessions::open({"127.0.0.1"}, port, server_.session_options(), milliseconds{5'000}, problems);
  EXPECT_TRUE(problems.empty()) << cluster::describe(problems);

  auto files = sessions.read([&](const std::string&) { return path; }, milliseconds{5'000}, problems);
  EXPECT_TRUE(problems.empty()) << cluster::describe(problems);
  ASSERT_EQ(files.size(), 1U);
  EXPECT_EQ(files[0].host, "127.0.0.1");
  EXPECT_EQ(files[0].content, "{\"exit_code\":1}\n");

  // A file that is not there reads as empty (nothing published).
  files = sessions.read([&](const std::string&) { return path + ".missing"; }, milliseconds{5'000}, problems);
  EXPECT_TRUE(problems.empty()) << cluster::describe(problems);
  ASSERT_EQ(files.size(), 1U);
  EXPECT_EQ(files[0].content, "");

  // A file that cannot be read (a directory) is a problem, named.
  files =
      sessions.read([&](const std::string&) { return server_.dir().path(); }, milliseconds{5'000}, problems);
  EXPECT_TRUE(files.empty());
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].why.find("cannot read " + server_.dir().path()), std::string::npos)
      << problems[0].why;
}

TEST_F(SshSession, KeptSessionsWriteTheOutcomeAndReopenAStaleOne) {
  CuttableRelay relay(server_.endpoint().port);
  const auto port = relay.port();
  std::vector<cluster::PeerProblem> problems;
  auto sessions =
      cluster::Sessions::open({"127.0.0.1"}, port, server_.session_options(), milliseconds{5'000}, problems);
  ASSERT_TRUE(problems.empty()) << cluster::describe(problems);
  const std::string path = server_.dir().path() + "/done.algo-1";
  EXPECT_TRUE(sessions.write({"127.0.0.1"}, path, "first\n", milliseconds{5'000}).empty());
  EXPECT_EQ(read_file(path), "first\n");

  // The connection drops during the job: the write opens a new session.
  relay.cut();
  std::this_thread::sleep_for(milliseconds{200});
  const auto undelivered = sessions.write({"127.0.0.1"}, path, "second\n", milliseconds{5'000});
  EXPECT_TRUE(undelivered.empty()) << cluster::describe(undelivered);
  EXPECT_EQ(read_file(path), "second\n");

  // A command that fails is not tried again on a new session; it is named.
  const auto failed =
      sessions.write({"127.0.0.1"}, server_.dir().path() + "/missing/x", "x", milliseconds{5'000});
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_NE(failed[0].why.find("exit status"), std::string::npos) << failed[0].why;
}

TEST(SshSessions, AHostWithoutSshdIsAProblemWithinItsBound) {
  std::vector<cluster::PeerProblem> problems;
  const auto started = Clock::now();
  auto sessions = cluster::Sessions::open({"127.0.0.1"}, test::unused_port(), SessionOptions{},
                                          milliseconds{2'000}, problems);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].host, "127.0.0.1");
  EXPECT_LT(since(started), milliseconds{2'000} + kSlack);
  // Nothing to read on it; a write tries a new session, and fails naming it.
  EXPECT_TRUE(sessions.read([](const std::string&) { return "/x"; }, milliseconds{1'000}, problems).empty());
  EXPECT_TRUE(problems.empty());
  const auto failed = sessions.write({"127.0.0.1"}, "/tmp/x", "x", milliseconds{1'000});
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_NE(failed[0].why.find("refused"), std::string::npos) << failed[0].why;
}

TEST(SshAuth, RefusedKeyIsAPermanentAuthDenial) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  SessionOptions options = server.session_options();
  const std::string other_key = make_key(server.dir().path(), "other_key");
  options.identity_files = {other_key};

  auto opened = Session::open(server.endpoint(), options);
  ASSERT_TRUE(std::holds_alternative<Failure>(opened));
  const Failure& failure = std::get<Failure>(opened);
  EXPECT_EQ(failure.kind, FailureKind::kAuthDenied);
  EXPECT_TRUE(is_permanent(failure));
  EXPECT_EQ(failure.message, "127.0.0.1:" + std::to_string(server.endpoint().port) +
                                 ": public key refused for root (tried " + other_key + ")");
}

TEST(SshAuth, UnreadableKeyFileIsAnAuthDenialNamingIt) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  SessionOptions options = server.session_options();
  const std::string missing = server.dir().path() + "/no_such_key";
  options.identity_files = {missing};
  auto opened = Session::open(server.endpoint(), options);
  ASSERT_TRUE(std::holds_alternative<Failure>(opened));
  EXPECT_EQ(std::get<Failure>(opened).kind, FailureKind::kAuthDenied);
  EXPECT_NE(std::get<Failure>(opened).message.find("cannot read private key " + missing), std::string::npos)
      << std::get<Failure>(opened).message;
}

TEST(SshClient, NoDescriptorLeaksAcrossSessionsAndFailures) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const test::TcpListener silent = silent_listener(16);
  const int closed_port = test::unused_port();
  (void)handshake(server.endpoint(), milliseconds{5'000});  // warm up libssh and the crypto library
  const std::size_t before = open_descriptors();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(handshake(server.endpoint(), milliseconds{5'000}));
    EXPECT_TRUE(handshake({"127.0.0.1", closed_port}, milliseconds{5'000}));
    EXPECT_TRUE(handshake({"127.0.0.1", silent.port()}, milliseconds{100}));
    auto session = open_session(server);
    ASSERT_TRUE(session);
    EXPECT_EQ(exec_ok(*session, "true", "in").exit_status, 0);
    SessionOptions options = server.session_options();
    options.identity_files = {server.dir().path() + "/no_such_key"};
    EXPECT_TRUE(std::holds_alternative<Failure>(Session::open(server.endpoint(), options)));
  }
  EXPECT_EQ(open_descriptors(), before);
}

// ---- sshd -----------------------------------------------------------------------

TEST(Sshd, StartMakesMissingHostKeysAndLogs) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const std::string key = server.options().host_key_files.front();
  struct stat info {};
  ASSERT_EQ(::stat(key.c_str(), &info), 0);
  ASSERT_EQ(::stat(server.options().log_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat((server.dir().path() + "/log").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0755U);
  EXPECT_GT(server.sshd().pid(), 0);
  EXPECT_TRUE(find_sshd(server.options()).has_value());
}

TEST(Sshd, BadOptionIsAnErrorCarryingSshdsMessage) {
  LocalSshd server;
  server.options().extra_options.push_back("NoSuchOption=yes");
  const auto start = Clock::now();
  auto started = Sshd::start(server.options());
  ASSERT_TRUE(std::holds_alternative<SshdError>(started));
  const std::string& message = std::get<SshdError>(started).message;
  EXPECT_TRUE(message.starts_with("sshd exited with code ")) << message;
  EXPECT_NE(message.find(" before accepting connections on 127.0.0.1:"), std::string::npos) << message;
  EXPECT_NE(message.find("NoSuchOption"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_LT(since(start), milliseconds{3'000});
}

TEST(Sshd, PortInUseIsAnErrorCarryingSshdsMessage) {
  const test::TcpListener squatter = silent_listener(16);
  LocalSshd server;
  server.options().port = squatter.port();
  auto started = Sshd::start(server.options());
  ASSERT_TRUE(std::holds_alternative<SshdError>(started));
  const std::string& message = std::get<SshdError>(started).message;
  EXPECT_NE(message.find("Address already in use"), std::string::npos) << message;
}

TEST(Sshd, MissingProgramIsAnError) {
  LocalSshd server;
  server.options().program = server.dir().path() + "/no/sshd";
  EXPECT_FALSE(find_sshd(server.options()).has_value());
  auto started = Sshd::start(server.options());
  ASSERT_TRUE(std::holds_alternative<SshdError>(started));
  EXPECT_EQ(std::get<SshdError>(started).message, server.options().program + ": not an executable file");
}

TEST(Sshd, StopLeavesNoProcessAndNoZombie) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const pid_t pid = server.sshd().pid();
  const auto start = Clock::now();
  server.sshd().stop();
  EXPECT_LT(since(start), milliseconds{2'000});
  EXPECT_EQ(server.sshd().pid(), -1);
  EXPECT_EQ(::kill(pid, 0), -1);  // no process, not even a zombie
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  server.sshd().stop();  // idempotent
  EXPECT_TRUE(handshake(server.endpoint(), milliseconds{1'000}));
}

TEST(Sshd, StopCopesWithAChildReapedElsewhere) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  const pid_t pid = server.sshd().pid();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);  // as the job Supervisor would
  const auto start = Clock::now();
  server.sshd().stop();
  EXPECT_LT(since(start), milliseconds{100});
}

TEST(Sshd, MovedFromSshdDoesNotStopTheServer) {
  LocalSshd server;
  ASSERT_TRUE(server.start());
  Sshd moved(std::move(server.sshd()));
  EXPECT_EQ(server.sshd().pid(), -1);
  server.sshd().stop();
  EXPECT_FALSE(handshake(server.endpoint(), milliseconds{5'000}));
  const pid_t pid = moved.pid();
  { Sshd gone(std::move(moved)); }  // destroyed: stopped and reaped
  EXPECT_EQ(::kill(pid, 0), -1);
}

}  // namespace
}  // namespace smlaunch::ssh
