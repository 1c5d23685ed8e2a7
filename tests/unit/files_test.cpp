// platform/files: the entry point made executable only inside the code dir.
#include "platform/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "test_support.hpp"

namespace smlaunch::platform {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777U;
}

TEST(MakeExecutableWithin, AFileOrALinkInsideTheRootBecomes0755) {
  test::TempDir dir;
  const std::string code = dir.path() + "/code";
  const std::string script = dir.write("code/train.sh", "#!/bin/sh\n", 0600);
  EXPECT_EQ(make_executable_within(script, code), std::nullopt);
  EXPECT_EQ(mode_of(script), 0755U);

  const std::string real = dir.write("code/sub/real.sh", "#!/bin/sh\n", 0644);
  fs::create_symlink("sub/real.sh", code + "/link.sh");
  EXPECT_EQ(make_executable_within(code + "/link.sh", code), std::nullopt);
  EXPECT_EQ(mode_of(real), 0755U);
}

TEST(MakeExecutableWithin, ALinkOutOfTheRootIsRefusedAndItsTargetLeftAlone) {
  test::TempDir dir;
  const std::string code = dir.path() + "/code";
  fs::create_directories(code);
  const std::string outside = dir.write("secret", "x", 0600);
  fs::create_symlink(outside, code + "/train.sh");
  const auto error = make_executable_within(code + "/train.sh", code);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("outside"), std::string::npos) << *error;
  EXPECT_EQ(mode_of(outside), 0600U);

  // A relative link climbing out is the same.
  fs::create_symlink("../secret", code + "/up.sh");
  EXPECT_TRUE(make_executable_within(code + "/up.sh", code).has_value());
  EXPECT_EQ(mode_of(outside), 0600U);
}

TEST(MakeExecutableWithin, AMissingFileIsAnErrorNamingIt) {
  test::TempDir dir;
  const auto error = make_executable_within(dir.path() + "/nothing.sh", dir.path());
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("nothing.sh"), std::string::npos) << *error;
}

}  // namespace
}  // namespace smlaunch::platform
