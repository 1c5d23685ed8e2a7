// Building the training environment from the three files (B7-B46).
//
// The Python toolkit computes these properties lazily and crashes on the
// first malformed field (B9, D43). Here every field is read exactly once,
// checked, and any problem is recorded with its file and JSON path; the
// values that could not be read fall back to harmless defaults so the rest of
// the files are still checked and every problem is reported in one run.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

#include "config/validate.hpp"
#include "smlaunch/config.hpp"

namespace smlaunch::config {
namespace {

constexpr std::string_view kRc = kResourceConfigFile;
constexpr std::string_view kHp = kHyperparametersFile;
constexpr std::string_view kIdc = kInputDataConfigFile;
constexpr std::string_view kDefaultInstanceGroup = "homogeneousCluster";
constexpr std::int64_t kDefaultLogLevel = 20;  // logging.INFO

// The fw params whose truthiness puts the current group into the distribution
// groups when sagemaker_distribution_instance_groups is absent (B29).
constexpr std::string_view kDistributionFlags[] = {
    "sagemaker_mpi_enabled",
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    "sagemaker_torch_distributed_enabled",
};

const py::Dict kEmptyDict;

const py::Dict& as_dict_or_empty(const py::Value& v) { return v.is_dict() ? v.as_dict() : kEmptyDict; }

// An optional string field of resourceconfig.json with a default.
std::string optional_string(const py::Dict& doc, std::string_view key, std::string_view fallback,
                            Diagnostics& diagnostics) {
  const py::Value* v = doc.find(key);
  if (v == nullptr) return std::string(fallback);
  if (!v->is_str() || has_control_character(v->as_str())) {
    diagnostics.add(std::string(kRc), std::string(key), found_value(*v), "a string without control characters");
    return std::string(fallback);
  }
  return v->as_str();
}

// A list of host names at `field`; every element checked.
std::vector<std::string> host_list(const py::Value& v, std::string_view file,
                                   const std::string& field, Diagnostics& diagnostics) {
  std::vector<std::string> hosts;
  if (!v.is_list()) {
    diagnostics.add(std::string(file), field, found_value(v), "a list of host names");
    return hosts;
  }
  std::set<std::string_view> seen;
  const py::List& list = v.as_list();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item_field = fmt::format("{}[{}]", field, i);
    if (check_host_name(list[i], file, item_field, diagnostics)) {
      if (!seen.insert(list[i].as_str()).second) {
        diagnostics.add(std::string(file), item_field,
                        fmt::format("{} appears twice", describe_for_message(list[i].as_str())),
                        "each host once");
        continue;
      }
      hosts.push_back(list[i].as_str());
    }
  }
  return hosts;
}

void read_identity(TrainingEnv& env, const py::Dict& rc, Diagnostics& diagnostics) {
  // B9: hosts and current_host are required.
  if (const py::Value* hosts = rc.find("hosts"); hosts == nullptr) {
    diagnostics.add(std::string(kRc), "hosts", "missing", "a non-empty list of host names");
  } else {
    env.hosts = host_list(*hosts, kRc, "hosts", diagnostics);
    if (hosts->is_list() && hosts->as_list().empty()) {
      diagnostics.add(std::string(kRc), "hosts", "an empty list", "at least one host");
    }
  }
  if (const py::Value* current = rc.find("current_host"); current == nullptr) {
    diagnostics.add(std::string(kRc), "current_host", "missing", "this host's name");
  } else if (check_host_name(*current, kRc, "current_host", diagnostics)) {
    env.current_host = current->as_str();
    const bool listed = std::find(env.hosts.begin(), env.hosts.end(), env.current_host) != env.hosts.end();
    if (!listed && !env.hosts.empty()) {
      diagnostics.add(std::string(kRc), "current_host",
                      fmt::format("{} is not in hosts", describe_for_message(env.current_host)),
                      "one of the names in hosts");
    }
  }
  env.current_instance_type = optional_string(rc, "current_instance_type", "local", diagnostics);   // B11
  env.current_instance_group =
      optional_string(rc, "current_group_name", kDefaultInstanceGroup, diagnostics);  // B12
  env.network_interface_name = optional_string(rc, "network_interface_name", "eth0", diagnostics);  // B13
  if (!is_interface_name(env.network_interface_name)) {
    diagnostics.add(std::string(kRc), "network_interface_name",
                    describe_for_message(env.network_interface_name),
                    "an interface name of 1 to 15 characters without '/', ',', ':' or spaces");
    env.network_interface_name = "eth0";
  }
  const py::Value* topology = rc.find("topology");  // B14
  env.topology = topology != nullptr ? *topology : py::Value::list({});
}

void read_instance_groups(TrainingEnv& env, const py::Dict& rc, Diagnostics& diagnostics) {
  const py::Value* groups = rc.find("instance_groups");
  env.current_instance_group_hosts = py::Value::list({});
  if (groups == nullptr || (groups->is_list() && groups->as_list().empty())) {
    env.notes.emplace_back("instance_groups entry not present in resource_config");  // B25
    return;
  }
  if (!groups->is_list()) {
    diagnostics.add(std::string(kRc), "instance_groups", found_value(*groups), "a list of instance groups");
    return;
  }
  const py::List& list = groups->as_list();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = fmt::format("instance_groups[{}]", i);
    if (!list[i].is_dict()) {
      diagnostics.add(std::string(kRc), field, found_value(list[i]), "an object");
      continue;
    }
    const py::Dict& group = list[i].as_dict();
    const py::Value* name = group.find("instance_group_name");
    if (name == nullptr || !name->is_str()) {
      diagnostics.add(std::string(kRc), field + ".instance_group_name",
                      name == nullptr ? "missing" : found_value(*name), "a string");
      continue;
    }
    const py::Value* group_hosts = group.find("hosts");
    if (group_hosts == nullptr) {
      diagnostics.add(std::string(kRc), field + ".hosts", "missing", "a list of host names");
      continue;
    }
    const auto names = host_list(*group_hosts, kRc, field + ".hosts", diagnostics);
    if (!group_hosts->is_list()) continue;  // reported; the group is unusable
    for (std::size_t h = 0; h < names.size(); ++h) {
      if (std::find(env.hosts.begin(), env.hosts.end(), names[h]) == env.hosts.end() && !env.hosts.empty()) {
        diagnostics.add(std::string(kRc), fmt::format("{}.hosts[{}]", field, h),
                        fmt::format("{} is not in hosts", describe_for_message(names[h])),
                        "a name listed in hosts");
      }
    }
    env.instance_groups.push_back(name->as_str());           // B25
    env.instance_groups_dict.set(name->as_str(), list[i]);  // B26
    if (name->as_str() == env.current_instance_group &&
        env.current_instance_group_hosts.as_list().empty()) {
      env.current_instance_group_hosts = *group_hosts;  // B27: the first matching group
    }
  }
  env.is_hetero = env.instance_groups.size() > 1;  // B28
}

void split_hyperparameters(TrainingEnv& env, const py::Dict& decoded) {
  // B15/B16: sagemaker_ keys and the fixed list go to the framework side;
  // the fixed list itself is not a framework parameter.
  for (const auto& [key, value] : decoded) {
    const bool fixed = is_sagemaker_hyperparameter(key);
    if (fixed || key.starts_with("sagemaker_")) {
      env.sagemaker_hyperparameters.append(key, value);
      if (!fixed) env.additional_framework_parameters.append(key, value);
    } else {
      env.hyperparameters.append(key, value);
    }
  }
}

void read_program(TrainingEnv& env, const Environ& environ, Diagnostics& diagnostics) {
  const py::Dict& sm = env.sagemaker_hyperparameters;
  const auto program_env = lookup(environ, "SAGEMAKER_PROGRAM");
  const py::Value* program_hp = sm.find("sagemaker_program");
  if (program_hp != nullptr && !program_hp->is_str()) {
    diagnostics.add(std::string(kHp), "sagemaker_program", found_value(*program_hp),
                    "the entry point's file name as a string");
    program_hp = nullptr;
  }
  // B17: a non-empty $SAGEMAKER_PROGRAM wins; B18: module_name takes the
  // variable when set at all, else str(hp), "None" when absent.
  if (program_env && !program_env->empty()) {
    env.user_entry_point = py::Value::string(*program_env);
  } else if (program_hp != nullptr) {
    env.user_entry_point = *program_hp;
  }
  std::string module = program_env ? *program_env : (program_hp ? program_hp->as_str() : "None");
  if (module.ends_with(".py")) module.resize(module.size() - 3);
  env.module_name = std::move(module);

  if (const py::Value* submit = sm.find("sagemaker_submit_directory")) {  // B19
    if (submit->is_str()) {
      env.module_dir = submit->as_str();
    } else {
      diagnostics.add(std::string(kHp), "sagemaker_submit_directory", found_value(*submit),
                      "a directory, a .tar.gz file or an s3:// URI as a string");
      env.module_dir = env.paths.code;
    }
  } else {
    env.module_dir = env.paths.code;
  }

  env.log_level = py::Value::integer(kDefaultLogLevel);  // B20
  if (const py::Value* level = sm.find("sagemaker_container_log_level")) {
    if (level->is_int()) {
      env.log_level = *level;
    } else {
      diagnostics.add(std::string(kHp), "sagemaker_container_log_level", found_value(*level),
                      "a logging level number such as 20");
    }
  }
  env.framework_module = lookup(environ, "SAGEMAKER_TRAINING_MODULE");  // B22
  env.job_name = lookup(environ, "TRAINING_JOB_NAME");

  // B24: what the reference exports into os.environ.
  env.sagemaker_job_name = string_hp_or(sm, "sagemaker_job_name", "", diagnostics);
  const std::string region_default = lookup(environ, "AWS_DEFAULT_REGION")
                                         .value_or(lookup(environ, "AWS_REGION").value_or(""));
  env.sagemaker_region = string_hp_or(sm, "sagemaker_region", region_default, diagnostics);
}

void read_distribution(TrainingEnv& env, const py::Dict& rc, Diagnostics& diagnostics) {
  const py::Dict& fw = env.additional_framework_parameters;
  // B29: the explicit list wins whatever its value; it must be a list of
  // strings here (the reference would do substring tests on a string).
  if (const py::Value* explicit_groups = fw.find("sagemaker_distribution_instance_groups")) {
    bool ok = explicit_groups->is_list();
    if (ok) {
      for (const auto& g : explicit_groups->as_list()) ok = ok && g.is_str();
    }
    if (ok) {
      env.distribution_instance_groups = *explicit_groups;
    } else {
      diagnostics.add(std::string(kHp), "sagemaker_distribution_instance_groups",
                      found_value(*explicit_groups), "a list of instance group names");
      env.distribution_instance_groups = py::Value::list({});
    }
  } else {
    py::List flagged;
    const bool enabled = std::any_of(std::begin(kDistributionFlags), std::end(kDistributionFlags),
                                     [&](std::string_view flag) {
                                       const py::Value* v = fw.find(flag);
                                       return v != nullptr && v->truthy();
                                     });
    if (enabled) flagged.push_back(py::Value::string(env.current_instance_group));
    env.distribution_instance_groups = py::Value::list(std::move(flagged));
  }

  // B30: concatenate the hosts of the distribution groups in file order, or
  // all hosts when the file has no instance groups.
  const py::Value* groups = rc.find("instance_groups");
  const bool has_groups = groups != nullptr && groups->is_list() && !groups->as_list().empty();
  if (has_groups) {
    const py::List& wanted = env.distribution_instance_groups.as_list();
    for (const auto& name : env.instance_groups) {
      const bool distributed = std::any_of(wanted.begin(), wanted.end(), [&](const py::Value& w) {
        return w.as_str() == name;
      });
      if (!distributed) continue;
      // Only groups with a valid "hosts" list were registered.
      const py::Value* group = env.instance_groups_dict.find(name);
      for (const auto& h : group->as_dict().find("hosts")->as_list()) {
        if (h.is_str()) env.distribution_hosts.push_back(h.as_str());
      }
    }
  } else {
    env.distribution_hosts = env.hosts;
  }
  // B31/B32.
  if (!env.distribution_hosts.empty()) {
    env.master_hostname = env.distribution_hosts.front();
  } else if (!env.hosts.empty()) {
    env.master_hostname = env.hosts.front();
  }
  env.is_master = !env.current_host.empty() && env.current_host == env.master_hostname;
  (void)diagnostics;
}

void read_channels(TrainingEnv& env, const py::Dict& idc, Diagnostics& diagnostics) {
  for (const auto& [name, value] : idc) {
    (void)value;
    if (!is_channel_name(name)) {
      diagnostics.add(std::string(kIdc), describe_for_message(name), "an unusable channel name",
                      "a non-empty name without '/', '=' or control characters, not '.' or '..'");
      continue;
    }
    env.channel_input_dirs.append(name, py::Value::string(env.paths.channel_dir(name)));
  }
}

}  // namespace

bool is_sagemaker_hyperparameter(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "sagemaker_program",        "sagemaker_submit_directory",
      "sagemaker_enable_cloudwatch_metrics", "sagemaker_region",
      "sagemaker_container_log_level",       "sagemaker_job_name",
      "default_user_module_name", "_tuning_objective_metric",
      "sagemaker_s3_output",
  };
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

TrainingEnv build_training_env(const Paths& paths, const ConfigFiles& files, const Environ& environ,
                               const HostFacts& facts, Diagnostics& diagnostics) {
  TrainingEnv env;
  env.paths = paths;
  env.resource_config = files.resource_config;
  env.input_data_config = files.input_data_config;
  const py::Dict& rc = as_dict_or_empty(files.resource_config);

  read_identity(env, rc, diagnostics);
  read_instance_groups(env, rc, diagnostics);

  DecodedHyperparameters decoded = decode_hyperparameters(as_dict_or_empty(files.hyperparameters));
  for (auto& note : decoded.notes) env.notes.push_back(std::move(note));
  check_hyperparameter_keys(decoded.all, diagnostics);
  split_hyperparameters(env, decoded.all);

  read_program(env, environ, diagnostics);
  read_distribution(env, rc, diagnostics);
  read_channels(env, as_dict_or_empty(files.input_data_config), diagnostics);

  env.hardware = facts.hardware;
  env.is_smddprun_installed = facts.smddprun_on_path;    // B34
  env.is_smddpmprun_installed = facts.smddpmprun_on_path;

  // B33: from $SM_HP_MP_PARAMETERS as the process sees it at start.
  if (const auto mp = lookup(environ, "SM_HP_MP_PARAMETERS")) {
    if (mp->empty()) {
      env.is_modelparallel_enabled = py::Value::string("");
    } else {
      env.is_modelparallel_enabled = py::Value::boolean(*mp != "{}");
    }
  }
  return env;
}

}  // namespace smlaunch::config
