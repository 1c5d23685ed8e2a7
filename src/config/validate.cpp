#include "config/validate.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "smlaunch/config.hpp"

namespace smlaunch::config {

std::string found_value(const py::Value& value) {
  if (value.is_str()) return "got " + describe_for_message(value.as_str());
  std::string text = py::dumps(value);
  if (text.size() > 60) text = fmt::format("{}... ({})", text.substr(0, 60), value.type_name());
  return "got " + text;
}

bool is_host_name(std::string_view name) {
  constexpr std::size_t kMaxHostNameLength = 253;
  if (name.empty() || name.size() > kMaxHostNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
  });
}

bool check_host_name(const py::Value& value, std::string_view file, const std::string& field,
                     Diagnostics& diagnostics) {
  if (!value.is_str()) {
    diagnostics.add(std::string(file), field, found_value(value), "a host name as a string");
    return false;
  }
  if (!is_host_name(value.as_str())) {
    diagnostics.add(std::string(file), field, found_value(value),
                    "a host name of 1 to 253 letters, digits, '.', '-' or '_'");
    return false;
  }
  return true;
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7f;
  });
}

bool is_interface_name(std::string_view name) {
  constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
  if (name.empty() || name.size() > kMaxInterfaceName) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return c == '/' || c == ',' || c == ':' || c == ' ' || b < 0x21 || b == 0x7f;
  });
}

bool is_channel_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return c == '/' || c == '=' || b < 0x20 || b == 0x7f;
  });
}

void check_hyperparameter_keys(const py::Dict& hyperparameters, Diagnostics& diagnostics) {
  for (const auto& [key, value] : hyperparameters) {
    // A string value reaches the environment and argv raw: no NUL possible.
    if (value.is_str() && value.as_str().find('\0') != std::string::npos) {
      diagnostics.add(std::string(kHyperparametersFile), describe_for_message(key),
                      "a value containing a NUL character",
                      "text without NUL characters (environment values and arguments cannot hold them)");
    }
    if (key.find('=') != std::string::npos) {
      diagnostics.add(std::string(kHyperparametersFile), describe_for_message(key),
                      "a key containing '='", "a key usable as an environment variable name");
    } else if (key.find('\0') != std::string::npos) {
      diagnostics.add(std::string(kHyperparametersFile), describe_for_message(key),
                      "a key containing a NUL character",
                      "a key usable as an environment variable name");
    }
  }
}

std::string string_hp_or(const py::Dict& hps, std::string_view key, std::string_view fallback,
                         Diagnostics& diagnostics) {
  const py::Value* v = hps.find(key);
  if (v == nullptr) return std::string(fallback);
  if (!v->is_str() || v->as_str().find('\0') != std::string::npos) {
    diagnostics.add(std::string(kHyperparametersFile), std::string(key), found_value(*v),
                    "a string without NUL characters");
    return std::string(fallback);
  }
  return v->as_str();
}

}  // namespace smlaunch::config
