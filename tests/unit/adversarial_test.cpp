// Shell-injection practice against the real smlaunch binary (issue 6):
// hyperparameters and `sagemaker_mpi_custom_mpi_options` carrying `$(...)`,
// backquotes, `;`, `&&`, `|`, redirections, quotes that close early,
// newlines, NUL, 100 KiB and 1 MiB values, invalid UTF-8, `=` in keys, keys
// named like PATH or LD_PRELOAD, and values that look like options.
//
// The contract (DESIGN.md principle 2, SPEC "No shell"): each payload either
// reaches the user program byte for byte -- hyperparameters as `--key value`
// arguments and SM_HP_<KEY> variables, custom mpirun options as the words a
// POSIX shell would split them into, without any expansion -- or the job is
// refused with one `smlaunch: error:` line per problem, exit 2 and a
// ConfigurationError failure file. Either way nothing is executed: every
// payload carries `touch <scratch>/pwned` (or a redirection to it) and the
// tests assert that the file never appears.
//
// Each payload family runs as:
//   - a single-host process job (a Python entry point),
//   - a one-host mpirun job with two ranks (the same Python program as a
//     command entry point),
//   - `smlaunch plan --json`, which must not crash and must show the values,
//   - `smlaunch env --export`, eval'd by /bin/sh as README documents.
// The Python program records its argv and environment as hex bytes in
// <scratch>/seen.<rank>.json, so the comparison is exact for any byte.
//
// At the end, secrets (issue 6, item 3, unit level): credentials and
// secret-named hyperparameters never show in smlaunch's logs, `plan` or the
// failure file. tests/e2e/test_secrets.py does the same on two hosts.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "platform/subprocess.hpp"
#include "test_support.hpp"

namespace smlaunch::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Hang guards, not speed assertions.
constexpr auto kRunTimeout = 90s;
// Large values are logged several times over (SM_HPS, SM_TRAINING_ENV, ...).
constexpr std::size_t kCaptureLimit = std::size_t{64} << 20;
constexpr int kExitBadConfiguration = 2;
constexpr std::string_view kTestPath = "/usr/bin:/bin";

// Placeholders in the tables, replaced per test.
constexpr std::string_view kCanary = "{canary}";
constexpr std::string_view kScratch = "{scratch}";

// Linux refuses a single argv or environment string above 32 pages
// (MAX_ARG_STRLEN): 100 KiB fits, 1 MiB cannot reach any program.
constexpr std::size_t kHundredKiB = std::size_t{100} * 1024;
constexpr std::size_t kOneMiB = std::size_t{1} << 20;

constexpr std::string_view kErrorPrefix = "smlaunch: error: ";
constexpr std::string_view kConfigurationFailure = "ConfigurationError:\nExitCode 2\nErrorMessage \"";

// The user program: records sys.argv[1:] and the whole environment, as hex
// of the raw bytes, in <scratch>/seen.<rank>.json (<scratch>/opt/ml/code is
// where it lives).
constexpr std::string_view kRecorderPy = R"(import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
scratch = os.path.dirname(os.path.dirname(os.path.dirname(here)))
rank = os.environ.get('OMPI_COMM_WORLD_RANK', 'single')
record = {'argv': [os.fsencode(a).hex() for a in sys.argv[1:]],
          'env': {k.hex(): v.hex() for k, v in os.environb.items()}}
with open(os.path.join(scratch, 'seen.' + rank + '.json'), 'w') as f:
    json.dump(record, f)
)";
// Under MPI the same program runs as a command entry point (no extension:
// executed directly, through its #! line). Not a shell script: a shell
// drops the variables whose names are not shell names (SM_HP_A-B) before it
// execs anything.
constexpr std::string_view kShebang = "#!/usr/bin/python3\n";

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

/// Printable for a failure message: control bytes and non-ASCII as \xNN,
/// long values cut.
std::string shown(std::string_view bytes) {
  constexpr std::size_t kShownBytes = 300;
  std::string out;
  for (const char c : bytes.substr(0, kShownBytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      constexpr const char* kHex = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  if (bytes.size() > kShownBytes) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

std::string shown(const std::vector<std::string>& words) {
  std::string out = "[";
  for (const auto& w : words) out += (out.size() > 1 ? ", \"" : "\"") + shown(w) + "\"";
  return out + "]";
}

/// JSON string literal of `text` (which must be valid UTF-8).
std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump();
}

/// Python's str.upper() for the ASCII keys of these tables.
std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

/// to_cmd_args: "--key" for keys of more than one character, "-k" for one.
std::string flag(const std::string& key) {
  return (key.size() > 1 ? "--" : "-") + key;
}

// ---- The payload tables --------------------------------------------------------

/// One hyperparameter: how it is written in hyperparameters.json and what the
/// program must receive.
struct Member {
  std::string key;
  std::string file_text;  // the JSON value text after "key": in the file
  std::string arg;        // the argument after flag(key)
  std::string env;        // SM_HP_<KEY>
};

/// A string value as the platform writes it: JSON-encoded, then stored as a
/// JSON string ("\"value\"").
Member text(std::string key, const std::string& value) {
  return {std::move(key), quoted(quoted(value)), value, value};
}

/// A value that is not JSON once decoded: json.loads fails and the raw
/// string is kept (B165).
Member raw(std::string key, const std::string& value) {
  return {std::move(key), quoted(value), value, value};
}

struct Accepted {
  std::string name;
  std::vector<Member> members;
};

struct Rejected {
  std::string name;
  std::string members_text;  // raw JSON members (bytes) added to hyperparameters.json
  std::string expected;      // part of one error line
};

struct MpiOptions {
  std::string name;
  std::string options;                                        // the hyperparameter's value
  std::vector<std::string> words;                             // expected among mpirun's argv
  std::vector<std::pair<std::string, std::string>> rank_env;  // what each rank must see
};

struct MpiOptionsRejected {
  std::string name;
  std::string options_text;  // the JSON string literal in the file (may hold escapes)
  std::string expected;
};

void PrintTo(const Accepted& c, std::ostream* os) {
  *os << c.name;
}
void PrintTo(const Rejected& c, std::ostream* os) {
  *os << c.name;
}
void PrintTo(const MpiOptions& c, std::ostream* os) {
  *os << c.name;
}
void PrintTo(const MpiOptionsRejected& c, std::ostream* os) {
  *os << c.name;
}

template <typename Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

std::string hundred_kib_value() {
  std::string value = "$(touch {canary}); `touch {canary}` | ";
  while (value.size() < kHundredKiB) value += "a'b\"c;$x&&|`\n";
  value.resize(kHundredKiB);
  return value;
}

std::vector<Accepted> accepted_payloads() {
  return {
      {"CommandSubstitution", {text("cmd", "$(touch {canary})")}},
      {"Backquotes", {text("cmd", "`touch {canary}`")}},
      {"Semicolon", {text("cmd", "x; touch {canary}")}},
      {"AndAndOrOr", {text("cmd", "x && touch {canary} || touch {canary}")}},
      {"Pipe", {text("cmd", "x | touch {canary}")}},
      {"Redirection", {text("cmd", "x > {canary}")}},
      {"Background", {text("cmd", "x & touch {canary} &")}},
      {"SingleQuoteClosesEarly", {text("cmd", "x'; touch {canary}; echo '")}},
      {"DoubleQuoteClosesEarly", {text("cmd", "x\"; touch {canary}; echo \"")}},
      {"QuotesInTheRawFallback", {raw("cmd", "\"x\"; touch {canary} '")}},
      {"Newlines", {text("cmd", "x\ntouch {canary}\n")}},
      {"CarriageReturnTabAndEscape", {text("cmd", "x\r\ttouch {canary}\x1b[31m\x01\x7f")}},
      {"ParameterExpansionAndGlobs", {text("cmd", "${PATH:+$(touch {canary})} $HOME ~ * ?")}},
      {"NonAsciiUtf8",
       {text("cmd", "\xc3\xa9 \xe2\x80\xa8 \xe2\x98\x83 \xf0\x9f\x92\xa3 $(touch {canary})")}},
      {"ValuesThatLookLikeOptions",
       {text("a", "--help"), text("b", "-"), text("c", "--"), text("d", "-c"),
        text("e", "--version; touch {canary}")}},
      {"KeysThatLookLikeOptions", {text("-", "x"), text("-rf", "/"), text("--", "-")}},
      {"KeysNamedLikeLoaderAndPathVariables",
       {text("PATH", "{scratch}/evil:$(touch {canary})"), text("LD_PRELOAD", "{canary}.so"),
        text("ld_library_path", "{scratch}"), text("PYTHONPATH", "{scratch}"),
        text("PYTHONSTARTUP", "{canary}.py")}},
      {"ShellInTheKey", {text("$(touch {canary})", "1"), text("a;touch {canary}", "2")}},
      // A key is not a shell name, so `env --export` lists it as a comment:
      // the comment must not end at the newline.
      {"NewlineInTheKey", {text("x\nPATH", "{scratch}/evil"), text("y\nLD_PRELOAD", "{canary}.so")}},
      {"DecodedListAndDict",
       {{"list", quoted(R"~(["$(touch {canary})", "`x`"])~"), "['$(touch {canary})', '`x`']",
         R"~(["$(touch {canary})","`x`"])~"},
        {"dict", quoted(R"~({"k": "; touch {canary}"})~"), "k=; touch {canary}",
         R"~({"k":"; touch {canary}"})~"}}},
      {"HundredKibibytes", {text("big", hundred_kib_value())}},
  };
}

std::vector<Rejected> rejected_payloads() {
  return {
      {"NulInValue", R"~("x":"\"a\\u0000; touch {canary}\"")~", "a value containing a NUL character"},
      {"NulInKey", R"~("a\u0000$(touch {canary})":"1")~", "a key containing a NUL character"},
      {"EqualsInKey", R"~("a=$(touch {canary})":"1")~", "a key containing '='"},
      {"InvalidUtf8InValue", "\"x\":\"\xff$(touch {canary})\"", "bytes that are not valid UTF-8"},
      {"InvalidUtf8InKey", "\"\xc3\x28$(touch {canary})\":\"1\"", "bytes that are not valid UTF-8"},
      {"UnpairedSurrogateEscape", R"~("x":"\udcff$(touch {canary})")~", "hyperparameters.json: "},
      // No program can receive 1 MiB in one argument (MAX_ARG_STRLEN): a
      // configuration problem, found before anything starts.
      {"OneMebibyteValue", R"("big":")" + std::string(kOneMiB, 'a') + "$(touch {canary})\"",
       "hyperparameters.json: big: "},
  };
}

std::vector<MpiOptions> mpi_option_payloads() {
  return {
      {"CommandSubstitution",
       "-x 'ADV_A=$(touch {canary})'",
       {"-x", "ADV_A=$(touch {canary})"},
       {{"ADV_A", "$(touch {canary})"}}},
      {"BackquotesInDoubleQuotes",
       "-x \"ADV_B=`touch {canary}`\"",
       {"-x", "ADV_B=`touch {canary}`"},
       {{"ADV_B", "`touch {canary}`"}}},
      {"OperatorsQuoted",
       "-x 'ADV_C=a; touch {canary} && b | c > {canary}'",
       {"-x", "ADV_C=a; touch {canary} && b | c > {canary}"},
       {{"ADV_C", "a; touch {canary} && b | c > {canary}"}}},
      {"OperatorsUnquotedStayInTheWord",
       "-x ADV_D=a;touch${IFS}{canary}&&$(touch${IFS}{canary})|x",
       {"-x", "ADV_D=a;touch${IFS}{canary}&&$(touch${IFS}{canary})|x"},
       {{"ADV_D", "a;touch${IFS}{canary}&&$(touch${IFS}{canary})|x"}}},
      {"QuotesThatCloseEarly",
       R"~(-x "ADV_E=it's; touch {canary}" -x 'ADV_F="; touch {canary}; "')~",
       {"-x", "ADV_E=it's; touch {canary}", "-x", "ADV_F=\"; touch {canary}; \""},
       {{"ADV_E", "it's; touch {canary}"}, {"ADV_F", "\"; touch {canary}; \""}}},
      {"NewlinesSeparateWords",
       "-x ADV_G=1\n-x 'ADV_H=a\nb; touch {canary}'",
       {"-x", "ADV_G=1", "-x", "ADV_H=a\nb; touch {canary}"},
       {{"ADV_G", "1"}, {"ADV_H", "a\nb; touch {canary}"}}},
      {"BackslashEscapes",
       R"~(-x ADV_I=\$\(touch\ {canary}\) -x "ADV_J=\"\$(touch {canary})\"")~",
       {"-x", "ADV_I=$(touch {canary})", "-x", "ADV_J=\"$(touch {canary})\""},
       {{"ADV_I", "$(touch {canary})"}, {"ADV_J", "\"$(touch {canary})\""}}},
  };
}

std::vector<MpiOptionsRejected> mpi_option_rejections() {
  return {
      {"NulByte", R"~("-x 'ADV_A=\u0000$(touch {canary})'")~", "NUL byte at offset"},
      {"UnterminatedSingleQuote", R"~("-x 'ADV_A=$(touch {canary})")~", "unterminated single quote"},
      {"UnterminatedDoubleQuote", R"~("-x \"ADV_A=$(touch {canary})")~", "unterminated double quote"},
      {"HostListSmuggled", R"~("-H localhost;touch${IFS}{canary}")~", "sagemaker_mpi_custom_mpi_options: "},
      // On more than one host Open MPI appends the -mca options it was given
      // (those without a space) to the `ssh HOST orted ...` command line,
      // unquoted: the worker's shell runs this one (seen on the e2e cluster).
      // One host has no ssh, so only the refusal can be checked here.
      {"McaValueThatAWorkersShellWouldRun", R"~("-mca orte_base_help_aggregate $(touch${IFS}{canary})")~",
       "sagemaker_mpi_custom_mpi_options: "},
  };
}

// ---- Running the binary ----------------------------------------------------------

/// One job directory: <scratch>/opt/ml with a one-host config, the recorder
/// as the entry point, and <scratch>/pwned as the canary.
class Job {
 public:
  [[nodiscard]] std::string scratch() const { return dir_.path(); }
  [[nodiscard]] std::string base() const { return dir_.path() + "/opt/ml"; }
  [[nodiscard]] std::string canary() const { return dir_.path() + "/pwned"; }
  [[nodiscard]] std::string failure() const { return read(base() + "/output/failure"); }
  [[nodiscard]] bool failure_written() const { return fs::exists(base() + "/output/failure"); }
  [[nodiscard]] bool succeeded() const { return fs::exists(base() + "/output/success"); }

  /// Replaces the placeholders in `text`.
  [[nodiscard]] std::string fill(const std::string& text) const {
    return replace_all(replace_all(text, kCanary, canary()), kScratch, scratch());
  }

  /// hyperparameters.json: the entry point, `mpi` settings when asked, then
  /// `members` (JSON members, already filled).
  void write(const std::string& members, bool mpi) const {
    dir_.write("opt/ml/input/config/resourceconfig.json",
               R"({"current_host":"localhost","hosts":["localhost"],"network_interface_name":"lo"})");
    std::string hp = mpi ? R"({"sagemaker_program":"\"recorder\"","sagemaker_mpi_enabled":"true",)"
                           R"("sagemaker_mpi_num_of_processes_per_host":"2")"
                         : R"({"sagemaker_program":"\"recorder.py\"")";
    if (!members.empty()) hp += "," + members;
    hp += "}";
    dir_.write("opt/ml/input/config/hyperparameters.json", hp);
    dir_.write("opt/ml/code/recorder.py", kRecorderPy);
    dir_.write("opt/ml/code/recorder", std::string(kShebang) + std::string(kRecorderPy), 0755);
  }

  /// smlaunch with exactly PATH, HOME and SMLAUNCH_PYTHON in its environment.
  [[nodiscard]] platform::CaptureResult run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "-i",
                                  "PATH=" + std::string(kTestPath),
                                  "HOME=" + scratch(),
                                  "SMLAUNCH_PYTHON=/usr/bin/python3",
                                  SMLAUNCH_BINARY,
                                  "--base-dir",
                                  base()};
    argv.insert(argv.end(), args.begin(), args.end());
    return platform::run_capture(argv, kTestPath, kRunTimeout, kCaptureLimit);
  }

  /// What one rank ("single" for a process job) recorded, or nullopt.
  struct Seen {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
      for (const auto& [n, v] : env) {
        if (n == name) return v;
      }
      return std::nullopt;
    }
  };
  [[nodiscard]] std::optional<Seen> seen(const std::string& rank) const {
    const auto path = fs::path(scratch()) / ("seen." + rank + ".json");
    if (!fs::exists(path)) return std::nullopt;
    const auto j = nlohmann::json::parse(read(path), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    Seen s;
    for (const auto& a : j["argv"]) s.argv.push_back(from_hex(a.get<std::string>()));
    for (const auto& [k, v] : j["env"].items())
      s.env.emplace_back(from_hex(k), from_hex(v.get<std::string>()));
    return s;
  }
  [[nodiscard]] bool started_anything() const {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(scratch(), ec)) {
      if (e.path().filename().string().starts_with("seen.")) return true;
    }
    return false;
  }

 private:
  TempDir dir_;
};

std::string transcript(const platform::CaptureResult& r) {
  return "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.term_signal) +
         (r.timed_out ? ", timed out" : "") + "\n--- stdout:\n" + shown(r.out.substr(0, 3000)) +
         "\n--- stderr (head):\n" + r.err.substr(0, 3000) + "\n--- stderr (tail):\n" +
         r.err.substr(r.err.size() - std::min<std::size_t>(r.err.size(), 3000));
}

void overwrite(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(kErrorPrefix)) lines.push_back(line);
  }
  return lines;
}

/// The members of `c` as JSON text, and the user arguments and SM_HP_*
/// variables the program must see.
struct Expected {
  std::string members;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
};

Expected expected_for(const Accepted& c, const Job& job) {
  Expected e;
  std::vector<Member> sorted = c.members;
  for (auto& m : sorted) {
    m.key = job.fill(m.key);
    m.file_text = job.fill(m.file_text);
    m.arg = job.fill(m.arg);
    m.env = job.fill(m.env);
  }
  for (const auto& m : sorted)
    e.members += (e.members.empty() ? "" : ",") + quoted(m.key) + ":" + m.file_text;
  // Keys are ASCII here: byte order is code point order.
  std::sort(sorted.begin(), sorted.end(), [](const Member& a, const Member& b) { return a.key < b.key; });
  for (const auto& m : sorted) {
    e.args.push_back(flag(m.key));
    e.args.push_back(m.arg);
    e.env.emplace_back("SM_HP_" + upper(m.key), m.env);
  }
  return e;
}

/// Nothing outside the SM_* (and Open MPI's own) variables carries the
/// payload: PATH and friends are what smlaunch was given.
void expect_clean_environment(const Job::Seen& seen, const Job& job, const std::string& who) {
  EXPECT_EQ(seen.get("PATH"), std::string(kTestPath)) << who;
  for (const auto& [name, value] : seen.env) {
    if (name.starts_with("SM_") || name.starts_with("OMPI_") || name.starts_with("PMIX_")) continue;
    EXPECT_FALSE(contains(value, job.canary())) << who << ": " << shown(name) << "=" << shown(value);
  }
}

void expect_program_saw(const Job& job, const std::string& rank, const Expected& e) {
  const auto seen = job.seen(rank);
  ASSERT_TRUE(seen.has_value()) << "rank " << rank << " recorded nothing";
  EXPECT_TRUE(seen->argv == e.args) << "rank " << rank << "\n  got      " << shown(seen->argv)
                                    << "\n  expected " << shown(e.args);
  for (const auto& [name, value] : e.env) {
    const auto got = seen->get(name);
    ASSERT_TRUE(got.has_value()) << "rank " << rank << ": no " << shown(name);
    EXPECT_TRUE(*got == value) << "rank " << rank << ": " << shown(name) << "\n  got      " << shown(*got)
                               << "\n  expected " << shown(value);
  }
  expect_clean_environment(*seen, job, "rank " + rank);
}

/// `plan --json`: parses, ends with the user arguments, shows the SM_HP_*
/// values. Returns the plan.
nlohmann::json expect_plan_shows(const Job& job, const Expected& e) {
  const auto r = job.run({"plan", "--json"});
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  const auto plan = nlohmann::json::parse(r.out, nullptr, false);
  if (plan.is_discarded() || !plan.is_object()) {
    ADD_FAILURE() << "plan --json is not a JSON object: " << transcript(r);
    return {};
  }
  const auto argv = plan["argv"].get<std::vector<std::string>>();
  EXPECT_GE(argv.size(), e.args.size());
  if (argv.size() >= e.args.size()) {
    const std::vector<std::string> tail(argv.end() - static_cast<std::ptrdiff_t>(e.args.size()), argv.end());
    EXPECT_TRUE(tail == e.args) << "\n  got      " << shown(tail) << "\n  expected " << shown(e.args);
  }
  for (const auto& [name, value] : e.env) {
    if (!plan["env"].contains(name)) {
      ADD_FAILURE() << "plan --json: no " << shown(name) << " in env";
      continue;
    }
    EXPECT_TRUE(plan["env"][name].get<std::string>() == value) << shown(name);
  }
  EXPECT_FALSE(fs::exists(job.base() + "/output")) << "plan must not write anything";
  return plan;
}

void expect_refused(const Job& job, const platform::CaptureResult& r, const std::string& expected,
                    bool train) {
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, kExitBadConfiguration) << transcript(r);
  const auto lines = error_lines(r.err);
  EXPECT_FALSE(lines.empty()) << transcript(r);
  EXPECT_TRUE(
      std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return contains(l, expected); }))
      << "no error line with \"" << expected << "\"\n"
      << transcript(r);
  EXPECT_FALSE(contains(r.err, "internal error")) << transcript(r);
  for (const auto& line : lines) {
    constexpr std::size_t kLongestUsefulLine = 4096;
    EXPECT_LE(line.size(), kLongestUsefulLine)
        << "an error line should say what is wrong, not echo the input";
  }
  if (train) {
    EXPECT_TRUE(job.failure().starts_with(kConfigurationFailure)) << shown(job.failure());
  } else {
    EXPECT_FALSE(job.failure_written()) << "plan must not write anything";
  }
  EXPECT_FALSE(job.started_anything());
}

// ---- Hyperparameters that must arrive verbatim -------------------------------------

class AcceptedPayload : public ::testing::TestWithParam<Accepted> {
 protected:
  Job job;
  Expected expected;
  void SetUp() override { expected = expected_for(GetParam(), job); }
  void TearDown() override { EXPECT_FALSE(fs::exists(job.canary())) << "a payload was executed"; }
};

TEST_P(AcceptedPayload, ProcessJobReceivesItVerbatimAndRunsNothingElse) {
  job.write(expected.members, /*mpi=*/false);
  const auto r = job.run({"train"});
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  EXPECT_TRUE(job.succeeded());
  expect_program_saw(job, "single", expected);
}

TEST_P(AcceptedPayload, OneHostMpiJobGivesItVerbatimToEveryRank) {
  job.write(expected.members, /*mpi=*/true);
  const auto r = job.run({"train"});
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  EXPECT_TRUE(job.succeeded());
  for (const char* rank : {"0", "1"}) expect_program_saw(job, rank, expected);
}

TEST_P(AcceptedPayload, PlanJsonShowsItVerbatim) {
  job.write(expected.members, /*mpi=*/false);
  expect_plan_shows(job, expected);
  job.write(expected.members, /*mpi=*/true);
  const auto plan = expect_plan_shows(job, expected);
  if (plan.is_object()) {
    EXPECT_EQ(plan["runner"], "mpi");
  }
}

// README: `env --export` prints lines for `eval` in a shell script. Eval'd,
// they must set the SM_HP_* variables (those that are shell names) to the
// values, and run nothing.
TEST_P(AcceptedPayload, EnvExportEvalsToTheValuesAndRunsNothing) {
  job.write(expected.members, /*mpi=*/false);
  const auto r = job.run({"env", "--export"});
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  const std::string exports = job.scratch() + "/exports.sh";
  std::ofstream(exports, std::ios::binary) << r.out;
  // The shell prints PATH (with its builtin printf: an eval'd PATH must not
  // decide which od runs), then each variable as hex once the exports are
  // eval'd.
  std::string script = "eval \"$(cat \"$1\")\" || exit 9\nprintf '%s\\n' \"$PATH\"\n";
  for (const auto& [name, value] : expected.env) {
    const bool shell_name =
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
    if (!shell_name) continue;
    script += "printf '%s' \"${" + name + "-UNSET}\" | od -An -v -tx1 | tr -d ' \\n'; echo\n";
  }
  const auto shell = platform::run_capture(
      {"/usr/bin/env", "-i", "PATH=" + std::string(kTestPath), "/bin/sh", "-c", script, "sh", exports},
      kTestPath, kRunTimeout, kCaptureLimit);
  EXPECT_EQ(shell.exit_code, 0) << shell.err << "\n--- exports:\n" << shown(r.out.substr(0, 2000));
  std::istringstream lines(shell.out);
  std::string path;
  std::getline(lines, path);
  EXPECT_EQ(path, kTestPath) << "eval of env --export changed PATH:\n" << shown(r.out.substr(0, 2000));
  for (const auto& [name, value] : expected.env) {
    const bool shell_name =
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
    if (!shell_name) continue;
    std::string hex;
    std::getline(lines, hex);
    EXPECT_TRUE(from_hex(hex) == value)
        << shown(name) << "\n  got      " << shown(from_hex(hex)) << "\n  expected " << shown(value);
  }
  EXPECT_FALSE(fs::exists(job.canary())) << "eval of env --export ran a payload:\n"
                                         << shown(r.out.substr(0, 2000));
}

INSTANTIATE_TEST_SUITE_P(Hyperparameters, AcceptedPayload, ::testing::ValuesIn(accepted_payloads()),
                         case_name<Accepted>);

// ---- Hyperparameters that must be refused ------------------------------------------

class RejectedPayload : public ::testing::TestWithParam<Rejected> {
 protected:
  Job job;
  void TearDown() override { EXPECT_FALSE(fs::exists(job.canary())) << "a payload was executed"; }
};

TEST_P(RejectedPayload, ProcessJobIsRefusedWithOneLineAndExitTwo) {
  job.write(job.fill(GetParam().members_text), /*mpi=*/false);
  expect_refused(job, job.run({"train"}), GetParam().expected, /*train=*/true);
}

TEST_P(RejectedPayload, OneHostMpiJobIsRefusedWithOneLineAndExitTwo) {
  job.write(job.fill(GetParam().members_text), /*mpi=*/true);
  expect_refused(job, job.run({"train"}), GetParam().expected, /*train=*/true);
}

TEST_P(RejectedPayload, PlanJsonRefusesWithoutCrashing) {
  job.write(job.fill(GetParam().members_text), /*mpi=*/true);
  expect_refused(job, job.run({"plan", "--json"}), GetParam().expected, /*train=*/false);
}

INSTANTIATE_TEST_SUITE_P(Hyperparameters, RejectedPayload, ::testing::ValuesIn(rejected_payloads()),
                         case_name<Rejected>);

// ---- sagemaker_mpi_custom_mpi_options ------------------------------------------------

class MpiOptionsPayload : public ::testing::TestWithParam<MpiOptions> {
 protected:
  Job job;
  void SetUp() override {
    job.write(R"("sagemaker_mpi_custom_mpi_options":)" + quoted(job.fill(GetParam().options)), /*mpi=*/true);
  }
  void TearDown() override { EXPECT_FALSE(fs::exists(job.canary())) << "a payload was executed"; }
  std::vector<std::string> words() const {
    std::vector<std::string> w;
    for (const auto& word : GetParam().words) w.push_back(job.fill(word));
    return w;
  }
};

TEST_P(MpiOptionsPayload, PlanJsonPassesTheWordsToMpirunUnchanged) {
  const auto r = job.run({"plan", "--json"});
  ASSERT_EQ(r.exit_code, 0) << transcript(r);
  const auto plan = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(plan.is_object()) << transcript(r);
  const auto argv = plan["argv"].get<std::vector<std::string>>();
  const auto want = words();
  EXPECT_NE(std::search(argv.begin(), argv.end(), want.begin(), want.end()), argv.end())
      << "\n  argv  " << shown(argv) << "\n  words " << shown(want);
}

TEST_P(MpiOptionsPayload, EveryRankSeesTheVariablesVerbatim) {
  const auto r = job.run({"train"});
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  for (const char* rank : {"0", "1"}) {
    const auto seen = job.seen(rank);
    ASSERT_TRUE(seen.has_value()) << "rank " << rank << " recorded nothing\n" << transcript(r);
    for (const auto& [name, value] : GetParam().rank_env) {
      const auto got = seen->get(name);
      ASSERT_TRUE(got.has_value()) << "rank " << rank << ": no " << name;
      EXPECT_TRUE(*got == job.fill(value)) << "rank " << rank << ": " << name << "\n  got      "
                                           << shown(*got) << "\n  expected " << shown(job.fill(value));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(CustomMpiOptions, MpiOptionsPayload, ::testing::ValuesIn(mpi_option_payloads()),
                         case_name<MpiOptions>);

class MpiOptionsRejectedPayload : public ::testing::TestWithParam<MpiOptionsRejected> {
 protected:
  Job job;
  void SetUp() override {
    job.write(R"("sagemaker_mpi_custom_mpi_options":)" + job.fill(GetParam().options_text), /*mpi=*/true);
  }
  void TearDown() override { EXPECT_FALSE(fs::exists(job.canary())) << "a payload was executed"; }
};

TEST_P(MpiOptionsRejectedPayload, TrainIsRefusedWithOneLineAndExitTwo) {
  expect_refused(job, job.run({"train"}), GetParam().expected, /*train=*/true);
}

TEST_P(MpiOptionsRejectedPayload, PlanJsonRefusesWithoutCrashing) {
  expect_refused(job, job.run({"plan", "--json"}), GetParam().expected, /*train=*/false);
}

INSTANTIATE_TEST_SUITE_P(CustomMpiOptions, MpiOptionsRejectedPayload,
                         ::testing::ValuesIn(mpi_option_rejections()), case_name<MpiOptionsRejected>);

// ---- Secrets (SPEC "Logging hygiene", D30) -------------------------------------------
//
// Credentials in smlaunch's environment and hyperparameters named like
// secrets reach the program (that is their purpose) but never smlaunch's own
// output: its log lines, `plan` (text), the failure file. The program itself
// prints no secret here, so any occurrence is smlaunch's.

constexpr std::string_view kAwsSecret = "aws-secret-0f9e8d7c6b5a";
constexpr std::string_view kAwsToken = "aws-session-token-1a2b3c4d";
constexpr std::string_view kHfToken = "hf-token-5e6f7a8b";
constexpr std::string_view kDbPassword = "db-password-9c0d1e2f";
constexpr std::string_view kApiKey = "api-key-3a4b5c6d";
constexpr std::string_view kMpiOptionSecret = "mpi-option-secret-7e8f9a0b";

const std::vector<std::string_view> kAllSecrets = {kAwsSecret, kAwsToken, kHfToken, kDbPassword, kApiKey};

class SecretsInOutput : public ::testing::Test {
 protected:
  Job job;

  /// The secret-named hyperparameters, and `extra` members.
  [[nodiscard]] static std::string members(const std::string& extra = {}) {
    std::string m = R"("db_password":)" + quoted(quoted(std::string(kDbPassword))) + R"(,"api_key":)" +
                    quoted(quoted(std::string(kApiKey)));
    return extra.empty() ? m : m + "," + extra;
  }

  /// smlaunch with the credentials in its environment.
  [[nodiscard]] platform::CaptureResult run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "-i",
                                  "PATH=" + std::string(kTestPath),
                                  "HOME=" + job.scratch(),
                                  "SMLAUNCH_PYTHON=/usr/bin/python3",
                                  "AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEYID",
                                  "AWS_SECRET_ACCESS_KEY=" + std::string(kAwsSecret),
                                  "AWS_SESSION_TOKEN=" + std::string(kAwsToken),
                                  "HF_TOKEN=" + std::string(kHfToken),
                                  SMLAUNCH_BINARY,
                                  "--base-dir",
                                  job.base()};
    argv.insert(argv.end(), args.begin(), args.end());
    return platform::run_capture(argv, kTestPath, kRunTimeout, kCaptureLimit);
  }

  /// kFailingCheck as the program (defined below).
  void install_failing_check() const;

  /// The secrets found in `text`, by name.
  [[nodiscard]] static std::vector<std::string> secrets_in(const std::string& text,
                                                           const std::vector<std::string_view>& secrets) {
    std::vector<std::string> found;
    for (const auto s : secrets) {
      if (contains(text, s)) found.emplace_back(s);
    }
    return found;
  }
};

TEST_F(SecretsInOutput, PlanTextMasksThemForProcessAndMpiJobs) {
  for (const bool mpi : {false, true}) {
    SCOPED_TRACE(mpi ? "mpi" : "process");
    job.write(members(), mpi);
    const auto r = run({"plan"});
    ASSERT_EQ(r.exit_code, 0) << transcript(r);
    EXPECT_TRUE(contains(r.out, "****")) << r.out;
    EXPECT_EQ(secrets_in(r.out + r.err, kAllSecrets), std::vector<std::string>{}) << r.out << r.err;
  }
}

// The program checks that it got the secrets, then fails: smlaunch logs the
// SM_* environment and the command, and writes the failure file.
constexpr std::string_view kFailingCheck = R"(import os, sys
want = {'AWS_SECRET_ACCESS_KEY': 'aws-secret-0f9e8d7c6b5a', 'SM_HP_DB_PASSWORD': 'db-password-9c0d1e2f',
        'SM_HP_API_KEY': 'api-key-3a4b5c6d'}
missing = [n for n, v in want.items() if os.environ.get(n) != v]
if 'db-password-9c0d1e2f' not in sys.argv or missing:
    print('SECRETS MISSING', missing, file=sys.stderr)
    sys.exit(4)
print('Traceback (most recent call last):', file=sys.stderr)
print('RuntimeError: the job fails on purpose', file=sys.stderr)
sys.exit(3)
)";

void SecretsInOutput::install_failing_check() const {
  overwrite(job.base() + "/code/recorder.py", kFailingCheck);
  overwrite(job.base() + "/code/recorder", std::string(kShebang) + std::string(kFailingCheck));
}

TEST_F(SecretsInOutput, TrainLogsAndFailureFileHoldNoneForProcessAndMpiJobs) {
  for (const bool mpi : {false, true}) {
    for (const char* level : {"info", "debug"}) {
      SCOPED_TRACE(std::string(mpi ? "mpi" : "process") + ", --log-level " + level);
      fs::remove_all(job.base() + "/output");
      job.write(members(), mpi);
      install_failing_check();
      const auto r = run({"--log-level", level, "train"});
      EXPECT_EQ(r.exit_code, 1) << transcript(r);
      EXPECT_FALSE(contains(r.err, "SECRETS MISSING")) << transcript(r);
      EXPECT_TRUE(contains(job.failure(), "ExitCode 3")) << shown(job.failure());
      EXPECT_EQ(secrets_in(r.out + r.err, kAllSecrets), std::vector<std::string>{}) << transcript(r);
      EXPECT_EQ(secrets_in(job.failure(), kAllSecrets), std::vector<std::string>{}) << job.failure();
    }
  }
}

// The platform writes each value JSON-encoded; a value that is not JSON is
// used as it is (B165), and the note saying so must not print a secret.
TEST_F(SecretsInOutput, ValueThatIsNotJsonIsNotEchoedWhenItIsASecret) {
  job.write(
      R"("db_password":")" + std::string(kDbPassword) + R"(","api_key":")" + std::string(kApiKey) + "\"",
      false);
  const auto r = run({"train"});
  EXPECT_EQ(r.exit_code, 0) << transcript(r);
  const auto seen = job.seen("single");
  ASSERT_TRUE(seen.has_value()) << transcript(r);
  EXPECT_EQ(seen->get("SM_HP_DB_PASSWORD"), std::string(kDbPassword)) << "the program still gets it";
  EXPECT_EQ(secrets_in(r.out + r.err, {kDbPassword, kApiKey}), std::vector<std::string>{}) << transcript(r);
}

// A problem with a secret's value is reported without the value.
TEST_F(SecretsInOutput, ConfigurationErrorAboutASecretDoesNotEchoIt) {
  // The value decodes to the secret and a NUL: refused.
  job.write(R"("db_password":"\")" + std::string(kDbPassword) + R"(\\u0000\"")", false);
  const auto r = run({"train"});
  EXPECT_EQ(r.exit_code, kExitBadConfiguration) << transcript(r);
  EXPECT_FALSE(error_lines(r.err).empty()) << transcript(r);
  EXPECT_EQ(secrets_in(r.out + r.err, {kDbPassword}), std::vector<std::string>{}) << transcript(r);
  EXPECT_EQ(secrets_in(job.failure(), {kDbPassword}), std::vector<std::string>{}) << job.failure();
}

// `-x NAME=value` in the custom mpirun options sets a variable for every
// rank: a secret-named one is a secret value like any other, and the
// command line smlaunch logs and writes to the failure file masks it.
TEST_F(SecretsInOutput, SecretSetInCustomMpiOptionsIsMaskedInLogsAndFailureFile) {
  job.write(members(R"("sagemaker_mpi_custom_mpi_options":)" +
                    quoted("-x DB_PASSWORD=" + std::string(kMpiOptionSecret))),
            true);
  install_failing_check();
  const auto r = run({"train"});
  EXPECT_EQ(r.exit_code, 1) << transcript(r);
  EXPECT_EQ(secrets_in(r.out + r.err, {kMpiOptionSecret}), std::vector<std::string>{}) << transcript(r);
  EXPECT_EQ(secrets_in(job.failure(), {kMpiOptionSecret}), std::vector<std::string>{}) << job.failure();
  const auto plan = run({"plan"});
  EXPECT_EQ(secrets_in(plan.out + plan.err, {kMpiOptionSecret}), std::vector<std::string>{}) << plan.out;
}

}  // namespace
}  // namespace smlaunch::test
