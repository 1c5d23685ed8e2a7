// Launch plans for every runner: B52-B69, B88-B101, B120-B132 and the
// deliberate departures of SPEC.md section 2.
#include <gtest/gtest.h>

#include <algorithm>

#include "plan/common.hpp"
#include "smlaunch/plan.hpp"
#include "test_support.hpp"

namespace smlaunch::plan {
namespace {

using test::Job;

constexpr const char* kTwoHosts = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"network_interface_name":"ethw3"})";
constexpr const char* kTwoHostsWorker = R"({"current_host":"algo-2","hosts":["algo-1","algo-2"],"network_interface_name":"ethw3"})";
constexpr const char* kShim = "/usr/lib/smlaunch/libsmlaunch_hostname.so";

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// The argv after the last "-x NAME" pair: the program part.
std::vector<std::string> tail_after(const std::vector<std::string>& argv, const std::string& token) {
  const auto it = std::find(argv.rbegin(), argv.rend(), token);
  if (it == argv.rend()) return {};
  return {it.base(), argv.end()};
}

Job mpi_job(const char* rc, const std::string& extra_hps = "") {
  Job job;
  job.resource_config = rc;
  job.hyperparameters = R"({"sagemaker_program":"\"train.sh\"","sagemaker_mpi_enabled":"true",)"
                        R"("sagemaker_mpi_num_of_processes_per_host":"2",)"
                        R"("sagemaker_mpi_custom_mpi_options":"\"-v --lr 35\""})";
  if (!extra_hps.empty()) {
    job.hyperparameters.pop_back();
    job.hyperparameters += "," + extra_hps + "}";
  }
  job.environ["AWS_ACCESS_KEY_ID"] = "AKIA";
  job.inputs.tools.hostname_shim = kShim;
  return job;
}

TEST(RunnerSelection, SpecOrderAndTruthiness) {
  const auto kind = [](const char* hps) {
    return runner_from_hyperparameters(test::json(hps).as_dict());
  };
  EXPECT_EQ(kind(R"({"sagemaker_mpi_enabled":true,"sagemaker_distributed_dataparallel_enabled":true})"), RunnerKind::Smddp);
  EXPECT_EQ(kind(R"({"sagemaker_mpi_enabled":true,"sagemaker_pytorch_xla_multi_worker_enabled":true})"), RunnerKind::Mpi);
  EXPECT_EQ(kind(R"({"sagemaker_pytorch_xla_multi_worker_enabled":true,"sagemaker_torch_distributed_enabled":true})"), RunnerKind::Xla);
  EXPECT_EQ(kind(R"({"sagemaker_torch_distributed_enabled":true})"), RunnerKind::Torchrun);
  EXPECT_EQ(kind(R"({"sagemaker_mpi_enabled":false})"), RunnerKind::Process);
  EXPECT_EQ(kind(R"({"sagemaker_mpi_enabled":"False"})"), RunnerKind::Mpi);  // a truthy string (B29)
  EXPECT_EQ(kind("{}"), RunnerKind::Process);
  EXPECT_EQ(parse_runner("torchrun"), RunnerKind::Torchrun);
  EXPECT_EQ(parse_runner("banana"), std::nullopt);
}

TEST(Plan, B52_ForcedRunnerIsUsedAsGiven) {
  Job job;
  job.inputs.forced_runner = RunnerKind::Mpi;
  const auto plan = job.plan();
  EXPECT_EQ(plan.runner, RunnerKind::Mpi);
  EXPECT_EQ(plan.role, Role::Leader);
}

TEST(Plan, B53_EntryPointAndArgumentsComeFromTheEnvironment) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","epochs":"3"})";
  const auto plan = job.plan();
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"/usr/bin/python3", "train.py", "--epochs", "3"}));
  EXPECT_EQ(plan.cwd, "/opt/ml/code");
}

TEST(ProcessesPerHost, B54_DefaultsToGpusThenNeuronCoresThenOne) {
  Job gpu = mpi_job(kTwoHosts);
  gpu.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true"})";
  gpu.facts.hardware.gpus = 8;
  gpu.facts.hardware.neuron_cores = 2;
  EXPECT_EQ(gpu.plan().processes_per_host, 8);
  Job neuron = mpi_job(kTwoHosts);
  neuron.hyperparameters = gpu.hyperparameters;
  neuron.facts.hardware.neuron_cores = 32;
  EXPECT_EQ(neuron.plan().processes_per_host, 32);
  Job cpu = mpi_job(kTwoHosts);
  cpu.hyperparameters = gpu.hyperparameters;
  EXPECT_EQ(cpu.plan().processes_per_host, 1);
}

TEST(ProcessesPerHost, B55_D32_FalsyOrNonIntegerValuesAreErrors) {
  for (const char* bad : {R"("0")", R"("-1")", R"("\"eight\"")", R"("1000000000000")", R"("2.5")", R"("true")"}) {
    Job job = mpi_job(kTwoHosts);
    job.hyperparameters = std::string(R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true","sagemaker_mpi_num_of_processes_per_host":)") + bad + "}";
    (void)job.plan();
    EXPECT_NE(test::messages(job.diagnostics).find(
                  "hyperparameters.json: sagemaker_mpi_num_of_processes_per_host: got"),
              std::string::npos)
        << bad << ": " << test::messages(job.diagnostics);
    EXPECT_NE(test::messages(job.diagnostics).find("expected an integer from 1 to 4096"), std::string::npos);
  }
}

TEST(Plan, B56_RolesPerRunner) {
  const auto role = [](const char* rc, const char* flag) {
    Job job;
    job.resource_config = rc;
    job.hyperparameters = std::string(R"({"sagemaker_program":"\"train.py\"",")") + flag + R"(":"true"})";
    job.facts.hardware.gpus = 1;
    const auto plan = job.plan();
    EXPECT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
    return std::string(to_string(plan.runner)) + "/" + std::string(to_string(plan.role));
  };
  EXPECT_EQ(role(kTwoHosts, "sagemaker_mpi_enabled"), "mpi/leader");
  EXPECT_EQ(role(kTwoHostsWorker, "sagemaker_mpi_enabled"), "mpi/worker");
  EXPECT_EQ(role(kTwoHosts, "sagemaker_distributed_dataparallel_enabled"), "smddp/leader");
  EXPECT_EQ(role(kTwoHostsWorker, "sagemaker_distributed_dataparallel_enabled"), "smddp/worker");
  EXPECT_EQ(role(kTwoHostsWorker, "sagemaker_torch_distributed_enabled"), "torchrun/node");
  EXPECT_EQ(role(kTwoHostsWorker, "sagemaker_pytorch_xla_multi_worker_enabled"), "xla/node");
  EXPECT_EQ(role(kTwoHostsWorker, "not_a_flag"), "process/single");
}

TEST(Plan, B56_WorkerHasNothingToRun) {
  Job job = mpi_job(kTwoHostsWorker);
  const auto plan = job.plan();
  EXPECT_TRUE(plan.argv.empty());
  EXPECT_EQ(plan.leader, "algo-1");
  EXPECT_EQ(plan.num_processes, 4);
  EXPECT_NE(plan.env.find("SM_HOSTS"), nullptr);  // for /etc/environment
}

TEST(MpiPlan, B57_CountsFromHyperparametersAndOptionsVerbatim) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_num_processes":"3","sagemaker_mpi_custom_mpi_options":"\"-X NCCL_DEBUG=WARN\"")");
  const auto plan = job.plan();
  EXPECT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_EQ(plan.processes_per_host, 2);
  EXPECT_EQ(plan.num_processes, 3);
  EXPECT_NE(joined(plan.argv).find("LD_PRELOAD=" + std::string(kShim) + " -X NCCL_DEBUG=WARN -x"), std::string::npos);
}

TEST(MpiPlan, NumProcessesLargerThanSlotsIsAnError) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_num_processes":"5")");
  (void)job.plan();
  EXPECT_NE(test::messages(job.diagnostics).find("sagemaker_mpi_num_processes: got 5, expected an integer from 1 to 4"),
            std::string::npos) << test::messages(job.diagnostics);
}

TEST(EntryPoint, B64_Types) {
  EXPECT_EQ(entry_point_type("train.sh", true), EntryPointType::Command);
  EXPECT_EQ(entry_point_type("train.py", true), EntryPointType::PythonPackage);
  EXPECT_EQ(entry_point_type("train.py", false), EntryPointType::PythonProgram);
  EXPECT_EQ(entry_point_type("train", false), EntryPointType::Command);
  EXPECT_EQ(entry_point_type("module", true), EntryPointType::PythonPackage);
  // D37: a nested path stays a program even with a setup.py.
  EXPECT_EQ(entry_point_type("pkg/train.py", true), EntryPointType::PythonProgram);
}

TEST(EntryPoint, B65_PackageCommandStripsOnlyTheTrailingPy) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"my.pyutil.py\"","lr":"13"})";
  job.inputs.code.has_setup_py = true;
  EXPECT_EQ(job.plan().argv, (std::vector<std::string>{"/usr/bin/python3", "-m", "my.pyutil", "--lr", "13"}));
}

TEST(EntryPoint, B66_ProgramCommand) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","lr":"13"})";
  EXPECT_EQ(job.plan().argv, (std::vector<std::string>{"/usr/bin/python3", "train.py", "--lr", "13"}));
}

TEST(EntryPoint, B67_D15_CommandRunsDirectlyWithSeparateArguments) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"launcher.sh\"","lr":"\"1 3\"","x":"\"$(touch /tmp/pwned)\""})";
  EXPECT_EQ(job.plan().argv, (std::vector<std::string>{"./launcher.sh", "--lr", "1 3", "-x", "$(touch /tmp/pwned)"}));
}

TEST(EntryPoint, B68_MissingPythonIsAConfigurationProblem) {
  Job job;
  job.inputs.tools.python.reset();
  (void)job.plan();
  EXPECT_NE(test::messages(job.diagnostics).find("environment: python: no SMLAUNCH_PYTHON, python3 or python on PATH"),
            std::string::npos);
}

TEST(EntryPoint, B69_MpiPythonCommandsRunUnderMpi4py) {
  Job program = mpi_job(kTwoHosts);
  program.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true","lr":"1"})";
  EXPECT_EQ(tail_after(program.plan().argv, "PYTHONPATH"),
            (std::vector<std::string>{"/usr/bin/python3", "-m", "mpi4py", "train.py", "--lr", "1"}));
  Job package = mpi_job(kTwoHosts);
  package.hyperparameters = program.hyperparameters;
  package.inputs.code.has_setup_py = true;
  EXPECT_EQ(tail_after(package.plan().argv, "PYTHONPATH"),
            (std::vector<std::string>{"/usr/bin/python3", "-m", "mpi4py", "-m", "train", "--lr", "1"}));
}

TEST(EntryPoint, B60_MissingOrEscapingEntryPointIsAnErrorUnlessCodeIsStillToBeFetched) {
  for (const char* name : {"../escape.py", "/abs/train.py", "a/../../b.py"}) {
    Job job;
    job.hyperparameters = std::string(R"({"sagemaker_program":")") + "\\\"" + name + "\\\"\"}";
    (void)job.plan();
    EXPECT_NE(test::messages(job.diagnostics).find("expected a file name relative to the code directory"), std::string::npos) << name;
  }
  Job absent;
  absent.inputs.code.entry_point_exists = false;
  (void)absent.plan();
  EXPECT_NE(test::messages(absent.diagnostics).find("\"train.py\" does not exist in /opt/ml/code"), std::string::npos);
  Job fetched = absent;  // code still to come from a submit directory: not checked yet
  fetched.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_submit_directory":"\"s3://b/src.tar.gz\""})";
  fetched.inputs.code.populated = false;
  fetched.diagnostics = {};
  (void)fetched.plan();
  EXPECT_TRUE(fetched.diagnostics.empty()) << test::messages(fetched.diagnostics);
}

// B156 without the shell: the same tokens in the same order, the command
// entry point executed directly.
TEST(MpiPlan, B88_B89_B90_B91_B92_B95_B96_B97_ReferenceCommand) {
  Job job = mpi_job(kTwoHosts, R"("lr":"35","v":"\"\"")");
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const std::string prefix =
      "mpirun --host algo-1:2,algo-2:2 -np 4 --allow-run-as-root --display-map --tag-output "
      "-mca btl_tcp_if_include ethw3 -mca oob_tcp_if_include ethw3 -mca plm_rsh_no_tree_spawn 1 "
      "-bind-to none -map-by slot -mca pml ob1 -mca btl ^openib -mca orte_abort_on_non_zero_status 1 "
      "-mca btl_vader_single_copy_mechanism none -x NCCL_MIN_NRINGS=4 -x NCCL_SOCKET_IFNAME=ethw3 "
      "-x NCCL_DEBUG=INFO -x LD_LIBRARY_PATH -x PATH -x LD_PRELOAD=" + std::string(kShim) +
      " -v --lr 35 -x AWS_ACCESS_KEY_ID -x SM_HOSTS -x SM_NETWORK_INTERFACE_NAME -x SM_HPS ";
  EXPECT_EQ(joined(plan.argv).substr(0, prefix.size()), prefix);
  EXPECT_NE(joined(plan.argv).find("-x SM_HP_LR -x SM_HP_V -x PYTHONPATH ./train.sh --lr 35 -v "),
            std::string::npos) << joined(plan.argv);
  EXPECT_EQ(plan.argv.back(), "");  // the empty value of -v stays an argument
}

TEST(MpiPlan, B89_OneProcessPerHostGivesBareHostList) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_num_of_processes_per_host":"1")");
  const auto plan = job.plan();
  EXPECT_EQ(plan.argv[2], "algo-1,algo-2");
  EXPECT_EQ(plan.argv[4], "2");
}

TEST(MpiPlan, B91_NcclDebugOverrideIsTakenOut) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_custom_mpi_options":"\"-x A --NCCL_DEBUG=WARN -y B\"")");
  const auto text = joined(job.plan().argv);
  EXPECT_NE(text.find("-x NCCL_DEBUG=WARN"), std::string::npos);
  EXPECT_NE(text.find(std::string(kShim) + " -x A -y B -x AWS_ACCESS_KEY_ID"), std::string::npos) << text;
}

TEST(MpiPlan, D22_BadCustomOptionsAreConfigurationErrors) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_custom_mpi_options":"\"-hostfile /tmp/h\"")");
  (void)job.plan();
  EXPECT_NE(test::messages(job.diagnostics).find("hyperparameters.json: sagemaker_mpi_custom_mpi_options: "),
            std::string::npos) << test::messages(job.diagnostics);
}

TEST(MpiPlan, D22_QuotedOptionsKeepTheirSpaces) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_custom_mpi_options":"\"-x FOO='a b' -x \\\"BAR=$(id)\\\"\"")");
  const auto& argv = job.plan().argv;
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_NE(std::find(argv.begin(), argv.end(), "FOO=a b"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "BAR=$(id)"), argv.end());
}

TEST(MpiPlan, B93_EfaFlagsForListedInstanceTypes) {
  const auto efa = [](const char* type) {
    Job job = mpi_job(kTwoHosts);
    job.resource_config = std::string(R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_instance_type":")") + type + "\"}";
    const std::string text = joined(job.plan().argv);
    std::string flags;
    for (const char* f : {"FI_PROVIDER=efa", "NCCL_PROTO=simple", "FI_EFA_USE_DEVICE_RDMA=1"}) {
      if (text.find(f) != std::string::npos) flags += std::string(f) + " ";
    }
    return flags;
  };
  EXPECT_EQ(efa("ml.p4d.24xlarge"), "FI_PROVIDER=efa NCCL_PROTO=simple FI_EFA_USE_DEVICE_RDMA=1 ");
  EXPECT_EQ(efa("ml.p5.48xlarge"), "FI_PROVIDER=efa NCCL_PROTO=simple ");
  EXPECT_EQ(efa("ml.p3.16xlarge"), "");
  EXPECT_EQ(efa("local"), "");
}

TEST(MpiPlan, B94_D27_ShimIsPrependedToAnExistingPreload) {
  Job job = mpi_job(kTwoHosts);
  job.environ["LD_PRELOAD"] = "/usr/lib/libjemalloc.so";
  EXPECT_NE(joined(job.plan().argv).find("-x LD_PRELOAD=" + std::string(kShim) + ":/usr/lib/libjemalloc.so "),
            std::string::npos);
}

TEST(MpiPlan, B95_CredentialsForwardedByNameOnlyWhenSet) {
  Job job = mpi_job(kTwoHosts);
  job.environ["AWS_SESSION_TOKEN"] = "secret";
  const std::string text = joined(job.plan().argv);
  EXPECT_NE(text.find("-x AWS_ACCESS_KEY_ID -x AWS_SESSION_TOKEN -x SM_HOSTS"), std::string::npos);
  EXPECT_EQ(text.find("secret"), std::string::npos);
  EXPECT_EQ(text.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

// Other secret-named variables are kept out of the workers' /etc/environment:
// -x by name is how ranks there get them (deterministic: name order).
TEST(MpiPlan, SecretNamedVariablesAreForwardedByNameInNameOrder) {
  Job job = mpi_job(kTwoHosts);
  job.environ["AWS_SESSION_TOKEN"] = "aws-token-value";
  job.environ["WANDB_API_KEY"] = "wandb-value";
  job.environ["HF_TOKEN"] = "hf-value";
  job.environ["DB_PASSWORD"] = "db-value";
  job.environ["NOT-A-NAME_TOKEN"] = "dash-value";
  job.environ["KEY_SIZE"] = "2048";  // a safe name
  const std::string text = joined(job.plan().argv);
  EXPECT_NE(text.find("-x AWS_ACCESS_KEY_ID -x AWS_SESSION_TOKEN -x DB_PASSWORD -x HF_TOKEN -x WANDB_API_KEY "
                      "-x SM_HOSTS"),
            std::string::npos)
      << text;
  for (const char* value : {"aws-token-value", "wandb-value", "hf-value", "db-value", "NOT-A-NAME", "KEY_SIZE"}) {
    EXPECT_EQ(text.find(value), std::string::npos) << value << " in " << text;
  }
}

TEST(SmddpPlan, SecretNamedVariablesAreForwardedByName) {
  Job job;
  job.resource_config = kTwoHosts;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_distributed_dataparallel_enabled":"true"})";
  job.environ["HF_TOKEN"] = "hf-value";
  const std::string text = joined(job.plan().argv);
  EXPECT_NE(text.find("-x HF_TOKEN -x SM_HOSTS"), std::string::npos) << text;
  EXPECT_EQ(text.find("hf-value"), std::string::npos) << text;
}

// mpirun's own ssh to the workers gets a connect timeout and keepalives,
// through the environment: the argv stays the reference's.
TEST(MpiPlan, MpirunSshIsBoundedThroughTheEnvironment) {
  Job v4 = mpi_job(kTwoHosts);
  const auto plan4 = v4.plan();
  ASSERT_NE(plan4.env.find("OMPI_MCA_plm_rsh_args"), nullptr);
  EXPECT_EQ(*plan4.env.find("OMPI_MCA_plm_rsh_args"), kMpirunSshArgs);
  EXPECT_NE(kMpirunSshArgs.find("-o ConnectTimeout=30"), std::string_view::npos);
  EXPECT_EQ(joined(plan4.argv).find("plm_rsh_args"), std::string::npos);
  EXPECT_EQ(plan4.env.find("PRTE_MCA_plm_ssh_args"), nullptr);

  Job v5 = mpi_job(kTwoHosts);
  v5.inputs.tools.openmpi_version = mpi::OpenMpiVersion::V5;
  const auto plan5 = v5.plan();
  ASSERT_NE(plan5.env.find("PRTE_MCA_plm_ssh_args"), nullptr);
  EXPECT_EQ(*plan5.env.find("PRTE_MCA_plm_ssh_args"), kMpirunSshArgs);

  Job own = mpi_job(kTwoHosts);
  own.environ["OMPI_MCA_plm_rsh_args"] = "-p 2222";
  EXPECT_EQ(own.plan().env.find("OMPI_MCA_plm_rsh_args"), nullptr) << "the job's own setting is inherited";

  Job one = mpi_job(R"({"current_host":"algo-1","hosts":["algo-1"]})");
  EXPECT_EQ(one.plan().env.find("OMPI_MCA_plm_rsh_args"), nullptr) << "no ssh on one host";

  Job worker = mpi_job(kTwoHostsWorker);
  EXPECT_EQ(worker.plan().env.find("OMPI_MCA_plm_rsh_args"), nullptr) << "workers run no mpirun";
}

TEST(MpiPlan, B99_B100_ModelParallelTokens) {
  Job job = mpi_job(kTwoHosts, R"("mp_parameters":"{\"partitions\":2}")");
  job.environ["SM_DLC_TORCH_VERSION"] = "2.0.0";
  job.facts.smddpmprun_on_path = true;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_instance_type":"ml.p3.16xlarge"})";
  const std::string text = joined(job.plan().argv);
  EXPECT_NE(text.find("-x PYTHONPATH -x NCCL_PROTO=simple -x NCCL_ALGO=ring smddpmprun -i ml.p3.16xlarge --allow-bypass ./train.sh"),
            std::string::npos) << text;

  Job old_torch = mpi_job(kTwoHosts, R"("mp_parameters":"{\"ddp_dist_backend\":\"nccl\"}")");
  old_torch.environ["SM_DLC_TORCH_VERSION"] = "1.13.1";
  old_torch.facts.smddpmprun_on_path = true;
  const std::string text2 = joined(old_torch.plan().argv);
  EXPECT_NE(text2.find("-x PYTHONPATH -x NCCL_PROTO=simple ./train.sh"), std::string::npos) << text2;

  Job off = mpi_job(kTwoHosts, R"("mp_parameters":"{}")");
  off.environ["SM_DLC_TORCH_VERSION"] = "2.0.0";
  EXPECT_NE(joined(off.plan().argv).find("-x PYTHONPATH ./train.sh"), std::string::npos);
}

TEST(MpiPlan, OpenMpi5UsesItsOwnOptionNames) {
  Job job = mpi_job(kTwoHosts);
  job.inputs.tools.openmpi_version = mpi::OpenMpiVersion::V5;
  const std::string text = joined(job.plan().argv);
  EXPECT_EQ(text.find("orte_abort_on_non_zero_status"), std::string::npos) << text;
  EXPECT_EQ(text.find("btl_vader"), std::string::npos) << text;
  EXPECT_EQ(text.find("--display-map"), std::string::npos) << text;
  EXPECT_NE(text.find("-x NCCL_MIN_NRINGS=4 -x NCCL_SOCKET_IFNAME=ethw3"), std::string::npos);
}

TEST(MpiPlan, MpiFlagRunsTheGivenCommand) {
  Job job = mpi_job(kTwoHosts);
  job.inputs.user_command = std::vector<std::string>{"python3", "x.py", "--a b"};
  const auto plan = job.plan();
  EXPECT_EQ(tail_after(plan.argv, "PYTHONPATH"), (std::vector<std::string>{"python3", "x.py", "--a b"}));
}

TEST(SmddpPlan, B121_B122_MultiNodeCommand) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_instance_type":"ml.p4d.24xlarge","network_interface_name":"ethw3"})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_distributed_dataparallel_enabled":"true",)"
                        R"("sagemaker_distributed_dataparallel_custom_mpi_options":"\"--NCCL_DEBUG WARN -v\"","sagemaker_mpi_num_processes":"3"})";
  job.facts.hardware.gpus = 8;
  job.facts.smddprun_on_path = true;
  job.inputs.tools.hostname_shim = kShim;
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_EQ(plan.num_processes, 16);  // sagemaker_mpi_num_processes ignored
  const std::string expected =
      "mpirun --host algo-1:8,algo-2:8 -np 16 --allow-run-as-root --tag-output --oversubscribe "
      "-mca btl_tcp_if_include ethw3 -mca oob_tcp_if_include ethw3 -mca plm_rsh_no_tree_spawn 1 "
      "-mca pml ob1 -mca btl ^openib -mca orte_abort_on_non_zero_status 1 "
      "-mca btl_vader_single_copy_mechanism none -mca plm_rsh_num_concurrent 2 "
      "-x NCCL_SOCKET_IFNAME=ethw3 -x NCCL_DEBUG=WARN -x LD_LIBRARY_PATH -x PATH "
      "-x SMDATAPARALLEL_USE_HOMOGENEOUS=1 -x FI_PROVIDER=efa -x RDMAV_FORK_SAFE=1 "
      "-x LD_PRELOAD=" + std::string(kShim) + " -v -x NCCL_PROTO=simple -x FI_EFA_USE_DEVICE_RDMA=1 "
      "-x SMDATAPARALLEL_SERVER_ADDR=algo-1 -x SMDATAPARALLEL_SERVER_PORT=7592 "
      "-x SAGEMAKER_INSTANCE_TYPE=ml.p4d.24xlarge -x SM_HOSTS";
  EXPECT_EQ(joined(plan.argv).substr(0, expected.size()), expected);
  EXPECT_EQ(tail_after(plan.argv, "PYTHONPATH"),
            (std::vector<std::string>{"smddprun", "/usr/bin/python3", "-m", "mpi4py", "train.py"}));
}

TEST(SmddpPlan, B121_SingleNodeAndNoSmddprun) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_distributed_dataparallel_enabled":"true"})";
  job.facts.hardware.gpus = 4;
  const auto plan = job.plan();
  const std::string text = joined(plan.argv);
  EXPECT_NE(text.find("--host algo-1 -np 4 "), std::string::npos) << text;
  EXPECT_NE(text.find("-x SMDATAPARALLEL_USE_SINGLENODE=1"), std::string::npos);
  EXPECT_EQ(text.find("SMDATAPARALLEL_SERVER_ADDR"), std::string::npos);
  EXPECT_EQ(text.find("smddprun"), std::string::npos);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(plan.warnings[0], "smddprun not being used as smddp is not installed");
}

TEST(SmddpPlan, B123_InstanceTypeFromFrameworkParameter) {
  Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_instance_type":"ml.p3.16xlarge"})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_distributed_dataparallel_enabled":"true","sagemaker_instance_type":"\"ml.p4d.24xlarge\""})";
  const std::string text = joined(job.plan().argv);
  EXPECT_NE(text.find("SAGEMAKER_INSTANCE_TYPE=ml.p4d.24xlarge"), std::string::npos);
  EXPECT_NE(text.find("FI_EFA_USE_DEVICE_RDMA=1"), std::string::npos);
}

TEST(TorchrunPlan, B125_B127_MultiNode) {
  Job job;
  job.resource_config = R"({"current_host":"algo-2","hosts":["algo-1","algo-2"],"current_instance_type":"ml.trn1.32xlarge"})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_torch_distributed_enabled":"true","lr":"35","v":"\"\""})";
  job.facts.hardware.neuron_cores = 32;
  job.inputs.tools.torchrun = "/usr/bin/torchrun";
  const auto plan = job.plan();
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"/usr/bin/torchrun", "--nnodes", "2", "--nproc_per_node", "32",
                                                 "--master_addr", "algo-1", "--master_port", "7777",
                                                 "--node_rank", "1", "train.py", "--lr", "35", "-v", ""}));
  EXPECT_EQ(*plan.env.find("FI_PROVIDER"), "efa");
  EXPECT_EQ(*plan.env.find("FI_EFA_USE_DEVICE_RDMA"), "1");
  EXPECT_EQ(*plan.env.find("RDMAV_FORK_SAFE"), "1");
  EXPECT_EQ(*plan.env.find("NCCL_SOCKET_IFNAME"), "eth0");
  EXPECT_EQ(*plan.env.find("NCCL_PROTO"), "simple");
}

TEST(TorchrunPlan, B127_SingleNodeWithoutTorchrunOnPathAndNeuronCompile) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_torch_distributed_enabled":"true"})";
  job.environ["RUN_NEURON_PARALLEL_COMPILE"] = "1";
  job.inputs.tools.neuron_parallel_compile = "/opt/bin/neuron_parallel_compile";
  EXPECT_EQ(job.plan().argv, (std::vector<std::string>{"/opt/bin/neuron_parallel_compile", "/usr/bin/python3", "-m",
                                                       "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
                                                       "1", "train.py"}));
}

TEST(TorchrunPlan, B126_OnlyScripts) {
  for (const char* entry : {"train.sh", "train"}) {
    Job job;
    job.hyperparameters = std::string(R"({"sagemaker_program":"\")") + entry + R"(\"","sagemaker_torch_distributed_enabled":"true"})";
    (void)job.plan();
    EXPECT_NE(test::messages(job.diagnostics).find("expected a Python script (.py) for the torchrun runner"), std::string::npos);
  }
}

TEST(XlaPlan, B129_B131_B132_Environment) {
  Job job;
  job.resource_config = R"({"current_host":"algo-2","hosts":["algo-1","algo-2"]})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_pytorch_xla_multi_worker_enabled":"true","lr":"1"})";
  job.facts.hardware.gpus = 8;
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"/usr/bin/python3", "-m", "torch_xla.distributed.xla_spawn",
                                                 "--num_gpus", "8", "train.py", "--lr", "1"}));
  const auto v = [&](const char* name) { return *plan.env.find(name); };
  EXPECT_EQ(v("NCCL_DEBUG"), "info");
  EXPECT_EQ(v("NCCL_PROTO"), "simple");
  EXPECT_EQ(v("FI_EFA_USE_DEVICE_RDMA"), "1");
  EXPECT_EQ(v("OFI_NCCL_NIC_DUP_CONNS"), "8");
  EXPECT_EQ(v("XRT_HOST_ORDINAL"), "1");
  EXPECT_EQ(v("XRT_SHARD_WORLD_SIZE"), "2");
  EXPECT_EQ(v("XRT_WORKERS"), "localservice:0;algo-1:43857|localservice:1;algo-2:43857");
  EXPECT_EQ(v("GPU_NUM_DEVICES"), "8");
  EXPECT_EQ(v("XRT_MESH_SERVICE_ADDRESS"), "algo-1:53957");
}

TEST(XlaPlan, B130_NeedsGpus) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_pytorch_xla_multi_worker_enabled":"true"})";
  (void)job.plan();
  EXPECT_NE(test::messages(job.diagnostics).find("PT-XLA is only supported for GPUs"), std::string::npos);
}

TEST(Plan, B138_HostOutsideTheDistributionGroupRunsAProcess) {
  Job job;
  job.resource_config =
      R"({"current_host":"algo-1","hosts":["algo-1","algo-2"],"current_group_name":"cpu",)"
      R"("instance_groups":[{"instance_group_name":"cpu","hosts":["algo-1"]},{"instance_group_name":"gpu","hosts":["algo-2"]}]})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true","sagemaker_distribution_instance_groups":"[\"gpu\"]"})";
  const auto plan = job.plan();
  EXPECT_EQ(plan.runner, RunnerKind::Process);
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"/usr/bin/python3", "train.py"}));
}

TEST(Plan, BaseDirFromTheCommandLineReachesTheJobAndEveryRank) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true"})";
  job.inputs.export_base_dir = "/data/job/opt/ml";
  const auto plan = job.plan();
  EXPECT_EQ(*plan.env.find("SAGEMAKER_BASE_DIR"), "/data/job/opt/ml");
  EXPECT_EQ(tail_after(plan.argv, "-x").front(), "PYTHONPATH");
  EXPECT_NE(joined(plan.argv).find("-x SAGEMAKER_BASE_DIR -x PYTHONPATH"), std::string::npos);
  Job plain;
  EXPECT_EQ(plain.plan().env.find("SAGEMAKER_BASE_DIR"), nullptr);
}

TEST(Plan, D28_PythonPathPrependsTheCodeDirectory) {
  Job job;
  job.environ["PYTHONPATH"] = "/opt/lib";
  EXPECT_EQ(*job.plan().env.find("PYTHONPATH"), "/opt/ml/code:/opt/lib");
  Job none;
  EXPECT_EQ(*none.plan().env.find("PYTHONPATH"), "/opt/ml/code");
}

TEST(PlanJson, DesignShapeAndOrder) {
  Job job = mpi_job(kTwoHosts);
  const auto text = to_json(job.plan());
  const auto parsed = test::json(text);
  std::vector<std::string> keys;
  for (const auto& [k, v] : parsed.as_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"runner", "role", "current_host", "leader", "hosts", "processes_per_host",
                                            "num_processes", "argv", "env", "cwd"}));
  EXPECT_EQ(parsed.as_dict().find("runner")->as_str(), "mpi");
  EXPECT_EQ(*parsed.as_dict().find("num_processes")->to_int64(), 4);
}

// ---- What one exec can carry (MAX_ARG_STRLEN, ARG_MAX) ----------------------

std::string exec_limit_messages(Job& job, const LaunchPlan& plan, std::size_t total = std::size_t{2} << 20) {
  Diagnostics d;
  ExecLimits limits;
  limits.max_total_bytes = total;
  check_exec_limits(plan, job.env, job.environ, limits, d);
  return test::messages(d);
}

TEST(ExecLimits, ValueTooLongForOneArgumentNamesTheHyperparameterAndTheLimit) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","big":")" + std::string(200'000, 'a') + R"(","lr":"0.1"})";
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const std::string messages = exec_limit_messages(job, plan);
  EXPECT_NE(messages.find("hyperparameters.json: big: a value of 200003 bytes, which makes "), std::string::npos)
      << messages;
  for (const char* carrier : {"SM_HP_BIG", "SM_HPS", "SM_TRAINING_ENV", "SM_USER_ARGS", "the argument after --big"}) {
    EXPECT_NE(messages.find(carrier), std::string::npos) << carrier << " in " << messages;
  }
  EXPECT_NE(messages.find("at most 131071 bytes"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("lr"), std::string::npos) << messages;
  EXPECT_EQ(std::count(messages.begin(), messages.end(), '\n'), 1) << "one problem: " << messages;
  EXPECT_LT(messages.size(), 1000u) << "no value in the message";
}

TEST(ExecLimits, ValueThatOnlyMakesTheDerivedVariablesTooLongBlamesIt) {
  // 70,000 quotes: 70 KB as an argument, 140 KB JSON-escaped in SM_HPS.
  // Backslash-quote pairs in the file decode to quotes (not JSON: kept raw).
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","quotes":")";
  for (int i = 0; i < 70'000; ++i) job.hyperparameters += "\\\"";
  job.hyperparameters += R"("})";
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const std::string messages = exec_limit_messages(job, plan);
  EXPECT_NE(messages.find("hyperparameters.json: quotes: "), std::string::npos) << messages;
  EXPECT_NE(messages.find("SM_HPS"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("SM_HP_QUOTES"), std::string::npos) << messages;
}

TEST(ExecLimits, FrameworkParameterTooLongIsNamedToo) {
  Job job = mpi_job(kTwoHosts, R"("sagemaker_mpi_custom_mpi_options":")" + std::string("-x A=") +
                                   std::string(140'000, 'b') + "\"");
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const std::string messages = exec_limit_messages(job, plan);
  EXPECT_NE(messages.find("hyperparameters.json: sagemaker_mpi_custom_mpi_options: "), std::string::npos)
      << messages;
  EXPECT_NE(messages.find("SM_FRAMEWORK_PARAMS"), std::string::npos) << messages;
}

TEST(ExecLimits, TotalOverTheLimitNamesTheLargestHyperparameter) {
  Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","a":")" + std::string(20'000, 'a') +
                        R"(","b":")" + std::string(50'000, 'b') + R"("})";
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  EXPECT_EQ(exec_limit_messages(job, plan), "") << "fits in 2 MiB";
  const std::string messages = exec_limit_messages(job, plan, 256 * 1024);
  EXPECT_NE(messages.find("hyperparameters.json: b: a value of 50001 bytes (the largest)"), std::string::npos)
      << messages;
  EXPECT_NE(messages.find("at most 262144 bytes in all"), std::string::npos) << messages;
}

TEST(ExecLimits, AnOrdinaryJobFits) {
  Job job = mpi_job(kTwoHosts, R"("lr":"35")");
  const auto plan = job.plan();
  EXPECT_EQ(exec_limit_messages(job, plan), "");
}

TEST(ShellQuote, QuotesForDisplayOnly) {
  EXPECT_EQ(shell_quote("a-b_c/d.e:f"), "a-b_c/d.e:f");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("1 3"), "'1 3'");
  EXPECT_EQ(shell_quote("it's"), "'it'\"'\"'s'");
}

}  // namespace
}  // namespace smlaunch::plan
