// Fuzzes json.loads (py::loads) and the Python-compatible formatting (str,
// repr, dumps, dumps_indented), with round-trip properties:
//  * dumps(v) decodes again, and dumps of that is the same text (stable);
//  * dumps_indented(v) decodes to a value with the same dumps();
//  * repr/str/upper/code_point_length never crash on what loads returns;
//  * loads refuses input that is not valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "smlaunch/config.hpp"
#include "smlaunch/pyvalue.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "pyjson fuzzer: %s\n  first:  %.*s\n  second: %.*s\n", what, static_cast<int>(a.size()),
               a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

// Walks every string of the value through the Unicode helpers.
void visit_strings(const smlaunch::py::Value& value) {
  using smlaunch::py::Value;
  switch (value.kind()) {
    case Value::Kind::Str: {
      const std::string& s = value.as_str();
      if (!smlaunch::py::is_valid_utf8(s)) fail("loads produced a string that is not valid UTF-8", s);
      (void)smlaunch::py::upper(s);
      if (smlaunch::py::code_point_length(s) > s.size()) fail("more code points than bytes", s);
      (void)smlaunch::py::dumps_string(s);
      break;
    }
    case Value::Kind::List:
      for (const auto& item : value.as_list()) visit_strings(item);
      break;
    case Value::Kind::Dict:
      for (const auto& [key, item] : value.as_dict()) {
        if (!smlaunch::py::is_valid_utf8(key)) fail("loads produced a key that is not valid UTF-8", key);
        (void)smlaunch::py::upper(key);
        visit_strings(item);
      }
      break;
    default:
      break;
  }
}

smlaunch::py::Value must_load(std::string_view text, const char* what) {
  auto decoded = smlaunch::py::loads(text);
  if (const auto* error = std::get_if<smlaunch::py::DecodeError>(&decoded)) fail(what, text, error->message);
  return std::get<smlaunch::py::Value>(std::move(decoded));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace py = smlaunch::py;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = py::loads(text);
  auto* value = std::get_if<py::Value>(&decoded);
  if (value == nullptr) return 0;
  if (!py::is_valid_utf8(text)) fail("loads accepted invalid UTF-8", text);

  visit_strings(*value);
  (void)py::str(*value);
  (void)py::repr(*value);
  (void)value->truthy();
  (void)value->to_int64();
  (void)value->type_name();

  const std::string dumped = py::dumps(*value);
  if (!py::is_valid_utf8(dumped)) fail("dumps produced invalid UTF-8", dumped);
  for (const char c : dumped) {
    if (static_cast<unsigned char>(c) >= 0x80) fail("dumps (ensure_ascii) produced a non-ASCII byte", dumped);
  }
  const py::Value again = must_load(dumped, "dumps output does not load");
  const std::string redumped = py::dumps(again);
  if (redumped != dumped) fail("dumps(loads(dumps(v))) != dumps(v)", dumped, redumped);

  const std::string indented = py::dumps_indented(*value, 2);
  const py::Value from_indented = must_load(indented, "dumps_indented output does not load");
  if (py::dumps(from_indented) != dumped) fail("dumps_indented does not round-trip", dumped, indented);

  // Hyperparameter decoding (B8) over the values of a dict, as the config
  // layer runs it.
  if (value->is_dict()) (void)smlaunch::config::decode_hyperparameters(value->as_dict());
  return 0;
}
