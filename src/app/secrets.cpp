#include "app/secrets.hpp"

#include <set>
#include <variant>

#include "smlaunch/mpi_options.hpp"

namespace smlaunch::app {
namespace {

// sagemaker_mpi_custom_mpi_options, sagemaker_distributed_dataparallel_custom_mpi_options.
constexpr std::string_view kCustomMpiOptionsSuffix = "custom_mpi_options";

void mask_dict(py::Dict& dict) {
  py::Dict masked;
  for (const auto& [key, value] : dict) {
    if (is_secret_name(key)) {
      masked.append(key, py::Value::string(std::string(kMasked)));
    } else if (key.ends_with(kCustomMpiOptionsSuffix) && value.is_str()) {
      masked.append(key, py::Value::string(mask_custom_mpi_options(value.as_str())));
    } else {
      masked.append(key, value);
    }
  }
  dict = std::move(masked);
}

}  // namespace

std::vector<std::string> secrets_in_custom_mpi_options(std::string_view text) {
  std::vector<std::string> secrets;
  const auto parsed = mpi::parse_custom_options(text);
  const auto* options = std::get_if<mpi::CustomOptions>(&parsed);
  if (options == nullptr) return secrets;
  for (auto& [name, value] : mpi::exported_assignments(options->passthrough)) {
    if (is_secret_name(name) && !value.empty()) secrets.push_back(std::move(value));
  }
  return secrets;
}

std::string mask_custom_mpi_options(std::string_view text) {
  std::string out(text);
  for (const auto& secret : secrets_in_custom_mpi_options(text)) {
    // Quoting can make the value differ from how it is written (-x
    // 'A=x'"y"): then nothing of the text is shown.
    if (out.find(secret) == std::string::npos) return std::string(kMasked);
    for (auto at = out.find(secret); at != std::string::npos; at = out.find(secret, at + kMasked.size())) {
      out.replace(at, secret.size(), kMasked);
    }
  }
  return out;
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
    if (secret_flags.contains(out[i])) {
      out[i + 1] = std::string(kMasked);
    } else if (mpi::is_export_option(out[i])) {
      // mpirun's -x NAME=value (from the custom MPI options): a secret-named
      // variable's value is a secret like any other.
      std::string& operand = out[i + 1];
      const auto eq = operand.find('=');
      if (eq != std::string::npos && is_secret_name(std::string_view(operand).substr(0, eq))) {
        operand.resize(eq + 1);
        operand += kMasked;
      }
    } else {
      continue;
    }
    ++i;
  }
  return out;
}

}  // namespace smlaunch::app
