// Planning cost without process start-up: the in-memory part of
// `smlaunch plan` (decode the three documents, build the training
// environment, the SM_* map and the mpirun command) for an MPI job on
// ml.p4d.24xlarge hosts. bench/plan_process measures the whole process.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <variant>

#include "smlaunch/config.hpp"
#include "smlaunch/plan.hpp"

namespace {

using namespace smlaunch;  // NOLINT(google-build-using-namespace): a benchmark file

struct Documents {
  std::string resource_config;
  std::string hyperparameters;
  std::string input_data_config;
};

Documents p4d_documents(int hosts) {
  std::string names;
  for (int i = 1; i <= hosts; ++i) names += fmt::format("{}\"algo-{}\"", i > 1 ? "," : "", i);
  Documents d;
  d.resource_config = fmt::format(
      R"({{"current_host":"algo-1","current_instance_type":"ml.p4d.24xlarge","current_group_name":"homogeneousCluster",)"
      R"("hosts":[{0}],"instance_groups":[{{"instance_group_name":"homogeneousCluster","instance_type":"ml.p4d.24xlarge","hosts":[{0}]}}],)"
      R"("network_interface_name":"eth0"}})",
      names);
  d.hyperparameters =
      R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\"/opt/ml/code\"",)"
      R"("sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":"8",)"
      R"("sagemaker_mpi_custom_mpi_options":"\"-x NCCL_DEBUG=WARN --NCCL_DEBUG WARN\"",)"
      R"("sagemaker_region":"\"us-west-2\"","sagemaker_job_name":"\"bench-job\"",)"
      R"("epochs":"10","lr":"0.00001","batch-size":"256","model":"\"resnet50\""})";
  d.input_data_config =
      R"({"train":{"TrainingInputMode":"File","S3DistributionType":"FullyReplicated","RecordWrapperType":"None"},)"
      R"("test":{"TrainingInputMode":"File","S3DistributionType":"FullyReplicated","RecordWrapperType":"None"}})";
  return d;
}

py::Value decode(const std::string& text) { return std::get<py::Value>(py::loads(text)); }

void BM_PlanMpiP4d(benchmark::State& state) {
  const Documents docs = p4d_documents(static_cast<int>(state.range(0)));
  const config::Environ environ{{"PATH", "/usr/bin:/bin"}, {"AWS_ACCESS_KEY_ID", "x"}};
  config::HostFacts facts;
  facts.hardware.gpus = 8;
  facts.hardware.cpus = 96;
  for (auto _ : state) {
    Diagnostics diagnostics;
    const config::ConfigFiles files{decode(docs.resource_config), decode(docs.input_data_config),
                                    decode(docs.hyperparameters), true};
    const auto env = config::build_training_env(config::Paths::from_base("/opt/ml"), files, environ,
                                                facts, diagnostics);
    plan::PlanInputs inputs;
    inputs.env = &env;
    inputs.environ = &environ;
    inputs.tools.python = "/usr/bin/python3";
    inputs.tools.hostname_shim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";
    inputs.code.entry_point_exists = true;
    inputs.code.populated = true;
    auto plan = plan::make_plan(inputs, diagnostics);
    if (!diagnostics.empty()) state.SkipWithError("the benchmark config is invalid");
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_PlanMpiP4d)->Arg(4)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
