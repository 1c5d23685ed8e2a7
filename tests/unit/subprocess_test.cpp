// run_capture and find_executable against real processes (sh, printf, sleep,
// head): no part of our code is mocked.
#include "platform/subprocess.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "test_support.hpp"
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace smlaunch::platform {
namespace {

constexpr std::chrono::milliseconds kGenerousTimeout{60'000};
constexpr std::chrono::milliseconds kShortTimeout{300};
// Only to tell "killed at the timeout" from "waited for sleep 100": not a speed check.
constexpr std::chrono::seconds kFarBelowSleep{50};
constexpr std::size_t kFiveMegabytes = std::size_t{5} * 1024 * 1024;

std::string system_path() {
  const char* path = std::getenv("PATH");
  return path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
}

std::string strerror_text(int err) {
  return std::strerror(err);
}

using smlaunch::test::TempDir;

/// Changes the working directory for one scope.
class ScopedChdir {
 public:
  explicit ScopedChdir(const std::string& dir) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;
  ~ScopedChdir() {
    std::error_code ec;
    std::filesystem::current_path(previous_, ec);
  }

 private:
  std::filesystem::path previous_;
};

/// True when `pid` is gone or a zombie (dead, not yet reaped by its new parent).
bool process_is_dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const std::size_t paren = line.rfind(')');
  return paren == std::string::npos || line.size() < paren + 3 || line[paren + 2] == 'Z' ||
         line[paren + 2] == 'X';
}

/// Waits up to a few seconds for `pid` to die (a SIGKILL is delivered
/// asynchronously); true when it did.
bool wait_until_dead(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (process_is_dead(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// Descriptors of this process that a child would inherit (no FD_CLOEXEC).
std::set<int> inheritable_descriptors() {
  std::set<int> fds;
  for (int fd = 0; fd < 1024; ++fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) fds.insert(fd);
  }
  return fds;
}

TEST(Subprocess, CapturesStdoutAndStderrSeparately) {
  const CaptureResult r = run_capture({"sh", "-c", "printf 'to out\\n'; printf 'to err\\n' >&2; printf more"},
                                      system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "to out\nmore");
  EXPECT_EQ(r.err, "to err\n");
  EXPECT_TRUE(r.start_error.empty());
}

TEST(Subprocess, ReportsExitCode) {
  const CaptureResult r =
      run_capture({"sh", "-c", "echo failing >&2; exit 7"}, system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.err, "failing\n");
}

TEST(Subprocess, ReportsDeathBySignal) {
  const CaptureResult r = run_capture({"sh", "-c", "kill -TERM $$"}, system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_FALSE(r.timed_out);
}

TEST(Subprocess, ChildDoesNotInheritIgnoredSigpipe) {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  // `yes` dies of SIGPIPE (status 128+13) once `head` has gone, unless it
  // inherited SIGPIPE ignored: then it sees EPIPE and exits 1.
  const CaptureResult r = run_capture({"sh", "-c", "(yes; echo \"yes ended: $?\" >&2) | head -n 1"},
                                      system_path(), kGenerousTimeout);
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out, "y\n");
  EXPECT_EQ(r.err, "yes ended: 141\n");
}

TEST(Subprocess, ReadsLargeOutputOnBothPipesWithoutDeadlock) {
  // stderr first: a reader that waited for stdout's end first would deadlock
  // with the child blocked on a full stderr pipe.
  const std::string size = std::to_string(kFiveMegabytes);
  const std::string script = "head -c " + size + " /dev/zero | tr '\\0' e >&2; head -c " + size +
                             " /dev/zero | tr '\\0' o; head -c " + size + " /dev/zero | tr '\\0' E >&2";
  const CaptureResult r =
      run_capture({"sh", "-c", script}, system_path(), kGenerousTimeout, 4 * kFiveMegabytes);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.ok()) << "exit " << r.exit_code << " signal " << r.term_signal << " timed out "
                      << r.timed_out;
  ASSERT_EQ(r.out.size(), kFiveMegabytes);
  ASSERT_EQ(r.err.size(), 2 * kFiveMegabytes);
  EXPECT_EQ(r.out.find_first_not_of('o'), std::string::npos);
  EXPECT_EQ(r.err.find_first_not_of('e'), kFiveMegabytes);
  EXPECT_EQ(r.err.find_first_not_of('E', kFiveMegabytes), std::string::npos);
}

TEST(Subprocess, CapsEachStreamAndKeepsReadingPastTheCap) {
  constexpr std::size_t kCap = 1000;
  const std::string script =
      "head -c 3000000 /dev/zero | tr '\\0' x; head -c 3000000 /dev/zero | tr '\\0' y >&2; echo done >&2";
  const CaptureResult r = run_capture({"sh", "-c", script}, system_path(), kGenerousTimeout, kCap);
  ASSERT_TRUE(r.started) << r.start_error;
  // Not killed by SIGPIPE or blocked: the rest was read and dropped.
  EXPECT_TRUE(r.ok()) << "exit " << r.exit_code << " signal " << r.term_signal << " timed out "
                      << r.timed_out;
  EXPECT_EQ(r.out, std::string(kCap, 'x'));
  EXPECT_EQ(r.err, std::string(kCap, 'y'));
}

TEST(Subprocess, ZeroCapCapturesNothing) {
  const CaptureResult r =
      run_capture({"sh", "-c", "echo out; echo err >&2"}, system_path(), kGenerousTimeout, 0);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.err.empty());
}

TEST(Subprocess, TimeoutKillsTheProcessAndItsGrandchildren) {
  const auto start = std::chrono::steady_clock::now();
  // The grandchild prints its pid and sleeps; the child sleeps too.
  const CaptureResult r =
      run_capture({"sh", "-c", "sleep 100 & echo $!; sleep 100"}, system_path(), kShortTimeout);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(elapsed, kFarBelowSleep);
  const pid_t grandchild = static_cast<pid_t>(std::atoi(r.out.c_str()));
  ASSERT_GT(grandchild, 1) << "output: " << r.out;
  EXPECT_TRUE(wait_until_dead(grandchild)) << "grandchild " << grandchild << " survived the timeout";
}

TEST(Subprocess, TimeoutAppliesWhenTheChildClosedItsOutput) {
  const CaptureResult r = run_capture({"sh", "-c", "exec >&- 2>&-; sleep 100"}, system_path(), kShortTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
}

TEST(Subprocess, ReturnsWhenTheChildExitsEvenIfAGrandchildKeepsThePipesOpen) {
  const auto start = std::chrono::steady_clock::now();
  const CaptureResult r = run_capture({"sh", "-c", "sleep 100 & echo $!"}, system_path(), kGenerousTimeout);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const pid_t grandchild = static_cast<pid_t>(std::atoi(r.out.c_str()));
  if (grandchild > 1) ::kill(grandchild, SIGKILL);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_GT(grandchild, 1) << "output: " << r.out;
  EXPECT_LT(elapsed, kFarBelowSleep);
}

TEST(Subprocess, MissingProgramIsNotStartedWithEnoent) {
  const CaptureResult by_name =
      run_capture({"smlaunch-no-such-program", "x"}, system_path(), kGenerousTimeout);
  EXPECT_FALSE(by_name.started);
  EXPECT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.start_error, strerror_text(ENOENT));

  const CaptureResult by_path =
      run_capture({"/nonexistent/smlaunch-no-such-program"}, system_path(), kGenerousTimeout);
  EXPECT_FALSE(by_path.started);
  EXPECT_EQ(by_path.start_error, strerror_text(ENOENT));
}

TEST(Subprocess, NonExecutableFileIsNotStartedWithEacces) {
  const TempDir dir;
  const std::string script = dir.write("tool", "#!/bin/sh\necho hi\n", 0644);
  const CaptureResult by_path = run_capture({script}, system_path(), kGenerousTimeout);
  EXPECT_FALSE(by_path.started);
  EXPECT_EQ(by_path.start_error, strerror_text(EACCES));

  const CaptureResult by_name = run_capture({"tool"}, dir.path(), kGenerousTimeout);
  EXPECT_FALSE(by_name.started);
  EXPECT_EQ(by_name.start_error, strerror_text(EACCES));
}

TEST(Subprocess, EmptyCommandLineIsNotStarted) {
  const CaptureResult r = run_capture({}, system_path(), kGenerousTimeout);
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.start_error.empty());
}

TEST(Subprocess, LooksProgramsUpInTheGivenPathOnly) {
  const TempDir dir;
  dir.write("hello-tool", "#!/bin/sh\necho \"hello from $0\"\n", 0755);
  const CaptureResult found = run_capture({"hello-tool"}, "/nonexistent:" + dir.path(), kGenerousTimeout);
  ASSERT_TRUE(found.started) << found.start_error;
  EXPECT_EQ(found.out, "hello from " + dir.path() + "/hello-tool\n");

  // sh is on this process's $PATH, but not on the one given.
  const CaptureResult not_found = run_capture({"sh", "-c", "true"}, dir.path(), kGenerousTimeout);
  EXPECT_FALSE(not_found.started);
  EXPECT_EQ(not_found.start_error, strerror_text(ENOENT));
}

TEST(Subprocess, PassesArgvVerbatimWithoutAShell) {
  const std::vector<std::string> args = {"two words", "'single'",    "\"double\"", "$(echo injected)",
                                         "`id`",      "*",           "a;b|c&&d",   "$HOME",
                                         "",          "back\\slash", "new\nline"};
  std::vector<std::string> argv = {"printf", "[%s]\\n"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CaptureResult r = run_capture(argv, system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.ok()) << r.err;
  std::string expected;
  for (const std::string& arg : args) expected += "[" + arg + "]\n";
  EXPECT_EQ(r.out, expected);

  const CaptureResult echo =
      run_capture({"/bin/echo", "$(echo injected)", "a  b"}, system_path(), kGenerousTimeout);
  EXPECT_EQ(echo.out, "$(echo injected) a  b\n");
}

TEST(Subprocess, StdinIsDevNull) {
  const CaptureResult cat = run_capture({"cat"}, system_path(), kGenerousTimeout);
  ASSERT_TRUE(cat.started) << cat.start_error;
  EXPECT_TRUE(cat.ok());
  EXPECT_FALSE(cat.timed_out);
  EXPECT_TRUE(cat.out.empty());

  const CaptureResult link = run_capture({"readlink", "/proc/self/fd/0"}, system_path(), kGenerousTimeout);
  EXPECT_EQ(link.out, "/dev/null\n");
}

TEST(Subprocess, ChildLeadsItsOwnProcessGroup) {
  // Field 5 of /proc/PID/stat is the process group; the shell's comm has no spaces.
  const CaptureResult r =
      run_capture({"sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"}, system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.ok()) << r.err;
  std::istringstream lines(r.out);
  long pid = 0;
  long group = 0;
  lines >> pid >> group;
  EXPECT_GT(pid, 1);
  EXPECT_EQ(group, pid);
  EXPECT_NE(group, static_cast<long>(::getpgrp()));
}

TEST(Subprocess, ChildInheritsNoDescriptorOfOurs) {
  const std::set<int> ours_inheritable = inheritable_descriptors();
  // Lists the shell's open descriptors (the glob's own directory descriptor is
  // closed again by the time the loop tests each entry).
  const CaptureResult r =
      run_capture({"sh", "-c", "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done"},
                  system_path(), kGenerousTimeout);
  ASSERT_TRUE(r.started) << r.start_error;
  std::istringstream lines(r.out);
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

TEST(FindExecutable, FindsTheFirstExecutableInPathOrder) {
  const TempDir first;
  const TempDir second;
  first.write("tool", "#!/bin/sh\n", 0755);
  second.write("tool", "#!/bin/sh\n", 0755);
  const std::string path_env = "/nonexistent:" + first.path() + ":" + second.path();
  EXPECT_EQ(find_executable("tool", path_env), first.path() + "/tool");
  EXPECT_EQ(find_executable("tool", second.path() + "/"), second.path() + "/tool");
  EXPECT_EQ(find_executable("missing-tool", path_env), std::nullopt);
  EXPECT_EQ(find_executable("", path_env), std::nullopt);
}

TEST(FindExecutable, EmptyPathEntryMeansTheCurrentDirectory) {
  const TempDir dir;
  dir.write("tool", "#!/bin/sh\n", 0755);
  const ScopedChdir in_dir(dir.path());
  const std::string cwd = std::filesystem::current_path().string();
  const std::string expected = cwd + "/tool";
  EXPECT_EQ(find_executable("tool", ""), expected);
  EXPECT_EQ(find_executable("tool", ":/nonexistent"), expected);
  EXPECT_EQ(find_executable("tool", "/nonexistent:"), expected);
  EXPECT_EQ(find_executable("tool", "/nonexistent::/also-nonexistent"), expected);
  EXPECT_EQ(find_executable("tool", "."), expected);
  EXPECT_EQ(find_executable("tool", "/nonexistent"), std::nullopt);
}

TEST(FindExecutable, SkipsFilesWithoutExecutePermission) {
  const TempDir plain;
  const TempDir runnable;
  plain.write("tool", "#!/bin/sh\n", 0644);
  runnable.write("tool", "#!/bin/sh\n", 0755);
  EXPECT_EQ(find_executable("tool", plain.path() + ":" + runnable.path()), runnable.path() + "/tool");
  EXPECT_EQ(find_executable("tool", plain.path()), std::nullopt);
}

TEST(FindExecutable, SkipsDirectories) {
  const TempDir with_dir;
  const TempDir runnable;
  std::filesystem::create_directory(with_dir.path() + "/tool");
  ::chmod((with_dir.path() + "/tool").c_str(), 0755);
  runnable.write("tool", "#!/bin/sh\n", 0755);
  EXPECT_EQ(find_executable("tool", with_dir.path() + ":" + runnable.path()), runnable.path() + "/tool");
  EXPECT_EQ(find_executable("tool", with_dir.path()), std::nullopt);
}

TEST(FindExecutable, NameWithSlashIsCheckedAsGiven) {
  const TempDir dir;
  const std::string runnable = dir.write("tool", "#!/bin/sh\n", 0755);
  const std::string plain = dir.write("plain", "#!/bin/sh\n", 0644);
  EXPECT_EQ(find_executable(runnable, "/nonexistent"), runnable);
  EXPECT_EQ(find_executable(plain, "/nonexistent"), std::nullopt);
  EXPECT_EQ(find_executable(dir.path(), "/nonexistent"), std::nullopt);
  const ScopedChdir in_dir(dir.path());
  EXPECT_EQ(find_executable("./tool", ""), "./tool");
}

}  // namespace
}  // namespace smlaunch::platform
