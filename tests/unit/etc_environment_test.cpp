// The /etc/environment block: which names go in, how values are quoted,
// replacing the block in a file, and a round trip through the real pam_env
// (`su` in a private mount namespace with a temporary file bind-mounted on
// /etc/environment; the machine's own file is never touched). The round trip
// needs root, util-linux unshare and su, and /etc/pam.d/su reading
// /etc/environment (Debian's default); it is skipped otherwise.
#include "cluster/etc_environment.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "platform/files.hpp"
#include "platform/subprocess.hpp"
#include "test_support.hpp"

namespace smlaunch::cluster {
namespace {

using smlaunch::test::TempDir;
using Vars = std::map<std::string, std::string>;

std::string read(const std::string& path) {
  auto content = platform::read_file(path, 1 << 24);
  if (auto* text = std::get_if<std::string>(&content)) return *text;
  ADD_FAILURE() << "cannot read " << path;
  return {};
}

std::string wrapped(std::string_view block) {
  return std::string(kBlockBegin) + "\n" + std::string(block) + std::string(kBlockEnd) + "\n";
}

// A value whose NAME="value" line is exactly `line_bytes` long.
std::string value_for_line(std::string_view name, std::size_t line_bytes) {
  return std::string(line_bytes - name.size() - 3, 'v');
}

TEST(EtcEnvironmentRender, QuotesEveryValueAndSortsByName) {
  const Vars vars = {
      {"B", "two words"}, {"A", "1"}, {"C", ""}, {"D", R"(say "hi" it's a\b $HOME ${X} @{HOME})"}};
  EXPECT_EQ(render_block(vars),
            "A=\"1\"\n"
            "B=\"two words\"\n"
            "C=\"\"\n"
            "D=\"say \"hi\" it's a\\b $HOME ${X} @{HOME}\"\n");
}

TEST(EtcEnvironmentRender, ValuesPamEnvCannotCarryAreSkippedAndReported) {
  const std::string fits = value_for_line("FITS", kMaxLineBytes);
  const std::string too_long = value_for_line("TOO_LONG", kMaxLineBytes + 1);
  const Vars vars = {{"HASH", "a#b"}, {"NEWLINE", "a\nb"},    {"NUL", std::string("a\0b", 3)},
                     {"FITS", fits},  {"TOO_LONG", too_long}, {"OK", "fine"}};
  std::vector<std::string> skipped;
  const std::string block = render_block(vars, &skipped);
  EXPECT_EQ(block, "FITS=\"" + fits + "\"\nOK=\"fine\"\n");
  EXPECT_EQ(skipped, (std::vector<std::string>{"HASH", "NEWLINE", "NUL", "TOO_LONG"}));
  EXPECT_FALSE(exportable("HASH", "a#b"));
  EXPECT_TRUE(exportable("FITS", fits));
  EXPECT_FALSE(exportable("TOO_LONG", too_long));
}

TEST(EtcEnvironmentRender, SecretsAndNonIdentifiersAreLeftOutSilently) {
  const Vars vars = {
      {"AWS_ACCESS_KEY_ID", "AKIA"},  {"AWS_SECRET_ACCESS_KEY", "s"},
      {"AWS_SESSION_TOKEN", "t"},     {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"},
      {"SM_HP_LEARNING-RATE", "0.1"}, {"LD_PRELOAD", "/lib/shim.so"},
      {"AWS_REGION", "us-west-2"}};
  std::vector<std::string> skipped;
  EXPECT_EQ(render_block(vars, &skipped), "AWS_REGION=\"us-west-2\"\n");
  EXPECT_TRUE(skipped.empty());
}

TEST(EtcEnvironmentExportable, CredentialsAndSecretNamesAreNot) {
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_SOME_KEYRING", "SM_HP_API_TOKEN", "SM_HP_DB_PASSWORD",
        "SM_HP_API_KEY", "SM_HP_APIKEY", "SM_HP_CLIENT_SECRET", "HF_TOKEN", "WANDB_API_KEY", "MY_CREDENTIALS",
        "SSH_PRIVATE_KEY", "MYSQL_PASSWD"}) {
    EXPECT_FALSE(exportable(name, "x")) << name;
  }
}

TEST(EtcEnvironmentExportable, KnownSafeKeyNamesAreKept) {
  for (const char* name : {"SM_HP_KEY_SIZE", "SM_HP_KEYS", "SM_HP_KEY_COLUMN", "SM_HP_MONKEY", "AWS_REGION",
                           "SM_HPS", "SM_TRAINING_ENV", "NCCL_SOCKET_IFNAME", "PATH", "PYTHONPATH", "_X1"}) {
    EXPECT_TRUE(exportable(name, "x")) << name;
  }
}

TEST(EtcEnvironmentExportable, NamesMustBeIdentifiers) {
  for (const char* name : {"SM_HP_LEARNING-RATE", "1ABC", "", "A B", "A=B", "SM_HP_ÉTÉ", "A.B"}) {
    EXPECT_FALSE(exportable(name, "x")) << name;
  }
}

TEST(EtcEnvironmentExportable, PerProcessNamesAreNot) {
  for (const char* name : {"LD_PRELOAD", "PWD", "OLDPWD", "SHLVL", "_", "HOME", "USER", "LOGNAME", "SHELL",
                           "HOSTNAME", "SSH_AUTH_SOCK", "SSH_CONNECTION"}) {
    EXPECT_FALSE(exportable(name, "x")) << name;
  }
}

TEST(EtcEnvironmentRender, SecretHyperparameterLeavesOutTheAggregates) {
  const Vars with_secret = {{"SM_HP_API_TOKEN", "t0ps3cret"},
                            {"SM_HP_LR", "0.1"},
                            {"SM_HPS", R"({"api_token":"t0ps3cret","lr":0.1})"},
                            {"SM_TRAINING_ENV", R"({"hyperparameters":{"api_token":"t0ps3cret"}})"},
                            {"SM_USER_ARGS", R"(["--api_token","t0ps3cret","--lr","0.1"])"},
                            {"SM_CURRENT_HOST", "algo-1"}};
  const std::string block = render_block(with_secret);
  EXPECT_EQ(block, "SM_CURRENT_HOST=\"algo-1\"\nSM_HP_LR=\"0.1\"\n");
  EXPECT_EQ(block.find("t0ps3cret"), std::string::npos);
}

TEST(EtcEnvironmentRender, SecretKeyInsideSmHpsAloneLeavesOutTheAggregates) {
  // A key that is no identifier has no usable SM_HP_ variable of its own.
  const Vars vars = {{"SM_HPS", R"({"db-password":"hunter2"})"},
                     {"SM_USER_ARGS", R"(["--db-password","hunter2"])"},
                     {"SM_NUM_GPUS", "8"}};
  EXPECT_EQ(render_block(vars), "SM_NUM_GPUS=\"8\"\n");
}

// `-x DB_PASSWORD=...` in the custom mpirun options is repeated in
// SM_FRAMEWORK_PARAMS and SM_TRAINING_ENV: those stay out of the file.
TEST(EtcEnvironmentRender, SecretSetByCustomMpiOptionsLeavesOutTheVariablesThatRepeatIt) {
  const Vars vars = {
      {"SM_FRAMEWORK_PARAMS", R"({"sagemaker_mpi_custom_mpi_options":"-x DB_PASSWORD=pw -v"})"},
      {"SM_TRAINING_ENV",
       R"({"additional_framework_parameters":{"sagemaker_mpi_custom_mpi_options":"-x DB_PASSWORD=pw -v"}})"},
      {"SM_NUM_GPUS", "8"}};
  EXPECT_EQ(render_block(vars), "SM_NUM_GPUS=\"8\"\n");
  // Found through either one.
  EXPECT_EQ(render_block({{"SM_TRAINING_ENV", vars.at("SM_TRAINING_ENV")}, {"SM_NUM_GPUS", "8"}}),
            "SM_NUM_GPUS=\"8\"\n");
  // Options that set no secret keep them.
  const Vars plain = {{"SM_FRAMEWORK_PARAMS", R"({"sagemaker_mpi_custom_mpi_options":"-x A=1"})"}};
  EXPECT_EQ(render_block(plain), "SM_FRAMEWORK_PARAMS=\"{\"sagemaker_mpi_custom_mpi_options\":\"-x A=1\"}\"\n");
}

TEST(EtcEnvironmentRender, ValuesHoldingASecretValueAreLeftOut) {
  const Vars vars = {{"HF_TOKEN", "hf-0123456789"},
                     {"HF_HOME_URL", "https://user:hf-0123456789@example.com"},
                     {"MY_TOKEN", "1"},  // too short to be searched for
                     {"RANK_COUNT", "1"},
                     {"SM_CUSTOM", "x -x API_KEY=k-9876543210 y"},
                     {"SM_FRAMEWORK_PARAMS", R"({"sagemaker_mpi_custom_mpi_options":"-x API_KEY=k-9876543210"})"}};
  EXPECT_EQ(render_block(vars), "RANK_COUNT=\"1\"\n");
}

TEST(EtcEnvironmentRender, AggregatesStayWithoutSecretHyperparameters) {
  const Vars vars = {{"SM_HP_LR", "0.1"}, {"SM_HPS", R"({"lr":0.1})"}, {"SM_USER_ARGS", R"(["--lr","0.1"])"}};
  EXPECT_EQ(render_block(vars),
            "SM_HPS=\"{\"lr\":0.1}\"\nSM_HP_LR=\"0.1\"\nSM_USER_ARGS=\"[\"--lr\",\"0.1\"]\"\n");
}

TEST(EtcEnvironmentReplace, AppendsToAFileWithoutABlock) {
  EXPECT_EQ(replace_block("", "A=\"1\"\n"), wrapped("A=\"1\"\n"));
  EXPECT_EQ(replace_block("PATH=\"/bin\"\n", "A=\"1\"\n"), "PATH=\"/bin\"\n" + wrapped("A=\"1\"\n"));
  // The user's last line keeps its bytes; our marker starts a line of its own.
  EXPECT_EQ(replace_block("PATH=/bin", "A=\"1\"\n"), "PATH=/bin\n" + wrapped("A=\"1\"\n"));
}

TEST(EtcEnvironmentReplace, KeepsUserLinesAroundTheBlockByteForByte) {
  const std::string before = "# user comment\r\nPATH=\"/usr/bin\"\n\n  LANG=C.UTF-8 \t\n";
  const std::string after = "export FOO=bar\n# trailing comment without newline";
  const std::string old = before + wrapped("OLD=\"1\"\nOLDER=\"2\"\n") + after;
  EXPECT_EQ(replace_block(old, "NEW=\"3\"\n"), before + wrapped("NEW=\"3\"\n") + after);
}

TEST(EtcEnvironmentReplace, RepeatedReplacementsKeepOneBlock) {
  std::string text = "A=1\n";
  for (int i = 0; i < 5; ++i) text = replace_block(text, "N=\"" + std::to_string(i) + "\"\n");
  EXPECT_EQ(text, "A=1\n" + wrapped("N=\"4\"\n"));
}

TEST(EtcEnvironmentReplace, DropsASecondBlockAndAnUnterminatedOne) {
  const std::string two = "A=1\n" + wrapped("X=\"1\"\n") + "B=2\n" + wrapped("Y=\"2\"\n") + "C=3\n";
  EXPECT_EQ(replace_block(two, "Z=\"3\"\n"), "A=1\n" + wrapped("Z=\"3\"\n") + "B=2\nC=3\n");
  const std::string cut = "A=1\n" + std::string(kBlockBegin) + "\nX=\"1\"\n";
  EXPECT_EQ(replace_block(cut, "Z=\"3\"\n"), "A=1\n" + wrapped("Z=\"3\"\n"));
}

TEST(EtcEnvironmentReplace, EmptyBlockStillHasItsMarkers) {
  EXPECT_EQ(replace_block("A=1\n", ""), "A=1\n" + wrapped(""));
}

class EtcEnvironmentWrite : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string path_ = dir_.path() + "/environment";
};

TEST_F(EtcEnvironmentWrite, CreatesAMissingFile) {
  std::vector<std::string> skipped;
  ASSERT_EQ(write_managed_block(path_, {{"A", "1"}, {"H", "#"}}, &skipped), std::nullopt);
  EXPECT_EQ(read(path_), wrapped("A=\"1\"\n"));
  EXPECT_EQ(skipped, std::vector<std::string>{"H"});
}

TEST_F(EtcEnvironmentWrite, RewritesAtomicallyWithMode0644AndKeepsUserLines) {
  const std::string before = "PATH=\"/usr/local/bin:/usr/bin\"\n";
  const std::string after = "USER_LINE=kept\n";
  dir_.write("environment", before + wrapped("OLD=\"x\"\n") + after, 0600);
  const ::mode_t old_umask = ::umask(077);
  for (int i = 0; i < 3; ++i) {
    struct stat old_st {};
    ASSERT_EQ(::stat(path_.c_str(), &old_st), 0);
    ASSERT_EQ(write_managed_block(path_, {{"RUN", std::to_string(i)}}), std::nullopt);
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644U);
    EXPECT_NE(st.st_ino, old_st.st_ino) << "not replaced by rename";
    EXPECT_EQ(read(path_), before + wrapped("RUN=\"" + std::to_string(i) + "\"\n") + after);
  }
  ::umask(old_umask);
  // No temporary file is left next to it.
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"environment"});
}

TEST_F(EtcEnvironmentWrite, FollowsASymlink) {
  const std::string real = dir_.write("real-environment", "A=1\n");
  std::filesystem::create_symlink(real, path_);
  ASSERT_EQ(write_managed_block(path_, {{"B", "2"}}), std::nullopt);
  EXPECT_TRUE(std::filesystem::is_symlink(path_));
  EXPECT_EQ(read(real), "A=1\n" + wrapped("B=\"2\"\n"));
}

TEST_F(EtcEnvironmentWrite, ReportsAnUnwritableDirectory) {
  const auto error = write_managed_block(dir_.path() + "/no/such/dir/environment", {{"A", "1"}});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("no/such/dir"), std::string::npos) << *error;
}

// --- Against the real system (root only) -----------------------------------

bool pam_su_reads_etc_environment() {
  std::ifstream su("/etc/pam.d/su");
  std::string line;
  while (std::getline(su, line)) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    if (line.find("pam_env.so") != std::string::npos && line.find("readenv=1") != std::string::npos &&
        line.find("envfile=") == std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string system_path() {
  const char* path = std::getenv("PATH");
  return path != nullptr && *path != '\0' ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
}

// Why the pam_env round trip cannot run here, or "" when it can.
std::string round_trip_unavailable() {
  if (::geteuid() != 0) return "needs root";
  for (const char* tool : {"unshare", "su", "mount"}) {
    if (!platform::find_executable(tool, system_path())) return std::string(tool) + " not found";
  }
  if (!pam_su_reads_etc_environment()) return "/etc/pam.d/su does not run pam_env with readenv=1";
  return "";
}

// The environment a `su` login gets with `file` bind-mounted on
// /etc/environment in a private mount namespace.
std::map<std::string, std::string> su_environment(const std::string& file) {
  const auto result =
      platform::run_capture({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                             "mount --bind \"$1\" /etc/environment && exec su root -c 'env -0'", "sh", file},
                            system_path(), std::chrono::seconds(30));
  EXPECT_TRUE(result.ok()) << result.err << result.start_error;
  std::map<std::string, std::string> env;
  std::string_view out = result.out;
  while (!out.empty()) {
    const auto end = out.find('\0');
    const std::string_view entry = out.substr(0, end);
    if (const auto eq = entry.find('='); eq != std::string_view::npos) {
      env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    if (end == std::string_view::npos) break;
    out.remove_prefix(end + 1);
  }
  return env;
}

TEST(EtcEnvironmentPamEnv, RoundTripDeliversValuesByteForByte) {
  if (const std::string why = round_trip_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const Vars carried = {
      {"SMLT_SPACES", " a b  c "},
      {"SMLT_SQUOTE", "it's"},
      {"SMLT_DQUOTE", R"(say "hi")"},
      {"SMLT_QUOTED_D", R"("x")"},
      {"SMLT_QUOTED_S", "'x'"},
      {"SMLT_LEADING_QUOTE", R"("abc)"},
      {"SMLT_TRAILING_QUOTE", "abc'"},
      {"SMLT_ONLY_QUOTE", "\""},
      {"SMLT_BACKSLASH", R"(a\b\\c\n)"},
      {"SMLT_TRAILING_BACKSLASH", "dir\\"},
      {"SMLT_DOLLAR_HOME", "$HOME"},
      {"SMLT_BRACED", "${HOME}"},
      {"SMLT_AT_HOME", "@{HOME}"},
      {"SMLT_ESCAPED", R"(\$HOME \@{HOME} \\)"},
      {"SMLT_EQUALS", "a=b==c="},
      {"SMLT_TABS", "\ta\tb\t"},
      {"SMLT_CR", "a\rb"},
      {"SMLT_UTF8", "héllo wörld € 日本"},
      {"SMLT_EMPTY", ""},
      {"SMLT_EXPORT_LIKE", "export X=1"},
      {"SMLT_JSON", R"({"a": [1, "b c"], "d": null})"},
      {"SMLT_LONG", value_for_line("SMLT_LONG", kMaxLineBytes)},
  };
  Vars all = carried;
  all["SMLT_HASH"] = "a#b";
  all["SMLT_NEWLINE"] = "a\nSMLT_INJECTED=1";
  all["SMLT_TOO_LONG"] = value_for_line("SMLT_TOO_LONG", kMaxLineBytes + 1);
  all["SMLT_SECRET_TOKEN"] = "s3cret";

  TempDir dir;
  const std::string file = dir.write("environment", "SMLT_USER_BEFORE=before\n");
  std::vector<std::string> skipped;
  ASSERT_EQ(write_managed_block(file, all, &skipped), std::nullopt);
  EXPECT_EQ(skipped, (std::vector<std::string>{"SMLT_HASH", "SMLT_NEWLINE", "SMLT_TOO_LONG"}));
  std::ofstream(file, std::ios::app) << "SMLT_USER_AFTER=\"after\"\n";

  const auto env = su_environment(file);
  ASSERT_FALSE(env.empty());
  for (const auto& [name, value] : carried) {
    const auto it = env.find(name);
    ASSERT_NE(it, env.end()) << name << " did not arrive";
    EXPECT_EQ(it->second, value) << name;
  }
  for (const char* absent :
       {"SMLT_HASH", "SMLT_NEWLINE", "SMLT_INJECTED", "SMLT_TOO_LONG", "SMLT_SECRET_TOKEN"}) {
    EXPECT_EQ(env.count(absent), 0U) << absent;
  }
  // Lines around the block still work (nothing in the block stopped pam_env).
  EXPECT_EQ(env.count("SMLT_USER_BEFORE") ? env.at("SMLT_USER_BEFORE") : "", "before");
  EXPECT_EQ(env.count("SMLT_USER_AFTER") ? env.at("SMLT_USER_AFTER") : "", "after");
}

TEST(EtcEnvironmentPamEnv, OneByteOverTheLineLimitWouldStopPamEnv) {
  // The limit is pam_env's, not ours: a line one byte longer than
  // kMaxLineBytes ends pam_env's reading of the file (so it must never be
  // written).
  if (const std::string why = round_trip_unavailable(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  const std::string at_limit = "SMLT_A=\"" + value_for_line("SMLT_A", kMaxLineBytes) + "\"\n";
  const std::string over = "SMLT_B=\"" + value_for_line("SMLT_B", kMaxLineBytes + 1) + "\"\n";
  const auto env_ok = su_environment(dir.write("ok", at_limit + "SMLT_NEXT=1\n"));
  EXPECT_EQ(env_ok.count("SMLT_A"), 1U);
  EXPECT_EQ(env_ok.count("SMLT_NEXT"), 1U);
  const auto env_over = su_environment(dir.write("over", over + "SMLT_NEXT=1\n"));
  EXPECT_EQ(env_over.count("SMLT_B"), 0U);
  EXPECT_EQ(env_over.count("SMLT_NEXT"), 0U);
}

TEST(EtcEnvironmentPamEnv, WritesInPlaceOverABindMountedFile) {
  // rename() onto a mount point fails with EBUSY; the block is then written
  // into the file itself. Runs in a child in its own mount namespace.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  const std::string target = dir.write("target", "A=1\n");
  const std::string source = dir.write("source", "B=2\n");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(77);
    ::_exit(write_managed_block(target, {{"C", "3"}}) ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot create a mount namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The write went through the mount into the source file.
  EXPECT_EQ(read(source), "B=2\n" + wrapped("C=\"3\"\n"));
  EXPECT_EQ(read(target), "A=1\n");
}

}  // namespace
}  // namespace smlaunch::cluster
