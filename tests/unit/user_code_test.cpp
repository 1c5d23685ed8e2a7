// The user's code (app/user_code.cpp, platform/archive.cpp, platform/tree.cpp)
// with real archives, real processes and a real pip: a local tarball, a
// local directory, a plain file, an s3:// URI served by tests/fakes/aws,
// archives crafted to escape the code directory (absolute paths, "..",
// symlinks and hard links out of it, writes through a link), and pip
// installing a setup.py package plus a requirements.txt naming a wheel the
// test builds, with no index (PIP_NO_INDEX, PIP_FIND_LINKS) into a virtual
// environment the test makes (so nothing on the machine changes).
#include "app/user_code.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "plan/common.hpp"
#include "platform/archive.hpp"
#include "platform/signals.hpp"
#include "platform/subprocess.hpp"
#include "platform/tree.hpp"
#include "test_support.hpp"

namespace smlaunch {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kToolTimeout = 120s;  // hang guards, not speed assertions
constexpr auto kRunTimeout = 120s;
constexpr std::string_view kPython = "/usr/bin/python3";

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Writes a gzip-compressed tar archive member by member with libarchive, so
/// that a test can say exactly what a (malicious) archive holds.
class TarBuilder {
 public:
  enum class Compression { kGzip, kNone };
  explicit TarBuilder(const std::string& path, Compression compression = Compression::kGzip)
      : a_(archive_write_new()) {
    if (compression == Compression::kGzip) archive_write_add_filter_gzip(a_);
    archive_write_set_format_pax_restricted(a_);
    if (archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK)
      ADD_FAILURE() << archive_error_string(a_);
  }
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;
  ~TarBuilder() { close(); }

  TarBuilder& file(const std::string& name, std::string_view content, unsigned mode = 0644) {
    return add(name, AE_IFREG, mode, content, nullptr, nullptr);
  }
  TarBuilder& dir(const std::string& name, unsigned mode = 0755) {
    return add(name, AE_IFDIR, mode, {}, nullptr, nullptr);
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    return add(name, AE_IFLNK, 0777, {}, target.c_str(), nullptr);
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    return add(name, AE_IFREG, 0644, {}, nullptr, target.c_str());
  }
  TarBuilder& fifo(const std::string& name) { return add(name, AE_IFIFO, 0644, {}, nullptr, nullptr); }
  void close() {
    if (a_ == nullptr) return;
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
  }

 private:
  TarBuilder& add(const std::string& name, unsigned type, unsigned mode, std::string_view content,
                  const char* symlink, const char* hardlink) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    if (symlink != nullptr) archive_entry_set_symlink(e, symlink);
    if (hardlink != nullptr) {
      archive_entry_set_hardlink(e, hardlink);
      archive_entry_set_size(e, 0);
    }
    if (archive_write_header(a_, e) != ARCHIVE_OK) ADD_FAILURE() << archive_error_string(a_);
    if (!content.empty()) archive_write_data(a_, content.data(), content.size());
    archive_entry_free(e);
    return *this;
  }
  archive* a_;
};

/// prepare_user_code succeeded, or what it reported.
::testing::AssertionResult ready(const app::Loaded& l) {
  const auto failure =
      app::prepare_user_code(l, {.term_grace = 2s, .abort_fd = -1, .invocation = "smlaunch train"});
  if (!failure) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "exit " << failure->exit_code << ": " << app::format_failure(failure->report);
}

// ---- the pure checks ----

TEST(ArchivePaths, MemberPathsAreMadeRelativeAndCleanOrRefused) {
  EXPECT_EQ(platform::clean_member_path("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(platform::clean_member_path("train.py"), "train.py");
  EXPECT_EQ(platform::clean_member_path("./"), "");
  EXPECT_EQ(platform::clean_member_path("a..b/..c"), "a..b/..c");
  EXPECT_EQ(platform::clean_member_path("/etc/passwd"), std::nullopt);
  EXPECT_EQ(platform::clean_member_path("../x"), std::nullopt);
  EXPECT_EQ(platform::clean_member_path("a/../../x"), std::nullopt);
  EXPECT_EQ(platform::clean_member_path("a/.."), std::nullopt);
}

TEST(ArchivePaths, SymlinkTargetsMustStayInsideTheDirectory) {
  using platform::link_target_stays_inside;
  const std::string_view dest = "/opt/ml/code";
  EXPECT_TRUE(link_target_stays_inside("lib.so", "lib.so.1", dest));
  EXPECT_TRUE(link_target_stays_inside("a/b/link", "../../x", dest));
  EXPECT_TRUE(link_target_stays_inside("a/link", "./../b/./c", dest));
  EXPECT_TRUE(link_target_stays_inside("a/link", "/opt/ml/code/b", dest));
  EXPECT_FALSE(link_target_stays_inside("a/b/link", "../../../x", dest));
  EXPECT_FALSE(link_target_stays_inside("link", "..", dest));
  EXPECT_FALSE(link_target_stays_inside("etc", "/etc", dest));
  EXPECT_FALSE(link_target_stays_inside("x", "/opt/ml/code2/y", dest));
  EXPECT_FALSE(link_target_stays_inside("x", "", dest));
  // Lexically inside, but l1 -> .. makes it climb out: only leading ".." count.
  EXPECT_TRUE(link_target_stays_inside("a/l1", "..", dest));
  EXPECT_FALSE(link_target_stays_inside("a/l2", "l1/../..", dest));
}

TEST(InstallKind, B61_PackageProgramOrCommand) {
  using app::InstallKind;
  EXPECT_EQ(app::install_kind("train.sh", true, false, true), InstallKind::kNone);
  EXPECT_EQ(app::install_kind("train.py", true, false, false), InstallKind::kPackage);
  EXPECT_EQ(app::install_kind("pkg/train.py", true, false, true), InstallKind::kPackage);
  EXPECT_EQ(app::install_kind("train.py", false, true, false), InstallKind::kPackage);
  EXPECT_EQ(app::install_kind("train.py", false, false, true), InstallKind::kRequirements);
  EXPECT_EQ(app::install_kind("train.py", false, false, false), InstallKind::kNone);
  EXPECT_EQ(app::install_kind("train", false, false, true), InstallKind::kNone);
  EXPECT_EQ(app::pip_command(InstallKind::kPackage, "/py", true),
            (std::vector<std::string>{"/py", "-m", "pip", "install", ".", "-r", "requirements.txt"}));
  EXPECT_EQ(app::pip_command(InstallKind::kPackage, "/py", false),
            (std::vector<std::string>{"/py", "-m", "pip", "install", "."}));
  EXPECT_EQ(app::pip_command(InstallKind::kRequirements, "/py", true),
            (std::vector<std::string>{"/py", "-m", "pip", "install", "-r", "requirements.txt"}));
}

TEST(PrivateTempDir, IsPrivateAndGoesAwayWithEverythingInIt) {
  test::TempDir dir;
  std::string path;
  {
    auto made = platform::PrivateTempDir::create(dir.path(), "smlaunch-code-");
    ASSERT_TRUE(std::holds_alternative<platform::PrivateTempDir>(made)) << std::get<std::string>(made);
    path = std::get<platform::PrivateTempDir>(made).path();
    EXPECT_EQ(mode_of(path), 0700u);
    EXPECT_TRUE(std::holds_alternative<platform::Fd>(platform::create_exclusive(path + "/f")));
    EXPECT_EQ(mode_of(path + "/f"), 0600u);
    // O_EXCL: an existing file (or a symlink planted there) is refused.
    EXPECT_TRUE(std::holds_alternative<std::string>(platform::create_exclusive(path + "/f")));
    fs::create_symlink(dir.path() + "/elsewhere", path + "/planted");
    EXPECT_TRUE(std::holds_alternative<std::string>(platform::create_exclusive(path + "/planted")));
    EXPECT_FALSE(fs::exists(dir.path() + "/elsewhere"));
  }
  EXPECT_FALSE(fs::exists(path));
}

// ---- fetching and installing ----

class UserCodeTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  std::string code() const { return dir.path() + "/opt/ml/code"; }

  /// A loaded job whose submit directory is `source` (the code dir when
  /// empty), PATH with the fakes first, and /usr/bin/python3.
  std::unique_ptr<app::Loaded> loaded(const std::string& source,
                                      const std::string& entry = "train.py") const {
    auto l = std::make_unique<app::Loaded>();
    l->paths = config::Paths::from_base(dir.path() + "/opt/ml");
    l->env.paths = l->paths;
    l->env.module_dir = source.empty() ? l->paths.code : source;
    l->env.user_entry_point = py::Value::string(entry);
    l->environ = {{"PATH", std::string(SMLAUNCH_TEST_FAKES_DIR) + ":/usr/bin:/bin"},
                  {"TMPDIR", dir.path()},
                  {"HOME", dir.path()}};
    l->inputs.tools.python = std::string(kPython);
    return l;
  }

  static app::UserCodeOptions options() {
    return {.term_grace = 2s, .abort_fd = -1, .invocation = "smlaunch train"};
  }

  /// A realistic sourcedir.tar.gz made by /usr/bin/tar from a tree with
  /// careless modes (world-writable files and directories).
  std::string system_tarball() const {
    dir.write("src/train.py", "print('hello from train.py')\n", 0666);
    dir.write("src/run.sh", "#!/bin/sh\necho run\n", 0777);
    dir.write("src/lib/util.py", "X = 1\n", 0640);
    fs::permissions(dir.path() + "/src/lib", fs::perms::all);
    fs::create_symlink("lib/util.py", dir.path() + "/src/util_link.py");
    const std::string tarball = dir.path() + "/sourcedir.tar.gz";
    const auto r = platform::run_capture({"/usr/bin/tar", "-czf", tarball, "-C", dir.path() + "/src", "."},
                                         "/usr/bin:/bin", kToolTimeout);
    EXPECT_TRUE(r.ok()) << r.err;
    return tarball;
  }

  /// Asserts that preparing fails with exit 2 and a SubmitDirectoryError
  /// message containing each of `parts`, and leaves the code dir empty.
  void expect_refused(const std::string& source, const std::vector<std::string>& parts) const {
    const auto l = loaded(source);
    const auto failure = app::prepare_user_code(*l, options());
    ASSERT_TRUE(failure.has_value()) << source;
    EXPECT_EQ(failure->exit_code, 2);
    EXPECT_EQ(failure->report.error_class, "SubmitDirectoryError");
    EXPECT_EQ(failure->report.message.find('\n'), std::string::npos) << failure->report.message;
    for (const auto& part : parts)
      EXPECT_TRUE(contains(failure->report.message, part)) << failure->report.message;
    EXPECT_EQ(entries_of(code()), std::vector<std::string>{}) << "the code dir must be left empty";
  }
};

TEST_F(UserCodeTest, B60_LocalTarballIsUnpackedWithNothingWorldWritable) {
  const auto l = loaded(system_tarball());
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(read(code() + "/train.py"), "print('hello from train.py')\n");
  EXPECT_EQ(mode_of(code() + "/train.py"), 0644u);
  EXPECT_EQ(mode_of(code() + "/run.sh"), 0755u);
  EXPECT_EQ(mode_of(code() + "/lib"), 0755u);
  EXPECT_EQ(mode_of(code() + "/lib/util.py"), 0644u);
  EXPECT_EQ(fs::read_symlink(code() + "/util_link.py"), "lib/util.py");
  EXPECT_EQ(read(code() + "/util_link.py"), "X = 1\n");
}

TEST_F(UserCodeTest, B60_LocalDirectoryIsCopiedWithSafeModes) {
  dir.write("src/train.py", "print(1)\n", 0666);
  dir.write("src/bin/tool", "#!/bin/sh\n", 0775);
  fs::create_symlink("bin/tool", dir.path() + "/src/tool");
  const auto l = loaded(dir.path() + "/src");
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(read(code() + "/train.py"), "print(1)\n");
  EXPECT_EQ(mode_of(code() + "/train.py"), 0644u);
  EXPECT_EQ(mode_of(code() + "/bin/tool"), 0755u);
  EXPECT_EQ(fs::read_symlink(code() + "/tool"), "bin/tool");
  EXPECT_EQ(mode_of(dir.path() + "/src/train.py"), 0666u) << "the source is not touched";
}

// The archive rule for links (link_target_stays_inside), applied to a local
// directory: links inside it are copied, links out of it refused.
TEST_F(UserCodeTest, D30_SymlinkOutOfALocalDirectoryIsRefused) {
  dir.write("secret/credentials", "top secret\n", 0600);
  dir.write("src/train.py", "print(1)\n");
  dir.write("src/lib/util.py", "X = 1\n");
  fs::create_symlink("../train.py", dir.path() + "/src/lib/up.py");  // inside: kept
  fs::create_symlink("../../secret", dir.path() + "/src/lib/relative-link");
  expect_refused(dir.path() + "/src", {"lib/relative-link", "is a symbolic link to ../../secret",
                                       "outside the code directory"});

  fs::remove(dir.path() + "/src/lib/relative-link");
  fs::create_symlink(dir.path() + "/secret/credentials", dir.path() + "/src/absolute-link");
  expect_refused(dir.path() + "/src", {"absolute-link", "outside the code directory"});

  fs::remove(dir.path() + "/src/absolute-link");
  const auto l = loaded(dir.path() + "/src");
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(fs::read_symlink(code() + "/lib/up.py"), "../train.py");
}

TEST(CreateDirectories, MakesEachMissingDirectory0755WhateverTheUmask) {
  test::TempDir dir;
  fs::create_directories(dir.path() + "/exists");
  fs::permissions(dir.path() + "/exists", fs::perms::owner_all);
  const ::mode_t old = ::umask(0);
  const auto error = platform::create_directories(dir.path() + "/exists/a/b/c");
  ::umask(old);
  ASSERT_EQ(error, std::nullopt) << *error;
  EXPECT_EQ(mode_of(dir.path() + "/exists"), 0700u) << "an existing directory is left alone";
  for (const char* d : {"/exists/a", "/exists/a/b", "/exists/a/b/c"}) EXPECT_EQ(mode_of(dir.path() + d), 0755u) << d;
  EXPECT_EQ(platform::create_directories(dir.path() + "/exists/a/b/c"), std::nullopt) << "idempotent";
  dir.write("file", "x");
  EXPECT_NE(platform::create_directories(dir.path() + "/file/sub"), std::nullopt);
}

TEST(CreateDirectories, MakeDirectoriesSafeFixesEveryDirectoryButFollowsNoLink) {
  test::TempDir dir;
  test::TempDir outside;
  fs::create_directories(dir.path() + "/tree/a/b");
  fs::permissions(dir.path() + "/tree/a", fs::perms::all);
  fs::permissions(dir.path() + "/tree/a/b", fs::perms::all);
  fs::permissions(outside.path(), fs::perms::all);
  fs::create_directory_symlink(outside.path(), dir.path() + "/tree/out");
  ASSERT_EQ(platform::make_directories_safe(dir.path() + "/tree"), std::nullopt);
  for (const char* d : {"/tree", "/tree/a", "/tree/a/b"}) EXPECT_EQ(mode_of(dir.path() + d), 0755u) << d;
  EXPECT_EQ(mode_of(outside.path()), 0777u) << "not followed";
}

TEST_F(UserCodeTest, B60_AnotherFileIsCopiedIntoTheCodeDir) {
  const auto file = dir.write("train.py", "print(2)\n");
  const auto l = loaded(file);
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(read(code() + "/train.py"), "print(2)\n");
}

TEST_F(UserCodeTest, B60_NothingIsFetchedWhenTheCodeDirIsNotEmpty) {
  dir.write("opt/ml/code/train.py", "baked in\n");
  for (const std::string& source :
       {system_tarball(), dir.path() + "/missing.tar.gz", std::string("s3://b/k.tar.gz")}) {
    const auto l = loaded(source);
    EXPECT_TRUE(ready(*l)) << source;
    EXPECT_EQ(entries_of(code()), std::vector<std::string>{"train.py"});
    EXPECT_EQ(read(code() + "/train.py"), "baked in\n");
  }
}

TEST_F(UserCodeTest, B60_TheCodeDirItselfNeedsNothingAndIsCreated) {
  const auto l = loaded("");
  EXPECT_TRUE(ready(*l));
  EXPECT_TRUE(fs::is_directory(code()));
}

TEST_F(UserCodeTest, MissingSourceOrUnsupportedSchemeIsExitTwo) {
  expect_refused(dir.path() + "/nope.tar.gz", {"nope.tar.gz", "does not exist"});
  expect_refused("https://example.com/sourcedir.tar.gz", {"unsupported scheme"});
  expect_refused("s3://bucket-only", {"not an S3 object URI"});
  expect_refused("s3://bucket/prefix/", {"not an S3 object URI"});
}

TEST_F(UserCodeTest, D30_AbsoluteMemberIsRefused) {
  const std::string target = dir.path() + "/outside/pwned";
  const std::string tarball = dir.path() + "/abs.tar.gz";
  TarBuilder(tarball).file("train.py", "ok\n").file(target, "pwned\n");
  expect_refused(tarball, {tarball, "entry \"" + target + "\"", "absolute path"});
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(UserCodeTest, D30_DotDotMemberIsRefused) {
  const std::string tarball = dir.path() + "/dotdot.tar.gz";
  TarBuilder(tarball).file("train.py", "ok\n").file("../x", "pwned\n").file("a/../../y", "pwned\n");
  expect_refused(tarball, {tarball, "entry \"../x\"", "\"..\" component"});
  EXPECT_FALSE(fs::exists(dir.path() + "/opt/ml/x"));
}

TEST_F(UserCodeTest, D30_SymlinkOutOfTheCodeDirIsRefusedBeforeAnythingIsWrittenThroughIt) {
  const std::string tarball = dir.path() + "/etc.tar.gz";
  const std::string planted = "smlaunch-test-" + std::to_string(::getpid());
  TarBuilder(tarball).symlink("etc", "/etc").file("etc/" + planted, "pwned\n");
  expect_refused(tarball, {tarball, "entry \"etc\"", "symbolic link to /etc, outside the code directory"});
  EXPECT_FALSE(fs::exists("/etc/" + planted));

  const std::string relative = dir.path() + "/relative.tar.gz";
  fs::create_directories(dir.path() + "/outside");
  TarBuilder(relative).dir("a").symlink("a/out", "../../../outside").file("a/out/pwned", "pwned\n");
  expect_refused(relative, {"entry \"a/out\"", "symbolic link to ../../../outside"});
  EXPECT_FALSE(fs::exists(dir.path() + "/outside/pwned"));

  // Each link looks harmless alone; together they climb out.
  const std::string chained = dir.path() + "/chained.tar.gz";
  TarBuilder(chained).dir("a").symlink("a/l1", "..").symlink("a/l2", "l1/../..").file("a/l2/pwned", "x");
  expect_refused(chained, {"entry \"a/l2\""});
  EXPECT_FALSE(fs::exists(dir.path() + "/opt/ml/pwned"));
}

TEST_F(UserCodeTest, D30_WritingThroughAnInsideSymlinkIsRefused) {
  const std::string tarball = dir.path() + "/through.tar.gz";
  TarBuilder(tarball).dir("real").symlink("d", "real").file("d/x", "x\n");
  expect_refused(tarball, {tarball, "entry \"d/x\" would be written through the symbolic link d"});
  // A hard link gives a link a new place, from where it may point elsewhere.
  const std::string moved = dir.path() + "/moved.tar.gz";
  TarBuilder(moved).dir("a/b").symlink("a/b/up", "../../x").hardlink("top", "a/b/up");
  expect_refused(moved, {"entry \"top\" is a hard link to the symbolic link a/b/up"});
  // A member that replaces a link is written in its place, not through it.
  const std::string replaced = dir.path() + "/replaced.tar.gz";
  TarBuilder(replaced).dir("real").symlink("d", "real").dir("d").file("d/x", "x\n");
  const auto l = loaded(replaced, "x.sh");
  EXPECT_TRUE(ready(*l));
  EXPECT_TRUE(fs::is_directory(code() + "/d") && !fs::is_symlink(code() + "/d"));
  EXPECT_EQ(entries_of(code() + "/real"), std::vector<std::string>{});
}

TEST_F(UserCodeTest, D30_HardLinkOutOfTheCodeDirIsRefused) {
  for (const char* target : {"/etc/passwd", "../../../../etc/passwd"}) {
    const std::string tarball = dir.path() + "/hard.tar.gz";
    TarBuilder(tarball).file("train.py", "ok\n").hardlink("passwd", target);
    expect_refused(tarball, {tarball, "entry \"passwd\"", std::string("hard link to ") + target});
    EXPECT_FALSE(fs::exists(code() + "/passwd"));
  }
}

TEST_F(UserCodeTest, D30_DevicesAndFifosAreRefused) {
  const std::string tarball = dir.path() + "/fifo.tar.gz";
  TarBuilder(tarball).fifo("pipe");
  expect_refused(tarball, {"entry \"pipe\"", "device or fifo"});
}

TEST_F(UserCodeTest, HardLinkInsideTheArchiveWorks) {
  const std::string tarball = dir.path() + "/inside.tar.gz";
  TarBuilder(tarball).file("a.py", "A\n").hardlink("b.py", "./a.py");
  const auto l = loaded(tarball);
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(read(code() + "/b.py"), "A\n");
}

TEST_F(UserCodeTest, TruncatedTarballFailsAndLeavesTheCodeDirEmpty) {
  const std::string full = dir.path() + "/full.tar";
  TarBuilder(full, TarBuilder::Compression::kNone)
      .file("lib/a.py", "A\n")
      .file("train.py", std::string(100'000, 'x'));
  const std::string truncated = dir.path() + "/truncated.tar";
  {
    const std::string bytes = read(full);
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  expect_refused(truncated, {"could not unpack", truncated, "entry \"train.py\""});
}

TEST_F(UserCodeTest, TarballNamedFileThatIsNoTarballIsRefusedNotCopied) {
  const auto file = dir.write("sourcedir.tar.gz", "this is not gzip\n");
  expect_refused(file, {file, "is not a tar archive"});
  const std::string full = dir.path() + "/full.tar.gz";
  TarBuilder(full).file("train.py", "print(1)\n");
  const std::string bytes = read(full);
  const auto truncated = dir.write("truncated.tar.gz", bytes.substr(0, bytes.size() / 2));
  expect_refused(truncated, {truncated, "is not a tar archive"});
}

// An s3:// source through tests/fakes/aws, which records its argv.
class S3Test : public UserCodeTest {
 protected:
  std::string argv_file() const { return dir.path() + "/aws-argv"; }
  std::unique_ptr<app::Loaded> s3_loaded(const std::string& uri) const {
    auto l = loaded(uri);
    l->environ["FAKE_AWS_S3_ROOT"] = dir.path() + "/s3";
    l->environ["FAKE_AWS_ARGV_FILE"] = argv_file();
    return l;
  }
  std::vector<std::string> aws_argv() const {
    std::vector<std::string> lines;
    std::istringstream in(read(argv_file()));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

TEST_F(S3Test, DownloadsWithTheAwsCliIntoAPrivateTempFileThenUnpacks) {
  const auto tarball = system_tarball();
  fs::create_directories(dir.path() + "/s3/bucket/job/source");
  fs::copy_file(tarball, dir.path() + "/s3/bucket/job/source/sourcedir.tar.gz");
  auto l = s3_loaded("s3://bucket/job/source/sourcedir.tar.gz");
  l->env.sagemaker_region = "us-west-2";
  l->environ["S3_ENDPOINT_URL"] = "http://127.0.0.1:9000";
  EXPECT_TRUE(ready(*l));
  EXPECT_EQ(read(code() + "/train.py"), "print('hello from train.py')\n");

  const auto argv = aws_argv();
  ASSERT_EQ(argv.size(), 10u) << read(argv_file());
  EXPECT_EQ((std::vector<std::string>(argv.begin(), argv.begin() + 8)),
            (std::vector<std::string>{"s3", "cp", "--no-progress", "--region", "us-west-2", "--endpoint-url",
                                      "http://127.0.0.1:9000", "s3://bucket/job/source/sourcedir.tar.gz"}));
  const fs::path download = argv[8];
  EXPECT_EQ(download.filename(), "sourcedir.tar.gz");
  EXPECT_EQ(download.parent_path().parent_path(), dir.path()) << "in $TMPDIR";
  EXPECT_TRUE(download.parent_path().filename().string().starts_with("smlaunch-code-"));
  EXPECT_FALSE(fs::exists(download.parent_path())) << "the temporary directory is removed";
  EXPECT_EQ(argv.back(), "--");
}

TEST_F(S3Test, WithoutRegionOrEndpointNoneIsPassed) {
  fs::create_directories(dir.path() + "/s3/b");
  TarBuilder(dir.path() + "/s3/b/code.tar.gz").file("train.py", "x\n");
  const auto l = s3_loaded("s3://b/code.tar.gz");
  EXPECT_TRUE(ready(*l));
  const auto argv = aws_argv();
  ASSERT_EQ(argv.size(), 6u) << read(argv_file());
  EXPECT_EQ(argv[0] + " " + argv[1] + " " + argv[2] + " " + argv[3],
            "s3 cp --no-progress s3://b/code.tar.gz");
}

TEST_F(S3Test, MissingObjectIsExitTwoWithTheAwsError) {
  const auto l = s3_loaded("s3://bucket/missing/sourcedir.tar.gz");
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 2);
  EXPECT_EQ(failure->report.error_class, "SubmitDirectoryError");
  EXPECT_TRUE(contains(failure->report.message, "could not download s3://bucket/missing/sourcedir.tar.gz"))
      << failure->report.message;
  EXPECT_TRUE(contains(failure->report.message, "(404)")) << failure->report.message;
  EXPECT_TRUE(contains(failure->report.command, " s3 cp ")) << failure->report.command;
  EXPECT_EQ(entries_of(code()), std::vector<std::string>{});
}

TEST_F(S3Test, WithoutTheAwsCliItIsAClearExitTwo) {
  auto l = s3_loaded("s3://bucket/sourcedir.tar.gz");
  fs::create_directories(dir.path() + "/empty-bin");
  l->environ["PATH"] = dir.path() + "/empty-bin";
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 2);
  EXPECT_TRUE(contains(failure->report.message, "the aws CLI is not installed")) << failure->report.message;
}

TEST_F(S3Test, AnEndpointThatIsNotAUrlIsRefused) {
  auto l = s3_loaded("s3://bucket/sourcedir.tar.gz");
  l->environ["S3_ENDPOINT_URL"] = "--debug";
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 2);
  EXPECT_TRUE(contains(failure->report.message, "S3_ENDPOINT_URL")) << failure->report.message;
  EXPECT_FALSE(fs::exists(argv_file())) << "aws was not run";
}

// pip into a virtual environment made for the suite (--system-site-packages
// for Debian's pip and setuptools; pip installs into the venv, which is not
// "externally managed"), from a directory holding one wheel built here.
class PipTest : public UserCodeTest {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = new test::TempDir();
    const std::string venv = suite_dir_->path() + "/venv";
    auto r = platform::run_capture(
        {std::string(kPython), "-m", "venv", "--system-site-packages", "--without-pip", venv},
        "/usr/bin:/bin", kToolTimeout);
    if (!r.ok()) GTEST_SKIP() << "no venv for " << kPython << " (python3-venv): " << r.err;
    r = platform::run_capture({venv + "/bin/python", "-m", "pip", "--version"}, "/usr/bin:/bin",
                              kToolTimeout);
    if (!r.ok()) GTEST_SKIP() << "no pip for " << kPython << " (python3-pip, python3-setuptools): " << r.err;
    // A wheel is a zip file with a dist-info directory.
    const std::string wheels = suite_dir_->path() + "/wheels";
    fs::create_directories(wheels);
    const std::string build_wheel = R"(
import sys, zipfile
name, version = 'smlaunch_testdep', '1.0'
info = f'{name}-{version}.dist-info'
files = {
    f'{name}/__init__.py': 'VALUE = 42\n',
    f'{info}/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n',
    f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: smlaunch-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
}
files[f'{info}/RECORD'] = ''.join(f'{p},,\n' for p in files) + f'{info}/RECORD,,\n'
with zipfile.ZipFile(f'{sys.argv[1]}/{name}-{version}-py3-none-any.whl', 'w') as z:
    for path, text in files.items():
        z.writestr(path, text)
)";
    r = platform::run_capture({std::string(kPython), "-c", build_wheel, wheels}, "/usr/bin:/bin",
                              kToolTimeout);
    ASSERT_TRUE(r.ok()) << r.err;
  }
  static void TearDownTestSuite() {
    delete suite_dir_;
    suite_dir_ = nullptr;
  }
  static std::string venv_python() { return suite_dir_->path() + "/venv/bin/python"; }

  std::unique_ptr<app::Loaded> pip_loaded(const std::string& source) const {
    auto l = loaded(source);
    l->inputs.tools.python = venv_python();
    l->environ["PIP_NO_INDEX"] = "1";
    l->environ["PIP_FIND_LINKS"] = suite_dir_->path() + "/wheels";
    l->environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1";
    return l;
  }

  /// Runs `code` with the venv's Python outside the code dir.
  static platform::CaptureResult venv_run(const std::string& code) {
    return platform::run_capture({venv_python(), "-c", code}, "/usr/bin:/bin", kToolTimeout);
  }

  static inline test::TempDir* suite_dir_ = nullptr;
};

TEST_F(PipTest, B61_PackageWithSetupPyAndRequirementsIsInstalled) {
  const std::string tarball = dir.path() + "/pkg.tar.gz";
  TarBuilder(tarball)
      .file("setup.py",
            "from setuptools import setup\nsetup(name='smlaunch_userpkg', version='1.0', "
            "py_modules=['smlaunch_usermod'])\n")
      .file("smlaunch_usermod.py", "NAME = 'usermod'\n")
      .file("requirements.txt", "smlaunch_testdep==1.0\n")
      .file("train.py", "import smlaunch_usermod\n");
  const auto l = pip_loaded(tarball);
  EXPECT_TRUE(ready(*l));
  const auto r = venv_run(
      "import smlaunch_usermod, smlaunch_testdep; print(smlaunch_usermod.NAME, "
      "smlaunch_testdep.VALUE)");
  EXPECT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out, "usermod 42\n");
}

TEST_F(PipTest, B61_ProgramRequirementsAreInstalled) {
  dir.write("opt/ml/code/train.py", "import smlaunch_testdep\n");
  dir.write("opt/ml/code/requirements.txt", "smlaunch_testdep\n");
  const auto l = pip_loaded("");
  EXPECT_TRUE(ready(*l));
  const auto r = venv_run("import smlaunch_testdep; print(smlaunch_testdep.VALUE)");
  EXPECT_EQ(r.out, "42\n") << r.err;
}

TEST_F(PipTest, B61_CommandEntryPointInstallsNothing) {
  dir.write("opt/ml/code/train.sh", "#!/bin/sh\n");
  dir.write("opt/ml/code/requirements.txt", "no-such-package-anywhere\n");
  auto l = pip_loaded("");
  l->env.user_entry_point = py::Value::string("train.sh");
  EXPECT_TRUE(ready(*l));
}

TEST_F(PipTest, B61_FailedInstallIsExitOneWithPipsErrorLine) {
  dir.write("opt/ml/code/train.py", "print(1)\n");
  dir.write("opt/ml/code/requirements.txt", "smlaunch-no-such-package==9.9\n");
  const auto l = pip_loaded("");
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 1);
  const auto& report = failure->report;
  EXPECT_EQ(report.error_class, "InstallRequirementsError");
  EXPECT_EQ(report.exit_code, 1);
  EXPECT_TRUE(report.message.starts_with("ERROR: ")) << report.message;
  EXPECT_TRUE(contains(report.message, "smlaunch-no-such-package==9.9")) << report.message;
  EXPECT_EQ(report.command, venv_python() + " -m pip install -r requirements.txt");
  const std::string text = app::format_failure(report);
  EXPECT_TRUE(contains(text.substr(0, 1024), "No matching distribution found for smlaunch-no-such-package"))
      << text;
}

TEST_F(PipTest, B61_BrokenPackageIsAnInstallModuleError) {
  dir.write("opt/ml/code/setup.py", "raise SystemExit('this setup.py is broken')\n");
  dir.write("opt/ml/code/train.py", "print(1)\n");
  const auto l = pip_loaded("");
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 1);
  EXPECT_EQ(failure->report.error_class, "InstallModuleError");
  EXPECT_EQ(failure->report.command, venv_python() + " -m pip install .");
  EXPECT_TRUE(contains(failure->report.message, "this setup.py is broken")) << failure->report.message;
}

TEST_F(PipTest, ExternallyManagedPythonFailsWithAHint) {
  const auto managed = platform::run_capture(
      {std::string(kPython), "-c",
       "import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_path('stdlib'), "
       "'EXTERNALLY-MANAGED')))"},
      "/usr/bin:/bin", kToolTimeout);
  if (managed.out != "True\n") GTEST_SKIP() << kPython << " is not externally managed";
  dir.write("opt/ml/code/train.py", "print(1)\n");
  dir.write("opt/ml/code/requirements.txt",
            "smlaunch-no-such-package\n");  // nothing could be installed anyway
  auto l = pip_loaded("");
  l->inputs.tools.python = std::string(kPython);
  const auto failure = app::prepare_user_code(*l, options());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 1);
  ASSERT_TRUE(failure->report.extra_info.has_value()) << failure->report.message;
  EXPECT_TRUE(contains(*failure->report.extra_info, "PIP_BREAK_SYSTEM_PACKAGES=1"));
}

TEST_F(UserCodeTest, StopSignalDuringTheInstallEndsWith128PlusTheSignal) {
  // A "python" that starts and then hangs, as a slow pip would; SIGTERM comes
  // to the whole process (docker stop) once it runs.
  const std::string started = dir.path() + "/started";
  const auto python = dir.write("python", "#!/bin/sh\ntouch '" + started + "'\nexec sleep 30\n", 0755);
  dir.write("opt/ml/code/train.py", "print(1)\n");
  dir.write("opt/ml/code/requirements.txt", "anything\n");
  auto l = loaded("");
  l->inputs.tools.python = python;
  const platform::BlockedSignals held(platform::SignalSet::supervised());  // inherited by the sender
  std::thread sender([&] {
    for (int i = 0; i < 3000 && !fs::exists(started); ++i) std::this_thread::sleep_for(10ms);
    ::kill(::getpid(), SIGTERM);
  });
  const auto failure = app::prepare_user_code(*l, options());
  sender.join();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->exit_code, 128 + SIGTERM);
  EXPECT_EQ(failure->report.error_class, "StoppedBySignal");
  EXPECT_TRUE(contains(failure->report.message, "SIGTERM")) << failure->report.message;
}

// ---- D37 with real files: the plan made after the code arrived ----

TEST_F(UserCodeTest, D37_NestedEntryPointWithSetupPyStaysAProgramAfterUnpacking) {
  const std::string tarball = dir.path() + "/nested.tar.gz";
  TarBuilder(tarball).file("setup.py", "").file("pkg/train.py", "").file("train.py", "");
  const auto l = loaded(tarball, "launch.sh");  // nothing to install
  ASSERT_TRUE(ready(*l));
  for (const auto& [entry, argv] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"pkg/train.py", {"/usr/bin/python3", "pkg/train.py"}},
           {"train.py", {"/usr/bin/python3", "-m", "train"}}}) {
    test::Job job;
    job.base = dir.path() + "/opt/ml";
    job.hyperparameters = R"({"sagemaker_program":")" + std::string("\\\"") + entry + "\\\"\"}";
    job.inputs.code.has_setup_py = fs::exists(code() + "/setup.py");
    job.inputs.code.entry_point_exists = fs::is_regular_file(code() + "/" + entry);
    const auto p = job.plan();
    EXPECT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
    EXPECT_EQ(p.argv, argv) << entry;
  }
}

// ---- through the real binary (needs prepare_user_code called from `train`) ----

class UserCodeTrainTest : public UserCodeTest {
 protected:
  std::string base() const { return dir.path() + "/opt/ml"; }
  void config(const std::string& submit_directory) const {
    dir.write("opt/ml/input/config/resourceconfig.json",
              R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})");
    dir.write("opt/ml/input/config/hyperparameters.json",
              R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\")" + submit_directory +
                  R"(\""})");
  }
  platform::CaptureResult train() const {
    return platform::run_capture(
        {"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=" + dir.path(), "SMLAUNCH_PYTHON=/usr/bin/python3",
         SMLAUNCH_BINARY, "train", "--base-dir", base()},
        "/usr/bin:/bin", kRunTimeout, 8 << 20);
  }
};

TEST_F(UserCodeTrainTest, TrainUnpacksALocalTarballAndRunsIt) {
  const std::string tarball = dir.path() + "/sourcedir.tar.gz";
  TarBuilder(tarball)
      .file("train.py", "import helper\nprint('trained with', helper.WORD)\n")
      .file("helper.py", "WORD = 'tarball'\n");
  config(tarball);
  const auto r = train();
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "trained with tarball")) << r.out << r.err;
  EXPECT_TRUE(fs::exists(base() + "/output/success"));
  EXPECT_EQ(mode_of(code() + "/train.py"), 0644u);
}

TEST_F(UserCodeTrainTest, MaliciousTarballFailsTheJobWithExitTwo) {
  const std::string tarball = dir.path() + "/sourcedir.tar.gz";
  TarBuilder(tarball).file("train.py", "print('must not run')\n").file("../escaped", "x");
  config(tarball);
  const auto r = train();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(contains(r.out, "must not run"));
  EXPECT_FALSE(fs::exists(base() + "/escaped"));
  const std::string failure = read(base() + "/output/failure");
  EXPECT_TRUE(failure.starts_with("SubmitDirectoryError:\nExitCode 2\n")) << failure;
  EXPECT_TRUE(contains(failure, "entry \\\"../escaped\\\"") || contains(failure, "entry \"../escaped\""))
      << failure;
}

}  // namespace
}  // namespace smlaunch
