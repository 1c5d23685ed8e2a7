// The user's custom mpirun options: POSIX-shell word splitting without any
// expansion, the reference's `--NCCL_DEBUG` handling (argparse-compatible,
// abbreviations included), and refusal of what must not reach mpirun (defect
// D22: argparse exited 0 on --help and 2 on -host/-hostfile). Also the Open MPI
// major version from `mpirun --version`.
#include "smlaunch/mpi_options.hpp"

#include "smlaunch/diagnostics.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smlaunch::mpi {
namespace {

constexpr std::string_view kNcclDebugName = "NCCL_DEBUG";  // without the leading "--"
constexpr std::string_view kHostListReason =
    "smlaunch passes the host list from resourceconfig.json";
constexpr std::string_view kHelpReason =
    "it would make the launcher print its help and exit instead of training";

/// Returns an OptionsError carrying `message`.
OptionsError make_error(std::string message) { return OptionsError{std::move(message)}; }

/// True for the characters that separate words in the shell: space, tab,
/// newline (not \r, \v, \f: POSIX sh treats those as ordinary characters).
constexpr bool is_word_separator(char c) { return c == ' ' || c == '\t' || c == '\n'; }

/// True for the characters a backslash escapes inside double quotes
/// (POSIX 2.2.3); before any other character the backslash stays literal.
constexpr bool is_double_quote_escapable(char c) {
  return c == '"' || c == '\\' || c == '$' || c == '`';
}

/// Splits `text` into words as POSIX sh would, performing quote removal but no
/// expansion of any kind: no parameters, commands, arithmetic, globbing,
/// comments or operators (`;`, `|`, `&&`, `$(...)` and backquotes stay text).
/// Returns the words, or an OptionsError naming the byte offset of a NUL byte,
/// an unterminated quote (offset of the opening quote) or a trailing lone
/// backslash. Runs in time linear in text.size().
std::variant<std::vector<std::string>, OptionsError> split_shell_words(std::string_view text) {
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return make_error("NUL byte at offset " + std::to_string(nul));
  }
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // '' must yield an empty word, so track "started"
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (is_word_separator(c)) {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    if (c == '\'') {
      const std::size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return make_error("unterminated single quote at offset " + std::to_string(i));
      }
      word.append(text.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
      continue;
    }
    if (c == '"') {
      const std::size_t open = i;
      in_word = true;
      bool closed = false;
      for (++i; i < n; ++i) {
        const char d = text[i];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\' && i + 1 < n) {
          const char next = text[i + 1];
          if (is_double_quote_escapable(next)) {
            word.push_back(next);
            ++i;
            continue;
          }
          if (next == '\n') {  // line continuation: both characters vanish
            ++i;
            continue;
          }
        }
        word.push_back(d);
      }
      if (!closed) {
        return make_error("unterminated double quote at offset " + std::to_string(open));
      }
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= n) {
        return make_error("trailing backslash at offset " + std::to_string(i));
      }
      const char next = text[i + 1];
      ++i;
      if (next == '\n') {  // line continuation; does not start or end a word
        continue;
      }
      word.push_back(next);
      in_word = true;
      continue;
    }
    word.push_back(c);
    in_word = true;
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

/// An option token cut into its parts: `--name=value` gives dashes 2, name
/// "name", value "value" and has_value true.
struct OptionParts {
  std::size_t dashes = 0;
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

/// Returns the parts of `token` when it looks like an option (a '-' followed
/// by at least one character); nullopt for plain words, "-" and "".
std::optional<OptionParts> option_parts(std::string_view token) {
  if (token.size() < 2 || token[0] != '-') {
    return std::nullopt;
  }
  OptionParts parts;
  parts.dashes = token[1] == '-' ? 2 : 1;
  const std::string_view body = token.substr(parts.dashes);
  const std::size_t eq = body.find('=');
  parts.name = body.substr(0, eq);
  if (eq != std::string_view::npos) {
    parts.has_value = true;
    parts.value = body.substr(eq + 1);
  }
  return parts;
}

/// True when `name` is `full` or an abbreviation of it at least `min_length`
/// characters long (getopt_long in Open MPI 5 and argparse both accept
/// unique prefixes of long options).
bool abbreviates(std::string_view name, std::string_view full, std::size_t min_length) {
  return name.size() >= min_length && name.size() <= full.size() && full.starts_with(name);
}

/// A long option smlaunch refuses, with the shortest prefix that still
/// selects it unambiguously in mpirun (4.x and 5.x) or argparse.
struct RefusedOption {
  std::string_view full;   // without dashes
  std::size_t min_length;  // shortest accepted abbreviation
  std::string_view reason;
};

// "host" has to be written in full ("--hos" is ambiguous with --hostfile for
// getopt_long); "hostf" is the shortest unambiguous --hostfile. No other
// mpirun option starts with "mac" or "def", and argparse read "--he" as --help.
constexpr std::array<RefusedOption, 5> kRefusedLongOptions = {{
    {"host", 4, kHostListReason},
    {"hostfile", 5, kHostListReason},
    {"machinefile", 3, kHostListReason},
    {"default-hostfile", 3, kHostListReason},
    {"help", 2, kHelpReason},
}};

/// Returns the refusal message for an option token that would make mpirun
/// read its hosts from the user or print help (-h, --help, -help, --he...,
/// -host, --host, -H, -hostfile, --hostfile, -machinefile, --machinefile,
/// --default-hostfile, -default-hostfile, their `=value` forms and their
/// unambiguous abbreviations); nullopt for every other token.
std::optional<std::string> refusal_for(std::string_view token, const OptionParts& parts) {
  const std::string_view written = token.substr(0, parts.dashes + parts.name.size());
  if (parts.name == "h") {  // -h, and --h which argparse read as --help
    return std::string(written) + " is not allowed: " + std::string(kHelpReason);
  }
  if (parts.dashes == 1 && parts.name == "H") {
    return std::string(written) + " is not allowed: " + std::string(kHostListReason);
  }
  for (const RefusedOption& refused : kRefusedLongOptions) {
    if (parts.name == refused.full) {
      return std::string(written) + " is not allowed: " + std::string(refused.reason);
    }
  }
  for (const RefusedOption& refused : kRefusedLongOptions) {
    if (abbreviates(parts.name, refused.full, refused.min_length)) {
      return std::string(written) + " (read as --" + std::string(refused.full) +
             ") is not allowed: " + std::string(refused.reason);
    }
  }
  return std::nullopt;
}

// MCA parameters. On more than one host Open MPI 4 appends the `-mca NAME
// VALUE` pairs it was given (those without a space) to the command line of
// `ssh HOST orted ...`, unquoted, and the worker's login shell parses that
// line: `$(...)`, backquotes, `;`, redirections, globs and quotes in a name
// or value would be interpreted there, and a tab or newline would split the
// command. So names and values are held to characters no shell treats
// specially; anything else has to go another way (the environment,
// OMPI_MCA_<name>, which is never put on a command line).
constexpr std::array<std::string_view, 4> kMcaOptions = {"mca", "gmca", "prtemca", "pmixmca"};
constexpr std::string_view kMcaAllowed =
    "letters, digits and _ - . , : / ^ + = @ % (no spaces, quotes or other shell syntax: Open MPI "
    "puts MCA parameters on the ssh command line that starts its daemons on the other hosts)";

/// True for a byte that a POSIX shell (bash, dash) reads as itself wherever
/// it stands in an argument word.
constexpr bool is_shell_inert(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ',' || c == ':' || c == '/' || c == '^' || c == '+' || c == '=' ||
         c == '@' || c == '%';
}

/// Returns the refusal for an MCA option (`-mca NAME VALUE`, also --mca,
/// -gmca, --prtemca, --pmixmca) whose name or value holds a byte that is not
/// shell-inert; nullopt otherwise, and for a missing name or value (mpirun
/// reports those itself). `at` indexes the option token in `tokens`.
std::optional<std::string> mca_refusal(const std::vector<std::string>& tokens, std::size_t at,
                                       const OptionParts& parts) {
  if (parts.has_value ||
      std::find(kMcaOptions.begin(), kMcaOptions.end(), parts.name) == kMcaOptions.end()) {
    return std::nullopt;
  }
  const std::string& option = tokens[at];
  for (std::size_t i = at + 1; i <= at + 2 && i < tokens.size(); ++i) {
    const std::string& word = tokens[i];
    const bool is_name = i == at + 1;
    const bool inert = !word.empty() && std::all_of(word.begin(), word.end(), is_shell_inert);
    if (inert) continue;
    const std::string what = is_name ? option : option + " " + tokens[at + 1];
    return what + (is_name ? ": the parameter name " : ": the value ") + describe_for_message(word) +
           " is not allowed; an MCA parameter name and value may only hold " + std::string(kMcaAllowed);
  }
  return std::nullopt;
}

/// Returns the error for `--NCCL_DEBUG` given without a usable value.
OptionsError nccl_debug_needs_value() {
  return make_error("--NCCL_DEBUG expects a value, e.g. --NCCL_DEBUG WARN");
}

/// Returns the major of the version number "<digits>.<digit>..." that `text`
/// starts with; nullopt when text does not start that way. The value
/// saturates at 1000 so absurd inputs cannot overflow.
std::optional<int> leading_major(std::string_view text) {
  std::size_t i = 0;
  int major = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (major < 1000) {
      major = major * 10 + (text[i] - '0');
    }
    ++i;
  }
  if (i == 0 || i + 1 >= text.size() || text[i] != '.' || text[i + 1] < '0' || text[i + 1] > '9') {
    return std::nullopt;
  }
  return major;
}

/// Returns the major of the first "<digits>.<digits>" version number after
/// position `from` on the same line of `output`; nullopt when the line has none.
std::optional<int> first_version_on_line(std::string_view output, std::size_t from) {
  std::size_t line_end = output.find('\n', from);
  if (line_end == std::string_view::npos) {
    line_end = output.size();
  }
  for (std::size_t i = from; i < line_end; ++i) {
    const char c = output[i];
    if (c < '0' || c > '9') {
      continue;
    }
    if (i > from) {
      const char before = output[i - 1];
      if ((before >= '0' && before <= '9') || before == '.') {
        continue;  // inside a number we already rejected
      }
    }
    if (const std::optional<int> major = leading_major(output.substr(i, line_end - i))) {
      return major;
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<CustomOptions, OptionsError> parse_custom_options(std::string_view text) {
  auto split = split_shell_words(text);
  if (auto* error = std::get_if<OptionsError>(&split)) {
    return std::move(*error);
  }
  std::vector<std::string>& tokens = std::get<std::vector<std::string>>(split);

  CustomOptions result;
  result.passthrough.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string& token = tokens[i];
    if (token == "--") {
      // argparse passed "--" on; mpirun then takes everything after it,
      // the training command included, as the program to run.
      return make_error(
          "-- is not allowed: mpirun would take everything after it, including the training "
          "command, as the program to run");
    }
    const std::optional<OptionParts> parts = option_parts(token);
    if (!parts) {
      result.passthrough.push_back(std::move(token));
      continue;
    }
    if (std::optional<std::string> refusal = refusal_for(token, *parts)) {
      return make_error(std::move(*refusal));
    }
    // argparse (allow_abbrev) matched --N, --NC, ..., --NCCL_DEBUG; the only
    // other long option it knew was --help, which no "--N..." prefix selects.
    if (parts->dashes == 2 && abbreviates(parts->name, kNcclDebugName, 1)) {
      if (parts->has_value) {
        if (parts->value.empty()) {
          return nccl_debug_needs_value();
        }
        result.nccl_debug = std::string(parts->value);
        continue;
      }
      if (i + 1 >= tokens.size() || tokens[i + 1].empty() || tokens[i + 1][0] == '-') {
        return nccl_debug_needs_value();
      }
      result.nccl_debug = std::move(tokens[i + 1]);
      ++i;
      continue;
    }
    result.passthrough.push_back(std::move(token));
  }
  // MCA words are checked as mpirun will get them: once --NCCL_DEBUG and its
  // value are taken out, a word that followed them becomes an MCA value.
  for (std::size_t i = 0; i < result.passthrough.size(); ++i) {
    const std::optional<OptionParts> parts = option_parts(result.passthrough[i]);
    if (!parts) continue;
    if (std::optional<std::string> refusal = mca_refusal(result.passthrough, i, *parts)) {
      return make_error(std::move(*refusal));
    }
  }
  return result;
}

bool is_export_option(std::string_view word) {
  return word == "-x" || word == "--x" || word == "-env" || word == "--env";
}

std::vector<Assignment> exported_assignments(const std::vector<std::string>& words) {
  std::vector<Assignment> out;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (!is_export_option(words[i])) continue;
    const std::string& operand = words[i + 1];
    const std::size_t eq = operand.find('=');
    if (eq != std::string::npos && eq > 0) out.push_back({operand.substr(0, eq), operand.substr(eq + 1)});
    ++i;
  }
  return out;
}

std::optional<OpenMpiVersion> parse_mpirun_version(std::string_view output) {
  // Open MPI 1.x-4.x: "mpirun (Open MPI) 4.1.4"; some 1.x builds said
  // "orterun (OpenRTE) 1.x". Open MPI 5.x: "mpirun (Open MPI) 5.0.3" (the
  // mpirun wrapper exports OMPI_VERSION/OMPI_TOOL_NAME for PRRTE's schizo/ompi),
  // or, from early 5.0 wrappers that did not, PRRTE's own "prterun (PRRTE)
  // 3.0.2" -- PRRTE is the Open MPI 5 launcher whatever its own number says.
  struct Marker {
    std::string_view text;
    bool always_v5;
  };
  constexpr std::array<Marker, 3> kMarkers = {{
      {"Open MPI", false},
      {"OpenRTE", false},
      {"(PRRTE)", true},
  }};
  std::optional<OpenMpiVersion> found;
  std::size_t found_at = std::string_view::npos;
  for (const Marker& marker : kMarkers) {
    for (std::size_t at = output.find(marker.text); at != std::string_view::npos;
         at = output.find(marker.text, at + 1)) {
      if (at >= found_at) {
        break;  // an earlier marker already answered
      }
      const std::optional<int> major = first_version_on_line(output, at + marker.text.size());
      if (!major) {
        continue;
      }
      found_at = at;
      if (marker.always_v5 || *major >= 5) {
        found = OpenMpiVersion::V5;
      } else {
        found = OpenMpiVersion::V4;
      }
      break;
    }
  }
  return found;
}

}  // namespace smlaunch::mpi
