// The torchrun runner (B125-B128): every node runs torchrun itself with a
// static rendezvous at the leader; no sshd, no outcome file.
#include <fmt/format.h>

#include "plan/runner.hpp"

namespace smlaunch::plan {
namespace {

constexpr std::string_view kMasterPort = "7777";

class TorchrunRunner final : public Runner {
 public:
  void plan(PlanContext& ctx, LaunchPlan& plan) const override {
    assign_hosts_and_role(ctx, plan, "torchrun", Launch::OnEveryNode);
    plan.processes_per_host = processes_per_host(ctx);
    plan.num_processes = plan.processes_per_host * static_cast<std::int64_t>(plan.hosts.size());

    // B126: a script only.
    if (ctx.inputs.user_command) {
      ctx.diagnostics.add("command line", "--mpi", "a command for the torchrun runner",
                          "--mpi only with the mpi runner");
      return;
    }
    if (ctx.entry.type != EntryPointType::PythonProgram) {
      ctx.diagnostics.add(std::string(config::kHyperparametersFile), "sagemaker_program",
                          fmt::format("a {} entry point ({})", to_string(ctx.entry.type), ctx.entry.name),
                          "a Python script (.py) for the torchrun runner");
      return;
    }

    // B125: the environment torchrun's workers get.
    const std::string& type = ctx.env.current_instance_type;
    if (is_efa_nccl_instance(type)) plan.env.set("FI_PROVIDER", "efa");
    if (is_efa_rdma_instance(type)) {
      plan.env.set("FI_EFA_USE_DEVICE_RDMA", "1");
      plan.env.set("RDMAV_FORK_SAFE", "1");
    }
    plan.env.set("NCCL_SOCKET_IFNAME", ctx.env.network_interface_name);
    plan.env.set("NCCL_PROTO", "simple");

    auto& argv = plan.argv;
    if (config::lookup(ctx.environ, "RUN_NEURON_PARALLEL_COMPILE") == "1") {
      if (ctx.inputs.tools.neuron_parallel_compile) {
        argv.push_back(*ctx.inputs.tools.neuron_parallel_compile);
      } else {
        ctx.diagnostics.add("environment", "RUN_NEURON_PARALLEL_COMPILE",
                            "1 but neuron_parallel_compile is not on PATH",
                            "neuron_parallel_compile installed, or the variable unset");
      }
    }
    // torchrun on PATH, else the module it wraps.
    if (ctx.inputs.tools.torchrun) {
      argv.push_back(*ctx.inputs.tools.torchrun);
    } else {
      argv.insert(argv.end(), {require_python(ctx), "-m", "torch.distributed.run"});
    }
    argv.insert(argv.end(), {"--nnodes", std::to_string(plan.hosts.size()), "--nproc_per_node",
                             std::to_string(plan.processes_per_host)});
    if (plan.hosts.size() > 1) {  // B127
      argv.insert(argv.end(), {"--master_addr", plan.leader, "--master_port", std::string(kMasterPort),
                               "--node_rank", std::to_string(index_of(plan.hosts, ctx.env.current_host))});
    }
    argv.push_back(ctx.entry.name);
    argv.insert(argv.end(), ctx.args.begin(), ctx.args.end());
  }
};

}  // namespace

std::unique_ptr<Runner> make_torchrun_runner() { return std::make_unique<TorchrunRunner>(); }

}  // namespace smlaunch::plan
