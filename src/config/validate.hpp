// Field checks shared by the config readers. Each check adds a Problem and
// returns false when the value is unusable.
#pragma once

#include <string>
#include <string_view>

#include "smlaunch/diagnostics.hpp"
#include "smlaunch/pyvalue.hpp"

namespace smlaunch::config {

/// "got 42", "got \"eight\"", "got null": what a message says was found.
[[nodiscard]] std::string found_value(const py::Value& value);

/// A host name usable in an mpirun --host list and an ssh destination:
/// 1-253 characters of letters, digits, '.', '-' and '_'.
[[nodiscard]] bool is_host_name(std::string_view name);
bool check_host_name(const py::Value& value, std::string_view file, const std::string& field,
                     Diagnostics& diagnostics);

/// True when `text` holds a byte below 0x20 or 0x7f (NUL, newline, ...).
[[nodiscard]] bool has_control_character(std::string_view text);

/// A Linux interface name: 1-15 bytes, no '/', ',', ':', whitespace or controls.
[[nodiscard]] bool is_interface_name(std::string_view name);

/// A channel name that can be a directory name and part of an env name.
[[nodiscard]] bool is_channel_name(std::string_view name);

/// Hyperparameter keys must be usable in an environment variable name
/// (no '=' and no NUL, D27); '-' is allowed (SM_HP_LEARNING-RATE, B44).
/// String values must not hold NUL (they reach env and argv raw).
void check_hyperparameter_keys(const py::Dict& hyperparameters, Diagnostics& diagnostics);

/// A framework hyperparameter that must be a string when present.
[[nodiscard]] std::string string_hp_or(const py::Dict& hps, std::string_view key,
                                       std::string_view fallback, Diagnostics& diagnostics);

}  // namespace smlaunch::config
