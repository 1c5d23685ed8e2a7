// The SM_* environment and user arguments: B40-B51, byte for byte.
#include <gtest/gtest.h>

#include "smlaunch/sm_env.hpp"
#include "test_support.hpp"

namespace smlaunch::env {
namespace {

using test::Job;
using test::json;

std::vector<std::string> args_of(std::string_view hps) { return to_cmd_args(json(hps).as_dict()); }

TEST(EnvName, B40_UnicodeUpperCaseAndEmptyKey) {
  EXPECT_EQ(env_name("hp_learning-rate"), "SM_HP_LEARNING-RATE");
  EXPECT_EQ(env_name("hp_straße"), "SM_HP_STRASSE");
  EXPECT_EQ(env_name(""), "");
}

TEST(EnvValue, B41_ValueTransform) {
  EXPECT_EQ(env_value(json("true")), "true");
  EXPECT_EQ(env_value(json("4.0")), "4.0");
  EXPECT_EQ(env_value(json("2")), "2");
  EXPECT_EQ(env_value(json("null")), "");
  EXPECT_EQ(env_value(json(R"(["1",["2","3",[["6"]]]])")), R"(["1",["2","3",[["6"]]]])");
  EXPECT_EQ(env_value(json(R"({"train":"foo","eval":"bar"})")), R"({"eval":"bar","train":"foo"})");
  EXPECT_EQ(env_value(json(R"(["é"])")), R"(["\u00e9"])");
  EXPECT_EQ(env_value(json(R"("¡ø")")), "¡ø");  // raw strings stay as they are
  EXPECT_EQ(env_value(json("1e-05")), "1e-05");
}

// A two-host MPI job on p4d with channels and hyperparameters of every kind.
Job two_host_job() {
  Job job;
  job.resource_config =
      R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_instance_type":"ml.p4d.24xlarge",)"
      R"("current_group_name":"homogeneousCluster","network_interface_name":"eth0",)"
      R"("instance_groups":[{"instance_group_name":"homogeneousCluster","instance_type":"ml.p4d.24xlarge","hosts":["algo-1","algo-2"]}]})";
  job.hyperparameters =
      R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true","sagemaker_region":"\"us-west-2\"",)"
      R"("epochs":"10","lr":"0.00001","loss":"SGD","learning-rate":"1e5","flag":"true","opt":"null","layers":"[\"a\",\"b\"]"})";
  job.input_data_config = R"({"train":{"TrainingInputMode":"File"},"eval":{"TrainingInputMode":"Pipe"}})";
  job.facts.hardware.gpus = 8;
  job.facts.hardware.cpus = 96;
  return job;
}

TEST(ToEnvVars, B42_NamesInReferenceOrder) {
  Job job = two_host_job();
  const auto vars = to_env_vars(job.build());
  std::vector<std::string> names;
  for (const auto& [name, value] : vars) names.push_back(name);
  const std::vector<std::string> expected = {
      "SM_HOSTS", "SM_NETWORK_INTERFACE_NAME", "SM_HPS", "SM_USER_ENTRY_POINT", "SM_FRAMEWORK_PARAMS",
      "SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG", "SM_OUTPUT_DATA_DIR", "SM_CHANNELS",
      "SM_CURRENT_HOST", "SM_CURRENT_INSTANCE_TYPE", "SM_CURRENT_INSTANCE_GROUP",
      "SM_CURRENT_INSTANCE_GROUP_HOSTS", "SM_INSTANCE_GROUPS", "SM_INSTANCE_GROUPS_DICT",
      "SM_DISTRIBUTION_INSTANCE_GROUPS", "SM_IS_HETERO", "SM_MODULE_NAME", "SM_LOG_LEVEL",
      "SM_FRAMEWORK_MODULE", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR", "SM_OUTPUT_DIR", "SM_NUM_CPUS",
      "SM_NUM_GPUS", "SM_NUM_NEURONS", "SM_MODEL_DIR", "SM_MODULE_DIR", "SM_TRAINING_ENV",
      "SM_USER_ARGS", "SM_OUTPUT_INTERMEDIATE_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_EVAL",
      "SM_HP_EPOCHS", "SM_HP_LR", "SM_HP_LOSS", "SM_HP_LEARNING-RATE", "SM_HP_FLAG", "SM_HP_OPT",
      "SM_HP_LAYERS"};
  EXPECT_EQ(names, expected);
}

TEST(ToEnvVars, B42_TopologyOnlyWhenNonEmpty) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1"],"topology":[{"a":1}]})";
  const auto vars = to_env_vars(job.build());
  ASSERT_NE(vars.find("SM_TOPOLOGY"), nullptr);
  EXPECT_EQ(*vars.find("SM_TOPOLOGY"), R"([{"a":1}])");
  EXPECT_EQ(vars.entries()[31].first, "SM_TOPOLOGY");
}

TEST(ToEnvVars, B43_B44_B45_Values) {
  Job job = two_host_job();
  const auto vars = to_env_vars(job.build());
  const auto v = [&](std::string_view name) { return *vars.find(name); };
  EXPECT_EQ(v("SM_HOSTS"), R"(["algo-1","algo-2"])");
  EXPECT_EQ(v("SM_HPS"), R"({"epochs":10,"flag":true,"layers":["a","b"],"learning-rate":100000.0,"loss":"SGD","lr":1e-05,"opt":null})");
  EXPECT_EQ(v("SM_USER_ENTRY_POINT"), "train.py");
  EXPECT_EQ(v("SM_FRAMEWORK_PARAMS"), R"({"sagemaker_mpi_enabled":true})");
  EXPECT_EQ(v("SM_INPUT_DATA_CONFIG"), R"({"eval":{"TrainingInputMode":"Pipe"},"train":{"TrainingInputMode":"File"}})");
  EXPECT_EQ(v("SM_CHANNELS"), R"(["eval","train"])");  // sorted
  EXPECT_EQ(v("SM_CURRENT_INSTANCE_GROUP_HOSTS"), R"(["algo-1","algo-2"])");
  EXPECT_EQ(v("SM_INSTANCE_GROUPS"), R"(["homogeneousCluster"])");
  EXPECT_EQ(v("SM_DISTRIBUTION_INSTANCE_GROUPS"), R"(["homogeneousCluster"])");
  EXPECT_EQ(v("SM_IS_HETERO"), "false");
  EXPECT_EQ(v("SM_MODULE_NAME"), "train");
  EXPECT_EQ(v("SM_LOG_LEVEL"), "20");
  EXPECT_EQ(v("SM_FRAMEWORK_MODULE"), "");
  EXPECT_EQ(v("SM_NUM_CPUS"), "96");
  EXPECT_EQ(v("SM_NUM_GPUS"), "8");
  EXPECT_EQ(v("SM_NUM_NEURONS"), "0");
  EXPECT_EQ(v("SM_MODULE_DIR"), "/opt/ml/code");
  EXPECT_EQ(v("SM_USER_ARGS"),
            R"(["--epochs","10","--flag","True","--layers","['a', 'b']","--learning-rate","100000.0","--loss","SGD","--lr","1e-05","--opt",""])");
  EXPECT_EQ(v("SM_CHANNEL_TRAIN"), "/opt/ml/input/data/train");
  EXPECT_EQ(v("SM_HP_EPOCHS"), "10");
  EXPECT_EQ(v("SM_HP_LOSS"), "SGD");  // B44: strings raw
  EXPECT_EQ(v("SM_HP_FLAG"), "true");
  EXPECT_EQ(v("SM_HP_OPT"), "");
  EXPECT_EQ(v("SM_HP_LAYERS"), R"(["a","b"])");
}

TEST(ToEnvVars, B43_ModuleNameNoneWithoutProgram) {
  Job job;
  job.hyperparameters = "{}";
  const auto vars = to_env_vars(job.build());
  EXPECT_EQ(*vars.find("SM_MODULE_NAME"), "None");
  EXPECT_EQ(*vars.find("SM_USER_ENTRY_POINT"), "");
}

TEST(TrainingEnvJson, B46_ThirtySevenSortedKeys) {
  Job job = two_host_job();
  job.environ["TRAINING_JOB_NAME"] = "job-7";
  const auto value = training_env_value(job.build());
  ASSERT_EQ(value.as_dict().size(), 37u);
  const std::string text = py::dumps(value);
  EXPECT_EQ(text.substr(0, 60), R"({"additional_framework_parameters":{"sagemaker_mpi_enabled":)");
  EXPECT_NE(text.find(R"("distribution_hosts":["algo-1","algo-2"])"), std::string::npos);
  EXPECT_NE(text.find(R"("is_master":true)"), std::string::npos);
  EXPECT_NE(text.find(R"("master_hostname":"algo-1")"), std::string::npos);
  EXPECT_NE(text.find(R"("topology":[])"), std::string::npos);  // always there
  EXPECT_NE(text.find(R"("is_modelparallel_enabled":null)"), std::string::npos);
  EXPECT_NE(text.find(R"("framework_module":null)"), std::string::npos);
  EXPECT_NE(text.find(R"("job_name":"job-7")"), std::string::npos);
  EXPECT_NE(text.find(R"("channel_input_dirs":{"eval":"/opt/ml/input/data/eval","train":"/opt/ml/input/data/train"})"), std::string::npos);
  const auto vars = to_env_vars(job.env);
  EXPECT_EQ(*vars.find("SM_TRAINING_ENV"), text);
}

TEST(ToEnvVars, B40_CollidingNamesKeepFirstPlaceAndLastValue) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"t.py\"","lr":"1","LR":"2","x":"3"})";
  const auto vars = to_env_vars(job.build());
  const auto& e = vars.entries();
  ASSERT_GE(e.size(), 2u);
  EXPECT_EQ(e[e.size() - 2].first, "SM_HP_LR");
  EXPECT_EQ(e[e.size() - 2].second, "2");
  EXPECT_EQ(e.back().first, "SM_HP_X");
}

TEST(ToCmdArgs, B48_SortedByCodePointWithNames) {
  EXPECT_EQ(args_of(R"({"U":"1","b":"2","T":"","":"42"})"),
            (std::vector<std::string>{"", "42", "-T", "", "-U", "1", "-b", "2"}));
}

TEST(ToCmdArgs, B49_NoUnderscoreConversion) {
  EXPECT_EQ(args_of(R"({"da-sh":"1","da_der":"2"})"),
            (std::vector<std::string>{"--da-sh", "1", "--da_der", "2"}));
  EXPECT_EQ(args_of(R"({"é":"1"})"), (std::vector<std::string>{"-é", "1"}));  // one code point
}

TEST(ToCmdArgs, B50_ValuesRenderedWithPythonStr) {
  EXPECT_EQ(args_of(R"({"d":{"b":[1,3,4],"a":true,"c":null}})"),
            (std::vector<std::string>{"-d", "a=True,b=[1, 3, 4],c=None"}));
  EXPECT_EQ(args_of(R"({"n":null,"t":true,"f":4.0,"l":["1",["2","3",[["6"]]]],"s":"it's"})"),
            (std::vector<std::string>{"-f", "4.0", "-l", "['1', ['2', '3', [['6']]]]", "-n", "", "-s", "it's", "-t", "True"}));
  EXPECT_EQ(args_of(R"({"l":["it's"]})"), (std::vector<std::string>{"-l", "[\"it's\"]"}));
}

TEST(ToCmdArgs, B51_DecodedHyperparametersAsArguments) {
  const auto decoded = config::decode_hyperparameters(
      json(R"({"lr":"0.00001","big":"1e5","x":"1.50","flag":"true","none":"null"})").as_dict());
  EXPECT_EQ(to_cmd_args(decoded.all),
            (std::vector<std::string>{"--big", "100000.0", "--flag", "True", "--lr", "1e-05", "--none", "", "-x", "1.5"}));
}

}  // namespace
}  // namespace smlaunch::env
