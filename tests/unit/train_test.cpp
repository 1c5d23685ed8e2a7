// `smlaunch train` end to end on one host, through the real binary: the job
// runs, its output is relayed, the result files and exit codes are right,
// and hyperparameters reach the program verbatim with nothing executed.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/subprocess.hpp"
#include "test_support.hpp"

namespace smlaunch {
namespace {

using namespace std::chrono_literals;

constexpr auto kRunTimeout = 120s;  // a hang guard, not a speed assertion

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TrainTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  std::string base() const { return dir.path() + "/opt/ml"; }

  void config(const std::string& hyperparameters,
              const std::string& resource = R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})") {
    dir.write("opt/ml/input/config/resourceconfig.json", resource);
    dir.write("opt/ml/input/config/hyperparameters.json", hyperparameters);
  }

  // Runs smlaunch with a clean environment (env -i): exit code and output.
  platform::CaptureResult train(const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> argv{"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=" + dir.path(),
                                  "SMLAUNCH_PYTHON=/usr/bin/python3"};
    argv.insert(argv.end(), extra_env.begin(), extra_env.end());
    argv.insert(argv.end(), {SMLAUNCH_BINARY, "--base-dir", base()});
    return platform::run_capture(argv, "/usr/bin:/bin", kRunTimeout, 8 << 20);
  }
};

TEST_F(TrainTest, ProgramSucceedsWithArgumentsVerbatimAndNothingExecuted) {
  const std::string marker = dir.path() + "/pwned";
  config(R"({"sagemaker_program":"\"train.py\"","x":"\"$(touch )" + marker + R"()\"","y":"\"a b\""})");
  dir.write("opt/ml/code/train.py", "import sys, os\nprint('ARGS', sys.argv[1:])\nprint('HOST', os.environ['SM_CURRENT_HOST'])\n");
  const auto r = train();
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ARGS ['-x', '$(touch " + marker + ")', '-y', 'a b']"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HOST localhost"), std::string::npos);
  EXPECT_NE(r.err.find("Reporting training SUCCESS"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(base() + "/output/success"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(TrainTest, FailingProgramWritesTheFailureFileAndExitsOne) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  dir.write("opt/ml/code/train.py", "print('working')\nopen('/nonexistent/file')\n");
  const auto r = train();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string failure = read(base() + "/output/failure");
  EXPECT_EQ(failure.rfind("ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"FileNotFoundError: [Errno 2]", 0), 0u)
      << failure;
  EXPECT_NE(r.err.find("Reporting training FAILURE"), std::string::npos);
  EXPECT_NE(r.err.find("Traceback (most recent call last):"), std::string::npos);  // stderr stays stderr
  EXPECT_NE(r.out.find("working"), std::string::npos);
}

TEST_F(TrainTest, UsersOwnFailureFileWins) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  dir.write("opt/ml/code/train.py",
            "import os\nos.makedirs(os.environ['SM_OUTPUT_DIR'], exist_ok=True)\n"
            "open(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w').write('my reason')\nraise SystemExit(3)\n");
  const auto r = train();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(read(base() + "/output/failure"), "my reason");
}

TEST_F(TrainTest, ShellEntryPointIsMadeExecutableAndRunDirectly) {
  config(R"({"sagemaker_program":"\"run.sh\"","lr":"\"1 3\""})");
  const std::string script = dir.write("opt/ml/code/run.sh", "#!/bin/sh\nprintf '[%s]' \"$@\"; echo\n", 0644);
  const auto r = train();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[--lr][1 3]"), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(script.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(TrainTest, UsersOwnErrorClassesAreReportedAsTheClass) {
  config(R"({"sagemaker_program":"\"train.py\""})");
  dir.write("opt/ml/code/train.py",
            "import sys\nprint('step 1')\nprint('DataLoaderStall: no batch for 600 s', file=sys.stderr)\n"
            "print('ValueError: later', file=sys.stderr)\nraise SystemExit(4)\n");
  const auto r = train({"SMLAUNCH_ERROR_CLASSES=OtherError, DataLoaderStall"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string failure = read(base() + "/output/failure");
  EXPECT_EQ(failure.rfind("DataLoaderStall:\nExitCode 4\nErrorMessage \"DataLoaderStall: no batch for 600 s", 0), 0u)
      << failure;
}

TEST_F(TrainTest, OneHostMpiJobTagsRanksWithTheirHostAndTheShimNamesTheHost) {
  config(R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":"2"})");
  dir.write("opt/ml/code/train.py",
            "import socket\nfrom mpi4py import MPI\nc = MPI.COMM_WORLD\n"
            "print(f'rank {c.Get_rank()} of {c.Get_size()} on {socket.gethostname()}', flush=True)\nc.Barrier()\n");
  const auto r = train();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[1,mpirank:0,localhost]<stdout>:rank 0 of 2 on localhost"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1,mpirank:1,localhost]<stdout>:rank 1 of 2 on localhost"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(base() + "/output/success"));
}

}  // namespace
}  // namespace smlaunch
