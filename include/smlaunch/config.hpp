// The training configuration: the files the platform mounts under the base
// directory, read once, validated completely, and turned into the same
// "training environment" the Python toolkit's Environment() object describes
// (B1-B46). Everything here is pure except load_config_files(), which reads
// the three files, and local_mode_*, which describe the local-mode tree.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smlaunch/diagnostics.hpp"
#include "smlaunch/hardware.hpp"
#include "smlaunch/pyvalue.hpp"

namespace smlaunch::config {

inline constexpr std::string_view kDefaultBaseDir = "/opt/ml";
inline constexpr std::string_view kHyperparametersFile = "hyperparameters.json";
inline constexpr std::string_view kResourceConfigFile = "resourceconfig.json";
inline constexpr std::string_view kInputDataConfigFile = "inputdataconfig.json";
/// Larger config files are refused rather than parsed (a 512-host
/// resourceconfig.json is about 50 KB).
inline constexpr std::uintmax_t kMaxConfigFileBytes = 64ULL << 20;

/// A snapshot of the process environment (name -> value), so that planning
/// never reads global state and tests say exactly what is set.
using Environ = std::map<std::string, std::string, std::less<>>;

/// The environment of this process, as an Environ.
[[nodiscard]] Environ current_environ();
/// environ[name] or nullopt.
[[nodiscard]] std::optional<std::string> lookup(const Environ& environ, std::string_view name);

/// The directories derived from the base directory (B3).
struct Paths {
  std::string base;
  std::string code;
  std::string model;
  std::string input;
  std::string input_data;
  std::string input_config;
  std::string output;
  std::string output_data;
  std::string output_intermediate;
  std::string hyperparameters_file;
  std::string resource_config_file;
  std::string input_data_config_file;

  [[nodiscard]] static Paths from_base(std::string base);
  /// base/input/data/<channel> (B6, B45).
  [[nodiscard]] std::string channel_dir(std::string_view channel) const;
};

/// Where the base directory comes from (B1-B3): --base-dir, else
/// $SAGEMAKER_BASE_DIR (present, even empty), else /opt/ml when it exists,
/// else local mode.
struct BaseDirChoice {
  std::string base;
  bool local_mode = false;  // neither given nor /opt/ml present (B2)
};
[[nodiscard]] BaseDirChoice choose_base_dir(const std::optional<std::string>& cli_base_dir,
                                            const Environ& environ, bool opt_ml_exists,
                                            std::string_view home, double now_seconds);

/// The three documents as JSON values (hyperparameter values not yet decoded).
struct ConfigFiles {
  py::Value resource_config;
  py::Value input_data_config;
  py::Value hyperparameters;
  /// False when resourceconfig.json could not be read as a JSON object:
  /// then nothing else can be checked against it.
  bool resource_config_read = true;
};

/// Reads and JSON-decodes the three files. Every problem (missing, too large,
/// invalid UTF-8, invalid JSON, not an object) is added to `diagnostics`; the
/// affected document is then an empty dict. inputdataconfig.json and
/// hyperparameters.json may be absent (then {}), resourceconfig.json may not.
[[nodiscard]] ConfigFiles load_config_files(const Paths& paths, Diagnostics& diagnostics);

/// The files local mode writes (B4), for host name `host`.
[[nodiscard]] ConfigFiles local_mode_files(const std::string& host);

/// Hyperparameters after B8 decoding, with the decoding notes for the log.
struct DecodedHyperparameters {
  py::Dict all;                    // every key, values json.loads-decoded or raw
  std::vector<std::string> notes;  // "Failed to parse hyperparameter k value v to Json..."
};
[[nodiscard]] DecodedHyperparameters decode_hyperparameters(const py::Dict& raw);

/// The keys B15 always treats as framework keys.
[[nodiscard]] bool is_sagemaker_hyperparameter(std::string_view key);

/// The training environment: the 37 properties of the Python Environment
/// (B46) plus what the launch needs. Built once, then read-only.
struct TrainingEnv {
  Paths paths;

  // The files as read (SM_RESOURCE_CONFIG, SM_INPUT_DATA_CONFIG).
  py::Value resource_config;
  py::Value input_data_config;

  // B15-B16: user hyperparameters and the sagemaker_ framework parameters.
  py::Dict hyperparameters;
  py::Dict additional_framework_parameters;
  py::Dict sagemaker_hyperparameters;  // every key of B15's "included" side

  // Identity (B9-B14).
  std::string current_host;
  std::vector<std::string> hosts;
  std::string current_instance_type;
  std::string current_instance_group;
  std::string network_interface_name;
  py::Value topology;  // [] when absent (B14)

  // Groups and distribution (B25-B32).
  std::vector<std::string> instance_groups;
  py::Dict instance_groups_dict;
  py::Value current_instance_group_hosts;   // the group's "hosts" value, or []
  py::Value distribution_instance_groups;   // a list (validated)
  std::vector<std::string> distribution_hosts;
  std::string master_hostname;
  bool is_master = false;
  bool is_hetero = false;

  // Program (B17-B22).
  py::Value user_entry_point;   // str, or None when absent
  std::string module_name;      // "None" when absent (B18)
  std::string module_dir;       // B19
  py::Value log_level;          // hp value, or 20
  std::optional<std::string> framework_module;  // $SAGEMAKER_TRAINING_MODULE
  std::optional<std::string> job_name;          // $TRAINING_JOB_NAME

  // Hardware and tools (B33-B38).
  hardware::Facts hardware;
  py::Value is_modelparallel_enabled;  // None, "", False or True (B33)
  bool is_smddprun_installed = false;
  bool is_smddpmprun_installed = false;

  // Channels (B6): name -> directory, in inputdataconfig.json order.
  py::Dict channel_input_dirs;

  // The B24 side effects, as values for the child's environment.
  std::string sagemaker_job_name;  // hp sagemaker_job_name or ""
  std::string sagemaker_region;    // hp sagemaker_region or $AWS_REGION/"": no boto3 here

  std::vector<std::string> notes;  // informational lines for the log
};

/// Facts about the machine the training environment needs besides the files.
struct HostFacts {
  hardware::Facts hardware;
  bool smddprun_on_path = false;
  bool smddpmprun_on_path = false;
};

/// Builds the training environment from the files (B7-B46), validating every
/// field it reads; problems go to `diagnostics` (the caller checkpoints).
[[nodiscard]] TrainingEnv build_training_env(const Paths& paths, const ConfigFiles& files,
                                             const Environ& environ, const HostFacts& facts,
                                             Diagnostics& diagnostics);

}  // namespace smlaunch::config
