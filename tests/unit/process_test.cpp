// spawn, Supervisor, stop_all_children and the signal helpers against real
// processes (sh, seq, sleep, setsid): nothing of ours is mocked.
//
// The test binary is one process shared with every other test, so:
// - SupervisorTest blocks the supervised signals for the length of each test
//   (before any helper thread starts, so the threads inherit the mask), takes
//   whatever is still pending and then restores the mask: a SIGTERM we send
//   ourselves can never reach its default action.
// - The child-subreaper flag is process-wide and cannot usefully be undone
//   (orphans already re-parented stay ours), so it is set once for the suite
//   and left set. Other tests then find their orphans as our zombies rather
//   than gone; the subprocess tests accept both.
// - While supervising, the Supervisor reaps every child of the process; gtest
//   runs tests one at a time, so no other test's child is in flight.
#include "platform/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "platform/signals.hpp"
#include "test_support.hpp"

namespace smlaunch::platform {
namespace {

using smlaunch::test::TempDir;
using Clock = std::chrono::steady_clock;

// A hang guard, not a speed check: supervision that takes longer has hung.
constexpr std::chrono::seconds kHangLimit{20};
// The short grace the signal tests configure instead of kTermGrace.
constexpr std::chrono::milliseconds kTestGrace{200};

std::string system_path() {
  const char* path = std::getenv("PATH");
  return path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
}

/// A Command running `script` with sh, with only PATH in its environment.
Command shell(const std::string& script) {
  return Command{{"sh", "-c", script}, {"PATH=" + system_path()}, ""};
}

/// What /proc says about a process.
struct ProcInfo {
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

std::optional<ProcInfo> proc_info(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const std::size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  ProcInfo info;
  rest >> info.state >> info.ppid >> info.pgrp;
  if (!rest) return std::nullopt;
  return info;
}

/// Every process whose parent is this test process.
std::vector<pid_t> our_children() {
  std::vector<pid_t> children;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return children;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (const auto info = proc_info(pid); info && info->ppid == ::getpid()) children.push_back(pid);
  }
  ::closedir(dir);
  return children;
}

/// True when `pid` no longer runs: gone, or a zombie waiting for some other
/// parent (a zombie of ours would be a reaping bug and does not count).
bool is_gone(pid_t pid) {
  const auto info = proc_info(pid);
  return !info || ((info->state == 'Z' || info->state == 'X') && info->ppid != ::getpid());
}

/// The number after "`key` " in `text` (0 when absent).
pid_t number_after(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(key + " ");
  if (at == std::string::npos) return 0;
  return static_cast<pid_t>(std::atol(text.c_str() + at + key.size() + 1));
}

/// Collects the job's output per stream.
struct Captured {
  std::string out;
  std::string err;
  std::size_t chunks = 0;
  OutputHandler handler() {
    return [this](OutputStream stream, std::string_view chunk) {
      ++chunks;
      (stream == OutputStream::kStdout ? out : err).append(chunk);
    };
  }
};

/// Fails the test and SIGKILLs every child of ours (and its group) when the
/// scope lasts longer than kHangLimit, so that a hung supervision ends.
class HangGuard {
 public:
  HangGuard()
      : thread_([this] {
          std::unique_lock lock(mutex_);
          if (done_cv_.wait_for(lock, kHangLimit, [this] { return done_; })) return;
          ADD_FAILURE() << "supervision still running after " << kHangLimit.count() << " s";
          for (const pid_t pid : our_children()) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
          }
        }) {}
  HangGuard(const HangGuard&) = delete;
  HangGuard& operator=(const HangGuard&) = delete;
  ~HangGuard() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

/// Runs `command` under `supervisor` with a hang guard; fails the test when
/// it did not start.
JobOutcome run_job(Supervisor& supervisor, const Command& command, Captured& captured,
                   Clock::duration* elapsed = nullptr) {
  const HangGuard guard;
  const auto start = Clock::now();
  auto result = supervisor.run(command, captured.handler());
  if (elapsed != nullptr) *elapsed = Clock::now() - start;
  if (const auto* error = std::get_if<SpawnError>(&result)) {
    ADD_FAILURE() << "not started: " << error->message;
    return {};
  }
  return std::get<JobOutcome>(result);
}

/// The expected output of `seq first last`.
std::string seq_text(int first, int last) {
  std::string text;
  for (int i = first; i <= last; ++i) text += std::to_string(i) + "\n";
  return text;
}

// ---- spawn and the Child handle (no supervisor) ---------------------------

TEST(ProcessTest, EmptyCommandLineIsASpawnError) {
  const auto result = spawn(Command{});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(result));
  EXPECT_EQ(std::get<SpawnError>(result).step, SpawnStep::kCommand);
}

TEST(ProcessTest, MissingProgramIsASpawnErrorWithEnoent) {
  const auto by_name = spawn(Command{{"smlaunch-no-such-program"}, {"PATH=" + system_path()}, ""});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(by_name));
  EXPECT_EQ(std::get<SpawnError>(by_name).error, ENOENT);
  EXPECT_EQ(std::get<SpawnError>(by_name).step, SpawnStep::kProgram);
  EXPECT_EQ(std::get<SpawnError>(by_name).message,
            std::string("smlaunch-no-such-program: ") + std::strerror(ENOENT));

  const auto by_path = spawn(Command{{"/nonexistent/smlaunch-no-such-program"}, {}, ""});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(by_path));
  EXPECT_EQ(std::get<SpawnError>(by_path).error, ENOENT);

  // sh is on our PATH, but the child's environment has none of it.
  const auto not_on_its_path = spawn(Command{{"sh", "-c", "true"}, {"PATH=/nonexistent"}, ""});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(not_on_its_path));
  EXPECT_EQ(std::get<SpawnError>(not_on_its_path).error, ENOENT);
}

TEST(ProcessTest, NonExecutableProgramIsASpawnErrorWithEacces) {
  const TempDir dir;
  const std::string script = dir.write("tool", "#!/bin/sh\necho hi\n", 0644);
  const auto by_path = spawn(Command{{script}, {}, ""});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(by_path));
  EXPECT_EQ(std::get<SpawnError>(by_path).error, EACCES);

  const auto by_name = spawn(Command{{"tool"}, {"PATH=" + dir.path()}, ""});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(by_name));
  EXPECT_EQ(std::get<SpawnError>(by_name).error, EACCES);
}

TEST(ProcessTest, MissingWorkingDirectoryIsASpawnError) {
  const auto result = spawn(Command{{"sh", "-c", "true"}, {"PATH=" + system_path()}, "/nonexistent/dir"});
  ASSERT_TRUE(std::holds_alternative<SpawnError>(result));
  EXPECT_EQ(std::get<SpawnError>(result).step, SpawnStep::kWorkingDirectory);
  EXPECT_EQ(std::get<SpawnError>(result).error, ENOENT);
  EXPECT_NE(std::get<SpawnError>(result).message.find("/nonexistent/dir"), std::string::npos);
}

TEST(ProcessTest, ChildLeadsItsOwnProcessGroupAndDestructionKillsAndReapsIt) {
  pid_t pid = 0;
  {
    auto result = spawn(shell("sleep 30"));
    ASSERT_TRUE(std::holds_alternative<Child>(result)) << std::get<SpawnError>(result).message;
    const Child& child = std::get<Child>(result);
    pid = child.pid();
    EXPECT_TRUE(child.running());
    const auto info = proc_info(pid);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->pgrp, pid);
    EXPECT_NE(info->pgrp, ::getpgrp());
  }
  EXPECT_FALSE(proc_info(pid).has_value())
      << "still there (or an unreaped zombie) after the handle went away";
}

TEST(ProcessTest, MovedChildIsKilledOnceByItsLastOwner) {
  auto result = spawn(shell("sleep 30"));
  ASSERT_TRUE(std::holds_alternative<Child>(result));
  Child first = std::move(std::get<Child>(result));
  const pid_t pid = first.pid();
  Child second = std::move(first);
  EXPECT_FALSE(first.running());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(second.running());
  second.kill_and_reap();
  EXPECT_FALSE(second.running());
  EXPECT_TRUE(second.status().signaled());
  EXPECT_EQ(second.status().term_signal(), SIGKILL);
  EXPECT_FALSE(proc_info(pid).has_value());
}

TEST(ProcessTest, StatusDescribesHowAProcessEnded) {
  EXPECT_EQ(ProcessStatus::exited_with(3).describe(), "exited with code 3");
  EXPECT_EQ(ProcessStatus::killed_by(SIGKILL).describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(ProcessStatus().describe(), "exit status unknown");
  EXPECT_TRUE(ProcessStatus::exited_with(0).success());
  EXPECT_FALSE(ProcessStatus::killed_by(SIGTERM).success());
  EXPECT_EQ(ProcessStatus::exited_with(3).term_signal(), 0);
  EXPECT_EQ(ProcessStatus::killed_by(SIGTERM).exit_code(), -1);
}

TEST(ProcessTest, OutcomeSaysWhichSignalStoppedUs) {
  JobOutcome outcome;
  outcome.job = ProcessStatus::exited_with(7);
  EXPECT_EQ(outcome.describe(), "exited with code 7");
  outcome.stop_signal = SIGTERM;
  EXPECT_TRUE(outcome.stopped_by_signal());
  EXPECT_EQ(outcome.describe(), "stopped by signal 15 (SIGTERM); the job exited with code 7");
  outcome.job = ProcessStatus::killed_by(SIGKILL);
  outcome.killed_after_grace = true;
  EXPECT_EQ(
      outcome.describe(),
      "stopped by signal 15 (SIGTERM); the job was killed by signal 9 (SIGKILL) after the grace period");
}

// ---- Supervisor -------------------------------------------------------------

class SupervisorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { subreaper_ = become_child_subreaper(); }

  void SetUp() override { blocked_.emplace(SignalSet::supervised()); }

  void TearDown() override {
    // Take what is pending (a SIGCHLD, a stop signal we sent) before the old
    // mask comes back and would deliver it.
    const timespec no_wait{0, 0};
    while (::sigtimedwait(&SignalSet::supervised().native(), nullptr, &no_wait) > 0) {
    }
    blocked_.reset();
  }

  static bool subreaper_;
  std::optional<BlockedSignals> blocked_;
};

bool SupervisorTest::subreaper_ = false;

TEST_F(SupervisorTest, DeliversStdoutAndStderrSeparatelyWithTheExitCode) {
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome = run_job(supervisor, shell("echo out; echo err >&2; exit 3"), captured);
  EXPECT_EQ(captured.out, "out\n");
  EXPECT_EQ(captured.err, "err\n");
  EXPECT_TRUE(outcome.job.exited());
  EXPECT_EQ(outcome.job.exit_code(), 3);
  EXPECT_FALSE(outcome.stopped_by_signal());
  EXPECT_FALSE(outcome.killed_after_grace);
  EXPECT_FALSE(outcome.output_cut_short);
  EXPECT_EQ(outcome.describe(), "exited with code 3");
}

TEST_F(SupervisorTest, AbortDescriptorStopsTheJobWithSigtermThenSigkillAfterTheAbortGrace) {
  // The job ignores SIGTERM, so only the SIGKILL after the abort grace ends it.
  Fd abort(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(abort.valid());
  Supervisor supervisor({.term_grace = kHangLimit, .abort_fd = abort.get(), .abort_grace = kTestGrace});
  Captured captured;
  std::thread trigger([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::uint64_t one = 1;
    (void)!::write(abort.get(), &one, sizeof one);
  });
  const JobOutcome outcome = run_job(supervisor, shell("trap '' TERM; echo started; sleep 30"), captured);
  trigger.join();
  EXPECT_TRUE(outcome.aborted);
  EXPECT_FALSE(outcome.stopped_by_signal());
  EXPECT_TRUE(outcome.killed_after_grace);
  EXPECT_EQ(outcome.job.term_signal(), SIGKILL) << outcome.describe();
  EXPECT_EQ(captured.out, "started\n");
}

TEST_F(SupervisorTest, RelaysFiveMegabytesOnEachStreamCompletely) {
  // Both streams are written at the same time, so the chunks interleave.
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome =
      run_job(supervisor, shell("seq 1 800000 & seq 2000000 2700000 >&2; wait"), captured);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe();
  const std::string expected_out = seq_text(1, 800000);
  const std::string expected_err = seq_text(2000000, 2700000);
  ASSERT_GE(expected_out.size(), std::size_t{5} * 1024 * 1024);
  ASSERT_GE(expected_err.size(), std::size_t{5} * 1024 * 1024);
  EXPECT_EQ(captured.out.size(), expected_out.size());
  EXPECT_EQ(captured.err.size(), expected_err.size());
  EXPECT_TRUE(captured.out == expected_out);
  EXPECT_TRUE(captured.err == expected_err);
  EXPECT_GT(captured.chunks, std::size_t{2});
}

TEST_F(SupervisorTest, OutputIsNotHeldBackUntilTheJobEnds) {
  // Output is read in batches (a trickling pipe is left to fill for a few
  // milliseconds), never kept until the job exits.
  Supervisor supervisor;
  Clock::time_point first_seen{};
  std::string out;
  const HangGuard guard;
  auto result = supervisor.run(shell("echo first; sleep 1; echo second"),
                               [&](OutputStream /*stream*/, std::string_view chunk) {
                                 if (out.empty()) first_seen = Clock::now();
                                 out.append(chunk);
                               });
  const Clock::time_point ended = Clock::now();
  ASSERT_TRUE(std::holds_alternative<JobOutcome>(result));
  EXPECT_EQ(out, "first\nsecond\n");
  EXPECT_GT(ended - first_seen, std::chrono::milliseconds(500)) << "the first line came only at the end";
}

TEST_F(SupervisorTest, ManySmallWritesArriveCompleteAndInOrder) {
  // One write per line, with pauses: the batching pauses between reads.
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome =
      run_job(supervisor,
              shell("for i in $(seq 1 300); do echo \"line $i\"; [ $((i % 50)) = 0 ] && sleep 0.05; done; "
                    "echo tail >&2"),
              captured);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe();
  std::string expected;
  for (int i = 1; i <= 300; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(captured.out, expected);
  EXPECT_EQ(captured.err, "tail\n");
}

TEST_F(SupervisorTest, ReportsDeathBySignal) {
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome = run_job(supervisor, shell("kill -KILL $$"), captured);
  EXPECT_TRUE(outcome.job.signaled());
  EXPECT_EQ(outcome.job.term_signal(), SIGKILL);
  EXPECT_FALSE(outcome.stopped_by_signal());
  EXPECT_EQ(outcome.describe(), "killed by signal 9 (SIGKILL)");
}

TEST_F(SupervisorTest, MissingProgramIsASpawnErrorNotAnOutcome) {
  Supervisor supervisor;
  Captured captured;
  const auto result = supervisor.run(Command{{"smlaunch-no-such-program"}, {"PATH=" + system_path()}, ""},
                                     captured.handler());
  ASSERT_TRUE(std::holds_alternative<SpawnError>(result));
  EXPECT_EQ(std::get<SpawnError>(result).error, ENOENT);
}

TEST_F(SupervisorTest, HonoursEnvironmentAndWorkingDirectory) {
  const TempDir dir;
  ASSERT_EQ(::setenv("SMLAUNCH_TEST_LEAK", "from the parent", 1), 0);
  Supervisor supervisor;
  Captured captured;
  const Command command{
      {"sh", "-c", "printf '%s\\n' \"$SMLAUNCH_TEST_VALUE\" \"${SMLAUNCH_TEST_LEAK-unset}\"; pwd -P"},
      {"PATH=" + system_path(), "SMLAUNCH_TEST_VALUE=two words $HOME 'q'"},
      dir.path()};
  const JobOutcome outcome = run_job(supervisor, command, captured);
  ::unsetenv("SMLAUNCH_TEST_LEAK");
  EXPECT_TRUE(outcome.job.success()) << outcome.describe() << captured.err;
  EXPECT_EQ(captured.out,
            "two words $HOME 'q'\nunset\n" + std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST_F(SupervisorTest, RelativeProgramCountsFromTheWorkingDirectory) {
  const TempDir dir;
  dir.write("bin/tool", "#!/bin/sh\necho \"tool in $(pwd -P)\"\n", 0755);
  Supervisor supervisor;
  Captured by_path;
  EXPECT_TRUE(run_job(supervisor, Command{{"./bin/tool"}, {"PATH=" + system_path()}, dir.path()}, by_path)
                  .job.success());
  EXPECT_EQ(by_path.out, "tool in " + std::filesystem::canonical(dir.path()).string() + "\n");
  Captured by_relative_path_entry;
  EXPECT_TRUE(run_job(supervisor, Command{{"tool"}, {"PATH=bin:" + system_path()}, dir.path()},
                      by_relative_path_entry)
                  .job.success());
  EXPECT_EQ(by_relative_path_entry.out, by_path.out);
}

TEST_F(SupervisorTest, PassesArgvVerbatimAndRunsNothing) {
  const TempDir dir;
  const std::string marker = dir.path() + "/executed";
  const std::vector<std::string> args = {"$(touch " + marker + ")",
                                         "`touch " + marker + "`",
                                         "; touch " + marker,
                                         "two words",
                                         "'single'",
                                         "\"double\"",
                                         "*",
                                         "",
                                         "back\\slash",
                                         "new\nline"};
  Command command{{"printf", "[%s]\\n"}, {"PATH=" + system_path()}, dir.path()};
  command.argv.insert(command.argv.end(), args.begin(), args.end());
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome = run_job(supervisor, command, captured);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe() << captured.err;
  std::string expected;
  for (const std::string& arg : args) expected += "[" + arg + "]\n";
  EXPECT_EQ(captured.out, expected);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "something ran a shell over argv";
}

TEST_F(SupervisorTest, StdinIsDevNull) {
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome = run_job(supervisor, shell("cat; readlink /proc/self/fd/0; echo end"), captured);
  EXPECT_TRUE(outcome.job.success());
  EXPECT_EQ(captured.out, "/dev/null\nend\n");
}

/// Our descriptors without close-on-exec (inherited from whoever started
/// the test binary): a child may legitimately have those too.
std::set<int> inheritable_descriptors() {
  std::set<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::atoi(entry.path().filename().c_str());
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) fds.insert(fd);
  }
  return fds;
}

TEST_F(SupervisorTest, ChildInheritsNoDescriptorOfOurs) {
  // Our signalfd, pidfd and the pipes' read ends are all close-on-exec.
  Supervisor supervisor;
  const std::set<int> ours_inheritable = inheritable_descriptors();
  Captured captured;
  const JobOutcome outcome =
      run_job(supervisor, shell("for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done; true"),
              captured);
  EXPECT_TRUE(outcome.job.success()) << captured.err;
  std::istringstream lines(captured.out);
  std::set<int> child_fds;
  for (int fd = 0; lines >> fd;) child_fds.insert(fd);
  EXPECT_TRUE(child_fds.contains(0));
  EXPECT_TRUE(child_fds.contains(1));
  EXPECT_TRUE(child_fds.contains(2));
  for (const int fd : child_fds) {
    if (fd > 2) {
      EXPECT_TRUE(ours_inheritable.contains(fd)) << "descriptor " << fd << " leaked into the child";
    }
  }
}

/// Sends `signal` to this whole process (as `docker stop` would) once the
/// job has printed "ready", from another thread.
class SignalSender {
 public:
  explicit SignalSender(int signal)
      : thread_([this, signal] {
          std::unique_lock lock(mutex_);
          if (ready_cv_.wait_for(lock, kHangLimit, [this] { return ready_; })) ::kill(::getpid(), signal);
        }) {}
  SignalSender(const SignalSender&) = delete;
  SignalSender& operator=(const SignalSender&) = delete;
  ~SignalSender() {
    notify_ready();  // (in case the job never said so)
    thread_.join();
  }
  void notify_ready() {
    {
      const std::lock_guard lock(mutex_);
      ready_ = true;
    }
    ready_cv_.notify_all();
  }
  /// An output handler that captures and notifies on "ready".
  OutputHandler handler(Captured& captured) {
    return [this, &captured](OutputStream stream, std::string_view chunk) {
      captured.handler()(stream, chunk);
      if (captured.out.find("ready") != std::string::npos) notify_ready();
    };
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  bool ready_ = false;
  std::thread thread_;
};

/// Supervises `script`, signalling ourselves with `signal` when it says ready.
JobOutcome run_and_signal(Supervisor& supervisor, const std::string& script, int signal, Captured& captured) {
  const HangGuard guard;
  SignalSender sender(signal);
  auto result = supervisor.run(shell(script), sender.handler(captured));
  if (const auto* error = std::get_if<SpawnError>(&result)) {
    ADD_FAILURE() << "not started: " << error->message;
    return {};
  }
  return std::get<JobOutcome>(result);
}

TEST_F(SupervisorTest, ForwardsSigtermToTheJobsGroup) {
  Supervisor supervisor({.term_grace = std::chrono::seconds(15), .drain_grace = kDrainGrace});
  Captured captured;
  const JobOutcome outcome =
      run_and_signal(supervisor, "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
                     SIGTERM, captured);
  EXPECT_TRUE(outcome.job.exited()) << outcome.describe();
  EXPECT_EQ(outcome.job.exit_code(), 7);
  EXPECT_EQ(outcome.stop_signal, SIGTERM);
  EXPECT_TRUE(outcome.stopped_by_signal());
  EXPECT_FALSE(outcome.killed_after_grace);
  EXPECT_NE(outcome.describe().find("stopped by signal 15"), std::string::npos) << outcome.describe();
  EXPECT_EQ(captured.out, "ready\ngot TERM\n");
}

TEST_F(SupervisorTest, ForwardsSigintToTheJobsGroup) {
  Supervisor supervisor;
  Captured captured;
  const JobOutcome outcome = run_and_signal(
      supervisor, "trap 'exit 8' INT; echo ready; while :; do sleep 0.1; done", SIGINT, captured);
  EXPECT_EQ(outcome.job.exit_code(), 8) << outcome.describe();
  EXPECT_EQ(outcome.stop_signal, SIGINT);
  EXPECT_NE(outcome.describe().find("stopped by signal 2"), std::string::npos) << outcome.describe();
}

TEST_F(SupervisorTest, KillsAJobThatIgnoresSigtermAfterTheGrace) {
  Supervisor supervisor({.term_grace = kTestGrace, .drain_grace = kDrainGrace});
  Captured captured;
  const JobOutcome outcome =
      run_and_signal(supervisor, "trap '' TERM; echo ready; while :; do sleep 0.1; done", SIGTERM, captured);
  EXPECT_TRUE(outcome.job.signaled()) << outcome.describe();
  EXPECT_EQ(outcome.job.term_signal(), SIGKILL);
  EXPECT_EQ(outcome.stop_signal, SIGTERM);
  EXPECT_TRUE(outcome.killed_after_grace);
  EXPECT_FALSE(outcome.group_left_running);
  EXPECT_NE(outcome.describe().find("stopped by signal 15"), std::string::npos) << outcome.describe();
}

TEST_F(SupervisorTest, ReturnsWhenAGrandchildHoldsThePipesAndKillsIt) {
  if (!subreaper_) GTEST_SKIP() << "prctl(PR_SET_CHILD_SUBREAPER) refused";
  Supervisor supervisor;
  Captured captured;
  Clock::duration elapsed{};
  const JobOutcome outcome =
      run_job(supervisor, shell("(sleep 30 & echo \"grandchild $!\"); echo done"), captured, &elapsed);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe();
  EXPECT_LT(elapsed, kHangLimit);
  const pid_t grandchild = number_after(captured.out, "grandchild");
  ASSERT_GT(grandchild, 1) << captured.out;
  EXPECT_NE(captured.out.find("done\n"), std::string::npos);
  // It was in the job's group: SIGTERMed when the job exited, then reaped by
  // us (it re-parented to us, the subreaper).
  EXPECT_TRUE(is_gone(grandchild));
  EXPECT_FALSE(proc_info(grandchild).has_value()) << "left as a zombie";
  if (!is_gone(grandchild)) ::kill(grandchild, SIGKILL);
}

TEST_F(SupervisorTest, StopAllChildrenStopsASetsidGrandchild) {
  if (!subreaper_) GTEST_SKIP() << "prctl(PR_SET_CHILD_SUBREAPER) refused";
  Supervisor supervisor;
  Captured captured;
  Clock::duration elapsed{};
  // The grandchild leaves the job's group and session, keeps stdout open and
  // outlives the job; the script waits until setsid has happened.
  const JobOutcome outcome = run_job(supervisor,
                                     shell("setsid sleep 30 & pid=$!; "
                                           "while [ \"$(cut -d' ' -f6 /proc/$pid/stat)\" != \"$pid\" ]; do "
                                           "sleep 0.01; done; echo \"grandchild $pid\""),
                                     captured, &elapsed);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe() << captured.err;
  EXPECT_LT(elapsed, kHangLimit);
  EXPECT_TRUE(outcome.output_cut_short)
      << "the grandchild holds stdout: the drain grace must end the reading";
  const pid_t grandchild = number_after(captured.out, "grandchild");
  ASSERT_GT(grandchild, 1) << captured.out;

  // Outside the group, the job's teardown did not reach it; it is ours now.
  const auto before = proc_info(grandchild);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->ppid, ::getpid());
  EXPECT_NE(before->state, 'Z');

  EXPECT_GE(stop_all_children(kTestGrace), std::size_t{1});
  EXPECT_FALSE(proc_info(grandchild).has_value()) << "still there, or an unreaped zombie";
  EXPECT_TRUE(our_children().empty());
}

TEST_F(SupervisorTest, StopAllChildrenKillsChildrenThatIgnoreSigterm) {
  auto spawned = spawn(shell("trap '' TERM; sleep 30"));
  ASSERT_TRUE(std::holds_alternative<Child>(spawned));
  Child& child = std::get<Child>(spawned);
  const pid_t pid = child.pid();
  const HangGuard guard;
  EXPECT_GE(stop_all_children(kTestGrace), std::size_t{1});
  EXPECT_FALSE(proc_info(pid).has_value());
  child.kill_and_reap();  // already reaped by stop_all_children: the handle notices, no hang
  EXPECT_FALSE(child.running());
}

TEST_F(SupervisorTest, ReapsOrphanedZombies) {
  if (!subreaper_) GTEST_SKIP() << "prctl(PR_SET_CHILD_SUBREAPER) refused";
  Supervisor supervisor;
  Captured captured;
  // Each subshell exits at once; its sleep re-parents to us and exits later.
  const JobOutcome outcome = run_job(
      supervisor, shell("for i in 1 2 3 4 5; do (sleep 0.05 &); done; sleep 0.5; echo done"), captured);
  EXPECT_TRUE(outcome.job.success()) << outcome.describe();
  EXPECT_GE(outcome.others_reaped, std::size_t{5});
  for (const pid_t pid : our_children()) {
    const auto info = proc_info(pid);
    EXPECT_FALSE(info && info->state == 'Z') << "zombie child " << pid << " left behind";
  }
}

TEST_F(SupervisorTest, StopSignalBeforeTheJobStartsReachesIt) {
  // A SIGTERM that arrives while smlaunch is still preparing stays pending
  // (blocked) and stops the job as soon as it runs.
  Supervisor supervisor({.term_grace = kTestGrace, .drain_grace = kDrainGrace});
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  Captured captured;
  const JobOutcome outcome = run_job(supervisor, shell("sleep 30"), captured);
  EXPECT_EQ(outcome.stop_signal, SIGTERM);
  EXPECT_TRUE(outcome.job.signaled()) << outcome.describe();
}

// ---- signals ------------------------------------------------------------------

/// Whether `signal` is blocked in this thread.
bool is_blocked(int signal) {
  sigset_t mask;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  return ::sigismember(&mask, signal) == 1;
}

TEST(SignalsTest, BlockedSignalsRestoresThePreviousMask) {
  ASSERT_FALSE(is_blocked(SIGHUP)) << "test assumes SIGHUP unblocked";
  {
    const BlockedSignals outer(SignalSet{SIGHUP});
    EXPECT_EQ(outer.error(), 0);
    EXPECT_TRUE(is_blocked(SIGHUP));
    {
      const BlockedSignals inner(SignalSet{SIGHUP, SIGUSR2});
      EXPECT_TRUE(is_blocked(SIGUSR2));
    }
    EXPECT_TRUE(is_blocked(SIGHUP)) << "inner scope unblocked what outer blocked";
    EXPECT_FALSE(is_blocked(SIGUSR2));
  }
  EXPECT_FALSE(is_blocked(SIGHUP));
}

TEST(SignalsTest, SignalFdTakesPendingSignalsInsteadOfTheirAction) {
  {
    SignalFd signals(SignalSet{SIGHUP, SIGUSR2});
    ASSERT_TRUE(signals.valid()) << std::strerror(signals.error());
    EXPECT_TRUE(signals.take_pending().empty());
    ASSERT_EQ(::raise(SIGUSR2), 0);  // default action: terminate, were it not blocked
    const std::vector<ReceivedSignal> taken = signals.take_pending();
    ASSERT_EQ(taken.size(), 1U);
    EXPECT_EQ(taken[0].number, SIGUSR2);
    EXPECT_EQ(taken[0].sender, ::getpid());
    EXPECT_TRUE(signals.take_pending().empty());
  }
  EXPECT_FALSE(is_blocked(SIGUSR2));
}

TEST(SignalsTest, SignalFdLiftsAnIgnoredSigchldForItsLifetime) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGCHLD, &ignore, &previous), 0);
  {
    const SignalFd signals(SignalSet{SIGCHLD});
    struct sigaction now {};
    ::sigaction(SIGCHLD, nullptr, &now);
    EXPECT_EQ(now.sa_handler, SIG_DFL);
  }
  struct sigaction after {};
  ::sigaction(SIGCHLD, &previous, &after);
  EXPECT_EQ(after.sa_handler, SIG_IGN);
}

TEST(SignalsTest, SubreaperFlagIsSetAndStaysSet) {
  if (!become_child_subreaper()) GTEST_SKIP() << "prctl(PR_SET_CHILD_SUBREAPER) refused";
  EXPECT_TRUE(is_child_subreaper());
  EXPECT_TRUE(become_child_subreaper());  // idempotent
  EXPECT_TRUE(is_child_subreaper());
}

TEST(SignalsTest, NamesSignalsAndKnowsTheStopSignals) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(0), "signal 0");
  EXPECT_TRUE(is_stop_signal(SIGTERM));
  EXPECT_TRUE(is_stop_signal(SIGINT));
  EXPECT_TRUE(is_stop_signal(SIGHUP));
  EXPECT_FALSE(is_stop_signal(SIGCHLD));
  const SignalSet supervised = SignalSet::supervised();
  EXPECT_TRUE(supervised.contains(SIGCHLD));
  EXPECT_FALSE(supervised.contains(SIGUSR1));
}

}  // namespace
}  // namespace smlaunch::platform
