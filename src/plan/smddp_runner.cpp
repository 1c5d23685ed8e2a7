// The SageMaker distributed data parallel runner (B120-B124): mpirun with the
// SMDDP settings on the leader; the other hosts serve sshd and wait.
#include "plan/openmpi_dialect.hpp"
#include "plan/runner.hpp"

namespace smlaunch::plan {
namespace {

constexpr std::string_view kCustomOptionsKey = "sagemaker_distributed_dataparallel_custom_mpi_options";
constexpr std::string_view kServerPort = "7592";
constexpr std::string_view kDefaultNcclDebug = "INFO";

// B123: the framework parameter sagemaker_instance_type wins.
std::string instance_type(const PlanContext& ctx) {
  const py::Value* v = ctx.env.additional_framework_parameters.find("sagemaker_instance_type");
  if (v != nullptr && v->is_str()) return v->as_str();
  return ctx.env.current_instance_type;
}

class SmddpRunner final : public Runner {
 public:
  void plan(PlanContext& ctx, LaunchPlan& plan) const override {
    assign_hosts_and_role(ctx, plan, "smddp", Launch::FromLeader);
    plan.processes_per_host = processes_per_host(ctx);
    // B121: always pph x hosts; sagemaker_mpi_num_processes does not apply.
    plan.num_processes = plan.processes_per_host * static_cast<std::int64_t>(plan.hosts.size());
    const mpi::CustomOptions custom = custom_mpi_options(ctx, kCustomOptionsKey);
    if (plan.role == Role::Worker) return;

    const bool multi_node = plan.hosts.size() > 1;
    const std::string type = instance_type(ctx);
    const std::string& iface = ctx.env.network_interface_name;
    auto& argv = plan.argv;
    argv = {ctx.inputs.tools.mpirun, "--host", host_list(plan.hosts, plan.processes_per_host, !multi_node),
            "-np", std::to_string(plan.num_processes)};
    mpi::append_launch_options(
        argv, plan.openmpi_version,
        mpi::DialectOptions{.interface_name = iface,
                            .shape = mpi::CommandShape::Smddp,
                            .rsh_num_concurrent = static_cast<int>(plan.hosts.size())});
    argv.insert(argv.end(),
                {"-x", "NCCL_SOCKET_IFNAME=" + iface, "-x",
                 "NCCL_DEBUG=" + custom.nccl_debug.value_or(std::string(kDefaultNcclDebug)), "-x",
                 "LD_LIBRARY_PATH", "-x", "PATH", "-x",
                 multi_node ? "SMDATAPARALLEL_USE_HOMOGENEOUS=1" : "SMDATAPARALLEL_USE_SINGLENODE=1",
                 "-x", "FI_PROVIDER=efa", "-x", "RDMAV_FORK_SAFE=1", "-x",
                 "LD_PRELOAD=" + ld_preload_value(ctx)});
    argv.insert(argv.end(), custom.passthrough.begin(), custom.passthrough.end());
    if (is_efa_nccl_instance(type)) argv.insert(argv.end(), {"-x", "NCCL_PROTO=simple"});
    if (is_efa_rdma_instance(type)) argv.insert(argv.end(), {"-x", "FI_EFA_USE_DEVICE_RDMA=1"});
    if (multi_node) {
      argv.insert(argv.end(), {"-x", "SMDATAPARALLEL_SERVER_ADDR=" + plan.leader, "-x",
                               "SMDATAPARALLEL_SERVER_PORT=" + std::string(kServerPort), "-x",
                               "SAGEMAKER_INSTANCE_TYPE=" + type});
    }
    // D39 fixed: the ranks get the SM_* variables and credentials through -x,
    // as under the MPI runner, instead of depending on /etc/environment.
    append_credential_names(ctx, argv);
    bound_mpirun_ssh(ctx, plan);
    for (const auto& name : ctx.forwarded_names) argv.insert(argv.end(), {"-x", name});
    if (ctx.env.is_smddprun_installed) {
      argv.push_back(ctx.inputs.tools.smddprun);
    } else {
      plan.warnings.emplace_back("smddprun not being used as smddp is not installed");
    }
    const auto program = ctx.mpi_program();
    argv.insert(argv.end(), program.begin(), program.end());
  }
};

}  // namespace

std::unique_ptr<Runner> make_smddp_runner() { return std::make_unique<SmddpRunner>(); }

}  // namespace smlaunch::plan
