// parse_custom_options (shell splitting, --NCCL_DEBUG, refusals) and
// parse_mpirun_version.
#include "smlaunch/mpi_options.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace smlaunch::mpi {
namespace {

using Tokens = std::vector<std::string>;

/// The parsed options; fails the test (and returns empty options) on error.
CustomOptions parse_ok(std::string_view text) {
  auto result = parse_custom_options(text);
  if (const auto* error = std::get_if<OptionsError>(&result)) {
    ADD_FAILURE() << "unexpected error for [" << text << "]: " << error->message;
    return {};
  }
  return std::get<CustomOptions>(result);
}

/// The error message; fails the test (and returns "") when parsing succeeds.
std::string parse_error(std::string_view text) {
  auto result = parse_custom_options(text);
  if (const auto* error = std::get_if<OptionsError>(&result)) {
    return error->message;
  }
  ADD_FAILURE() << "expected an error for [" << text << "]";
  return {};
}

// ---------------------------------------------------------------------------
// Splitting: POSIX sh words, quote removal, no expansion.

struct SplitCase {
  std::string_view name;
  std::string_view text;
  Tokens tokens;
};

void PrintTo(const SplitCase& c, std::ostream* os) { *os << c.name; }

class CustomMpiOptionsSplit : public ::testing::TestWithParam<SplitCase> {};

TEST_P(CustomMpiOptionsSplit, SplitsLikePosixShellWithoutExpansion) {
  const SplitCase& c = GetParam();
  const CustomOptions options = parse_ok(c.text);
  EXPECT_EQ(options.passthrough, c.tokens) << c.text;
  EXPECT_FALSE(options.nccl_debug.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    CustomMpiOptionsWords, CustomMpiOptionsSplit,
    ::testing::Values(
        SplitCase{"Empty", "", {}},
        SplitCase{"OnlyBlanks", " \t\n  ", {}},
        SplitCase{"SpacesTabsNewlines", "-x\tA  -y\nB", {"-x", "A", "-y", "B"}},
        SplitCase{"CarriageReturnIsOrdinary", "-x A\r", {"-x", "A\r"}},
        SplitCase{"DoubleQuotedValueKeepsSpace", "-x FOO=\"a b\"", {"-x", "FOO=a b"}},
        SplitCase{"SingleQuotesAreLiteral", R"('a\"b $X' c)", {R"(a\"b $X)", "c"}},
        SplitCase{"EmptySingleQuotesGiveEmptyWord", "a '' b", {"a", "", "b"}},
        SplitCase{"EmptyDoubleQuotesGiveEmptyWord", "\"\"", {""}},
        SplitCase{"AdjacentQuotesJoin", R"(a'b c'"d e"f)", {"ab cd ef"}},
        SplitCase{"DoubleQuoteEscapes", R"("\" \\ \$ \`")", {R"(" \ $ `)"}},
        SplitCase{"DoubleQuoteKeepsOtherBackslashes", R"("\a\n\'")", {R"(\a\n\')"}},
        SplitCase{"DoubleQuoteLineContinuation", "\"ab\\\ncd\"", {"abcd"}},
        SplitCase{"BackslashEscapesOutsideQuotes", R"(a\ b \'c\" \\)", {"a b", "'c\"", "\\"}},
        SplitCase{"BackslashNewlineJoinsLines", "ab\\\ncd \\\n ef", {"abcd", "ef"}},
        SplitCase{"HashIsNotAComment", "-x A #comment", {"-x", "A", "#comment"}},
        SplitCase{"NoGlobbing", "-x * ? [a]", {"-x", "*", "?", "[a]"}},
        SplitCase{"NoVariableExpansion", "$HOME ${PATH} \"$HOME\"", {"$HOME", "${PATH}", "$HOME"}},
        SplitCase{"Utf8PassesThrough", "-x NAME=\xc3\xa9t\xc3\xa9", {"-x", "NAME=\xc3\xa9t\xc3\xa9"}}),
    [](const ::testing::TestParamInfo<SplitCase>& param_info) { return std::string(param_info.param.name); });

TEST(CustomMpiOptions, ShellInjectionPayloadsComeOutAsPlainTokens) {
  EXPECT_EQ(parse_ok("-x A; rm -rf /").passthrough, (Tokens{"-x", "A;", "rm", "-rf", "/"}));
  EXPECT_EQ(parse_ok("; rm -rf /").passthrough, (Tokens{";", "rm", "-rf", "/"}));
  EXPECT_EQ(parse_ok("$(touch /tmp/x)").passthrough, (Tokens{"$(touch", "/tmp/x)"}));
  EXPECT_EQ(parse_ok("\"$(touch /tmp/x)\"").passthrough, (Tokens{"$(touch /tmp/x)"}));
  EXPECT_EQ(parse_ok("`touch /tmp/x`").passthrough, (Tokens{"`touch", "/tmp/x`"}));
  EXPECT_EQ(parse_ok("-x A && reboot").passthrough, (Tokens{"-x", "A", "&&", "reboot"}));
  EXPECT_EQ(parse_ok("-x A|tee /etc/passwd").passthrough, (Tokens{"-x", "A|tee", "/etc/passwd"}));
  EXPECT_EQ(parse_ok("-x A > /dev/sda").passthrough, (Tokens{"-x", "A", ">", "/dev/sda"}));
}

TEST(CustomMpiOptions, UnterminatedSingleQuoteReportsItsOffset) {
  EXPECT_EQ(parse_error("-x 'abc"), "unterminated single quote at offset 3");
}

TEST(CustomMpiOptions, UnterminatedDoubleQuoteReportsItsOffset) {
  EXPECT_EQ(parse_error("-x A \"b c"), "unterminated double quote at offset 5");
  EXPECT_EQ(parse_error(R"("abc\")"), "unterminated double quote at offset 0");
}

TEST(CustomMpiOptions, TrailingLoneBackslashIsAnError) {
  EXPECT_EQ(parse_error("-x A\\"), "trailing backslash at offset 4");
}

TEST(CustomMpiOptions, NulByteIsAnErrorEvenInsideQuotes) {
  using namespace std::string_view_literals;
  EXPECT_EQ(parse_error("-x A\0B"sv), "NUL byte at offset 4");
  EXPECT_EQ(parse_error("'a\0'"sv), "NUL byte at offset 2");
}

// ---------------------------------------------------------------------------
// --NCCL_DEBUG (argparse compatibility) and passthrough.

TEST(CustomMpiOptions, NcclDebugWithSeparateValueIsTakenOut) {
  const CustomOptions options = parse_ok("--NCCL_DEBUG WARN -x A");
  EXPECT_EQ(options.nccl_debug, "WARN");
  EXPECT_EQ(options.passthrough, (Tokens{"-x", "A"}));
}

TEST(CustomMpiOptions, NcclDebugWithEqualsKeepsOtherTokensInOrder) {
  const CustomOptions options = parse_ok("-x A --NCCL_DEBUG=WARN -y B");
  EXPECT_EQ(options.nccl_debug, "WARN");
  EXPECT_EQ(options.passthrough, (Tokens{"-x", "A", "-y", "B"}));
}

TEST(CustomMpiOptions, NcclDebugAcceptsUniqueAbbreviationsLikeArgparse) {
  for (std::string_view text : {"--NCCL_DEB X", "--N X", "--NCCL X", "--NCCL_DEBU=X", "--N=X"}) {
    const CustomOptions options = parse_ok(text);
    EXPECT_EQ(options.nccl_debug, "X") << text;
    EXPECT_TRUE(options.passthrough.empty()) << text;
  }
}

TEST(CustomMpiOptions, LastNcclDebugWins) {
  EXPECT_EQ(parse_ok("--NCCL_DEBUG INFO -v --NCCL_DEB=TRACE").nccl_debug, "TRACE");
}

TEST(CustomMpiOptions, NcclDebugValueMayContainEqualsAndSpaces) {
  EXPECT_EQ(parse_ok("--NCCL_DEBUG=A=B").nccl_debug, "A=B");
  EXPECT_EQ(parse_ok("--NCCL_DEBUG 'A B'").nccl_debug, "A B");
}

TEST(CustomMpiOptions, NcclDebugIsAbsentWhenNotGiven) {
  EXPECT_FALSE(parse_ok("-v --lr 35").nccl_debug.has_value());
}

TEST(CustomMpiOptions, SingleDashXNcclDebugPassesThroughVerbatim) {
  const CustomOptions options = parse_ok("-X NCCL_DEBUG=WARN");
  EXPECT_FALSE(options.nccl_debug.has_value());
  EXPECT_EQ(options.passthrough, (Tokens{"-X", "NCCL_DEBUG=WARN"}));
}

TEST(CustomMpiOptions, LookalikesOfNcclDebugPassThrough) {
  // Case matters, a single dash is not the option, a longer name is another one.
  EXPECT_EQ(parse_ok("--nccl_debug WARN").passthrough, (Tokens{"--nccl_debug", "WARN"}));
  EXPECT_EQ(parse_ok("-NCCL_DEBUG WARN").passthrough, (Tokens{"-NCCL_DEBUG", "WARN"}));
  EXPECT_EQ(parse_ok("--NCCL_DEBUGX WARN").passthrough, (Tokens{"--NCCL_DEBUGX", "WARN"}));
  EXPECT_EQ(parse_ok("-x NCCL_DEBUG").passthrough, (Tokens{"-x", "NCCL_DEBUG"}));
}

TEST(CustomMpiOptions, UnknownOptionsAndValuesPassThroughUnchanged) {
  EXPECT_EQ(parse_ok("-v --lr 35").passthrough, (Tokens{"-v", "--lr", "35"}));
  EXPECT_EQ(parse_ok("-verbose").passthrough, (Tokens{"-verbose"}));
  EXPECT_EQ(parse_ok("--mca btl_tcp_if_include eth0").passthrough,
            (Tokens{"--mca", "btl_tcp_if_include", "eth0"}));
  EXPECT_EQ(parse_ok("-np 4").passthrough, (Tokens{"-np", "4"}));
  EXPECT_EQ(parse_ok("-x FOO=\"a b\" -x BAR").passthrough, (Tokens{"-x", "FOO=a b", "-x", "BAR"}));
  EXPECT_EQ(parse_ok("- -1 --bind-to none").passthrough, (Tokens{"-", "-1", "--bind-to", "none"}));
}

TEST(CustomMpiOptions, OptionsStartingWithHThatAreNotHelpOrHostPassThrough) {
  // argparse read every "-h..." as -h (D22); mpirun does not.
  EXPECT_EQ(parse_ok("-hetero-nodes --hosts-x").passthrough, (Tokens{"-hetero-nodes", "--hosts-x"}));
}

class CustomMpiOptionsNcclValue : public ::testing::TestWithParam<std::string_view> {};

TEST_P(CustomMpiOptionsNcclValue, RejectsNcclDebugWithoutValue) {
  EXPECT_EQ(parse_error(GetParam()), "--NCCL_DEBUG expects a value, e.g. --NCCL_DEBUG WARN");
}

INSTANTIATE_TEST_SUITE_P(CustomMpiOptionsMissingValue, CustomMpiOptionsNcclValue,
                         ::testing::Values("--NCCL_DEBUG", "-x A --NCCL_DEBUG", "--NCCL_DEBUG=",
                                           "--NCCL_DEB=", "--NCCL_DEBUG -x A",
                                           "--NCCL_DEBUG --lr 3", "--NCCL_DEBUG ''"));

// ---------------------------------------------------------------------------
// Refusals (D22).

struct RefusalCase {
  std::string_view text;
  std::string_view message;
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.text; }

class CustomMpiOptionsRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(CustomMpiOptionsRefusal, RejectsWithClearOneLineMessage) {
  const std::string message = parse_error(GetParam().text);
  EXPECT_EQ(message, GetParam().message);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

constexpr std::string_view kHostsMsg = "smlaunch passes the host list from resourceconfig.json";

INSTANTIATE_TEST_SUITE_P(
    CustomMpiOptionsHostAndHelp, CustomMpiOptionsRefusal,
    ::testing::Values(
        RefusalCase{"-x A --hostfile /tmp/h",
                    "--hostfile is not allowed: smlaunch passes the host list from "
                    "resourceconfig.json"},
        RefusalCase{"-hostfile h", "-hostfile is not allowed: smlaunch passes the host list from "
                                   "resourceconfig.json"},
        RefusalCase{"-host a,b", "-host is not allowed: smlaunch passes the host list from "
                                 "resourceconfig.json"},
        RefusalCase{"--host a,b", "--host is not allowed: smlaunch passes the host list from "
                                  "resourceconfig.json"},
        RefusalCase{"--host=a,b", "--host is not allowed: smlaunch passes the host list from "
                                  "resourceconfig.json"},
        RefusalCase{"-H a", "-H is not allowed: smlaunch passes the host list from "
                            "resourceconfig.json"},
        RefusalCase{"-machinefile m", "-machinefile is not allowed: smlaunch passes the host list "
                                      "from resourceconfig.json"},
        RefusalCase{"--machinefile=m", "--machinefile is not allowed: smlaunch passes the host "
                                       "list from resourceconfig.json"},
        RefusalCase{"--default-hostfile d", "--default-hostfile is not allowed: smlaunch passes "
                                            "the host list from resourceconfig.json"},
        RefusalCase{"-default-hostfile d", "-default-hostfile is not allowed: smlaunch passes the "
                                           "host list from resourceconfig.json"},
        RefusalCase{"--hostf h", "--hostf (read as --hostfile) is not allowed: smlaunch passes "
                                 "the host list from resourceconfig.json"},
        RefusalCase{"-h", "-h is not allowed: it would make the launcher print its help and exit "
                          "instead of training"},
        RefusalCase{"--help", "--help is not allowed: it would make the launcher print its help "
                              "and exit instead of training"},
        RefusalCase{"-help", "-help is not allowed: it would make the launcher print its help and "
                             "exit instead of training"},
        RefusalCase{"--he", "--he (read as --help) is not allowed: it would make the launcher "
                            "print its help and exit instead of training"},
        RefusalCase{"-x A -- -x B", "-- is not allowed: mpirun would take everything after it, "
                                    "including the training command, as the program to run"}));

// Open MPI appends -mca NAME VALUE to the `ssh HOST orted ...` command
// line unquoted: a worker's shell would interpret anything special in it.
TEST(CustomMpiOptions, McaValuesWithShellSyntaxAreRefused) {
  for (const char* text :
       {"-mca orte_base_help_aggregate $(touch${IFS}/tmp/x)", "--mca btl `id`", "-gmca btl tcp;id",
        "--gmca btl tcp&id", "-mca btl 'tcp|id'", "-mca btl tcp>x", "-mca btl tcp<x", "-mca btl (x)",
        "-mca btl 'a\\b'", "-mca btl \"'\"", "-mca btl '\"'", "-mca btl 'a\nb'", "-mca btl 'a\rb'",
        "-mca btl 'a b'", "-mca btl 'a\tb'", "-mca btl *", "-mca btl ~root", "-mca btl '#x'",
        "--prtemca plm_ssh_args '-p 2'", "--pmixmca x $y", "-mca 'bad name' 1", "-mca 'x;id' 1",
        "-mca btl ''"}) {
    const std::string message = parse_error(text);
    EXPECT_NE(message.find("is not allowed; an MCA parameter name and value may only hold letters, digits"),
              std::string::npos)
        << text << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_EQ(parse_error("-mca orte_base_help_aggregate $(touch${IFS}/tmp/x)"),
            "-mca orte_base_help_aggregate: the value \"$(touch${IFS}/tmp/x)\" is not allowed; an MCA "
            "parameter name and value may only hold letters, digits and _ - . , : / ^ + = @ % (no spaces, "
            "quotes or other shell syntax: Open MPI puts MCA parameters on the ssh command line that starts "
            "its daemons on the other hosts)");
  EXPECT_TRUE(parse_error("-mca 'x;id' 1").starts_with("-mca: the parameter name \"x;id\" is not allowed"));
}

TEST(CustomMpiOptions, OrdinaryMcaValuesPassThrough) {
  EXPECT_EQ(parse_ok("-mca btl_tcp_if_include 10.0.0.0/8 --mca btl ^openib,self -gmca x a=b:c@d%e+f "
                     "--prtemca plm_ssh_num_concurrent 64 -mca pml ob1")
                .passthrough,
            (Tokens{"-mca", "btl_tcp_if_include", "10.0.0.0/8", "--mca", "btl", "^openib,self", "-gmca", "x",
                    "a=b:c@d%e+f", "--prtemca", "plm_ssh_num_concurrent", "64", "-mca", "pml", "ob1"}));
  // Other options' values are not MCA parameters: only split.
  EXPECT_EQ(parse_ok("-x 'A=$(x) y'").passthrough, (Tokens{"-x", "A=$(x) y"}));
  // A missing value is mpirun's to report.
  EXPECT_EQ(parse_ok("-mca btl").passthrough, (Tokens{"-mca", "btl"}));
}

TEST(ExportedAssignments, NameValuePairsOfEveryExportSpelling) {
  const Tokens words = {"-x", "A=1", "-x", "PATH", "--x", "B=a=b", "-env", "C=", "--env", "D=d", "-y", "E=e", "-x"};
  const auto found = exported_assignments(words);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].name, "A");
  EXPECT_EQ(found[0].value, "1");
  EXPECT_EQ(found[1].name, "B");
  EXPECT_EQ(found[1].value, "a=b");
  EXPECT_EQ(found[2].name, "C");
  EXPECT_EQ(found[2].value, "");
  EXPECT_EQ(found[3].name, "D");
}

TEST(CustomMpiOptions, RejectsHostfileWithClearMessage) {
  const std::string message = parse_error("--hostfile /opt/ml/hosts");
  EXPECT_EQ(message, "--hostfile is not allowed: " + std::string(kHostsMsg));
}

TEST(CustomMpiOptions, RefusalsApplyEvenAfterValidNcclDebug) {
  EXPECT_NE(parse_error("--NCCL_DEBUG WARN -host x").find("-host is not allowed"),
            std::string::npos);
}

TEST(CustomMpiOptions, QuotedRefusedOptionIsStillRefused) {
  // Quoting only affects splitting; mpirun sees the same word.
  EXPECT_NE(parse_error("'--hostfile' h").find("--hostfile is not allowed"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Scale.

TEST(CustomMpiOptions, OneMegabyteOfOptionsParsesInLinearTime) {
  std::string text;
  const std::string chunk = "-x VAR='a b c' --mca btl_tcp_if_include eth0 \"q\\\"z\" ";
  while (text.size() < (1U << 20)) {
    text += chunk;
  }
  text += "--NCCL_DEBUG WARN";
  std::string one_word(1U << 20, 'a');  // a single 1 MB word, too

  const auto start = std::chrono::steady_clock::now();
  const CustomOptions options = parse_ok(text);
  const CustomOptions single = parse_ok(one_word);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(options.nccl_debug, "WARN");
  const std::size_t chunks = (text.size() - 17) / chunk.size();
  ASSERT_EQ(options.passthrough.size(), chunks * 6);
  EXPECT_EQ(options.passthrough[1], "VAR=a b c");
  EXPECT_EQ(options.passthrough[5], "q\"z");
  ASSERT_EQ(single.passthrough.size(), 1U);
  EXPECT_EQ(single.passthrough[0].size(), 1U << 20);
  // Quadratic behaviour on 1 MB would take minutes; linear takes milliseconds.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------
// parse_mpirun_version.

struct VersionCase {
  std::string_view name;
  std::string_view output;
  std::optional<OpenMpiVersion> version;
};

void PrintTo(const VersionCase& c, std::ostream* os) { *os << c.name; }

class MpirunVersion : public ::testing::TestWithParam<VersionCase> {};

TEST_P(MpirunVersion, ReadsOpenMpiMajorOrNothing) {
  EXPECT_EQ(parse_mpirun_version(GetParam().output), GetParam().version) << GetParam().output;
}

INSTANTIATE_TEST_SUITE_P(
    MpirunVersionOutputs, MpirunVersion,
    ::testing::Values(
        // `mpirun --version` of Open MPI 4.1.4 on this machine, verbatim.
        VersionCase{"OpenMpi414",
                    "mpirun (Open MPI) 4.1.4\n\nReport bugs to "
                    "http://www.open-mpi.org/community/help/\n",
                    OpenMpiVersion::V4},
        // Open MPI 5: ompi/tools/mpirun exports OMPI_VERSION/OMPI_TOOL_NAME and
        // PRRTE's schizo/ompi prints "%s (%s) %s\n\n%s".
        VersionCase{"OpenMpi503",
                    "mpirun (Open MPI) 5.0.3\n\nReport bugs to "
                    "https://www.open-mpi.org/community/help/\n",
                    OpenMpiVersion::V5},
        VersionCase{"MpiexecName", "mpiexec (Open MPI) 5.0.0rc12\n", OpenMpiVersion::V5},
        // PRRTE's own banner (wrapper without OMPI_VERSION): still Open MPI 5.
        VersionCase{"PrrteBanner",
                    "prterun (PRRTE) 3.0.2\n\nReport bugs to: https://github.com/openpmix/prrte\n",
                    OpenMpiVersion::V5},
        VersionCase{"OldOrte", "orterun (OpenRTE) 1.8.8\n", OpenMpiVersion::V4},
        VersionCase{"Major3TreatedAs4", "mpirun (Open MPI) 3.1.6\n", OpenMpiVersion::V4},
        VersionCase{"Major6TreatedAs5", "mpirun (Open MPI) 6.1.0a1\n", OpenMpiVersion::V5},
        VersionCase{"LeadingNoise", "warning: foo 9.9\nmpirun (Open MPI) 4.0.7\n",
                    OpenMpiVersion::V4},
        VersionCase{"CrLf", "mpirun (Open MPI) 4.1.5\r\n\r\nReport bugs\r\n", OpenMpiVersion::V4},
        VersionCase{"Mpich",
                    "HYDRA build details:\n    Version:                                 4.0\n"
                    "    Release Date:                            Fri Jan 21 10:42:29 CST 2022\n",
                    std::nullopt},
        VersionCase{"IntelMpi",
                    "Intel(R) MPI Library for Linux* OS, Version 2021.6 Build 20220227 (id: "
                    "28877f3f32)\nCopyright 2003-2022, Intel Corporation.\n",
                    std::nullopt},
        VersionCase{"MarkerWithoutVersion", "mpirun (Open MPI)\n\n5.0.0\n", std::nullopt},
        VersionCase{"Empty", "", std::nullopt},
        VersionCase{"Garbage", "\x01\x02 Open M 5.0 PI", std::nullopt}),
    [](const ::testing::TestParamInfo<VersionCase>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace smlaunch::mpi
