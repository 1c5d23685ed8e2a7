#include "app/secrets.hpp"

#include <algorithm>
#include <set>

namespace smlaunch::app {
namespace {

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  });
  return out;
}

// Words of a name split on anything that is not a letter or digit.
std::vector<std::string> words(const std::string& upper) {
  std::vector<std::string> out;
  std::string current;
  for (char c : upper) {
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

void mask_dict(py::Dict& dict) {
  py::Dict masked;
  for (const auto& [key, value] : dict) {
    masked.append(key, is_secret_name(key) ? py::Value::string(std::string(kMasked)) : value);
  }
  dict = std::move(masked);
}

}  // namespace

bool is_secret_name(std::string_view name) {
  static const std::set<std::string, std::less<>> kSafe = {
      "AWS_ACCESS_KEY_ID", "SM_HP_KEY_SIZE", "KEY_SIZE", "SM_HP_KEYS", "KEYS", "SM_HP_KEY_COLUMN", "KEY_COLUMN"};
  const std::string upper = upper_ascii(name);
  if (kSafe.contains(upper)) return false;
  for (std::string_view marker : {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE"}) {
    if (upper.find(marker) != std::string::npos) return true;
  }
  const auto parts = words(upper);
  return std::any_of(parts.begin(), parts.end(), [](const std::string& w) { return w == "KEY" || w == "APIKEY"; });
}

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
