// The LD_PRELOAD hostname shim (launchers/hostname-shim), preloaded into real
// programs: a small C probe compiled here with `cc` and Debian's
// /usr/bin/python3. Each case writes a resourceconfig.json under a fresh
// SAGEMAKER_BASE_DIR, runs the program with posix_spawn in an environment
// built from scratch (no shell), and compares its output with the expected
// host name, or with the machine's real one (the probe run without the shim)
// where the shim must fall back. Every run also checks that the shim printed
// nothing: stderr is empty and stdout holds only the program's own line.
//
// The probe prints `rc=<rc> errno=<errno> name=<name> guard=ok` (errno is set
// to EDOM before the call, so a success shows it untouched), `buf=<bytes>`
// instead of `name=` when the call fails (glibc copies what fits), and
// `guard=ok` when nothing was written past `len`.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace smlaunch::test {
namespace {

namespace fs = std::filesystem;

// A hang guard only: every run takes milliseconds.
constexpr std::chrono::seconds kRunTimeout{30};
constexpr int kPollSliceMs = 100;
constexpr std::string_view kConfigPath = "input/config/resourceconfig.json";
constexpr std::string_view kSystemPython = "/usr/bin/python3";
constexpr std::string_view kPythonHostname = "import socket; print(socket.gethostname())";
constexpr std::size_t kRoomyBuffer = 256;
constexpr int kProbeThreads = 32;
constexpr int kLargeClusterHosts = 10'000;
constexpr int kMaxDepth = 512;  // smlaunch's kMaxNestingDepth, which the shim shares

constexpr std::string_view kProbeSource = R"(#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { GUARD = 16, CALLS = 200, NAME_BYTES = 256, MAX_THREADS = 64 };

static void print_bytes(const char *p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = (unsigned char)p[i];
    if (c > 0x20 && c < 0x7f && c != '\\') putchar(c);
    else printf("\\x%02x", c);
  }
}

static int one_call(size_t len) {
  char *buf = malloc(len + GUARD);
  if (buf == NULL) return 1;
  memset(buf, '#', len + GUARD);
  errno = EDOM;
  const int rc = gethostname(buf, len);
  const int err = errno;
  printf("rc=%d errno=%d ", rc, err);
  if (rc == 0 && memchr(buf, '\0', len) != NULL) printf("name=%s", buf);
  else if (rc == 0) printf("name=<unterminated>");
  else { printf("buf="); print_bytes(buf, len); }
  int guard_ok = 1;
  for (size_t i = len; i < len + GUARD; ++i) guard_ok &= buf[i] == '#';
  printf(" guard=%s\n", guard_ok ? "ok" : "overwritten");
  free(buf);
  return 0;
}

static pthread_barrier_t barrier;
static char first[MAX_THREADS][NAME_BYTES];
static int failures[MAX_THREADS];

static void *worker(void *arg) {
  const size_t me = (size_t)arg;
  pthread_barrier_wait(&barrier);  /* the first calls race on the lazy load */
  for (int k = 0; k < CALLS; ++k) {
    char buf[NAME_BYTES];
    if (gethostname(buf, sizeof buf) != 0) ++failures[me];
    else if (k == 0) memcpy(first[me], buf, sizeof buf);
    else if (strcmp(buf, first[me]) != 0) ++failures[me];
  }
  return NULL;
}

static int threads(int count) {
  pthread_t ids[MAX_THREADS];
  if (count < 1 || count > MAX_THREADS) return 2;
  pthread_barrier_init(&barrier, NULL, (unsigned)count);
  for (int i = 0; i < count; ++i) {
    if (pthread_create(&ids[i], NULL, worker, (void *)(size_t)i) != 0) return 1;
  }
  int agree = 1;
  for (int i = 0; i < count; ++i) {
    pthread_join(ids[i], NULL);
    agree &= failures[i] == 0 && strcmp(first[i], first[0]) == 0;
  }
  printf("threads=%d agree=%s name=%s\n", count, agree ? "yes" : "no", first[0]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--threads") == 0) return threads(atoi(argv[2]));
  if (argc == 2) return one_call((size_t)strtoul(argv[1], NULL, 10));
  return 2;
}
)";

// ---- Running programs -------------------------------------------------------

struct RunResult {
  std::string failure;  // non-empty when the program could not run to its end
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// A pipe whose ends close themselves.
class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  [[nodiscard]] bool valid() const { return fds_[0] >= 0 && fds_[1] >= 0; }
  [[nodiscard]] int read_end() const { return fds_[0]; }
  [[nodiscard]] int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

/// Runs argv[0] (an absolute path) with exactly the environment `env`, stdin
/// from /dev/null, in `cwd` when given, in its own process group; captures
/// stdout and stderr. After kRunTimeout the group is killed and `failure` says so.
RunResult run(const std::vector<std::string>& args, const std::vector<std::string>& env,
              const std::string& cwd = {}) {
  RunResult result;
  Pipe out_pipe;
  Pipe err_pipe;
  if (!out_pipe.valid() || !err_pipe.valid()) {
    result.failure = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  std::vector<std::string> argv_storage = args;
  std::vector<char*> argv;
  argv.reserve(argv_storage.size() + 1);
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = env;
  std::vector<char*> envp;
  envp.reserve(env_storage.size() + 1);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe.write_end(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe.write_end(), STDERR_FILENO);
  if (!cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t default_signals;
  sigfillset(&default_signals);
  ::posix_spawnattr_setsigmask(&attr, &no_signals);
  ::posix_spawnattr_setsigdefault(&attr, &default_signals);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  out_pipe.close_write();
  err_pipe.close_write();
  if (spawned != 0) {
    result.failure = "posix_spawn " + args[0] + ": " + std::strerror(spawned);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
  pollfd fds[2] = {{out_pipe.read_end(), POLLIN, 0}, {err_pipe.read_end(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.failure = "timed out";
      ::kill(-pid, SIGKILL);  // the group this function created
      break;
    }
    const int ready = ::poll(fds, 2, kPollSliceMs);
    if (ready < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // the Pipe closes it
        --open_count;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code != 0 && result.failure.empty()) {
      result.failure = "exit code " + std::to_string(result.exit_code);
    }
  } else if (WIFSIGNALED(status) && result.failure.empty()) {
    result.failure = std::string("killed by ") + ::strsignal(WTERMSIG(status));
  }
  return result;
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const auto candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return std::nullopt;
}

std::string probe_line(std::string_view name) {
  return "rc=0 errno=" + std::to_string(EDOM) + " name=" + std::string(name) + " guard=ok\n";
}

std::string too_long_line(std::string_view copied) {
  return "rc=-1 errno=" + std::to_string(ENAMETOOLONG) + " buf=" + std::string(copied) + " guard=ok\n";
}

/// A resourceconfig.json for `hosts` hosts algo-1..algo-N in one instance
/// group, `current_host` last (after both host lists).
std::string large_cluster_config(int hosts, std::string_view current) {
  std::string list;
  for (int i = 1; i <= hosts; ++i) {
    if (i > 1) list += ", ";
    list += "\"algo-" + std::to_string(i) + "\"";
  }
  return R"({"current_group_name": "homogeneousCluster", "current_instance_type": "ml.p4d.24xlarge", )"
         R"("hosts": [)" +
         list +
         R"(], "instance_groups": [{"instance_group_name": "homogeneousCluster", )"
         R"("instance_type": "ml.p4d.24xlarge", "hosts": [)" +
         list +
         R"(]}], )"
         R"("network_interface_name": "eth0", "current_host": ")" +
         std::string(current) + "\"}";
}

/// `{"nest": <depth levels of alternating [ and {"k": ...>, "current_host": ...}`.
std::string nested_config(int depth, std::string_view current) {
  std::string open;
  std::string close;
  for (int i = 0; i < depth; ++i) {
    if (i % 2 == 0) {
      open += "[";
      close.insert(0, "]");
    } else {
      open += R"({"current_host": )";
      close.insert(0, "}");
    }
  }
  return R"({"nest": )" + open + "1" + close + R"(, "current_host": ")" + std::string(current) + "\"}";
}

// ---- Fixture ----------------------------------------------------------------

class HostnameShim : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tools_ = std::make_unique<TempDir>();
    const auto cc = find_in_path("cc");
    if (!cc) {
      setup_error_ = "no cc on PATH to build the probe";
      return;
    }
    const auto source = tools_->write("probe.c", kProbeSource);
    probe_ = (fs::path(tools_->path()) / "probe").string();
    const auto built = run({*cc, "-std=c11", "-O1", "-pthread", "-o", probe_, source},
                           {"PATH=" + fs::path(*cc).parent_path().string() + ":/usr/bin:/bin"});
    if (!built.failure.empty()) {
      setup_error_ = "cc failed (" + built.failure + "): " + built.err;
      return;
    }
    const auto real = run({probe_, std::to_string(kRoomyBuffer)}, {});
    constexpr std::string_view kPrefix = "name=";
    const auto at = real.out.find(kPrefix);
    const auto stop = real.out.find(" guard=");
    if (!real.failure.empty() || at == std::string::npos || stop == std::string::npos) {
      setup_error_ = "probe without the shim: " + real.failure + " " + real.out + real.err;
      return;
    }
    real_name_ = real.out.substr(at + kPrefix.size(), stop - at - kPrefix.size());
  }
  static void TearDownTestSuite() { tools_.reset(); }

  void SetUp() override {
    if (!setup_error_.empty()) GTEST_FAIL() << setup_error_;
    if (!fs::exists(kShim)) GTEST_FAIL() << "no shim at " << kShim;
  }

  /// The environment of a run with the shim and SAGEMAKER_BASE_DIR=`base`.
  static std::vector<std::string> shim_env(const std::optional<std::string>& base) {
    std::vector<std::string> env{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + kShim};
    if (base) env.push_back("SAGEMAKER_BASE_DIR=" + *base);
    return env;
  }

  /// Writes `config` as the resourceconfig.json of base_.
  void write_config(std::string_view config) const { base_.write(std::string(kConfigPath), config); }

  /// The probe's output for gethostname(buf, len) under the shim; expects a
  /// clean run with nothing on stderr.
  std::string probe(std::size_t len = kRoomyBuffer, const std::optional<std::string>& base = std::nullopt,
                    const std::string& cwd = {}) const {
    const auto r = run({probe_, std::to_string(len)}, shim_env(base.value_or(base_.path())), cwd);
    EXPECT_EQ(r.failure, "");
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  /// The probe's output for a run with `config` as resourceconfig.json.
  std::string probe_config(std::string_view config, std::size_t len = kRoomyBuffer) const {
    write_config(config);
    return probe(len);
  }

  /// What Python's socket.gethostname() prints, with the shim or without.
  std::string python(bool with_shim) const {
    std::vector<std::string> env{"PATH=/usr/bin:/bin"};
    if (with_shim) env = shim_env(base_.path());
    const auto r = run({std::string(kSystemPython), "-c", std::string(kPythonHostname)}, env);
    EXPECT_EQ(r.failure, "");
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  static bool have_python() { return ::access(std::string(kSystemPython).c_str(), X_OK) == 0; }

  static inline const std::string kShim = SMLAUNCH_HOSTNAME_SHIM;
  static inline std::unique_ptr<TempDir> tools_;
  static inline std::string setup_error_;
  static inline std::string probe_;
  static inline std::string real_name_;
  TempDir base_;
};

// ---- The name ---------------------------------------------------------------

TEST_F(HostnameShim, B147_ReturnsCurrentHost) {
  EXPECT_EQ(probe_config(R"({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})"),
            probe_line("algo-1"));
}

TEST_F(HostnameShim, B147_PythonSocketSeesCurrentHostAndUnameIsUntouched) {
  if (!have_python()) GTEST_SKIP() << kSystemPython << " is not installed";
  write_config(R"({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})");
  EXPECT_EQ(python(true), "algo-1\n");
  const auto r = run({std::string(kSystemPython), "-c",
                      "import os, socket; print(socket.gethostname(), os.uname().nodename)"},
                     shim_env(base_.path()));
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "algo-1 " + real_name_ + "\n");
}

TEST_F(HostnameShim, D29_NestedCurrentHostKeysAreIgnored) {
  EXPECT_EQ(
      probe_config(R"({"a": {"current_host": "algo-8"}, "b": [{"current_host": "algo-9"}, "current_host"],)"
                   R"( "current_host": "algo-2", "c": {"x": {"current_host": "algo-7"}}})"),
      probe_line("algo-2"));
  EXPECT_EQ(probe_config(R"({"instance_groups": [{"hosts": ["algo-1"], "current_host": "algo-9"}],)"
                         R"( "current_host": "algo-3"})"),
            probe_line("algo-3"));
}

TEST_F(HostnameShim, D29_OnlyNestedCurrentHostFallsBack) {
  EXPECT_EQ(probe_config(R"({"a": {"current_host": "algo-8"}, "hosts": ["current_host"]})"),
            probe_line(real_name_));
}

TEST_F(HostnameShim, RepeatedKeyTheLastWinsLikePython) {
  EXPECT_EQ(probe_config(R"({"current_host": "algo-1", "x": 1, "current_host": "algo-2"})"),
            probe_line("algo-2"));
  EXPECT_EQ(probe_config(R"({"current_host": "algo-1", "current_host": 5})"), probe_line(real_name_));
}

TEST_F(HostnameShim, D29_JsonEscapesAreDecoded) {
  EXPECT_EQ(probe_config(R"({"current_host": "algo-\u0031"})"), probe_line("algo-1"));
  EXPECT_EQ(probe_config(R"({"current\u005fhost": "\u0061lgo\u002D2"})"), probe_line("algo-2"));
  EXPECT_EQ(probe_config(R"({"current_host": "algo\/3"})"), probe_line(real_name_));  // '/' is no host name
  // Escapes and UTF-8 elsewhere in the document are decoded, not tripped over.
  EXPECT_EQ(probe_config(
                "{\"note\": \"\\\"q\\\" \\\\ \\b\\f\\n\\r\\t \\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80\","
                " \"current_host\": \"algo-4\"}"),
            probe_line("algo-4"));
}

TEST_F(HostnameShim, AcceptsWhatPythonJsonAccepts) {
  EXPECT_EQ(probe_config(
                " \t\r\n{ \"n\" : [ 0, -0, 1.5e3, -2E-2, 1e+9, 12345678901234567890, true, false, null,"
                " NaN, Infinity, -Infinity, {}, [], [[]], {\"\": {}} ] , \"current_host\":\"algo-5\" } \n"),
            probe_line("algo-5"));
  const std::string longest(253, 'a');
  EXPECT_EQ(probe_config(R"({"current_host": ")" + longest + "\"}", 300), probe_line(longest));
}

// ---- Falling back -----------------------------------------------------------

TEST_F(HostnameShim, D29_MissingFileFallsBackToTheRealName) {
  EXPECT_EQ(probe(), probe_line(real_name_));
  if (!have_python()) GTEST_SKIP() << kSystemPython << " is not installed";
  EXPECT_EQ(python(true), python(false));
  EXPECT_EQ(python(true), real_name_ + "\n");
}

TEST_F(HostnameShim, D29_BadDocumentsFallBackToTheRealName) {
  const std::string too_long(254, 'a');
  const std::string huge_int(4301, '7');
  const std::vector<std::pair<std::string_view, std::string>> cases = {
      {"empty file", ""},
      {"whitespace only", " \n"},
      {"truncated object", R"({"current_host": "algo-1")"},
      {"truncated after the key", R"({"current_host": "algo-1", "hosts": ["algo-1")"},
      {"truncated string", R"({"current_host": "algo-1)"},
      {"truncated escape", R"({"current_host": "algo-\u00)"},
      {"trailing comma", R"({"current_host": "algo-1",})"},
      {"trailing comma in array", R"({"hosts": ["algo-1",], "current_host": "algo-1"})"},
      {"missing colon", R"({"current_host" "algo-1"})"},
      {"single quotes", R"({'current_host': 'algo-1'})"},
      {"comment", "{\"current_host\": \"algo-1\" // x\n}"},
      {"trailing data", R"({"current_host": "algo-1"} {})"},
      {"trailing NUL", std::string(R"({"current_host": "algo-1"})") + '\0'},
      {"NUL byte inside", std::string(R"({"current_host": "algo-1",)") + '\0' + R"( "x": 1})"},
      {"raw control character in a string", "{\"current_host\": \"algo-1\", \"x\": \"a\tb\"}"},
      {"invalid escape", R"({"x": "\x41", "current_host": "algo-1"})"},
      {"invalid UTF-8 elsewhere", "{\"x\": \"\xff\xfe\", \"current_host\": \"algo-1\"}"},
      {"overlong UTF-8", "{\"x\": \"\xc0\xaf\", \"current_host\": \"algo-1\"}"},
      {"encoded surrogate", "{\"x\": \"\xed\xa0\x80\", \"current_host\": \"algo-1\"}"},
      {"unpaired surrogate escape elsewhere", R"({"x": "\ud800", "current_host": "algo-1"})"},
      {"byte order mark", "\xef\xbb\xbf{\"current_host\": \"algo-1\"}"},
      {"leading zero", R"({"x": 01, "current_host": "algo-1"})"},
      {"bare minus", R"({"x": -, "current_host": "algo-1"})"},
      {"no fraction digits", R"({"x": 1., "current_host": "algo-1"})"},
      {"no exponent digits", R"({"x": 1e, "current_host": "algo-1"})"},
      {"plus sign", R"({"x": +1, "current_host": "algo-1"})"},
      {"an int Python refuses", R"({"x": )" + huge_int + R"(, "current_host": "algo-1"})"},
      {"unknown literal", R"({"x": True, "current_host": "algo-1"})"},
      {"not an object: array", R"(["current_host", "algo-1"])"},
      {"not an object: string", R"("algo-1")"},
      {"not an object: null", "null"},
      {"missing key", R"({"hosts": ["algo-1"]})"},
      {"empty object", "{}"},
      {"number value", R"({"current_host": 1})"},
      {"null value", R"({"current_host": null})"},
      {"array value", R"({"current_host": ["algo-1"]})"},
      {"object value", R"({"current_host": {"name": "algo-1"}})"},
      {"boolean value", R"({"current_host": true})"},
      {"empty string", R"({"current_host": ""})"},
      {"escaped NUL", R"({"current_host": "algo\u0000-1"})"},
      {"unpaired surrogate escape", R"({"current_host": "algo\udc00"})"},
      {"space", R"({"current_host": "algo 1"})"},
      {"newline escape", R"({"current_host": "algo-1\n"})"},
      {"non-ASCII", "{\"current_host\": \"alg\xc3\xb6-1\"}"},
      {"254 characters", R"({"current_host": ")" + too_long + "\"}"},
  };
  for (const auto& [what, config] : cases) {
    SCOPED_TRACE(what);
    EXPECT_EQ(probe_config(config), probe_line(real_name_));
  }
}

TEST_F(HostnameShim, D29_PrintsNothingOnBadInput) {
  // The reference printed "Failed to parse JSON" / "Object expected" into the
  // rank's stdout; probe() checks stderr, this checks stdout byte for byte.
  EXPECT_EQ(probe_config(R"({"current_host": )"), probe_line(real_name_));
  EXPECT_EQ(probe_config(R"(["algo-1"])"), probe_line(real_name_));
  if (!have_python()) GTEST_SKIP() << kSystemPython << " is not installed";
  write_config("{oops");
  EXPECT_EQ(python(true), real_name_ + "\n");
}

TEST_F(HostnameShim, NotARegularFileFallsBackWithoutHanging) {
  fs::create_directories(fs::path(base_.path()) / kConfigPath);  // a directory
  EXPECT_EQ(probe(), probe_line(real_name_));

  TempDir fifo_base;
  const auto fifo = fs::path(fifo_base.path()) / kConfigPath;
  fs::create_directories(fifo.parent_path());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);  // nobody ever writes it
  EXPECT_EQ(probe(kRoomyBuffer, fifo_base.path()), probe_line(real_name_));
}

// ---- Where the file is ------------------------------------------------------

TEST_F(HostnameShim, D29_WithoutBaseDirOnlyOptMlIsLookedAt) {
  if (fs::exists("/opt/ml/input/config/resourceconfig.json")) {
    GTEST_SKIP() << "this machine has a real /opt/ml/input/config/resourceconfig.json";
  }
  write_config(R"({"current_host": "algo-1"})");  // present, but not where the shim looks
  const auto r = run({probe_, std::to_string(kRoomyBuffer)}, shim_env(std::nullopt));
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, probe_line(real_name_));
}

TEST_F(HostnameShim, EmptyBaseDirIsRelativeLikeOsPathJoin) {
  write_config(R"({"current_host": "algo-6"})");
  EXPECT_EQ(probe(kRoomyBuffer, std::string(), base_.path()), probe_line("algo-6"));
  TempDir elsewhere;
  EXPECT_EQ(probe(kRoomyBuffer, std::string(), elsewhere.path()), probe_line(real_name_));
}

TEST_F(HostnameShim, BaseDirWithTrailingSlash) {
  write_config(R"({"current_host": "algo-6"})");
  EXPECT_EQ(probe(kRoomyBuffer, base_.path() + "/"), probe_line("algo-6"));
}

// ---- gethostname's contract -------------------------------------------------

TEST_F(HostnameShim, D29_ExactFitSucceeds) {
  EXPECT_EQ(probe_config(R"({"current_host": "algo-1"})", 7), probe_line("algo-1"));
}

TEST_F(HostnameShim, D29_TooSmallBufferFailsWithEnametoolongLikeGlibc) {
  write_config(R"({"current_host": "algo-1"})");
  // No room for the NUL: glibc copies what fits and fails.
  EXPECT_EQ(probe(6), too_long_line("algo-1"));
  EXPECT_EQ(probe(3), too_long_line("alg"));
  EXPECT_EQ(probe(1), too_long_line("a"));
  // The same call without the shim, against the real name.
  const auto real = run({probe_, std::to_string(real_name_.size())}, {});
  EXPECT_EQ(real.out, too_long_line(real_name_));
}

TEST_F(HostnameShim, D29_ZeroLengthFailsAndWritesNothing) {
  EXPECT_EQ(probe_config(R"({"current_host": "algo-1"})", 0), too_long_line(""));
}

TEST_F(HostnameShim, ManyThreadsGetTheSameName) {
  write_config(R"({"current_host": "algo-1"})");
  const auto r = run({probe_, "--threads", std::to_string(kProbeThreads)}, shim_env(base_.path()));
  EXPECT_EQ(r.failure, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "threads=" + std::to_string(kProbeThreads) + " agree=yes name=algo-1\n");

  TempDir broken;
  broken.write(std::string(kConfigPath), "{");
  const auto f = run({probe_, "--threads", std::to_string(kProbeThreads)}, shim_env(broken.path()));
  EXPECT_EQ(f.failure, "");
  EXPECT_EQ(f.out, "threads=" + std::to_string(kProbeThreads) + " agree=yes name=" + real_name_ + "\n");
}

// ---- Size and hostile input -------------------------------------------------

TEST_F(HostnameShim, D29_LargeClusterConfig) {
  const auto config = large_cluster_config(kLargeClusterHosts, "algo-7777");
  ASSERT_GT(config.size(), std::size_t{200'000});
  EXPECT_EQ(probe_config(config), probe_line("algo-7777"));
}

TEST_F(HostnameShim, NestingUpToSmlaunchsLimitIsSkipped) {
  // Depth counts the top-level object: kMaxDepth levels in all.
  EXPECT_EQ(probe_config(nested_config(kMaxDepth - 1, "algo-1")), probe_line("algo-1"));
}

TEST_F(HostnameShim, DeeperNestingFallsBackLikeSmlaunchRejectsIt) {
  EXPECT_EQ(probe_config(nested_config(kMaxDepth, "algo-1")), probe_line(real_name_));
  EXPECT_EQ(probe_config(nested_config(10'000, "algo-1")), probe_line(real_name_));
  EXPECT_EQ(probe_config(R"({"x": )" + std::string(1'000'000, '[')), probe_line(real_name_));
  EXPECT_EQ(probe_config(std::string(1'000'000, '{')), probe_line(real_name_));
}

// ---- The library itself -----------------------------------------------------

TEST_F(HostnameShim, IsPlainCExportingOnlyGethostname) {
  std::string bytes(fs::file_size(kShim), '\0');
  std::ifstream(kShim, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_FALSE(bytes.empty());
  for (const std::string_view unwanted : {"libstdc++", "libpython", "__asan_", "__ubsan_", "__tsan_"}) {
    EXPECT_EQ(bytes.find(unwanted), std::string::npos) << unwanted;
  }
  void* handle = ::dlopen(kShim.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  EXPECT_NE(::dlsym(handle, "gethostname"), nullptr);
  for (const char* hidden : {"find_current_host", "load_once", "scan_string", "copy_name"}) {
    EXPECT_EQ(::dlsym(handle, hidden), nullptr) << hidden;
  }
  ::dlclose(handle);
}

}  // namespace
}  // namespace smlaunch::test
