// Files and permissions of `smlaunch train` (issue 6, item 4): the real
// binary runs a job under umask 000 -- the most careless a container can
// be -- and afterwards every file and directory it made (the /opt/ml tree,
// its temporary files under $TMPDIR, the unpacked or copied code) is looked
// at: nothing may be world-writable except what the job itself made, a
// command entry point is exactly 0755, and the s3:// download happens inside
// a directory only its owner can enter.
//
// Also what the archive tests (user_code_test.cpp) leave open: a symlink in
// a local source *directory* that points outside it, and a "tar bomb" of
// many small files.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "platform/subprocess.hpp"
#include "test_support.hpp"

namespace smlaunch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kRunTimeout = 120s;  // a hang guard, not a speed assertion
constexpr std::string_view kSystemPath = "/usr/bin:/bin";
constexpr unsigned kWorldWritable = S_IWOTH;
constexpr unsigned kExecutableMode = 0755;
constexpr unsigned kPrivateDirectoryMode = 0700;
// The job marks what it makes itself with this name: excluded from the walk.
constexpr std::string_view kJobMade = "made-by-the-job";
constexpr std::size_t kTarBombFiles = 20'000;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string octal(unsigned mode) {
  std::ostringstream s;
  s << std::oct << mode;
  return "0" + s.str();
}

/// Sets the process umask for the scope (children inherit it).
class Umask {
 public:
  explicit Umask(::mode_t mask) : old_(::umask(mask)) {}
  ~Umask() { ::umask(old_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  ::mode_t old_;
};

/// Every path under `root` (lstat: links themselves), sorted.
std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       it != end; it.increment(ec)) {
    if (ec) break;
    paths.insert(it->path().string());
  }
  return paths;
}

/// A gzip tar archive written member by member.
class Tarball {
 public:
  explicit Tarball(const std::string& path) : a_(archive_write_new()) {
    archive_write_add_filter_gzip(a_);
    archive_write_set_format_pax_restricted(a_);
    if (archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK)
      ADD_FAILURE() << archive_error_string(a_);
  }
  ~Tarball() {
    archive_write_close(a_);
    archive_write_free(a_);
  }
  Tarball(const Tarball&) = delete;
  Tarball& operator=(const Tarball&) = delete;

  Tarball& file(const std::string& name, std::string_view content, unsigned mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    if (archive_write_header(a_, e) != ARCHIVE_OK) ADD_FAILURE() << archive_error_string(a_);
    if (!content.empty()) archive_write_data(a_, content.data(), content.size());
    archive_entry_free(e);
    return *this;
  }
  Tarball& dir(const std::string& name, unsigned mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, mode);
    if (archive_write_header(a_, e) != ARCHIVE_OK) ADD_FAILURE() << archive_error_string(a_);
    archive_entry_free(e);
    return *this;
  }

 private:
  archive* a_;
};

// The job: makes one world-writable file of its own next to itself
// (excluded from the checks) and exits with --exit-code.
constexpr std::string_view kTrainPy = R"(import os, sys
code = int(sys.argv[sys.argv.index('--exit-code') + 1]) if '--exit-code' in sys.argv else 0
mine = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'made-by-the-job')
with open(mine, 'w') as f:
    f.write('mine')
os.chmod(mine, 0o666)
print('job ran', flush=True)
sys.exit(code)
)";

class PermissionsTest : public ::testing::Test {
 protected:
  TempDir dir;

  [[nodiscard]] std::string base() const { return dir.path() + "/opt/ml"; }
  [[nodiscard]] std::string code() const { return base() + "/code"; }
  [[nodiscard]] std::string tmp() const { return dir.path() + "/tmp"; }

  void SetUp() override {
    fs::create_directories(tmp());
    fs::create_directories(dir.path() + "/home");
    fs::permissions(tmp(), fs::perms::owner_all);
    fs::permissions(dir.path() + "/home", fs::perms::owner_all);
  }

  void config(const std::string& hyperparameters) const {
    dir.write("opt/ml/input/config/resourceconfig.json",
              R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})");
    dir.write("opt/ml/input/config/hyperparameters.json", hyperparameters);
  }

  /// `smlaunch train` under umask 000 with a clean environment ($TMPDIR in
  /// the scratch directory); `path_prefix` goes before the system PATH.
  [[nodiscard]] platform::CaptureResult train(const std::string& path_prefix = {}) {
    before_ = tree(dir.path());
    const Umask careless(0);
    const std::string path =
        path_prefix.empty() ? std::string(kSystemPath) : path_prefix + ":" + std::string(kSystemPath);
    return platform::run_capture(
        {"/usr/bin/env", "-i", "PATH=" + path, "HOME=" + dir.path() + "/home", "TMPDIR=" + tmp(),
         "SMLAUNCH_PYTHON=/usr/bin/python3", SMLAUNCH_BINARY, "train", "--base-dir", base()},
        kSystemPath, kRunTimeout, std::size_t{16} << 20);
  }

  /// Every path made during train() that is world-writable (symlinks, whose
  /// mode means nothing, and the job's own file excepted), as "path mode".
  [[nodiscard]] std::vector<std::string> world_writable_made_by_smlaunch() const {
    std::vector<std::string> found;
    for (const auto& path : tree(dir.path())) {
      if (before_.contains(path) || contains(path, kJobMade) || fs::is_symlink(fs::symlink_status(path)))
        continue;
      if (mode_of(path) & kWorldWritable) found.push_back(path + " " + octal(mode_of(path)));
    }
    return found;
  }

  /// The same, for the code directory and what is in it only.
  [[nodiscard]] std::vector<std::string> world_writable_in_code() const {
    std::vector<std::string> found;
    for (const auto& p : world_writable_made_by_smlaunch()) {
      if (p.starts_with(code() + " ") || p.starts_with(code() + "/")) found.push_back(p);
    }
    return found;
  }

  static std::string transcript(const platform::CaptureResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out.substr(0, 2000) +
           "\n--- stderr:\n" + r.err.substr(0, 6000);
  }

  std::set<std::string> before_;
};

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "\n  " + i;
  return out;
}

// ---- The /opt/ml tree --------------------------------------------------------

TEST_F(PermissionsTest, SuccessfulJobUnderUmask000LeavesNothingWorldWritable) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  dir.write("opt/ml/code/train.py", kTrainPy);
  const auto r = train();
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  ASSERT_TRUE(fs::exists(code() + "/" + std::string(kJobMade))) << "the job did not run";
  EXPECT_EQ(mode_of(base() + "/output/success") & kWorldWritable, 0u);
  EXPECT_EQ(world_writable_made_by_smlaunch(), std::vector<std::string>{})
      << "made world-writable by smlaunch under umask 000:" << lines(world_writable_made_by_smlaunch());
}

TEST_F(PermissionsTest, FailedJobUnderUmask000LeavesNothingWorldWritable) {
  config(R"({"sagemaker_program":"\"train.py\"","exit-code":"3"})");
  dir.write("opt/ml/code/train.py", kTrainPy);
  const auto r = train();
  ASSERT_EQ(r.exit_code, 1) << transcript(r);
  EXPECT_EQ(mode_of(base() + "/output/failure"), 0644u);
  EXPECT_EQ(world_writable_made_by_smlaunch(), std::vector<std::string>{})
      << "made world-writable by smlaunch under umask 000:" << lines(world_writable_made_by_smlaunch());
}

TEST_F(PermissionsTest, ConfigurationErrorUnderUmask000LeavesNothingWorldWritable) {
  config(R"({"sagemaker_program":"\"missing.py\""})");
  const auto r = train();
  ASSERT_EQ(r.exit_code, 2) << transcript(r);
  EXPECT_EQ(mode_of(base() + "/output/failure"), 0644u);
  EXPECT_EQ(world_writable_made_by_smlaunch(), std::vector<std::string>{})
      << "made world-writable by smlaunch under umask 000:" << lines(world_writable_made_by_smlaunch());
}

// SPEC "No shell": a command entry point is made executable with 0755,
// never 0777 -- whatever mode it came with.
TEST_F(PermissionsTest, CommandEntryPointIsMadeExactly0755WhateverItsMode) {
  for (const unsigned mode : {0644u, 0777u, 0700u, 0666u, 04755u}) {
    SCOPED_TRACE("train.sh was " + octal(mode));
    fs::remove_all(base() + "/output");
    config(R"({"sagemaker_program":"\"train.sh\""})");
    dir.write("opt/ml/code/train.sh", "#!/bin/sh\necho shell job ran\n", mode);
    const auto r = train();
    EXPECT_EQ(r.exit_code, 0) << transcript(r);
    EXPECT_TRUE(contains(r.out, "shell job ran")) << transcript(r);
    EXPECT_EQ(octal(mode_of(code() + "/train.sh")), octal(kExecutableMode));
  }
}

// ---- The user's code ----------------------------------------------------------

// libarchive makes the parents of "pkg/sub/mod.py" itself when the archive
// has no entries for them: those must not be world-writable either.
TEST_F(PermissionsTest, TarballCodeUnderUmask000IsNotWorldWritableNorSetuid) {
  const std::string tarball = dir.path() + "/sourcedir.tar.gz";
  {
    Tarball(tarball)
        .file("train.py", std::string(kTrainPy), 0666)
        .file("run.sh", "#!/bin/sh\n", 04777)
        .dir("open", 0777)
        .file("open/data.txt", "x", 0646)
        .file("pkg/sub/mod.py", "X = 1\n", 0644);
  }
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\")" + tarball + R"(\""})");
  const auto r = train();
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  ASSERT_TRUE(fs::exists(code() + "/pkg/sub/mod.py")) << transcript(r);
  EXPECT_EQ(world_writable_in_code(), std::vector<std::string>{})
      << "made world-writable by smlaunch under umask 000:" << lines(world_writable_in_code());
  EXPECT_EQ(octal(mode_of(code() + "/run.sh")), "0755") << "no setuid, not world-writable";
  EXPECT_EQ(octal(mode_of(code() + "/train.py")), "0644");
  for (const char* d : {"", "/open", "/pkg", "/pkg/sub"}) {
    EXPECT_EQ(octal(mode_of(code() + d)), "0755") << code() + d;
  }
}

TEST_F(PermissionsTest, LocalDirectoryCodeUnderUmask000IsNotWorldWritable) {
  dir.write("src/train.py", kTrainPy, 0666);
  dir.write("src/open/data.txt", "x", 0666);
  dir.write("src/tool.sh", "#!/bin/sh\n", 0777);
  fs::permissions(dir.path() + "/src/open", fs::perms::all);
  fs::permissions(dir.path() + "/src", fs::perms::all);
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\")" + dir.path() +
         R"(/src\""})");
  const auto r = train();
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  // The source tree is the test's (world-writable on purpose): only the copies count.
  EXPECT_EQ(world_writable_in_code(), std::vector<std::string>{})
      << "made world-writable by smlaunch under umask 000:" << lines(world_writable_in_code());
  EXPECT_EQ(octal(mode_of(code() + "/tool.sh")), "0755");
  EXPECT_EQ(octal(mode_of(code() + "/open")), "0755");
}

// The download goes to a file in a fresh directory that only its owner can
// enter, under $TMPDIR, and nothing of it is left afterwards. A fake `aws`
// records what the directory looked like while it ran.
TEST_F(PermissionsTest, S3DownloadIsWrittenInsideAPrivateDirectoryThatGoesAway) {
  const std::string tarball = dir.path() + "/object.tar.gz";
  { Tarball(tarball).file("train.py", std::string(kTrainPy), 0644); }
  const std::string seen = dir.path() + "/aws-saw." + std::string(kJobMade);
  dir.write("bin/aws",
            "#!/bin/sh\n"
            "for target; do :; done\n"  // the last argument
            "stat -c '%a %u' \"$(dirname \"$target\")\" > '" +
                seen +
                "'\n"
                "stat -c '%a %u' \"$target\" >> '" +
                seen + "' 2>/dev/null || echo 'absent' >> '" + seen +
                "'\n"
                "echo \"$target\" >> '" +
                seen +
                "'\n"
                "cat '" +
                tarball + "' > \"$target\"\n",
            0755);
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\"s3://bucket/src.tar.gz\""})");
  const auto r = train(dir.path() + "/bin");
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  std::istringstream saw(read(seen));
  std::string directory, file, target;
  std::getline(saw, directory);
  std::getline(saw, file);
  std::getline(saw, target);
  EXPECT_EQ(directory, "700 " + std::to_string(::geteuid())) << "the download directory, while aws ran";
  EXPECT_TRUE(file == "absent" || file.starts_with("600 "))
      << "the download file before aws wrote it: " << file;
  EXPECT_TRUE(target.starts_with(tmp() + "/")) << target;
  EXPECT_FALSE(fs::exists(fs::path(target).parent_path())) << "the download directory is removed";
  EXPECT_EQ(tree(tmp()), std::set<std::string>{}) << "nothing is left in $TMPDIR";
}

// A local source directory may hold symlinks. Copied as they are, one that
// points outside the source (absolutely, or with enough "..") points
// outside the code directory too -- what the archive rules refuse (D30). It
// must be refused the same way, or not leave the code directory.
TEST_F(PermissionsTest, SymlinkOutOfALocalSourceDirectoryDoesNotLeadOutOfTheCodeDir) {
  dir.write("secret/credentials", "top secret\n", 0600);
  dir.write("src/train.py", kTrainPy);
  fs::create_directories(dir.path() + "/src/lib");
  fs::create_symlink(dir.path() + "/secret/credentials", dir.path() + "/src/absolute-link");
  fs::create_symlink("../../secret", dir.path() + "/src/lib/relative-link");
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\")" + dir.path() +
         R"(/src\""})");
  const auto r = train();

  // Refused (exit 2, SubmitDirectoryError) or copied without escaping links.
  if (r.exit_code == 2) {
    EXPECT_TRUE(read(base() + "/output/failure").starts_with("SubmitDirectoryError:")) << transcript(r);
    return;
  }
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  // Where each link leads, lexically (its target need not exist).
  for (const auto& path : tree(code())) {
    if (!fs::is_symlink(fs::symlink_status(path))) continue;
    const fs::path link_target = fs::read_symlink(path);
    const fs::path target =
        (link_target.is_absolute() ? link_target : fs::path(path).parent_path() / link_target)
            .lexically_normal();
    const auto rel = target.lexically_relative(code());
    EXPECT_FALSE(rel.empty() || *rel.begin() == "..")
        << path << " -> " << link_target << " leads out of the code directory, to " << target;
  }
}

// Many small members: unpacked completely, in bounded time, with the same
// modes. (No size or count limit is documented: this is about not being
// quadratic in the number of members.)
TEST_F(PermissionsTest, TarBombOfManySmallFilesUnpacksInBoundedTime) {
  const std::string tarball = dir.path() + "/many.tar.gz";
  {
    Tarball t(tarball);
    t.file("train.py", std::string(kTrainPy), 0644);
    for (std::size_t i = 0; i < kTarBombFiles; ++i) {
      t.file("d" + std::to_string(i % 100) + "/f" + std::to_string(i), "", 0666);
    }
  }
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\")" + tarball + R"(\""})");
  const auto started = std::chrono::steady_clock::now();
  const auto r = train();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  std::size_t files = 0;
  for (const auto& path : tree(code()))
    files += fs::is_regular_file(path) && !contains(path, kJobMade) ? 1 : 0;
  EXPECT_EQ(files, kTarBombFiles + 1);
  EXPECT_LT(took, 60s) << "unpacking " << kTarBombFiles << " members";
  // The members (the code directory itself is another test's matter).
  std::vector<std::string> found;
  for (const auto& p : world_writable_in_code()) {
    if (p.starts_with(code() + "/")) found.push_back(p);
  }
  const std::size_t count = found.size();
  found.resize(std::min<std::size_t>(count, 5));
  EXPECT_EQ(count, 0u) << "made world-writable by smlaunch under umask 000 (the first ones):" << lines(found);
}

}  // namespace
}  // namespace smlaunch::test
