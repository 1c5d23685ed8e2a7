#include "cluster/outcome.hpp"

#include <nlohmann/json.hpp>

namespace smlaunch::cluster {

namespace {
constexpr std::size_t kMessageLimit = 1024;

// At most `limit` bytes of `text`, not cutting a UTF-8 sequence in two.
std::string head(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
  return std::string(text.substr(0, end));
}
}  // namespace

std::string outcome_path(std::string_view dir, std::string_view leader) {
  std::string path(dir);
  if (path.empty() || path.back() != '/') path += '/';
  return path + "done." + std::string(leader);
}

std::string readiness_path(std::string_view dir, std::string_view host) {
  std::string path(dir);
  if (path.empty() || path.back() != '/') path += '/';
  return path + "smlaunch-ready." + std::string(host);
}

std::string to_text(const Outcome& outcome) {
  nlohmann::ordered_json j;
  j["exit_code"] = outcome.exit_code;
  j["status"] = outcome.success() ? "success" : "failure";
  if (!outcome.success()) {
    j["class"] = outcome.error_class;
    j["message"] = head(outcome.message, kMessageLimit);
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::optional<Outcome> parse_outcome(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("exit_code") || !j["exit_code"].is_number_integer()) return std::nullopt;
  Outcome outcome;
  const auto code = j["exit_code"].get<long long>();
  if (code < 0 || code > 255) return std::nullopt;
  outcome.exit_code = static_cast<int>(code);
  if (const auto c = j.find("class"); c != j.end() && c->is_string()) outcome.error_class = c->get<std::string>();
  if (const auto m = j.find("message"); m != j.end() && m->is_string()) outcome.message = m->get<std::string>();
  return outcome;
}

}  // namespace smlaunch::cluster
