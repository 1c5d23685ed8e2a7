// The SM_* environment and the user's command-line arguments (B40-B51),
// byte for byte as the Python toolkit's mapping.to_env_vars / to_cmd_args
// produce them, in the same order (the order of the mpirun -x flags, B96).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "smlaunch/config.hpp"
#include "smlaunch/pyvalue.hpp"

namespace smlaunch::env {

/// Ordered environment assignments. Setting an existing name replaces its
/// value in place (a Python dict's behaviour, which the reference relies on).
class EnvMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  void set(std::string name, std::string value);
  [[nodiscard]] const std::string* find(std::string_view name) const;
  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

/// mapping.to_env_vars for one key: "SM_" + Python str.upper(key), "" for "".
[[nodiscard]] std::string env_name(std::string_view key);
/// mapping.to_env_vars for one value: str raw, None "", else compact sorted
/// ensure_ascii JSON.
[[nodiscard]] std::string env_value(const py::Value& value);

/// The dict(Environment()) of B46: the 37 properties, for SM_TRAINING_ENV.
[[nodiscard]] py::Value training_env_value(const config::TrainingEnv& env);

/// Environment.to_env_vars(): the 31 fixed SM_* names, SM_TOPOLOGY when the
/// topology is non-empty, SM_CHANNEL_<NAME> per channel, SM_HP_<KEY> per user
/// hyperparameter (B42-B46).
[[nodiscard]] EnvMap to_env_vars(const config::TrainingEnv& env);

/// mapping.to_cmd_args(hyperparameters) (B48-B51).
[[nodiscard]] std::vector<std::string> to_cmd_args(const py::Dict& hyperparameters);

}  // namespace smlaunch::env
