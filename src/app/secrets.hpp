// Masking secrets in what smlaunch prints (SPEC "Logging hygiene", D30).
//
// The reference logs every SM_* value, hyperparameters included, in its
// "Invoking user script" block. A value is masked when its name looks like a
// secret: it contains SECRET, TOKEN, PASSWORD, PASSWD, CREDENTIAL or
// PRIVATE, or KEY as a word of the name (API_KEY, SM_HP_KEY, ...), unless
// the name is known to be safe (AWS_ACCESS_KEY_ID, an identifier; key_size,
// ...). Hyperparameters are masked before the SM_* values are derived, so a
// secret does not leak through SM_HPS, SM_TRAINING_ENV or SM_USER_ARGS
// either.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/secret_names.hpp"
#include "smlaunch/config.hpp"
#include "smlaunch/plan.hpp"

namespace smlaunch::app {

inline constexpr std::string_view kMasked = config::kMaskedValue;

/// True when a variable or hyperparameter called `name` holds a secret (the
/// rule lives in config/, shared with the /etc/environment block).
using config::is_secret_name;

/// A copy of `env` whose secret hyperparameters (user and framework) are
/// replaced by kMasked.
[[nodiscard]] config::TrainingEnv mask_training_env(const config::TrainingEnv& env);

/// `plan.env` for display: secret names masked, and SM_* values rebuilt from
/// the masked training environment.
[[nodiscard]] env::EnvMap masked_environment(const config::TrainingEnv& env, const plan::LaunchPlan& plan);

/// The values that custom mpirun options `text` (a *_custom_mpi_options
/// hyperparameter) give to secret-named variables with `-x NAME=value`; none
/// when the text does not parse.
[[nodiscard]] std::vector<std::string> secrets_in_custom_mpi_options(std::string_view text);

/// `text` (custom mpirun options) for display: the values of secret-named
/// `-x NAME=value` replaced by kMasked (all of it when one cannot be found
/// as written).
[[nodiscard]] std::string mask_custom_mpi_options(std::string_view text);

/// `argv` for display: the value after a hyperparameter flag of a secret
/// hyperparameter ("--api_token X") is masked, and so is the value of
/// `-x NAME=value` (--x, -env, --env) for a secret NAME.
[[nodiscard]] std::vector<std::string> masked_argv(const config::TrainingEnv& env,
                                                   const std::vector<std::string>& argv);

}  // namespace smlaunch::app
