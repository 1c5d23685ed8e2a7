// smlaunch doctor: the line format, the exit status, and each check against a
// temporary base directory, home and /etc/ssh (no sshd, no network beyond
// the loopback interface and the resolver).
#include "app/doctor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace smlaunch::app::doctor {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kTwoHosts =
    R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"network_interface_name":"lo"})";
constexpr std::string_view kPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDoctorTestKeyBlob root@test\n";

std::string lines(const std::vector<Check>& checks) {
  std::string out;
  for (const auto& c : checks) out += format_line(c) + "\n";
  return out;
}

const Check* find(const std::vector<Check>& checks, std::string_view name) {
  const auto it = std::find_if(checks.begin(), checks.end(), [&](const Check& c) { return c.name == name; });
  return it == checks.end() ? nullptr : &*it;
}

/// A base directory with the three config files (hyperparameters as given,
/// raw), and doctor settings pointing at it.
struct Job {
  test::TempDir dir;
  Settings settings;

  explicit Job(std::string_view resource_config = kTwoHosts,
               std::string_view hyperparameters = R"({"sagemaker_program":"\"train.py\""})") {
    write("resourceconfig.json", resource_config);
    write("hyperparameters.json", hyperparameters);
    write("inputdataconfig.json", "{}");
    dir.write("opt_ml/code/train.py", "print('hi')\n");
    settings.options.base_dir = dir.path() + "/opt_ml";
    settings.environ = config::current_environ();
  }
  void write(const std::string& name, std::string_view text) const {
    dir.write("opt_ml/input/config/" + name, text);
  }
  std::vector<Check> config(JobFacts& facts) const { return check_config(settings, facts); }
};

// ---- format and exit status ------------------------------------------------

TEST(DoctorFormat, OkLineHasNoFix) {
  EXPECT_EQ(format_line({Status::kOk, "mpirun", "/usr/bin/mpirun", "ignored"}),
            "OK   mpirun: /usr/bin/mpirun");
}

TEST(DoctorFormat, WarnAndFailLinesEndWithTheFix) {
  EXPECT_EQ(format_line({Status::kWarn, "ssh algo-2", "refused", "start it"}),
            "WARN ssh algo-2: refused -- fix: start it");
  EXPECT_EQ(format_line({Status::kFail, "host", "x", "y"}), "FAIL host: x -- fix: y");
}

TEST(DoctorExitCode, IsOneOnlyWhenSomethingFails) {
  EXPECT_EQ(exit_code({}), 0);
  EXPECT_EQ(exit_code({{Status::kOk, "a", "", ""}, {Status::kWarn, "b", "", "f"}}), 0);
  EXPECT_EQ(exit_code({{Status::kOk, "a", "", ""}, {Status::kFail, "b", "", "f"}}), 1);
}

// ---- config ---------------------------------------------------------------

TEST(DoctorConfig, ValidFilesAreOneOkLineEachAndGiveTheFacts) {
  Job job;
  JobFacts facts;
  const auto checks = job.config(facts);
  const std::string text = lines(checks);
  EXPECT_EQ(checks.size(), 3U) << text;
  EXPECT_NE(text.find("OK   resourceconfig.json: "), std::string::npos) << text;
  EXPECT_NE(text.find("OK   hyperparameters.json: "), std::string::npos) << text;
  EXPECT_NE(text.find("OK   inputdataconfig.json: "), std::string::npos) << text;
  EXPECT_EQ(exit_code(checks), 0);
  EXPECT_TRUE(facts.resource_config_read);
  EXPECT_EQ(facts.current_host, "algo-1");
  EXPECT_EQ(facts.peers, std::vector<std::string>{"algo-2"});
  EXPECT_EQ(facts.network_interface, "lo");
}

TEST(DoctorConfig, InvalidJsonIsAFailLineNamingTheFileAndTheDocument) {
  Job job(kTwoHosts, R"({"sagemaker_program": )");
  JobFacts facts;
  const auto checks = job.config(facts);
  const std::string text = lines(checks);
  EXPECT_NE(text.find("FAIL hyperparameters.json: document: invalid JSON at byte"), std::string::npos)
      << text;
  EXPECT_NE(text.find("/input/config/hyperparameters.json"), std::string::npos) << text;  // in the fix
  EXPECT_NE(text.find("OK   resourceconfig.json"), std::string::npos) << text;
  EXPECT_EQ(exit_code(checks), 1);
  // The cluster checks still get the host list.
  EXPECT_EQ(facts.hosts, (std::vector<std::string>{"algo-1", "algo-2"}));
  EXPECT_TRUE(facts.needs_ssh || facts.runner == plan::RunnerKind::Process);
}

TEST(DoctorConfig, EveryBadFieldIsItsOwnFailLineWithTheLoadersMessage) {
  Job job(R"({"current_host":"algo-1","hosts":["algo-1",42],"network_interface_name":"lo"})",
          R"({"sagemaker_program":"\"train.py\"","sagemaker_container_log_level":"\"loud\""})");
  JobFacts facts;
  const auto checks = job.config(facts);
  const std::string text = lines(checks);
  EXPECT_NE(text.find("FAIL resourceconfig.json: hosts[1]: "), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL hyperparameters.json: sagemaker_container_log_level: "), std::string::npos)
      << text;
  EXPECT_NE(text.find("OK   inputdataconfig.json"), std::string::npos) << text;
}

TEST(DoctorConfig, AMissingResourceConfigFailsAndSkipsTheClusterFacts) {
  test::TempDir dir;
  Settings settings;
  settings.options.base_dir = dir.path();
  settings.environ = config::current_environ();
  JobFacts facts;
  const auto checks = check_config(settings, facts);
  const std::string text = lines(checks);
  EXPECT_NE(text.find("FAIL resourceconfig.json: file: "), std::string::npos) << text;
  EXPECT_NE(text.find("does not exist"), std::string::npos) << text;
  EXPECT_FALSE(facts.resource_config_read);
}

// ---- host, interface, names ----------------------------------------------

TEST(DoctorHost, ThisHostNotInTheListFails) {
  Job job(R"({"current_host":"algo-9","hosts":["algo-1","algo-2"],"network_interface_name":"lo"})");
  JobFacts facts;
  const auto config = job.config(facts);
  const auto host = check_host_listed(facts);
  EXPECT_EQ(host.status, Status::kFail);
  EXPECT_NE(format_line(host).find("FAIL host: algo-9 is not in hosts [algo-1, algo-2] -- fix: "),
            std::string::npos)
      << format_line(host);
}

TEST(DoctorHost, ThisHostInTheListIsOkAndSaysWhoLeads) {
  JobFacts facts;
  facts.current_host = "algo-2";
  facts.hosts = {"algo-1", "algo-2"};
  facts.leader = "algo-1";
  EXPECT_EQ(format_line(check_host_listed(facts)), "OK   host: algo-2 is host 2 of 2 (the leader is algo-1)");
}

TEST(DoctorInterface, AMissingInterfaceFailsAndListsTheOnesThere) {
  const auto check = check_interface("nosuch0");
  EXPECT_EQ(check.status, Status::kFail);
  EXPECT_EQ(check.name, "interface nosuch0");
  EXPECT_NE(check.detail.find("lo"), std::string::npos) << check.detail;
  EXPECT_NE(check.fix.find("network_interface_name"), std::string::npos) << check.fix;
}

TEST(DoctorInterface, LoopbackIsUpWithAnAddress) {
  const auto check = check_interface("lo");
  EXPECT_EQ(check.status, Status::kOk) << format_line(check);
  EXPECT_NE(check.detail.find("127.0.0.1"), std::string::npos) << check.detail;
}

TEST(DoctorNames, AnUnresolvableNameIsOneFailLineWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto checks = check_names({"localhost", "no-such-host.invalid"}, milliseconds{500});
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds{3000});
  ASSERT_EQ(checks.size(), 1U) << lines(checks);
  EXPECT_EQ(checks[0].status, Status::kFail);
  EXPECT_EQ(checks[0].name, "resolve no-such-host.invalid");
}

TEST(DoctorNames, AllResolvingIsOneOkLine) {
  const auto checks = check_names({"localhost", "127.0.0.1"}, milliseconds{2000});
  ASSERT_EQ(checks.size(), 1U) << lines(checks);
  EXPECT_EQ(format_line(checks[0]), "OK   resolve: all 2 host names resolve (localhost, 127.0.0.1)");
}

// ---- ssh: sshd, keys, peers ----------------------------------------------

TEST(DoctorSshd, HostKeysFoundByType) {
  test::TempDir etc;
  etc.write("ssh_host_ed25519_key", "key", 0600);
  Settings settings;
  settings.etc_ssh = etc.path();
  JobFacts facts;
  facts.path_env = "/usr/sbin:/usr/bin:/sbin:/bin";
  const auto checks = check_sshd(settings, facts);
  const auto* keys = find(checks, "sshd host keys");
  ASSERT_NE(keys, nullptr) << lines(checks);
  EXPECT_EQ(format_line(*keys), "OK   sshd host keys: " + etc.path() + ": ed25519");
}

class DoctorKeys : public ::testing::Test {
 protected:
  test::TempDir home;
  void pair() const {
    home.write(".ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0600);
    home.write(".ssh/id_ed25519.pub", kPublicKey);
    std::filesystem::permissions(home.path() + "/.ssh", std::filesystem::perms(0700));
    std::filesystem::permissions(home.path(), std::filesystem::perms(0700));
  }
};

TEST_F(DoctorKeys, NoKeyPairFailsForAMultiHostJobAndWarnsOtherwise) {
  auto checks = check_keys(home.path(), true);
  ASSERT_EQ(checks.size(), 1U) << lines(checks);
  EXPECT_EQ(checks[0].status, Status::kFail);
  EXPECT_NE(checks[0].fix.find("ssh-keygen -t ed25519"), std::string::npos);
  checks = check_keys(home.path(), false);
  EXPECT_EQ(checks[0].status, Status::kWarn);
}

TEST_F(DoctorKeys, PairAndAuthorizedKeysHoldingItAreOk) {
  pair();
  home.write(".ssh/authorized_keys",
             std::string("# comment\nssh-rsa AAAAother x\n") + std::string(kPublicKey), 0600);
  const auto checks = check_keys(home.path(), true);
  EXPECT_EQ(exit_code(checks), 0) << lines(checks);
  ASSERT_EQ(checks.size(), 2U) << lines(checks);
  EXPECT_EQ(format_line(checks[0]), "OK   ssh key: " + home.path() + "/.ssh/id_ed25519 (ssh-ed25519)");
  EXPECT_EQ(checks[1].name, "authorized_keys");
  EXPECT_EQ(checks[1].status, Status::kOk);
}

TEST_F(DoctorKeys, AuthorizedKeysWithoutThePublicKeyFails) {
  pair();
  home.write(".ssh/authorized_keys", "ssh-ed25519 AAAAsomeoneelse x\n", 0600);
  const auto checks = check_keys(home.path(), true);
  const auto* authorized = find(checks, "authorized_keys");
  ASSERT_NE(authorized, nullptr) << lines(checks);
  EXPECT_EQ(authorized->status, Status::kFail);
  EXPECT_NE(authorized->detail.find("does not hold the public key"), std::string::npos) << authorized->detail;
}

TEST_F(DoctorKeys, MissingAuthorizedKeysFails) {
  pair();
  const auto checks = check_keys(home.path(), true);
  const auto* authorized = find(checks, "authorized_keys");
  ASSERT_NE(authorized, nullptr) << lines(checks);
  EXPECT_EQ(authorized->status, Status::kFail);
}

TEST_F(DoctorKeys, APrivateKeyOthersCanReadFails) {
  pair();
  std::filesystem::permissions(home.path() + "/.ssh/id_ed25519", std::filesystem::perms(0644));
  const auto checks = check_keys(home.path(), true);
  ASSERT_EQ(checks.size(), 1U) << lines(checks);
  EXPECT_EQ(checks[0].status, Status::kFail);
  EXPECT_EQ(checks[0].fix, "chmod 600 " + home.path() + "/.ssh/id_ed25519");
}

TEST_F(DoctorKeys, AGroupWritableSshDirectoryFails) {
  pair();
  home.write(".ssh/authorized_keys", kPublicKey, 0600);
  std::filesystem::permissions(home.path() + "/.ssh", std::filesystem::perms(0775));
  const auto checks = check_keys(home.path(), true);
  const auto* authorized = find(checks, "authorized_keys");
  ASSERT_NE(authorized, nullptr) << lines(checks);
  EXPECT_EQ(authorized->status, Status::kFail);
  EXPECT_EQ(authorized->fix, "chmod go-w " + home.path() + "/.ssh");
}

TEST(DoctorPeers, APeerWithoutSshdIsAWarningWithinTheTimeout) {
  Settings settings;
  settings.ssh_port = test::unused_port();
  settings.handshake_timeout = milliseconds{500};
  const auto start = std::chrono::steady_clock::now();
  const auto checks = check_peers(settings, {"127.0.0.1", "127.0.0.1"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds{2000});
  ASSERT_EQ(checks.size(), 2U);
  for (const auto& c : checks) {
    EXPECT_EQ(c.status, Status::kWarn) << format_line(c);
    EXPECT_EQ(c.name, "ssh 127.0.0.1");
  }
}

TEST(DoctorPeers, ASilentPeerCostsOneTimeoutForAll) {
  test::TcpListener silent(test::TcpListener::Accepting::kNever);
  Settings settings;
  settings.ssh_port = silent.port();
  settings.handshake_timeout = milliseconds{400};
  const auto start = std::chrono::steady_clock::now();
  const auto checks = check_peers(settings, {"127.0.0.1", "localhost", "127.0.0.1"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds{1500});
  EXPECT_EQ(exit_code(checks), 0) << lines(checks);
}

// ---- tools and space ------------------------------------------------------

TEST(DoctorMpirun, MissingMpirunFailsOnlyForTheMpiRunner) {
  JobFacts facts;
  facts.path_env = "/nonexistent";
  facts.runner = plan::RunnerKind::Mpi;
  EXPECT_EQ(check_mpirun({}, facts).status, Status::kFail);
  facts.runner = plan::RunnerKind::Process;
  EXPECT_EQ(check_mpirun({}, facts).status, Status::kWarn);
}

TEST(DoctorPython, NoPythonFailsOnlyForAPythonEntryPoint) {
  JobFacts facts;
  facts.runner = plan::RunnerKind::Mpi;
  facts.python_entry_point = true;
  auto checks = check_python({}, facts);
  ASSERT_EQ(checks.size(), 2U);
  EXPECT_EQ(checks[0].status, Status::kFail);
  EXPECT_EQ(checks[1].name, "mpi4py");
  EXPECT_EQ(checks[1].status, Status::kFail);
  facts.python_entry_point = false;
  checks = check_python({}, facts);
  EXPECT_EQ(exit_code(checks), 0) << lines(checks);
}

TEST(DoctorPython, AMissingModuleIsAWarningUnlessTheMpiJobNeedsIt) {
  test::TempDir dir;
  // A "python" whose import of mpi4py fails the way CPython's does.
  const auto python =
      dir.write("python3",
                "#!/bin/sh\necho 3.99.0\necho \"ModuleNotFoundError: No module named 'mpi4py'\" >&2\n"
                "exit 1\n",
                0755);
  JobFacts facts;
  facts.python = python;
  facts.path_env = "/usr/bin:/bin";
  facts.runner = plan::RunnerKind::Process;
  auto checks = check_python({}, facts);
  ASSERT_EQ(checks.size(), 2U) << lines(checks);
  EXPECT_EQ(format_line(checks[0]), "OK   python: " + python + " (Python 3.99.0)");
  EXPECT_EQ(checks[1].status, Status::kWarn);
  EXPECT_NE(checks[1].detail.find("No module named 'mpi4py'"), std::string::npos) << checks[1].detail;
  facts.runner = plan::RunnerKind::Mpi;
  facts.python_entry_point = true;
  checks = check_python({}, facts);
  EXPECT_EQ(checks[1].status, Status::kFail);
}

TEST(DoctorSpace, WarnsUnderTheMinimumAndWhenThePathIsMissing) {
  test::TempDir dir;
  EXPECT_EQ(check_space(dir.path(), 0, "fix").status, Status::kOk);
  const auto low = check_space(dir.path(), UINT64_MAX, "docker run --shm-size=8g");
  EXPECT_EQ(low.status, Status::kWarn);
  EXPECT_EQ(low.name, "free space " + dir.path());
  EXPECT_NE(low.detail.find(" free of "), std::string::npos) << low.detail;
  EXPECT_EQ(check_space(dir.path() + "/missing", 0, "fix").status, Status::kWarn);
}

// ---- all together ----------------------------------------------------------

TEST(DoctorRun, AOneHostJobNeedsNoPeersAndReportsEveryCheckInOrder) {
  Job job(R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})");
  test::TempDir etc, home;
  job.settings.etc_ssh = etc.path();
  job.settings.environ["HOME"] = home.path();
  std::vector<std::string> seen;
  const auto checks = run(job.settings, [&](const Check& c) { seen.push_back(c.name); });
  const std::string text = lines(checks);
  ASSERT_EQ(seen.size(), checks.size());
  EXPECT_EQ(seen.front(), "resourceconfig.json");
  EXPECT_EQ(seen.back(), "free space /dev/shm");
  EXPECT_NE(text.find("OK   host: localhost is host 1 of 1"), std::string::npos) << text;
  EXPECT_NE(text.find("OK   interface lo: up, 127.0.0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("OK   ssh peers: none (a 1-host job)"), std::string::npos) << text;
  // Nothing SSH needs is required for one host: WARN at worst.
  EXPECT_NE(text.find("WARN ssh key: "), std::string::npos) << text;
  for (const auto& name : {"mpirun", "python", "mpi4py", "gpus", "neuron cores", "efa", "cpus"}) {
    EXPECT_NE(find(checks, name), nullptr) << name << " missing in\n" << text;
  }
}

TEST(DoctorRun, AWrongInterfaceNameFails) {
  Job job(R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"nosuch0"})");
  const auto checks = run(job.settings, {});
  const auto* interface = find(checks, "interface nosuch0");
  ASSERT_NE(interface, nullptr) << lines(checks);
  EXPECT_EQ(interface->status, Status::kFail);
  EXPECT_EQ(exit_code(checks), 1);
}

}  // namespace
}  // namespace smlaunch::app::doctor
