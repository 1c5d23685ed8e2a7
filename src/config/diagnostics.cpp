#include "smlaunch/diagnostics.hpp"

#include <fmt/format.h>

#include <utility>

namespace smlaunch {

namespace {

// `text` with its control characters shown as \xNN (describe_for_message's
// notation), so that a field named after a user's key ("a\nb" in
// hyperparameters.json) cannot break a message into two log lines.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string Problem::message() const {
  // Each part is made one line here, whatever its source: fields are often
  // the user's own keys and names.
  return fmt::format("{}: {}: {}, expected {}", one_line(file), one_line(field), one_line(found),
                     one_line(expected));
}

void Diagnostics::add(std::string file, std::string field, std::string found,
                      std::string expected) {
  problems_.push_back(
      Problem{std::move(file), std::move(field), std::move(found), std::move(expected)});
}

void Diagnostics::checkpoint() const {
  if (!problems_.empty()) throw ConfigError(problems_);
}

static std::string first_message(const std::vector<Problem>& problems) {
  return problems.empty() ? std::string("invalid configuration") : problems.front().message();
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(first_message(problems)), problems_(std::move(problems)) {}

std::string describe_for_message(std::string_view text, std::size_t max_chars) {
  // Messages are one line: control characters are shown escaped, and long
  // values are cut so a 1 MB hyperparameter cannot flood the log.
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown == max_chars) {
      out += fmt::format("...\" ({} bytes)", text.size());
      return out;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
    ++shown;
  }
  out += '"';
  return out;
}

}  // namespace smlaunch
