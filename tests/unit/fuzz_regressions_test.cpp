// Inputs the fuzzers in tests/fuzz found failing, one test each, kept so the
// fix stays. Each names its target and the finding; the inputs are the
// fuzzer's own (decoded from its bytes) where they are short enough to read.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "smlaunch/diagnostics.hpp"
#include "smlaunch/mpi_options.hpp"
#include "test_support.hpp"

namespace smlaunch {
namespace {

// fuzz_plan (crash-f3a772dbb9d27beb6334333c343dd160cee949b9): a
// hyperparameter key with a newline ("...du\nl_enabled", escaped in the
// JSON) and a value that is not JSON and holds a NUL. The plan refuses the
// environment variable SM_HP_<KEY>, and the message, whose field is that
// name, came out on two lines: `smlaunch: error:` lines could be forged from
// hyperparameters.json. Problem::message() now shows control characters as
// \xNN in every part.
TEST(FuzzRegressions, ProblemMessageForAKeyWithANewlineStaysOneLine) {
  test::Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"network_interface_name":"ethw3"})";
  job.hyperparameters =
      R"({"sagsa7gemaker_distributed_dullsa:gemaa7gemaker_distributed_du\nl_enabled": "tml.p4d.24xlarge\"\u0000"})";
  job.facts.hardware.gpus = 8;
  job.facts.smddprun_on_path = true;
  job.facts.smddpmprun_on_path = true;
  (void)job.plan();
  ASSERT_FALSE(job.diagnostics.empty());
  bool named = false;
  for (const auto& problem : job.diagnostics.problems()) {
    const std::string message = problem.message();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    if (message.find("SM_HP_SAGSA7GEMAKER_DISTRIBUTED_DULLSA:GEMAA7GEMAKER_DISTRIBUTED_DU\\x0aL_ENABLED") !=
        std::string::npos) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << test::messages(job.diagnostics);
}

TEST(FuzzRegressions, ProblemMessageShowsEveryControlCharacterEscaped) {
  const Problem problem{"hyperparameters.json", "a\nb\tc\x7f", "got \"x\"\r", "a\x01 value"};
  EXPECT_EQ(problem.message(), "hyperparameters.json: a\\x0ab\\x09c\\x7f: got \"x\"\\x0d, expected a\\x01 value");
}

// fuzz_mpi_options (crash-164fb8db65bace0317841951e6630ddf4b8968b3, reduced
// by hand): the MCA check (uncommitted work in src/plan/mpi_options.cpp)
// looks at the two words after `-mca` in the text as written, but
// --NCCL_DEBUG and its value are then taken out, so mpirun receives
// `-mca plm_rsh_agent $(touch` with a value nobody checked. The check has to
// run on the words that reach mpirun. Disabled until that fix lands.
TEST(FuzzRegressions, McaValueAfterARemovedNcclDebugIsChecked) {
  const auto parsed = mpi::parse_custom_options("-mca plm_rsh_agent --NC WARN $(touch /tmp/x)");
  ASSERT_TRUE(std::holds_alternative<mpi::OptionsError>(parsed));
  EXPECT_NE(std::get<mpi::OptionsError>(parsed).message.find("$(touch"), std::string::npos);
}

}  // namespace
}  // namespace smlaunch
