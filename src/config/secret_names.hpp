// Which variable and hyperparameter names hold secrets (SPEC "Logging
// hygiene", D30): one rule for every layer that must keep secret values out
// of sight, the log masking (app/secrets) and the world-readable
// /etc/environment block (cluster/etc_environment).
#pragma once

#include <string_view>

namespace smlaunch::config {

/// What a secret's value is shown as wherever smlaunch prints it.
inline constexpr std::string_view kMaskedValue = "****";

/// True when a variable or hyperparameter called `name` holds a secret: the
/// name (ASCII case ignored) contains SECRET, TOKEN, PASSWORD, PASSWD,
/// CREDENTIAL or PRIVATE, or has KEY or APIKEY as a word (API_KEY,
/// SM_HP_KEY, ...; words are split on anything not a letter or digit),
/// unless it is known to be safe (AWS_ACCESS_KEY_ID, an identifier;
/// KEY_SIZE, KEYS, KEY_COLUMN and their SM_HP_ forms).
[[nodiscard]] bool is_secret_name(std::string_view name);

/// True when `text` holds `NAME=` for a secret NAME (letters, digits and
/// '_' before an '='), as in custom mpirun options `-x DB_PASSWORD=...`: a
/// text that may set a secret, not to be printed as it is.
[[nodiscard]] bool assigns_secret_name(std::string_view text);

}  // namespace smlaunch::config
