#include "app/secrets.hpp"

#include <set>

namespace smlaunch::app {
namespace {

void mask_dict(py::Dict& dict) {
  py::Dict masked;
  for (const auto& [key, value] : dict) {
    masked.append(key, is_secret_name(key) ? py::Value::string(std::string(kMasked)) : value);
  }
  dict = std::move(masked);
}

}  // namespace

config::TrainingEnv mask_training_env(const config::TrainingEnv& env) {
  config::TrainingEnv masked = env;
  mask_dict(masked.hyperparameters);
  mask_dict(masked.additional_framework_parameters);
  mask_dict(masked.sagemaker_hyperparameters);
  return masked;
}

env::EnvMap masked_environment(const config::TrainingEnv& env, const plan::LaunchPlan& plan) {
  const env::EnvMap sm = env::to_env_vars(mask_training_env(env));
  env::EnvMap out;
  for (const auto& [name, value] : plan.env) {
    if (is_secret_name(name)) {
      out.set(name, std::string(kMasked));
    } else if (const std::string* masked = sm.find(name)) {
      out.set(name, *masked);
    } else {
      out.set(name, value);
    }
  }
  return out;
}

std::vector<std::string> masked_argv(const config::TrainingEnv& env, const std::vector<std::string>& argv) {
  std::set<std::string, std::less<>> secret_flags;
  for (const auto& [key, value] : env.hyperparameters) {
    if (is_secret_name(key)) secret_flags.insert((py::code_point_length(key) > 1 ? "--" : "-") + key);
  }
  std::vector<std::string> out = argv;
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    if (secret_flags.contains(out[i])) out[i + 1] = std::string(kMasked);
  }
  return out;
}

}  // namespace smlaunch::app
