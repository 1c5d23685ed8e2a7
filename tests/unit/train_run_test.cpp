// `smlaunch train` carrying out a job on one host, through the real binary
// with real processes: stop signals forwarded (and SIGKILL after the grace),
// smlaunch as PID 1 of a PID namespace, grandchildren that outlive the job,
// the output relay on long lines and invalid UTF-8, SIGKILL deaths, one-host
// mpirun with a C++ MPI program, and torchrun on one node.
//
// smlaunch runs as a child of the test process with its output going to
// files, so a test can signal it while the job runs and wait for it with a
// hang guard. Jobs that must not survive carry a marker (the test's temp
// directory) in their command line, and the tests look for it in /proc
// afterwards; jobs that must be stopped by smlaunch (not by a namespace
// teardown) write a file when SIGTERM reaches them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace smlaunch {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Hang guards, not speed assertions.
constexpr auto kRunTimeout = 60s;
constexpr auto kTorchRunTimeout = 120s;
constexpr auto kWaitForJob = 30s;
constexpr auto kPollInterval = 20ms;
constexpr int kExitStoppedBySigterm = 128 + SIGTERM;
constexpr std::string_view kOutOfMemoryInfo =
    "ExtraInfo \"OutOfMemory: Process killed by SIGKILL (signal 9)\"";
constexpr std::string_view kOneHost =
    R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})";

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

/// Polls `done` until it holds or `limit` passes; returns whether it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

/// Pids of the processes whose command line contains `marker` (zombies have
/// none and are not counted).
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    if (contains(read(entry.path().string() + "/cmdline"), marker)) found.push_back(pid);
  }
  return found;
}

/// The children of `parent`, from /proc/<pid>/stat.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read(entry.path().string() + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) found.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

/// A TCP port that was free a moment ago (bound to port 0, then closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

/// A program started in its own process group with stdout and stderr going
/// to files, stdin from /dev/null, every signal at its default and none
/// blocked. If the test leaves before waiting for it, its group is SIGKILLed
/// and it is reaped.
class Started {
 public:
  Started(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& out,
          const std::string& err) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    if (::posix_spawn(&pid_, args[0], &actions, &attributes, args.data(), envp.data()) != 0) pid_ = -1;
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Started() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);  // its group: unshare's child (smlaunch as PID 1) too
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Started(const Started&) = delete;
  Started& operator=(const Started&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  /// Waits for the exit: the exit code, 128+N for a death by signal N, or -1
  /// when it did not start or outlived `limit` (it is then SIGKILLed).
  int wait(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return -1;
    int status = 0;
    const bool exited = wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!exited) {
      ADD_FAILURE() << "pid " << pid_ << " still running after " << limit.count() << " ms: killed";
      return -1;  // the destructor kills and reaps it
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

class TrainRunTest : public ::testing::Test {
 protected:
  test::TempDir dir;

  std::string base() const { return dir.path() + "/opt/ml"; }
  std::string out_file() const { return dir.path() + "/smlaunch.out"; }
  std::string err_file() const { return dir.path() + "/smlaunch.err"; }
  std::string out() const { return read(out_file()); }
  std::string err() const { return read(err_file()); }
  std::string failure() const { return read(base() + "/output/failure"); }
  bool succeeded() const { return std::filesystem::exists(base() + "/output/success"); }

  void config(const std::string& hyperparameters, std::string_view resource = kOneHost) {
    dir.write("opt/ml/input/config/resourceconfig.json", resource);
    dir.write("opt/ml/input/config/hyperparameters.json", hyperparameters);
  }

  /// The training program, in the code directory.
  void program(const std::string& name, std::string_view text) { dir.write("opt/ml/code/" + name, text); }

  /// smlaunch's command line (after `prefix`, e.g. unshare) and its clean
  /// environment; `extra_env` adds variables.
  std::vector<std::string> command(const std::vector<std::string>& options = {},
                                   const std::vector<std::string>& prefix = {}) const {
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), {SMLAUNCH_BINARY, "--base-dir", base()});
    argv.insert(argv.end(), options.begin(), options.end());
    return argv;
  }
  std::vector<std::string> environment(const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> env{"PATH=/usr/bin:/bin", "HOME=" + dir.path(),
                                 "SMLAUNCH_PYTHON=/usr/bin/python3"};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return env;
  }

  std::unique_ptr<Started> start(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& extra_env = {}) const {
    return std::make_unique<Started>(argv, environment(extra_env), out_file(), err_file());
  }

  /// Runs smlaunch to its end; returns its exit code.
  int train(const std::vector<std::string>& options = {}, const std::vector<std::string>& extra_env = {},
            std::chrono::milliseconds limit = kRunTimeout) const {
    return start(command(options), extra_env)->wait(limit);
  }

  /// Waits until smlaunch's stdout contains `text` (the job is then running).
  bool wait_for_output(std::string_view text) const {
    return wait_until([&] { return contains(out(), text); }, kWaitForJob);
  }

  /// What the test prints when an assertion fails.
  std::string transcript() const { return "\n--- stdout:\n" + out() + "\n--- stderr:\n" + err(); }
};

// A failure file: "<Class>:\nExitCode <n>\n..." (SPEC).
void expect_failure_format(const std::string& failure) {
  const auto colon = failure.find(":\nExitCode ");
  ASSERT_NE(colon, std::string::npos) << failure;
  EXPECT_GT(colon, 0u) << failure;
  EXPECT_EQ(failure.substr(0, colon).find_first_of(" \n\""), std::string::npos) << failure;
}

// --- Stop signals -----------------------------------------------------------

TEST_F(TrainRunTest, SigtermIsForwardedToTheJobAndReportedAsStoppedBySignal15) {
  const std::string marker = dir.path() + "/job-marker";
  config(R"({"sagemaker_program":"\"train.sh\""})");
  // The job and its child both carry the marker; both must be gone after.
  program("train.sh", "#!/bin/sh\nsh -c 'sleep 30' " + marker + " &\necho ready\nwait\n");
  auto smlaunch = start(command({"--term-grace", "5"}));
  ASSERT_GT(smlaunch->pid(), 0);
  ASSERT_TRUE(wait_for_output("ready")) << transcript();
  ASSERT_FALSE(processes_with(marker).empty());
  ASSERT_EQ(::kill(smlaunch->pid(), SIGTERM), 0);

  EXPECT_EQ(smlaunch->wait(kRunTimeout), kExitStoppedBySigterm) << transcript();
  const std::string report = failure();
  expect_failure_format(report);
  EXPECT_TRUE(contains(report.substr(0, 1024), "stopped by signal 15")) << report;
  EXPECT_TRUE(contains(err(), "Reporting training FAILURE")) << transcript();
  EXPECT_FALSE(succeeded());
  EXPECT_EQ(processes_with(marker), std::vector<pid_t>{});
}

TEST_F(TrainRunTest, JobIgnoringSigtermIsKilledAfterTheGraceAndSmlaunchStillExits143) {
  const std::string marker = dir.path() + "/stubborn-marker";
  config(R"({"sagemaker_program":"\"train.sh\""})");
  // An ignored signal stays ignored across fork and exec: neither the
  // script nor its child can be stopped by SIGTERM.
  program("train.sh", "#!/bin/sh\ntrap '' TERM\nsh -c 'sleep 30' " + marker + " &\necho ready\nwait\n");
  auto smlaunch = start(command({"--term-grace", "1"}));
  ASSERT_GT(smlaunch->pid(), 0);
  ASSERT_TRUE(wait_for_output("ready")) << transcript();
  ASSERT_EQ(::kill(smlaunch->pid(), SIGTERM), 0);

  EXPECT_EQ(smlaunch->wait(kRunTimeout), kExitStoppedBySigterm) << transcript();
  const std::string report = failure();
  expect_failure_format(report);
  EXPECT_TRUE(contains(report, "stopped by signal 15")) << report;
  EXPECT_EQ(processes_with(marker), std::vector<pid_t>{});
}

// --- PID 1 and orphans --------------------------------------------------------

// A Python job that starts detached grandchildren (fork, setsid, fork: the
// middle process exits at once, so they are orphans re-parented to the
// nearest subreaper, which is smlaunch):
// - three that exit after 0.2 s: the job waits until each has disappeared
//   from /proc entirely (a zombie still has an entry), which only happens
//   when its new parent, smlaunch, reaps it, and prints "reaped N" or
//   "ZOMBIE pid";
// - one that outlives the job: a shell with the marker in its command line
//   that writes <marker>.term when SIGTERM reaches it, then exits.
// With `hold`, the job prints "ready" and sleeps (for a stop signal).
std::string orphan_job(bool hold) {
  return R"(import os, sys, time

def detached(argv):
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            os.execvp(argv[0], argv)
        os.write(w, str(pid).encode())
        os._exit(0)
    os.close(w)
    pid = int(os.read(r, 64))
    os.waitpid(middle, 0)
    return pid

def gone(pid):
    try:
        os.stat(f'/proc/{pid}')
        return False
    except FileNotFoundError:
        return True

marker = sys.argv[sys.argv.index('--marker') + 1]
short = [detached(['sleep', '0.2']) for _ in range(3)]
detached(['sh', '-c', 'trap "echo stopped > $0.term; exit 0" TERM; while :; do sleep 0.1; done', marker])
deadline = time.monotonic() + 20
while not all(gone(p) for p in short) and time.monotonic() < deadline:
    time.sleep(0.05)
left = [p for p in short if not gone(p)]
print('ZOMBIE ' + ' '.join(map(str, left)) if left else f'reaped {len(short)}', flush=True)
)" + std::string(hold ? "print('ready', flush=True)\ntime.sleep(30)\n" : "");
}

TEST_F(TrainRunTest, OutsideAPidNamespaceGrandchildrenOutlivingTheJobAreStoppedAtTheEnd) {
  const std::string marker = dir.path() + "/orphan";
  config(R"({"sagemaker_program":"\"train.py\"","marker":"\")" + marker + R"(\""})");
  program("train.py", orphan_job(false));
  EXPECT_EQ(train({"--term-grace", "5"}), 0) << transcript();
  EXPECT_TRUE(contains(out(), "reaped 3")) << transcript();
  EXPECT_TRUE(succeeded());
  // smlaunch stopped the orphan with SIGTERM, and nothing of it is left.
  EXPECT_EQ(read(marker + ".term"), "stopped\n") << transcript();
  EXPECT_EQ(processes_with(marker), std::vector<pid_t>{});
}

// With --pid, every process of the namespace dies with its PID 1 anyway (by
// SIGKILL): the <marker>.term file shows that smlaunch itself stopped the
// orphan, and "reaped 3" that it reaped the zombies while the job ran.
TEST_F(TrainRunTest, AsPid1ItReapsOrphanedZombiesAndStopsDetachedGrandchildren) {
  const std::string marker = dir.path() + "/orphan";
  config(R"({"sagemaker_program":"\"train.py\"","marker":"\")" + marker + R"(\""})");
  program("train.py", orphan_job(false));
  auto smlaunch =
      start(command({"--term-grace", "5"}, {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"}));
  EXPECT_EQ(smlaunch->wait(kRunTimeout), 0) << transcript();
  EXPECT_TRUE(contains(out(), "reaped 3")) << transcript();
  EXPECT_TRUE(succeeded());
  EXPECT_EQ(read(marker + ".term"), "stopped\n") << transcript();
  EXPECT_EQ(processes_with(marker), std::vector<pid_t>{});
}

TEST_F(TrainRunTest, AsPid1SigtermFromOutsideTheNamespaceStopsTheJob) {
  const std::string marker = dir.path() + "/orphan";
  config(R"({"sagemaker_program":"\"train.py\"","marker":"\")" + marker + R"(\""})");
  program("train.py", orphan_job(true));
  auto unshare =
      start(command({"--term-grace", "5"}, {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"}));
  ASSERT_GT(unshare->pid(), 0);
  ASSERT_TRUE(wait_for_output("ready")) << transcript();
  // unshare's only child is smlaunch, PID 1 in the namespace. A signal from
  // an ancestor namespace reaches a namespace's init only when it handles
  // (or blocks) the signal: smlaunch must.
  const auto children = children_of(unshare->pid());
  ASSERT_EQ(children.size(), 1u);
  EXPECT_TRUE(contains(read("/proc/" + std::to_string(children[0]) + "/cmdline"), "smlaunch"));
  ASSERT_EQ(::kill(children[0], SIGTERM), 0);

  EXPECT_EQ(unshare->wait(kRunTimeout), kExitStoppedBySigterm) << transcript();
  EXPECT_TRUE(contains(out(), "reaped 3")) << transcript();
  EXPECT_TRUE(contains(failure(), "stopped by signal 15")) << failure();
  EXPECT_EQ(read(marker + ".term"), "stopped\n") << transcript();
  EXPECT_EQ(processes_with(marker), std::vector<pid_t>{});
}

// --- Output relay ---------------------------------------------------------------

TEST_F(TrainRunTest, TenMegabyteLineArrivesWholeAndByteIdenticalOnStdout) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  program("train.py",
          "import sys\n"
          "line = (bytes(range(33, 127)) * (10 * 2**20 // 94 + 1))[:10 * 2**20]\n"
          "sys.stderr.buffer.write(b'err before\\n'); sys.stderr.flush()\n"
          "sys.stdout.buffer.write(line + b'\\n'); sys.stdout.flush()\n"
          "sys.stdout.buffer.write(b'after\\n'); sys.stdout.flush()\n"
          "sys.stderr.buffer.write(b'err after\\n'); sys.stderr.flush()\n");
  EXPECT_EQ(train(), 0) << err();
  std::string line;
  for (int i = 33; line.size() < (10u << 20); i = i == 126 ? 33 : i + 1) line += static_cast<char>(i);
  const std::string stdout_bytes = out();
  EXPECT_EQ(stdout_bytes.size(), line.size() + std::string_view("\nafter\n").size());
  EXPECT_TRUE(stdout_bytes == line + "\nafter\n") << "stdout differs from the job's stdout";
  const std::string stderr_bytes = err();
  EXPECT_TRUE(contains(stderr_bytes, "err before\n"));
  EXPECT_TRUE(contains(stderr_bytes, "err after\n"));
  EXPECT_FALSE(contains(stderr_bytes, line.substr(0, 200)));  // stdout stays stdout
  EXPECT_FALSE(contains(stdout_bytes, "err "));               // stderr stays stderr
}

TEST_F(TrainRunTest, InvalidUtf8PassesUnchangedAndTheFinalPartialLineIsFlushed) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  program("train.py",
          "import sys\n"
          "o, e = sys.stdout.buffer, sys.stderr.buffer\n"
          "o.write(b'bad \\xff\\xfe end\\n'); o.flush()\n"
          "e.write(b'err \\xc3\\x28 \\x80 bad\\n'); e.flush()\n"
          "o.write(b'lone \\x80\\xbf continuation\\n'); o.flush()\n"
          "o.write(b'truncated \\xe2\\x82\\n'); o.flush()\n"
          "o.write(b'\\xed\\xa0\\x80 surrogate, \\xc0\\x80 overlong\\n'); o.flush()\n"
          "o.write(b'final partial \\xe2\\x82'); o.flush()\n");
  EXPECT_EQ(train(), 0) << err();
  EXPECT_EQ(out(),
            "bad \xff\xfe end\n"
            "lone \x80\xbf continuation\n"
            "truncated \xe2\x82\n"
            "\xed\xa0\x80 surrogate, \xc0\x80 overlong\n"
            "final partial \xe2\x82");
  EXPECT_TRUE(contains(err(), "err \xc3\x28 \x80 bad\n")) << err();
}

// --- SIGKILL deaths ---------------------------------------------------------------

TEST_F(TrainRunTest, JobKilledBySigkillReportsOutOfMemory) {
  config(R"({"sagemaker_program":"\"train.sh\""})");
  program("train.sh", "#!/bin/sh\necho working\nkill -KILL $$\n");
  EXPECT_EQ(train(), 1) << transcript();
  const std::string report = failure();
  expect_failure_format(report);
  EXPECT_TRUE(contains(report, kOutOfMemoryInfo)) << report;
  EXPECT_TRUE(contains(out(), "working"));
}

TEST_F(TrainRunTest, JobExiting137ReportsOutOfMemory) {
  config(R"({"sagemaker_program":"\"train.sh\""})");
  program("train.sh", "#!/bin/sh\nexit 137\n");
  EXPECT_EQ(train(), 1) << transcript();
  const std::string report = failure();
  EXPECT_TRUE(contains(report, ":\nExitCode 137\n")) << report;
  EXPECT_TRUE(contains(report, kOutOfMemoryInfo)) << report;
}

// --- One-host mpirun with the C++ MPI program ---------------------------------

#ifdef SMLAUNCH_MPI_ALLREDUCE

class TrainRunMpiTest : public TrainRunTest {
 protected:
  // hyperparameters: JSON members after the MPI settings.
  void mpi_job(const std::string& hyperparameters) {
    config(R"({"sagemaker_program":"\"train.sh\"","sagemaker_mpi_enabled":"true",)"
           R"("sagemaker_mpi_num_of_processes_per_host":"2",)" +
           hyperparameters + "}");
    program("train.sh", std::string("#!/bin/sh\nexec ") + SMLAUNCH_MPI_ALLREDUCE + " \"$@\"\n");
  }
};

TEST_F(TrainRunMpiTest, ShellEntryPointRunsTheRanksAndTagsTheirOutputWithTheHost) {
  mpi_job(R"("expect-size":"2")");
  EXPECT_EQ(train(), 0) << transcript();
  EXPECT_TRUE(contains(out(), "[1,mpirank:0,localhost]<stdout>:rank 0 of 2 on localhost sum=1\n"))
      << transcript();
  EXPECT_TRUE(contains(out(), "[1,mpirank:1,localhost]<stdout>:rank 1 of 2 on localhost sum=1\n"))
      << transcript();
  EXPECT_TRUE(succeeded());
}

TEST_F(TrainRunMpiTest, ARankExitingNonZeroFailsTheJobWithItsExitCode) {
  mpi_job(R"("expect-size":"2","exit-rank":"1","exit-code":"3")");
  EXPECT_EQ(train(), 1) << transcript();
  const std::string report = failure();
  expect_failure_format(report);
  EXPECT_TRUE(contains(report, ":\nExitCode 3\n")) << report;
  EXPECT_TRUE(contains(report, "ErrorMessage \"")) << report;
  // The failing rank's own words (without the rank tag) in the first 1024 characters.
  EXPECT_TRUE(contains(report.substr(0, 1024), "smlaunch_mpi_allreduce: rank 1 exits with code 3 as asked\n"))
      << report;
  EXPECT_FALSE(succeeded());
}

TEST_F(TrainRunMpiTest, HyperparametersReachEveryRankAsOneArgumentAndNothingExecutes) {
  const std::string pwned = dir.path() + "/pwned";
  const std::string argv_file = dir.path() + "/argv";
  mpi_job(R"("argv-file":"\")" + argv_file + R"(\"","command":"\"$(touch )" + pwned +
          R"()\"","words":"\"a b\"")");
  EXPECT_EQ(train(), 0) << transcript();
  for (const char* rank : {"0", "1"}) {
    const auto argv = nlohmann::json::parse(read(argv_file + "." + rank), nullptr, false);
    ASSERT_TRUE(argv.is_array()) << rank << ": " << read(argv_file + "." + rank);
    auto args = argv.get<std::vector<std::string>>();
    args.erase(args.begin());
    EXPECT_EQ(args, (std::vector<std::string>{"--argv-file", argv_file, "--command", "$(touch " + pwned + ")",
                                              "--words", "a b"}))
        << "rank " << rank;
  }
  EXPECT_FALSE(std::filesystem::exists(pwned));
}

#endif  // SMLAUNCH_MPI_ALLREDUCE

// --- torchrun on one node -----------------------------------------------------

TEST_F(TrainRunTest, TorchrunOnOneNodeRunsAGlooAllReduceOnEachProcess) {
  if (::access("/usr/bin/torchrun", X_OK) != 0) GTEST_SKIP() << "no torchrun (Debian's python3-torch)";
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_torch_distributed_enabled":"true",)"
         R"("sagemaker_mpi_num_of_processes_per_host":"2"})");
  // The workers share torchrun's stdout, and an unbuffered print() writes
  // the text and the newline separately: one os.write keeps a line whole.
  program("train.py",
          "import os, torch, torch.distributed as dist\n"
          "dist.init_process_group('gloo')\n"
          "rank, size = dist.get_rank(), dist.get_world_size()\n"
          "assert size == 2 and os.environ['LOCAL_WORLD_SIZE'] == '2', (size, "
          "os.environ.get('LOCAL_WORLD_SIZE'))\n"
          "t = torch.tensor([rank + 1.0])\n"
          "dist.all_reduce(t)\n"
          "os.write(1, f'torch rank {rank} of {size} sum={t.item():.0f}\\n'.encode())\n"
          "dist.destroy_process_group()\n");
  // torchrun reads a PET_<OPTION> variable for each of its options:
  // - its static rendezvous would listen on 29500, and tests run in
  //   parallel: a free port instead;
  // - Debian 12's torch 1.13 on Python 3.11 cannot parse the default "0" of
  //   --redirects and --tee (it looks for Std.NONE among the members of an
  //   IntFlag, which 3.11 no longer lists): a mapping for a local rank that
  //   does not exist means the same;
  // - its log directory goes to TMPDIR, which must not outlive the test.
  const int port = free_port();
  ASSERT_GT(port, 0);
  const std::vector<std::string> torchrun_env{"PET_MASTER_PORT=" + std::to_string(port), "PET_REDIRECTS=9:1",
                                              "PET_TEE=9:1", "TMPDIR=" + dir.path()};
  EXPECT_EQ(train({}, torchrun_env, kTorchRunTimeout), 0) << transcript();
  EXPECT_TRUE(contains(out(), "torch rank 0 of 2 sum=3\n")) << transcript();
  EXPECT_TRUE(contains(out(), "torch rank 1 of 2 sum=3\n")) << transcript();
  EXPECT_TRUE(succeeded());
}

}  // namespace
}  // namespace smlaunch
