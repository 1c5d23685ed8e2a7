#include "config/secret_names.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace smlaunch::config {
namespace {

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; });
  return out;
}

// Words of an upper-cased name, split on anything not a letter or digit.
std::vector<std::string> words(const std::string& upper) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : upper) {
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      current += c;
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

bool is_secret_name(std::string_view name) {
  static const std::set<std::string, std::less<>> kSafe = {
      "AWS_ACCESS_KEY_ID", "SM_HP_KEY_SIZE", "KEY_SIZE", "SM_HP_KEYS", "KEYS",
      "SM_HP_KEY_COLUMN",  "KEY_COLUMN"};
  const std::string upper = upper_ascii(name);
  if (kSafe.contains(upper)) return false;
  for (const std::string_view marker : {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE"}) {
    if (upper.find(marker) != std::string::npos) return true;
  }
  const auto parts = words(upper);
  return std::any_of(parts.begin(), parts.end(),
                     [](const std::string& w) { return w == "KEY" || w == "APIKEY"; });
}

bool assigns_secret_name(std::string_view text) {
  const auto name_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  for (auto eq = text.find('='); eq != std::string_view::npos; eq = text.find('=', eq + 1)) {
    std::size_t start = eq;
    while (start > 0 && name_char(text[start - 1])) --start;
    if (start < eq && is_secret_name(text.substr(start, eq - start))) return true;
  }
  return false;
}

}  // namespace smlaunch::config
