#include "smlaunch/sm_env.hpp"

#include <algorithm>

namespace smlaunch::env {

void EnvMap::set(std::string name, std::string value) {
  if (const auto it = index_.find(name); it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(value));
}

const std::string* EnvMap::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

std::string env_name(std::string_view key) {
  if (key.empty()) return {};
  return "SM_" + py::upper(key);
}

std::string env_value(const py::Value& value) {
  if (value.is_none()) return {};
  if (value.is_str()) return value.as_str();
  return py::dumps(value);
}

namespace {

py::Value strings(const std::vector<std::string>& items) {
  py::List list;
  list.reserve(items.size());
  for (const auto& s : items) list.push_back(py::Value::string(s));
  return py::Value::list(std::move(list));
}

py::Value optional_string(const std::optional<std::string>& s) {
  return s ? py::Value::string(*s) : py::Value::none();
}

py::Value sorted_channel_names(const py::Dict& channels) {
  std::vector<std::string> names;
  for (const auto& [name, dir] : channels) names.push_back(name);
  std::sort(names.begin(), names.end(), py::code_point_less);
  return strings(names);
}

}  // namespace

py::Value training_env_value(const config::TrainingEnv& env) {
  // Insertion order does not matter: SM_TRAINING_ENV is dumped with sorted keys.
  py::Dict d;
  d.append("additional_framework_parameters", py::Value::dict(env.additional_framework_parameters));
  d.append("channel_input_dirs", py::Value::dict(env.channel_input_dirs));
  d.append("current_host", py::Value::string(env.current_host));
  d.append("current_instance_group", py::Value::string(env.current_instance_group));
  d.append("current_instance_group_hosts", env.current_instance_group_hosts);
  d.append("current_instance_type", py::Value::string(env.current_instance_type));
  d.append("distribution_hosts", strings(env.distribution_hosts));
  d.append("distribution_instance_groups", env.distribution_instance_groups);
  d.append("framework_module", optional_string(env.framework_module));
  d.append("hosts", strings(env.hosts));
  d.append("hyperparameters", py::Value::dict(env.hyperparameters));
  d.append("input_config_dir", py::Value::string(env.paths.input_config));
  d.append("input_data_config", env.input_data_config);
  d.append("input_dir", py::Value::string(env.paths.input));
  d.append("instance_groups", strings(env.instance_groups));
  d.append("instance_groups_dict", py::Value::dict(env.instance_groups_dict));
  d.append("is_hetero", py::Value::boolean(env.is_hetero));
  d.append("is_master", py::Value::boolean(env.is_master));
  d.append("is_modelparallel_enabled", env.is_modelparallel_enabled);
  d.append("is_smddpmprun_installed", py::Value::boolean(env.is_smddpmprun_installed));
  d.append("is_smddprun_installed", py::Value::boolean(env.is_smddprun_installed));
  d.append("job_name", optional_string(env.job_name));
  d.append("log_level", env.log_level);
  d.append("master_hostname", py::Value::string(env.master_hostname));
  d.append("model_dir", py::Value::string(env.paths.model));
  d.append("module_dir", py::Value::string(env.module_dir));
  d.append("module_name", py::Value::string(env.module_name));
  d.append("network_interface_name", py::Value::string(env.network_interface_name));
  d.append("num_cpus", py::Value::integer(env.hardware.cpus));
  d.append("num_gpus", py::Value::integer(env.hardware.gpus));
  d.append("num_neurons", py::Value::integer(env.hardware.neuron_cores));
  d.append("output_data_dir", py::Value::string(env.paths.output_data));
  d.append("output_dir", py::Value::string(env.paths.output));
  d.append("output_intermediate_dir", py::Value::string(env.paths.output_intermediate));
  d.append("resource_config", env.resource_config);
  d.append("topology", env.topology);
  d.append("user_entry_point", env.user_entry_point);
  return py::Value::dict(std::move(d));
}

EnvMap to_env_vars(const config::TrainingEnv& env) {
  // Environment.to_env_vars builds this dict, then maps every key and value.
  py::Dict d;
  d.append("hosts", strings(env.hosts));
  d.append("network_interface_name", py::Value::string(env.network_interface_name));
  d.append("hps", py::Value::dict(env.hyperparameters));
  d.append("user_entry_point", env.user_entry_point);
  d.append("framework_params", py::Value::dict(env.additional_framework_parameters));
  d.append("resource_config", env.resource_config);
  d.append("input_data_config", env.input_data_config);
  d.append("output_data_dir", py::Value::string(env.paths.output_data));
  d.append("channels", sorted_channel_names(env.channel_input_dirs));
  d.append("current_host", py::Value::string(env.current_host));
  d.append("current_instance_type", py::Value::string(env.current_instance_type));
  d.append("current_instance_group", py::Value::string(env.current_instance_group));
  d.append("current_instance_group_hosts", env.current_instance_group_hosts);
  d.append("instance_groups", strings(env.instance_groups));
  d.append("instance_groups_dict", py::Value::dict(env.instance_groups_dict));
  d.append("distribution_instance_groups", env.distribution_instance_groups);
  d.append("is_hetero", py::Value::boolean(env.is_hetero));
  d.append("module_name", py::Value::string(env.module_name));
  d.append("log_level", env.log_level);
  d.append("framework_module", optional_string(env.framework_module));
  d.append("input_dir", py::Value::string(env.paths.input));
  d.append("input_config_dir", py::Value::string(env.paths.input_config));
  d.append("output_dir", py::Value::string(env.paths.output));
  d.append("num_cpus", py::Value::integer(env.hardware.cpus));
  d.append("num_gpus", py::Value::integer(env.hardware.gpus));
  d.append("num_neurons", py::Value::integer(env.hardware.neuron_cores));
  d.append("model_dir", py::Value::string(env.paths.model));
  d.append("module_dir", py::Value::string(env.module_dir));
  d.append("training_env", training_env_value(env));
  py::List user_args;
  for (auto& arg : to_cmd_args(env.hyperparameters)) user_args.push_back(py::Value::string(std::move(arg)));
  d.append("user_args", py::Value::list(std::move(user_args)));
  d.append("output_intermediate_dir", py::Value::string(env.paths.output_intermediate));
  if (env.topology.truthy()) d.append("topology", env.topology);
  // "channel_<name>" and "hp_<key>" may collide with each other after
  // upper-casing; set() keeps the first position and the last value, as the
  // reference's dict comprehension does.
  for (const auto& [name, dir] : env.channel_input_dirs) d.set("channel_" + name, dir);
  for (const auto& [key, value] : env.hyperparameters) d.set("hp_" + key, value);

  EnvMap out;
  for (const auto& [key, value] : d) out.set(env_name(key), env_value(value));
  return out;
}

std::vector<std::string> to_cmd_args(const py::Dict& hyperparameters) {
  std::vector<const py::Dict::Item*> items;
  items.reserve(hyperparameters.size());
  for (const auto& item : hyperparameters) items.push_back(&item);
  std::sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
    return py::code_point_less(a->first, b->first);
  });

  std::vector<std::string> args;
  args.reserve(items.size() * 2);
  for (const auto* item : items) {
    const std::string& key = item->first;
    // B49: "" stays "", one code point gets "-", more get "--".
    if (key.empty()) {
      args.emplace_back();
    } else {
      args.push_back((py::code_point_length(key) > 1 ? "--" : "-") + key);
    }
    const py::Value& value = item->second;
    if (value.is_dict()) {  // B50: k=v pairs sorted by key, str() of each
      std::vector<const py::Dict::Item*> pairs;
      for (const auto& pair : value.as_dict()) pairs.push_back(&pair);
      std::sort(pairs.begin(), pairs.end(), [](const auto* a, const auto* b) {
        return py::code_point_less(a->first, b->first);
      });
      std::string joined;
      for (const auto* pair : pairs) {
        if (!joined.empty()) joined += ',';
        joined += pair->first + "=" + py::str(pair->second);
      }
      args.push_back(std::move(joined));
    } else if (value.is_none()) {
      args.emplace_back();
    } else {
      args.push_back(py::str(value));
    }
  }
  return args;
}

}  // namespace smlaunch::env
