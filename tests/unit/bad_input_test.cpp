// The bad-input contract, checked against the real smlaunch binary
// (DESIGN.md "Exit codes and files", SPEC.md "Validation"):
//
//   every problem in the config files is reported together, one line each,
//   on stderr as `smlaunch: error: <file>: <field>: <found>, expected <what>`;
//   the exit code is 2; in train mode (`smlaunch --base-dir DIR [train]`)
//   DIR/output/failure is written ("ConfigurationError:\nExitCode 2\n
//   ErrorMessage \"...") unless it already exists; `plan` and `env` write
//   nothing; no run crashes, hangs or starts anything.
//
// Each case gets a fresh base directory holding a valid one-host job, replaces
// or removes some of its files, and runs the binary with posix_spawn (no
// shell) in a clean environment, with a hard timeout. The entry points the
// fixture writes leave a marker file behind when they are started, so "nothing
// was started" is observed, not assumed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace smlaunch::test {
namespace {

namespace fs = std::filesystem;

// A hang guard only: a healthy run takes milliseconds.
constexpr std::chrono::seconds kRunTimeout{20};
constexpr int kPollSliceMs = 100;
constexpr int kExitBadConfiguration = 2;

constexpr std::string_view kRcPath = "input/config/resourceconfig.json";
constexpr std::string_view kHpPath = "input/config/hyperparameters.json";
constexpr std::string_view kIdcPath = "input/config/inputdataconfig.json";

constexpr std::string_view kDefaultRc = R"({"current_host":"algo-1","hosts":["algo-1"]})";
constexpr std::string_view kDefaultHp = R"({"sagemaker_program":"\"train.py\""})";
constexpr std::string_view kDefaultIdc = "{}";

// Entry points that prove they were started by leaving this file in code/.
constexpr std::string_view kStartedMarker = "code/STARTED";
constexpr std::string_view kTrainPy =
    "import os\n"
    "open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'STARTED'), 'w').close()\n";
constexpr std::string_view kTrainSh = "#!/bin/sh\ntouch \"$(dirname \"$0\")/STARTED\"\n";

constexpr std::string_view kErrorPrefix = "smlaunch: error: ";
constexpr std::string_view kFailureHeader = "ConfigurationError:\nExitCode 2\nErrorMessage \"";
constexpr std::string_view kBasePlaceholder = "{base}";
constexpr std::string_view kAnyText = "{*}";

constexpr std::string_view kHostNameExpected =
    "expected a host name of 1 to 253 letters, digits, '.', '-' or '_'";

// ---- Running the binary -----------------------------------------------------

struct RunResult {
  bool timed_out = false;
  std::string spawn_error;  // non-empty when posix_spawn failed
  bool exited = false;
  int exit_code = -1;
  int term_signal = 0;
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

/// Runs SMLAUNCH_BINARY with `args` and exactly the environment `env`
/// ("NAME=value" entries), stdin from /dev/null, in its own process group.
/// Captures stdout and stderr; after kRunTimeout the whole group is killed
/// and timed_out is set.
RunResult run_smlaunch(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  RunResult result;
  Pipe out_pipe;
  Pipe err_pipe;
  if (!out_pipe.valid() || !err_pipe.valid()) {
    result.spawn_error = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }

  std::string binary = SMLAUNCH_BINARY;
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = env;
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe.write_end(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe.write_end(), STDERR_FILENO);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t default_signals;
  sigfillset(&default_signals);
  ::posix_spawnattr_setsigmask(&attr, &no_signals);
  ::posix_spawnattr_setsigdefault(&attr, &default_signals);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  out_pipe.close_write();
  err_pipe.close_write();
  if (spawned != 0) {
    result.spawn_error = std::string("posix_spawn: ") + std::strerror(spawned);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
  pollfd fds[2] = {{out_pipe.read_end(), POLLIN, 0}, {err_pipe.read_end(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
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
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

std::string describe(const RunResult& r) {
  std::ostringstream s;
  s << "timed out: " << r.timed_out << ", exited: " << r.exited << ", exit code: " << r.exit_code
    << ", signal: " << r.term_signal << "\n--- stdout (" << r.out.size() << " bytes) ---\n"
    << r.out.substr(0, 4000) << "\n--- stderr (" << r.err.size() << " bytes) ---\n"
    << r.err.substr(0, 8000);
  return s.str();
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(kErrorPrefix)) lines.push_back(line);
  }
  return lines;
}

/// True when `text` contains `pattern`, where kAnyText in the pattern stands
/// for any run of characters.
bool contains_pattern(std::string_view text, std::string_view pattern) {
  std::size_t from = 0;
  for (;;) {
    const std::size_t wildcard = pattern.find(kAnyText);
    const std::string_view piece = pattern.substr(0, wildcard);
    const std::size_t at = text.find(piece, from);
    if (at == std::string_view::npos) return false;
    if (wildcard == std::string_view::npos) return true;
    from = at + piece.size();
    pattern.remove_prefix(wildcard + kAnyText.size());
  }
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// ---- The job on disk ----------------------------------------------------------

struct FileOverride {
  std::string path;                    // relative to the base directory
  std::optional<std::string> content;  // nullopt: the file is removed
};

/// A fresh base directory with a valid one-host job.
class JobDir {
 public:
  JobDir() : base_(fs::absolute(fs::path(tmp_.path()) / "opt" / "ml").lexically_normal().string()) {
    // The job lives under <tmp>/opt/ml; the clean environment's HOME is <tmp>/home.
    tmp_.write("home/.keep", "");
    apply({std::string(kRcPath), std::string(kDefaultRc)});
    apply({std::string(kHpPath), std::string(kDefaultHp)});
    apply({std::string(kIdcPath), std::string(kDefaultIdc)});
    apply({"code/train.py", std::string(kTrainPy)});
  }

  [[nodiscard]] const std::string& base() const { return base_; }
  [[nodiscard]] std::string home() const { return tmp_.path() + "/home"; }

  void apply(const FileOverride& o) const {
    const fs::path file = fs::path(base_) / o.path;
    if (!o.content) {
      std::error_code ec;
      fs::remove(file, ec);
      return;
    }
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << *o.content;
  }

  /// The clean environment: PATH and HOME, plus `extra`.
  [[nodiscard]] std::vector<std::string> environment(const std::vector<std::string>& extra) const {
    std::vector<std::string> env{"PATH=/usr/bin:/bin", "HOME=" + home()};
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }

  [[nodiscard]] RunResult run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) const {
    return run_smlaunch(args, environment(extra_env));
  }

  [[nodiscard]] bool started_something() const { return fs::exists(fs::path(base_) / kStartedMarker); }
  [[nodiscard]] bool has_output_dir() const { return fs::exists(fs::path(base_) / "output"); }
  [[nodiscard]] fs::path failure_file() const { return fs::path(base_) / "output" / "failure"; }

 private:
  TempDir tmp_;
  std::string base_;
};

// ---- The cases ----------------------------------------------------------------

struct BadCase {
  std::string name;
  std::vector<FileOverride> files = {};
  std::vector<std::string> args = {};        // after the subcommand
  std::vector<std::string> env = {};         // added to the clean environment
  std::vector<std::string> expected = {};    // each part of one error line; {base}: the base dir, {*}: any text
  std::vector<std::string> forbidden = {};   // must appear nowhere in stderr
  std::function<void(const JobDir&)> prepare = {};  // for files built at run time
};

/// gtest prints the case by name instead of as bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

FileOverride rc(std::string content) { return {std::string(kRcPath), std::move(content)}; }
FileOverride hp(std::string content) { return {std::string(kHpPath), std::move(content)}; }
FileOverride idc(std::string content) { return {std::string(kIdcPath), std::move(content)}; }

/// hyperparameters.json with the default entry point and `more` (JSON members).
FileOverride hp_with(std::string_view more) {
  return hp(std::string(R"({"sagemaker_program":"\"train.py\"",)") + std::string(more) + "}");
}

/// The MPI runner with processes per host given as `pph` (the JSON text of
/// the hyperparameter's string value, as the platform writes it).
FileOverride mpi_pph(std::string_view pph) {
  return hp_with(std::string(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":")") +
                 std::string(pph) + "\"");
}

FileOverride mpi_custom_options(std::string_view options) {
  return hp_with(std::string(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_custom_mpi_options":")") +
                 std::string(options) + "\"");
}

std::string host_name_problem(std::string_view field, std::string_view shown) {
  return "resourceconfig.json: " + std::string(field) + ": got " + std::string(shown) + ", " +
         std::string(kHostNameExpected);
}

std::string pph_problem(std::string_view shown) {
  return "hyperparameters.json: sagemaker_mpi_num_of_processes_per_host: got " + std::string(shown) +
         ", expected an integer from 1 to 4096";
}

std::string entry_point_problem(std::string_view shown) {
  return "hyperparameters.json: sagemaker_program: got " + std::string(shown) +
         ", expected a file name relative to the code directory {base}/code";
}

std::string nested(std::size_t depth, bool closed) {
  std::string text(depth, '[');
  if (closed) text.append(depth, ']');
  return text;
}

constexpr std::size_t kHundredMegabytes = 100ULL << 20;
constexpr std::size_t kDeepNesting = 10'000;

void write_huge_hyperparameters(const JobDir& job) {
  // One huge string value: valid JSON that would be expensive to parse.
  std::string text = R"({"sagemaker_program":"\"train.py\"","blob":")";
  text.append(kHundredMegabytes - text.size() - 2, 'a');
  text += "\"}";
  job.apply(hp(std::move(text)));
}

const std::string kCustomOptionsField = "hyperparameters.json: sagemaker_mpi_custom_mpi_options: ";
const std::string kKeyExpected = ", expected a key usable as an environment variable name";
const std::string kChannelExpected =
    ", expected a non-empty name without '/', '=' or control characters, not '.' or '..'";

// A resourceconfig.json that cannot be read is one problem: its fields are
// not "missing" as well (they may well be in the file).
const std::vector<std::string> kUnreadableResourceConfigEchoes = {"resourceconfig.json: hosts: missing",
                                                                  "resourceconfig.json: current_host: missing"};

std::vector<BadCase> bad_cases() {
  return {
      // -- The files themselves.
      {.name = "ResourceConfigMissing",
       .files = {{std::string(kRcPath), std::nullopt}},
       .expected = {"resourceconfig.json: file: {base}/input/config/resourceconfig.json does not exist, expected "},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "ResourceConfigIsADirectory",
       .files = {{std::string(kRcPath), std::nullopt}},
       .expected = {"resourceconfig.json: file: {base}/input/config/resourceconfig.json: ",
                    ", expected a readable JSON file"},
       .forbidden = kUnreadableResourceConfigEchoes,
       .prepare = [](const JobDir& job) { fs::create_directories(fs::path(job.base()) / kRcPath); }},
      {.name = "ResourceConfigInvalidJson",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1")")},
       .expected = {"resourceconfig.json: document: invalid JSON at byte 42: ", ", expected a JSON object"},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "HyperparametersInvalidJson",
       .files = {hp(R"({"sagemaker_program":"\"train.py\"",})")},
       .expected = {"hyperparameters.json: document: invalid JSON at byte ", ", expected a JSON object"}},
      {.name = "InputDataConfigInvalidJson",
       .files = {idc(R"({"train": {"ContentType": 'csv'}})")},
       .expected = {"inputdataconfig.json: document: invalid JSON at byte ", ", expected a JSON object"}},
      {.name = "ResourceConfigTopLevelArray",
       .files = {rc(R"(["algo-1"])")},
       .expected = {"resourceconfig.json: document: a list, expected a JSON object"},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "HyperparametersTopLevelString",
       .files = {hp(R"("train.py")")},
       .expected = {"hyperparameters.json: document: a string, expected a JSON object"}},
      {.name = "InputDataConfigTopLevelNumber",
       .files = {idc("42")},
       .expected = {"inputdataconfig.json: document: an integer, expected a JSON object"}},
      {.name = "ResourceConfigInvalidUtf8",
       .files = {rc("{\"current_host\":\"algo-1\",\"hosts\":[\"algo-\xff\"]}")},
       .expected = {"resourceconfig.json: document: bytes that are not valid UTF-8, expected UTF-8 JSON"},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "HyperparametersInvalidUtf8",
       .files = {hp("{\"sagemaker_program\":\"\\\"train.py\\\"\",\"lr\":\"\xc3\x28\"}")},
       .expected = {"hyperparameters.json: document: bytes that are not valid UTF-8, expected UTF-8 JSON"}},
      {.name = "InputDataConfigInvalidUtf8",
       .files = {idc("{\"tr\xed\xa0\x80in\":{}}")},  // an encoded surrogate
       .expected = {"inputdataconfig.json: document: bytes that are not valid UTF-8, expected UTF-8 JSON"}},
      {.name = "ResourceConfigWithBom",
       .files = {rc("\xef\xbb\xbf" + std::string(kDefaultRc))},
       .expected = {"resourceconfig.json: document: invalid JSON at byte 0: Unexpected UTF-8 BOM",
                    ", expected a JSON object"},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "ResourceConfigNestedTenThousandDeep",
       .files = {rc(nested(kDeepNesting, true))},
       .expected = {"resourceconfig.json: document: invalid JSON at byte 512: maximum nesting depth (512) exceeded",
                    ", expected a JSON object"},
       .forbidden = kUnreadableResourceConfigEchoes},
      {.name = "HyperparametersUnclosedTenThousandDeep",
       .files = {hp(nested(kDeepNesting, false))},
       .expected = {"hyperparameters.json: document: invalid JSON at byte 512: maximum nesting depth (512) exceeded"}},
      {.name = "HyperparametersHundredMegabytes",
       .expected = {"hyperparameters.json: file: 104857600 bytes, expected at most 64 MiB"},
       .prepare = write_huge_hyperparameters},

      // -- resourceconfig.json fields.
      {.name = "HostsMissing",
       .files = {rc(R"({"current_host":"algo-1"})")},
       .expected = {"resourceconfig.json: hosts: missing, expected a non-empty list of host names"}},
      {.name = "CurrentHostMissing",
       .files = {rc(R"({"hosts":["algo-1"]})")},
       .expected = {"resourceconfig.json: current_host: missing, expected this host's name"}},
      {.name = "HostsNotAList",
       .files = {rc(R"({"current_host":"algo-1","hosts":"algo-1"})")},
       .expected = {R"(resourceconfig.json: hosts: got "algo-1", expected a list of host names)"}},
      {.name = "CurrentHostNotAString",
       .files = {rc(R"({"current_host":1,"hosts":["algo-1"]})")},
       .expected = {"resourceconfig.json: current_host: got 1, expected a host name as a string"}},
      {.name = "HostItemNotAString",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1",{"name":"algo-2"}]})")},
       .expected = {R"(resourceconfig.json: hosts[1]: got {"name":"algo-2"}, expected a host name as a string)"}},
      {.name = "NetworkInterfaceNameNotAString",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"network_interface_name":5})")},
       .expected = {"resourceconfig.json: network_interface_name: got 5, expected a string"}},
      {.name = "NetworkInterfaceNameWithSlash",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"network_interface_name":"eth0/../lo"})")},
       .expected = {R"(resourceconfig.json: network_interface_name: "eth0/../lo", expected an interface name)"}},
      {.name = "CurrentInstanceTypeNotAString",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"current_instance_type":["ml.p4d.24xlarge"]})")},
       .expected = {R"(resourceconfig.json: current_instance_type: got ["ml.p4d.24xlarge"], expected a string)"}},
      {.name = "CurrentGroupNameNotAString",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"current_group_name":null})")},
       .expected = {"resourceconfig.json: current_group_name: got null, expected a string"}},
      {.name = "InstanceGroupsNotAList",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"instance_groups":{"g":["algo-1"]}})")},
       .expected = {R"(resourceconfig.json: instance_groups: got {"g":["algo-1"]}, expected a list of instance groups)"}},
      {.name = "InstanceGroupNotAnObject",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"instance_groups":["homogeneousCluster"]})")},
       .expected = {R"(resourceconfig.json: instance_groups[0]: got "homogeneousCluster", expected an object)"}},
      {.name = "InstanceGroupNameMissing",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"instance_groups":[{"hosts":["algo-1"]}]})")},
       .expected = {"resourceconfig.json: instance_groups[0].instance_group_name: missing, expected a string"}},
      {.name = "InstanceGroupHostsNotAList",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],)"
                    R"("instance_groups":[{"instance_group_name":"g","hosts":"algo-1"}]})")},
       .expected = {R"(resourceconfig.json: instance_groups[0].hosts: got "algo-1", expected a list of host names)"}},
      // The same, for the group the distribution runs on: the group's hosts
      // must not be read as a list afterwards.
      {.name = "DistributionGroupHostsNotAList",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"current_group_name":"g",)"
                    R"("instance_groups":[{"instance_group_name":"g","hosts":"algo-1"}]})"),
                 hp_with(R"("sagemaker_mpi_enabled":"true")")},
       .expected = {R"(resourceconfig.json: instance_groups[0].hosts: got "algo-1", expected a list of host names)"}},
      {.name = "HostsEmpty",
       .files = {rc(R"({"current_host":"algo-1","hosts":[]})")},
       .expected = {"resourceconfig.json: hosts: an empty list, expected at least one host"}},
      {.name = "HostsDuplicated",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1","algo-2","algo-1"]})")},
       .expected = {R"(resourceconfig.json: hosts[2]: "algo-1" appears twice, expected each host once)"}},
      {.name = "HostNameWithSpace",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1","algo 2"]})")},
       .expected = {host_name_problem("hosts[1]", R"("algo 2")")}},
      {.name = "HostNameWithComma",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1","algo-2,algo-3"]})")},
       .expected = {host_name_problem("hosts[1]", R"("algo-2,algo-3")")}},
      {.name = "HostNameWithColon",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1","algo-2:8"]})")},
       .expected = {host_name_problem("hosts[1]", R"("algo-2:8")")}},
      {.name = "HostNameWithAt",
       .files = {rc(R"({"current_host":"root@algo-1","hosts":["root@algo-1"]})")},
       .expected = {host_name_problem("hosts[0]", R"("root@algo-1")"),
                    host_name_problem("current_host", R"("root@algo-1")")}},
      {.name = "HostNameTooLong",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1",")" + std::string(254, 'h') + R"("]})")},
       .expected = {"resourceconfig.json: hosts[1]: got \"" + std::string(60, 'h') + "...\" (254 bytes), " +
                    std::string(kHostNameExpected)}},
      {.name = "CurrentHostNotInHosts",
       .files = {rc(R"({"current_host":"algo-9","hosts":["algo-1","algo-2"]})")},
       .expected = {R"(resourceconfig.json: current_host: "algo-9" is not in hosts, expected one of the names in hosts)"}},
      {.name = "GroupHostNotInHosts",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],)"
                    R"("instance_groups":[{"instance_group_name":"homogeneousCluster","hosts":["algo-1","algo-7"]}]})")},
       .expected = {R"(resourceconfig.json: instance_groups[0].hosts[1]: "algo-7" is not in hosts, expected a name listed in hosts)"}},
      // A NUL byte in a resourceconfig.json value: it cannot reach the
      // environment, and the problem belongs to resourceconfig.json.
      {.name = "InstanceTypeWithNul",
       .files = {rc(R"({"current_host":"algo-1","hosts":["algo-1"],"current_instance_type":"ml.m5\u0000x"})")},
       .expected = {"resourceconfig.json: current_instance_type: "}},

      // -- Processes per host and counts.
      {.name = "ProcessesPerHostZero", .files = {mpi_pph("0")}, .expected = {pph_problem("0")}},
      {.name = "ProcessesPerHostNegative", .files = {mpi_pph("-1")}, .expected = {pph_problem("-1")}},
      {.name = "ProcessesPerHostWord", .files = {mpi_pph(R"(\"eight\")")}, .expected = {pph_problem(R"("eight")")}},
      {.name = "ProcessesPerHostHuge",
       .files = {mpi_pph("1000000000000")},
       .expected = {pph_problem("1000000000000")}},
      {.name = "ProcessesPerHostBeyondInt64",
       .files = {mpi_pph("99999999999999999999999")},
       .expected = {pph_problem("99999999999999999999999")}},
      {.name = "ProcessesPerHostFraction", .files = {mpi_pph("2.5")}, .expected = {pph_problem("2.5")}},
      {.name = "ProcessesPerHostBoolean", .files = {mpi_pph("true")}, .expected = {pph_problem("true")}},
      {.name = "NumProcessesAboveSlots",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":"2",)"
                         R"("sagemaker_mpi_num_processes":"3")"),
                 rc(R"({"current_host":"algo-1","hosts":["algo-1"]})")},
       .expected = {"hyperparameters.json: sagemaker_mpi_num_processes: got 3, expected an integer from 1 to 2 "
                    "(processes per host x hosts)"}},
      {.name = "NumProcessesZero",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_num_processes":"0")")},
       .expected = {"hyperparameters.json: sagemaker_mpi_num_processes: got 0, expected an integer from 1 to "}},

      // -- Custom MPI options.
      {.name = "CustomMpiOptionsHostfile",
       .files = {mpi_custom_options(R"(\"-hostfile /tmp/h\")")},
       .expected = {kCustomOptionsField + "-hostfile is not allowed: smlaunch passes the host list from "
                                          "resourceconfig.json, expected "}},
      // --help has nothing to do with the host list: the message must not
      // say that it does.
      {.name = "CustomMpiOptionsHelp",
       .files = {mpi_custom_options(R"(\"--help\")")},
       .expected = {kCustomOptionsField + "--help is not allowed: it would make the launcher print its help"},
       .forbidden = {"expected mpirun options that do not set the host list"}},
      {.name = "CustomMpiOptionsNcclDebugWithoutValue",
       .files = {mpi_custom_options(R"(\"--NCCL_DEBUG\")")},
       .expected = {kCustomOptionsField + "--NCCL_DEBUG expects a value, e.g. --NCCL_DEBUG WARN, expected "},
       .forbidden = {"expected mpirun options that do not set the host list"}},
      {.name = "CustomMpiOptionsUnterminatedQuote",
       .files = {mpi_custom_options(R"(\"-x 'a\")")},
       .expected = {kCustomOptionsField + "unterminated single quote at offset 3, expected "},
       .forbidden = {"expected mpirun options that do not set the host list"}},
      {.name = "CustomMpiOptionsNotAString",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_custom_mpi_options":"[\"-x\", \"A=1\"]")")},
       .expected = {kCustomOptionsField + R"(got ["-x","A=1"], expected mpirun options as a string)"}},

      // -- The entry point.
      {.name = "EntryPointMissing",
       .files = {hp("{}")},
       .expected = {"hyperparameters.json: sagemaker_program: missing, expected the entry point's file name"}},
      {.name = "EntryPointNotAString",
       .files = {hp(R"({"sagemaker_program":"42"})")},
       .expected = {"hyperparameters.json: sagemaker_program: got 42, expected the entry point's file name as a string"}},
      {.name = "EntryPointAbsentFromCode",
       .files = {hp(R"({"sagemaker_program":"\"nothere.py\""})")},
       .expected = {R"(hyperparameters.json: sagemaker_program: "nothere.py" does not exist in {base}/code, )"
                    "expected the entry point file inside the code directory"}},
      {.name = "EntryPointEscapesUp",
       .files = {hp(R"({"sagemaker_program":"\"../escape.py\""})"), {"escape.py", std::string(kTrainPy)}},
       .expected = {entry_point_problem(R"("../escape.py")")}},
      {.name = "EntryPointAbsolute",
       .files = {hp(R"({"sagemaker_program":"\"/abs/train.py\""})")},
       .expected = {entry_point_problem(R"("/abs/train.py")")}},
      {.name = "EntryPointAbsoluteFromEnvironment",
       .env = {"SAGEMAKER_PROGRAM=/usr/bin/true"},
       .expected = {entry_point_problem(R"("/usr/bin/true")")}},
      {.name = "TorchrunWithShellEntryPoint",
       .files = {hp(R"({"sagemaker_program":"\"train.sh\"","sagemaker_torch_distributed_enabled":"true"})"),
                 {"code/train.sh", std::string(kTrainSh)}},
       .expected = {"hyperparameters.json: sagemaker_program: a command entry point (train.sh), "
                    "expected a Python script (.py) for the torchrun runner"},
       .prepare = [](const JobDir& job) {
         fs::permissions(fs::path(job.base()) / "code/train.sh", fs::perms::owner_all, fs::perm_options::add);
       }},
      {.name = "XlaWithoutGpus",
       .files = {hp_with(R"("sagemaker_pytorch_xla_multi_worker_enabled":"true")")},
       .env = {"CUDA_VISIBLE_DEVICES=", "SMLAUNCH_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1"},
       .expected = {"hardware: GPUs: 0 GPUs detected, expected GPUs: distributed training through PT-XLA is only "
                    "supported for GPUs"}},

      // -- Other hyperparameters.
      {.name = "HyperparameterKeyWithEquals",
       .files = {hp_with(R"("a=b":"1")")},
       .expected = {R"(hyperparameters.json: "a=b": a key containing '=')" + kKeyExpected}},
      {.name = "HyperparameterKeyWithNul",
       .files = {hp_with(R"("a\u0000b":"1")")},
       .expected = {R"(hyperparameters.json: "a\x00b": a key containing a NUL character)" + kKeyExpected}},
      // A NUL in a value cannot reach the program's environment or argv; the
      // value's file is named.
      {.name = "HyperparameterValueWithNul",
       .files = {hp_with(R"("x":"\"a\\u0000b\"")")},
       .expected = {"hyperparameters.json: {*}: a value containing a NUL character, expected "}},
      {.name = "DistributionInstanceGroupsAsString",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true","sagemaker_distribution_instance_groups":"\"homogeneousCluster\"")")},
       .expected = {R"(hyperparameters.json: sagemaker_distribution_instance_groups: got "homogeneousCluster", )"
                    "expected a list of instance group names"}},
      {.name = "ContainerLogLevelName",
       .files = {hp_with(R"("sagemaker_container_log_level":"\"INFO\"")")},
       .expected = {R"(hyperparameters.json: sagemaker_container_log_level: got "INFO", expected a logging level number)"}},
      {.name = "SubmitDirectoryNotAString",
       .files = {hp_with(R"("sagemaker_submit_directory":"{\"s3\": 1}")")},
       .expected = {R"(hyperparameters.json: sagemaker_submit_directory: got {"s3":1}, expected a directory)"}},
      // The same value from the launcher's environment: the problem is not in
      // hyperparameters.json.
      {.name = "ModelParallelParametersFromEnvironment",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true")")},
       .env = {"SM_HP_MP_PARAMETERS=pipeline"},
       .expected = {R"(environment: SM_HP_MP_PARAMETERS: got "pipeline", expected a JSON object)"}},
      {.name = "ModelParallelParametersNotAnObject",
       .files = {hp_with(R"("sagemaker_mpi_enabled":"true","mp_parameters":"\"pipeline\"")")},
       .expected = {R"(hyperparameters.json: mp_parameters: got "pipeline", expected a JSON object)"}},

      // -- inputdataconfig.json channels.
      {.name = "ChannelNameWithSlash",
       .files = {idc(R"({"a/b":{"ContentType":"csv"}})")},
       .expected = {R"(inputdataconfig.json: "a/b": an unusable channel name)" + kChannelExpected}},
      {.name = "ChannelNameDotDot",
       .files = {idc(R"({"..":{}})")},
       .expected = {R"(inputdataconfig.json: "..": an unusable channel name)" + kChannelExpected}},

      // -- The command line.
      {.name = "UnknownRunner",
       .args = {"--runner", "banana"},
       .expected = {R"(command line: --runner: got "banana", expected mpi, smddp, torchrun, xla or process)"}},
      {.name = "NegativePeerTimeout",
       .args = {"--peer-timeout", "-5"},
       .expected = {"command line: --peer-timeout: got \"-5\", expected a number of seconds above 0"}},
      {.name = "OpenMpiVersionThree",
       .args = {"--openmpi-version", "3"},
       .expected = {R"(command line: --openmpi-version: got "3", expected 4 or 5)"}},
      {.name = "UnknownLogLevel",
       .args = {"--log-level", "loud"},
       .expected = {R"(command line: --log-level: got "loud", expected debug, info, warning or error)"}},
      // What the option parser itself rejects is a usage problem like the
      // others: same line shape, and the failure file in train mode.
      {.name = "PeerTimeoutNotANumber",
       .args = {"--peer-timeout", "abc"},
       .expected = {"command line: --peer-timeout: {*}abc{*}, expected "}},
      {.name = "UnknownOption",
       .args = {"--bogus"},
       .expected = {"command line: {*}--bogus{*}, expected "}},
      {.name = "MpiWithoutCommand",
       .args = {"--mpi"},
       .expected = {"command line: --mpi: no command, expected --mpi [--] CMD [ARGS...]"}},
  };
}

// ---- The parameterized checks -------------------------------------------------

/// Checks the error lines: each has the contract's shape, and each expected
/// text is part of one of them.
void expect_problem_lines(const RunResult& r, const std::vector<std::string>& expected,
                          const std::vector<std::string>& forbidden, const std::string& base) {
  static const std::regex kShape(R"(^smlaunch: error: [^:]+: .+: .+, expected .+$)");
  const auto lines = error_lines(r.err);
  EXPECT_FALSE(lines.empty()) << "no error line\n" << describe(r);
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, kShape)) << "not `<file>: <field>: <found>, expected <what>`: " << line;
  }
  for (const auto& e : expected) {
    const std::string want = replace_all(e, kBasePlaceholder, base);
    const bool found = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return contains_pattern(l, want);
    });
    EXPECT_TRUE(found) << "no error line contains: " << want << "\n" << describe(r);
  }
  for (const auto& f : forbidden) {
    EXPECT_EQ(r.err.find(f), std::string::npos) << "stderr should not say: " << f << "\n" << describe(r);
  }
}

/// No crash, no hang, nothing started, exit 2.
void expect_clean_refusal(const RunResult& r, const JobDir& job) {
  ASSERT_TRUE(r.spawn_error.empty()) << r.spawn_error;
  ASSERT_FALSE(r.timed_out) << "no answer within " << kRunTimeout.count() << " s\n" << describe(r);
  EXPECT_EQ(r.term_signal, 0) << "killed by a signal\n" << describe(r);
  EXPECT_TRUE(r.exited) << describe(r);
  EXPECT_EQ(r.exit_code, kExitBadConfiguration) << describe(r);
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << describe(r);
  EXPECT_FALSE(job.started_something()) << "the entry point was started\n" << describe(r);
}

class BadInputCases : public ::testing::TestWithParam<BadCase> {
 protected:
  void SetUp() override {
    for (const auto& o : GetParam().files) job_.apply(o);
    if (GetParam().prepare) GetParam().prepare(job_);
  }

  [[nodiscard]] std::vector<std::string> args(std::initializer_list<std::string> command) const {
    // The case's options go last: `--mpi` takes everything after it.
    std::vector<std::string> out{"--base-dir", job_.base()};
    out.insert(out.end(), command.begin(), command.end());
    out.insert(out.end(), GetParam().args.begin(), GetParam().args.end());
    return out;
  }

  void check_print_only(std::initializer_list<std::string> command) const {
    const RunResult r = job_.run(args(command), GetParam().env);
    expect_clean_refusal(r, job_);
    expect_problem_lines(r, GetParam().expected, GetParam().forbidden, job_.base());
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_FALSE(job_.has_output_dir()) << "plan/env must not create output/";
  }

  void check_train(std::initializer_list<std::string> command) const {
    const RunResult r = job_.run(args(command), GetParam().env);
    expect_clean_refusal(r, job_);
    expect_problem_lines(r, GetParam().expected, GetParam().forbidden, job_.base());
    EXPECT_TRUE(r.out.empty()) << describe(r);
    ASSERT_TRUE(fs::is_regular_file(job_.failure_file())) << "no output/failure\n" << describe(r);
    const std::string failure = read_whole_file(job_.failure_file());
    EXPECT_TRUE(failure.starts_with(kFailureHeader)) << failure;
    for (const auto& e : GetParam().expected) {
      const std::string want = replace_all(e, kBasePlaceholder, job_.base());
      EXPECT_TRUE(contains_pattern(failure, want)) << "the failure file lacks: " << want << "\n" << failure;
    }
  }

  JobDir job_;
};

TEST_P(BadInputCases, PlanJsonRefusesAndWritesNothing) { check_print_only({"plan", "--json"}); }

TEST_P(BadInputCases, EnvJsonRefusesAndWritesNothing) { check_print_only({"env", "--json"}); }

TEST_P(BadInputCases, TrainWritesTheFailureFile) { check_train({"train"}); }

TEST_P(BadInputCases, DefaultCommandWritesTheFailureFile) { check_train({}); }

INSTANTIATE_TEST_SUITE_P(BadInput, BadInputCases, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& param_info) { return param_info.param.name; });

TEST(BadInputTable, HasDistinctNamesAndEnoughCases) {
  const auto cases = bad_cases();
  EXPECT_GE(cases.size(), 45U);
  std::set<std::string> names;
  for (const auto& c : cases) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.expected.empty()) << c.name;
  }
}

// ---- Cases that are not one row of the table ----------------------------------

// Problems in the three files are all reported in one run.
TEST(BadInput, ProblemsInEveryFileAreReportedTogether) {
  JobDir job;
  job.apply(rc(R"({"current_host":"algo-1","hosts":["algo-1",7,"algo-1"]})"));
  job.apply(hp_with(R"("a=b":"1","sagemaker_container_log_level":"\"debug\"")"));
  job.apply(idc(R"({"..":{},"train":{}})"));
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"plan", "--json"}, std::vector<std::string>{"train"}}) {
    std::vector<std::string> args{"--base-dir", job.base()};
    args.insert(args.end(), command.begin(), command.end());
    const RunResult r = job.run(args, {});
    expect_clean_refusal(r, job);
    const std::vector<std::string> expected = {
        "resourceconfig.json: hosts[1]: got 7, expected a host name as a string",
        R"(resourceconfig.json: hosts[2]: "algo-1" appears twice)",
        R"(hyperparameters.json: "a=b": a key containing '=')",
        R"(hyperparameters.json: sagemaker_container_log_level: got "debug")",
        R"(inputdataconfig.json: "..": an unusable channel name)",
    };
    expect_problem_lines(r, expected, {}, job.base());
    EXPECT_EQ(error_lines(r.err).size(), expected.size()) << describe(r);
  }
  const std::string failure = read_whole_file(job.failure_file());
  EXPECT_TRUE(failure.starts_with(kFailureHeader)) << failure;
  EXPECT_NE(failure.find("resourceconfig.json: hosts[1]"), std::string::npos) << failure;
  EXPECT_NE(failure.find("hyperparameters.json: \"a=b\""), std::string::npos) << failure;
  EXPECT_NE(failure.find("inputdataconfig.json: \"..\""), std::string::npos) << failure;
}

// Unreadable documents do not hide each other either.
TEST(BadInput, EveryBrokenDocumentIsReported) {
  JobDir job;
  job.apply(rc("{"));
  job.apply(hp("[]"));
  job.apply(idc("{\"a\":\xfe}"));
  const RunResult r = job.run({"--base-dir", job.base(), "plan", "--json"}, {});
  expect_clean_refusal(r, job);
  expect_problem_lines(r,
                       {"resourceconfig.json: document: invalid JSON at byte 1",
                        "hyperparameters.json: document: a list, expected a JSON object",
                        "inputdataconfig.json: document: bytes that are not valid UTF-8"},
                       {}, job.base());
  EXPECT_FALSE(job.has_output_dir());
}

// A problem found while reading the files and problems found while planning
// (SPEC.md lists pph and the current host among what is "reported together")
// come out in the same run.
TEST(BadInput, FileAndPlanProblemsAreReportedTogether) {
  JobDir job;
  job.apply(rc(R"({"current_host":"algo-1","hosts":["algo-1","algo 2"]})"));
  job.apply(hp_with(R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":"0",)"
                    R"("sagemaker_mpi_custom_mpi_options":"\"--hostfile h\"")"));
  const RunResult r = job.run({"--base-dir", job.base(), "plan", "--json"}, {});
  expect_clean_refusal(r, job);
  expect_problem_lines(r,
                       {host_name_problem("hosts[1]", R"("algo 2")"), pph_problem("0"),
                        kCustomOptionsField + "--hostfile is not allowed"},
                       {}, job.base());
}

// B144: the user's own failure file wins.
TEST(BadInput, TrainKeepsTheUsersFailureFile) {
  JobDir job;
  job.apply(rc(R"({"current_host":"algo-1","hosts":[]})"));
  const std::string mine = "MyError: the user wrote this\n";
  job.apply({"output/failure", mine});
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--base-dir", job.base(), "train"},
                                               std::vector<std::string>{"--base-dir", job.base()}}) {
    const RunResult r = job.run(args, {});
    expect_clean_refusal(r, job);
    expect_problem_lines(r, {"resourceconfig.json: hosts: an empty list, expected at least one host"}, {},
                         job.base());
    EXPECT_EQ(read_whole_file(job.failure_file()), mine);
  }
}

// A hyperparameter value that is a string holding JSON too deep to decode is
// not an error: like Python's json.loads fallback (B8), the value is kept as
// the raw string, and the plan succeeds.
TEST(BadInput, DeeplyNestedHyperparameterValueIsKeptRaw) {
  JobDir job;
  const std::string deep = nested(kDeepNesting, true);
  job.apply(hp_with(R"("deep":")" + deep + "\""));
  const RunResult r = job.run({"--base-dir", job.base(), "plan", "--json"}, {});
  ASSERT_TRUE(r.spawn_error.empty()) << r.spawn_error;
  ASSERT_FALSE(r.timed_out) << describe(r);
  ASSERT_EQ(r.term_signal, 0) << describe(r);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(error_lines(r.err).empty()) << describe(r);
  EXPECT_FALSE(job.has_output_dir());
  EXPECT_FALSE(job.started_something());
  const auto plan = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << r.out.substr(0, 2000);
  ASSERT_TRUE(plan["env"].contains("SM_HP_DEEP")) << r.out.substr(0, 2000);
  EXPECT_EQ(plan["env"]["SM_HP_DEEP"].get<std::string>(), deep);
  // The argument reaches the program byte for byte, after --deep.
  const auto& argv = plan["argv"];
  ASSERT_GE(argv.size(), 2U);
  EXPECT_EQ(argv[argv.size() - 2].get<std::string>(), "--deep");
  EXPECT_EQ(argv[argv.size() - 1].get<std::string>(), deep);
}

// The valid defaults of the fixture are valid: the table's failures come from
// the overrides alone.
TEST(BadInput, FixtureDefaultsPlanSuccessfully) {
  JobDir job;
  const RunResult r = job.run({"--base-dir", job.base(), "plan", "--json"}, {});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(error_lines(r.err).empty()) << describe(r);
  EXPECT_FALSE(job.has_output_dir());
  EXPECT_FALSE(job.started_something());
}

}  // namespace
}  // namespace smlaunch::test
