// Fuzzes the three config documents and the whole config -> plan path.
// Input: resourceconfig.json, then hyperparameters.json, then
// inputdataconfig.json, separated by lines of "@@" ("\n@@\n"); a missing
// part is an absent file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::string_view kSeparator = "\n@@\n";
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  bool done = false;
  const auto next = [&]() -> std::optional<std::string_view> {
    if (done) return std::nullopt;
    const std::size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) {
      done = true;
      return rest;
    }
    const std::string_view part = rest.substr(0, at);
    rest = rest.substr(at + kSeparator.size());
    return part;
  };
  smlaunch::fuzz::Documents documents;
  documents.resource_config = next().value_or("");
  documents.hyperparameters = next();
  documents.input_data_config = next();

  smlaunch::fuzz::Setup setup;
  setup.inputs.tools.python = "/usr/bin/python3";
  setup.inputs.tools.hostname_shim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";
  setup.inputs.code.entry_point_exists = true;
  setup.inputs.code.populated = true;
  (void)smlaunch::fuzz::run(documents, setup);
  return 0;
}
