// Neuron core counting: the `neuron-ls -j` listing and the instance types
// whose count is known without asking.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "smlaunch/hardware.hpp"

namespace smlaunch::hardware {
namespace {

constexpr std::string_view kTrn2_48xlarge = "trn2.48xlarge";
constexpr int kTrn2_48xlargeCores = 64;
constexpr std::size_t kSnippetChars = 60;

/// The start of `text`, on one line and printable, for a warning.
std::string snippet(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kSnippetChars)) {
    out += (c >= ' ' && c <= '~') ? c : '?';
  }
  if (text.size() > kSnippetChars) out += "...";
  return out;
}

/// A JSON value as short printable text, for a warning.
std::string describe(const nlohmann::json& value) {
  return snippet(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

/// Sets *error (when given) and returns nullopt.
std::optional<int> fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

// Returns the summed nc_count (a missing key counts 0). Returns nullopt with
// *error set for output that is not JSON, not an array, has a non-object
// element, or an nc_count that is not a non-negative integer (D26: the
// reference crashed on these), or a sum past INT_MAX. Never throws for bad input.
std::optional<int> sum_neuron_cores(std::string_view neuron_ls_json, std::string* error) {
  const nlohmann::json listing =
      nlohmann::json::parse(neuron_ls_json, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (listing.is_discarded()) {
    return fail(error, "output is not JSON: \"" + snippet(neuron_ls_json) + "\"");
  }
  if (!listing.is_array()) {
    return fail(error, std::string("output is a JSON ") + listing.type_name() + ", not an array");
  }
  std::int64_t total = 0;
  for (std::size_t i = 0; i < listing.size(); ++i) {
    const nlohmann::json& device = listing[i];
    const std::string where = "element " + std::to_string(i);
    if (!device.is_object()) {
      return fail(error, where + " is a JSON " + device.type_name() + ", not an object");
    }
    const auto found = device.find("nc_count");
    if (found == device.end()) continue;
    std::int64_t cores = -1;
    if (found->is_number_unsigned()) {
      cores = static_cast<std::int64_t>(std::min<std::uint64_t>(found->get<std::uint64_t>(), INT_MAX + 1ULL));
    } else if (found->is_number_integer()) {
      cores = found->get<std::int64_t>();
    } else {
      return fail(error, where + ": nc_count is " + describe(*found) + ", not an integer");
    }
    if (cores < 0) return fail(error, where + ": nc_count is negative (" + describe(*found) + ")");
    total += cores;
    if (total > INT_MAX) return fail(error, "the nc_count sum is too large");
  }
  return static_cast<int>(total);
}

// Returns 64 for trn2.48xlarge (any type name containing it, e.g.
// "ml.trn2.48xlarge", B36), else nullopt: those must be probed.
std::optional<int> known_neuron_cores(std::string_view instance_type) {
  if (instance_type.find(kTrn2_48xlarge) != std::string_view::npos) return kTrn2_48xlargeCores;
  return std::nullopt;
}

}  // namespace smlaunch::hardware
