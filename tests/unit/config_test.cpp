// The training environment from the config files: B1-B34, B165, and the
// validation that replaces the reference's crashes (D43).
#include <gtest/gtest.h>

#include "smlaunch/config.hpp"
#include "smlaunch/sm_env.hpp"
#include "test_support.hpp"

namespace smlaunch::config {
namespace {

using test::Job;
using test::json;
const py::Dict& json_dict(std::string_view text) {
  static std::vector<std::unique_ptr<py::Value>> keep;  // outlives the call
  keep.push_back(std::make_unique<py::Value>(json(text)));
  return keep.back()->as_dict();
}

TEST(BaseDir, B1_VariablePresentEvenEmptyCounts) {
  const auto choice = choose_base_dir(std::nullopt, {{"SAGEMAKER_BASE_DIR", ""}}, false, "/root", 1.5);
  EXPECT_EQ(choice.base, "");
  EXPECT_FALSE(choice.local_mode);
}

TEST(BaseDir, B2_LocalModeUnderHomeWithPythonTimestamp) {
  const auto choice = choose_base_dir(std::nullopt, {}, false, "/home/u", 1732262400.25);
  EXPECT_TRUE(choice.local_mode);
  EXPECT_EQ(choice.base, "/home/u/sagemaker_local/jobs/1732262400.25/opt/ml");
}

TEST(BaseDir, B3_VariableWinsOverExistingOptMl) {
  EXPECT_EQ(choose_base_dir(std::nullopt, {{"SAGEMAKER_BASE_DIR", "/x"}}, true, "/r", 0).base, "/x");
  EXPECT_EQ(choose_base_dir(std::nullopt, {}, true, "/r", 0).base, "/opt/ml");
  EXPECT_EQ(choose_base_dir(std::string("/cli"), {{"SAGEMAKER_BASE_DIR", "/x"}}, true, "/r", 0).base, "/cli");
}

TEST(Paths, B3_DerivedDirectories) {
  const auto p = Paths::from_base("/opt/ml");
  EXPECT_EQ(p.code, "/opt/ml/code");
  EXPECT_EQ(p.model, "/opt/ml/model");
  EXPECT_EQ(p.input, "/opt/ml/input");
  EXPECT_EQ(p.input_data, "/opt/ml/input/data");
  EXPECT_EQ(p.input_config, "/opt/ml/input/config");
  EXPECT_EQ(p.output, "/opt/ml/output");
  EXPECT_EQ(p.output_data, "/opt/ml/output/data");  // no per-host suffix
  EXPECT_EQ(p.output_intermediate, "/opt/ml/output/intermediate");
  EXPECT_EQ(p.hyperparameters_file, "/opt/ml/input/config/hyperparameters.json");
  EXPECT_EQ(p.resource_config_file, "/opt/ml/input/config/resourceconfig.json");
  EXPECT_EQ(p.input_data_config_file, "/opt/ml/input/config/inputdataconfig.json");
  EXPECT_EQ(Paths::from_base("/b/").code, "/b/code");
}

TEST(LocalMode, B4_WritesTheReferenceResourceConfig) {
  const auto files = local_mode_files("myhost");
  EXPECT_EQ(py::dumps(files.resource_config),
            R"({"current_host":"myhost","current_instance_group":"homogeneousCluster","hosts":["myhost"],)"
            R"("instance_groups":[{"hosts":["myhost"],"instance_group_name":"homogeneousCluster","instance_type":"local"}]})");
  EXPECT_EQ(py::dumps(files.hyperparameters), "{}");
  EXPECT_EQ(py::dumps(files.input_data_config), "{}");
}

TEST(Paths, B6_ChannelDirectory) {
  EXPECT_EQ(Paths::from_base("/opt/ml").channel_dir("training"), "/opt/ml/input/data/training");
}

TEST(ConfigFiles, B7_ReadAsPlainJsonAndMissingOptionalFilesAreEmpty) {
  test::TempDir dir;
  dir.write("input/config/resourceconfig.json", R"({"current_host":"algo-1","hosts":["algo-1"],"extra":{"b":1,"a":2}})");
  Diagnostics d;
  const auto files = load_config_files(Paths::from_base(dir.path()), d);
  EXPECT_TRUE(d.empty()) << test::messages(d);
  EXPECT_EQ(py::dumps(files.resource_config), R"({"current_host":"algo-1","extra":{"a":2,"b":1},"hosts":["algo-1"]})");
  EXPECT_EQ(py::dumps(files.hyperparameters), "{}");
  EXPECT_EQ(py::dumps(files.input_data_config), "{}");
}

TEST(Hyperparameters, B8_DecodedOneByOneAsJsonLoads) {
  const auto decoded = decode_hyperparameters(json_dict(
      R"({"a":"0.00001","b":"1e5","c":"1.50","d":"true","e":"True","f":"null","g":"01","h":"\"abc\"",)"
      R"("i":"[1,2]","j":"NaN","k":"12345678901234567890","l":5,"m":2.5})"));
  const auto& all = decoded.all;
  EXPECT_EQ(py::repr(*all.find("a")), "1e-05");
  EXPECT_EQ(py::repr(*all.find("b")), "100000.0");
  EXPECT_EQ(py::repr(*all.find("c")), "1.5");
  EXPECT_EQ(py::repr(*all.find("d")), "True");
  EXPECT_EQ(py::repr(*all.find("e")), "'True'");  // not JSON: the raw string
  EXPECT_TRUE(all.find("f")->is_none());
  EXPECT_EQ(py::repr(*all.find("g")), "'01'");
  EXPECT_EQ(py::repr(*all.find("h")), "'abc'");
  EXPECT_EQ(py::repr(*all.find("i")), "[1, 2]");
  EXPECT_EQ(py::repr(*all.find("j")), "nan");
  EXPECT_EQ(py::repr(*all.find("k")), "12345678901234567890");
  EXPECT_EQ(py::repr(*all.find("l")), "5");    // non-strings kept
  EXPECT_EQ(py::repr(*all.find("m")), "2.5");
  ASSERT_EQ(decoded.notes.size(), 2u);  // "True" and "01"
  EXPECT_EQ(decoded.notes[0], "Failed to parse hyperparameter e value True to Json.\nReturning the value itself");
}

TEST(Hyperparameters, B8_KeyOrderIsKept) {
  const auto decoded = decode_hyperparameters(json_dict(R"({"z":"1","a":"2","m":"3"})"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : decoded.all) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
}

TEST(TrainingEnv, B9_MissingHostsAndCurrentHostAreReportedTogether) {
  Job job;
  job.resource_config = "{}";
  job.build();
  const auto text = test::messages(job.diagnostics);
  EXPECT_NE(text.find("resourceconfig.json: hosts: missing, expected a non-empty list of host names"), std::string::npos) << text;
  EXPECT_NE(text.find("resourceconfig.json: current_host: missing"), std::string::npos) << text;
}

TEST(TrainingEnv, B10_HostsKeepFileOrder) {
  Job job;
  job.resource_config = R"({"current_host":"algo-2","hosts":["algo-3","algo-1","algo-2"]})";
  EXPECT_EQ(job.build().hosts, (std::vector<std::string>{"algo-3", "algo-1", "algo-2"}));
}

TEST(TrainingEnv, B11_B12_B13_B14_Defaults) {
  Job job;
  const auto& env = job.build();
  EXPECT_EQ(env.current_instance_type, "local");
  EXPECT_EQ(env.current_instance_group, "homogeneousCluster");
  EXPECT_EQ(env.network_interface_name, "eth0");
  EXPECT_EQ(py::dumps(env.topology), "[]");
}

TEST(TrainingEnv, B12_GroupComesFromCurrentGroupNameNotCurrentInstanceGroup) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1"],"current_group_name":"train1","current_instance_group":"ignored"})";
  EXPECT_EQ(job.build().current_instance_group, "train1");
}

TEST(TrainingEnv, B13_InterfaceFromResourceConfigOnly) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1"],"network_interface_name":"ethwe"})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_network_interface_name":"\"eth9\""})";
  EXPECT_EQ(job.build().network_interface_name, "ethwe");
}

TEST(TrainingEnv, B15_B16_SplitOfHyperparameters) {
  Job job;
  job.hyperparameters =
      R"({"sagemaker_program":"\"t.py\"","sagemaker_parameter_server_num":"2","_tuning_objective_metric":"\"x\"",)"
      R"("default_user_module_name":"\"m\"","sagemaker_region":"\"us-east-1\"","epochs":"10"})";
  const auto& env = job.build();
  EXPECT_EQ(py::dumps(py::Value::dict(env.hyperparameters)), R"({"epochs":10})");
  EXPECT_EQ(py::dumps(py::Value::dict(env.additional_framework_parameters)), R"({"sagemaker_parameter_server_num":2})");
  EXPECT_TRUE(env.sagemaker_hyperparameters.contains("_tuning_objective_metric"));
}

TEST(TrainingEnv, B21_S3OutputIsAFixedKeyNeitherFrameworkParameterNorArgument) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_s3_output":"\"s3://b/out\""})";
  const auto& env = job.build();
  EXPECT_EQ(env.sagemaker_hyperparameters.find("sagemaker_s3_output")->as_str(), "s3://b/out");
  EXPECT_FALSE(env.additional_framework_parameters.contains("sagemaker_s3_output"));
  EXPECT_FALSE(env.hyperparameters.contains("sagemaker_s3_output"));
}

TEST(TrainingEnv, B17_B18_EntryPointFromEnvironmentOrHyperparameter) {
  Job job;
  job.environ["SAGEMAKER_PROGRAM"] = "from_env.py";
  const auto& env = job.build();
  EXPECT_EQ(env.user_entry_point.as_str(), "from_env.py");
  EXPECT_EQ(env.module_name, "from_env");

  Job empty_var;
  empty_var.environ["SAGEMAKER_PROGRAM"] = "";
  const auto& env2 = empty_var.build();
  EXPECT_EQ(env2.user_entry_point.as_str(), "train.py");  // B17: empty variable ignored
  EXPECT_EQ(env2.module_name, "");                        // B18: module name takes it

  Job none;
  none.hyperparameters = "{}";
  const auto& env3 = none.build();
  EXPECT_TRUE(env3.user_entry_point.is_none());
  EXPECT_EQ(env3.module_name, "None");
}

TEST(TrainingEnv, B18_OnlyOneTrailingPyIsStripped) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"my.py.py\""})";
  EXPECT_EQ(job.build().module_name, "my.py");
}

TEST(TrainingEnv, B19_ModuleDirFromSubmitDirectoryNotEnvironment) {
  Job job;
  job.environ["SAGEMAKER_SUBMIT_DIRECTORY"] = "/ignored";
  EXPECT_EQ(job.build().module_dir, "/opt/ml/code");
  Job s3;
  s3.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_submit_directory":"\"s3://b/k/sourcedir.tar.gz\""})";
  EXPECT_EQ(s3.build().module_dir, "s3://b/k/sourcedir.tar.gz");
}

TEST(TrainingEnv, B20_LogLevelFromHyperparameter) {
  Job job;
  EXPECT_EQ(py::dumps(job.build().log_level), "20");
  Job warn;
  warn.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_container_log_level":"30"})";
  EXPECT_EQ(py::dumps(warn.build().log_level), "30");
  Job bad;
  bad.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_container_log_level":"\"INFO\""})";
  bad.build();
  EXPECT_NE(test::messages(bad.diagnostics).find("sagemaker_container_log_level"), std::string::npos);
}

TEST(TrainingEnv, B22_FrameworkModuleAndJobNameFromEnvironment) {
  Job job;
  job.environ["SAGEMAKER_TRAINING_MODULE"] = "pkg.mod:main";
  job.environ["TRAINING_JOB_NAME"] = "training-job-42";
  const auto& env = job.build();
  EXPECT_EQ(env.framework_module, "pkg.mod:main");
  EXPECT_EQ(env.job_name, "training-job-42");
}

TEST(TrainingEnv, B23_B24_RegionAndJobNameValues) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_job_name":"\"job-1\""})";
  job.environ["AWS_DEFAULT_REGION"] = "eu-west-1";
  const auto& env = job.build();
  EXPECT_EQ(env.sagemaker_job_name, "job-1");
  EXPECT_EQ(env.sagemaker_region, "eu-west-1");
  Job hp;
  hp.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_region":"\"us-west-2\""})";
  hp.environ["AWS_DEFAULT_REGION"] = "eu-west-1";
  EXPECT_EQ(hp.build().sagemaker_region, "us-west-2");
}

constexpr const char* kHeteroConfig =
    R"({"current_host":"algo-3","hosts":["algo-1","algo-2","algo-3"],"current_group_name":"gpu",)"
    R"("instance_groups":[{"instance_group_name":"cpu","instance_type":"ml.c5.xlarge","hosts":["algo-1"]},)"
    R"({"instance_group_name":"gpu","instance_type":"ml.p4d.24xlarge","hosts":["algo-2","algo-3"]}]})";

TEST(TrainingEnv, B25_B26_B27_B28_InstanceGroups) {
  Job job;
  job.resource_config = kHeteroConfig;
  const auto& env = job.build();
  EXPECT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_EQ(env.instance_groups, (std::vector<std::string>{"cpu", "gpu"}));
  EXPECT_EQ(py::dumps(*env.instance_groups_dict.find("cpu")),
            R"({"hosts":["algo-1"],"instance_group_name":"cpu","instance_type":"ml.c5.xlarge"})");
  EXPECT_EQ(py::dumps(env.current_instance_group_hosts), R"(["algo-2","algo-3"])");
  EXPECT_TRUE(env.is_hetero);
}

TEST(TrainingEnv, B25_NoGroupsIsNoted) {
  Job job;
  const auto& env = job.build();
  EXPECT_FALSE(env.is_hetero);
  EXPECT_EQ(env.notes.front(), "instance_groups entry not present in resource_config");
}

TEST(TrainingEnv, B29_DistributionGroupsFromTruthyFlags) {
  Job job;
  job.resource_config = kHeteroConfig;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_mpi_enabled":"\"False\""})";  // truthy string
  EXPECT_EQ(py::dumps(job.build().distribution_instance_groups), R"(["gpu"])");
  Job off;
  off.resource_config = kHeteroConfig;
  off.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_mpi_enabled":"false"})";
  EXPECT_EQ(py::dumps(off.build().distribution_instance_groups), "[]");
  Job torch;
  torch.resource_config = kHeteroConfig;
  torch.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_torch_distributed_enabled":"true"})";
  EXPECT_EQ(py::dumps(torch.build().distribution_instance_groups), R"(["gpu"])");
}

TEST(TrainingEnv, B29_ExplicitListWins) {
  Job job;
  job.resource_config = kHeteroConfig;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_mpi_enabled":"true","sagemaker_distribution_instance_groups":"[\"cpu\",\"gpu\"]"})";
  EXPECT_EQ(job.build().distribution_hosts, (std::vector<std::string>{"algo-1", "algo-2", "algo-3"}));
}

TEST(TrainingEnv, B30_B31_B32_DistributionHostsAndMaster) {
  Job job;
  job.resource_config = kHeteroConfig;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","sagemaker_mpi_enabled":"true"})";
  const auto& env = job.build();
  EXPECT_EQ(env.distribution_hosts, (std::vector<std::string>{"algo-2", "algo-3"}));
  EXPECT_EQ(env.master_hostname, "algo-2");
  EXPECT_FALSE(env.is_master);
  Job none;
  none.resource_config = kHeteroConfig;
  const auto& env2 = none.build();
  EXPECT_TRUE(env2.distribution_hosts.empty());
  EXPECT_EQ(env2.master_hostname, "algo-1");  // hosts[0] when nothing is distributed
}

TEST(TrainingEnv, B165_LegacyShapeDistributesOverAllHosts) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"]})";
  const auto& env = job.build();
  EXPECT_EQ(env.distribution_hosts, env.hosts);
  EXPECT_EQ(env.current_instance_group, "homogeneousCluster");
  EXPECT_TRUE(env.is_master);
}

TEST(TrainingEnv, B33_ModelParallelFromEnvironmentAtStart) {
  const auto value = [](std::optional<std::string> mp) {
    Job job;
    if (mp) job.environ["SM_HP_MP_PARAMETERS"] = *mp;
    return py::dumps(job.build().is_modelparallel_enabled);
  };
  EXPECT_EQ(value(std::nullopt), "null");
  EXPECT_EQ(value(""), "\"\"");
  EXPECT_EQ(value("{}"), "false");
  EXPECT_EQ(value(R"({"partitions":2})"), "true");
}

TEST(TrainingEnv, B34_SmddprunFromFacts) {
  Job job;
  job.facts.smddprun_on_path = true;
  const auto& env = job.build();
  EXPECT_TRUE(env.is_smddprun_installed);
  EXPECT_FALSE(env.is_smddpmprun_installed);
}

}  // namespace
}  // namespace smlaunch::config
